// worker_protocol_fuzzer: bytes into the reader of a `strait bench` worker's messages (bench/suite/worker_protocol.h),
// the lines the parent reads from its workers' stdout.
// Properties: nothing crashes, reads out of bounds or throws; a refusal has a reason; whatever the reader accepts the
// writer writes as one line, that line reads back equal, and writing it again gives the same line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bench/suite/worker_protocol.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto parsed = strait::bench::ParseWorkerEvent(line);
  if (!parsed.ok()) {
    Check(!parsed.error().empty());
    return 0;
  }
  const std::string written = strait::bench::EncodeWorkerEvent(*parsed);
  Check(written.find('\n') == std::string::npos);
  const auto again = strait::bench::ParseWorkerEvent(written);
  Check(again.ok());
  Check(*again == *parsed);
  Check(strait::bench::EncodeWorkerEvent(*again) == written);
  return 0;
}
