// bench_results_fuzzer: bytes into the results reader of `strait bench compare` (bench/suite/results.h), which reads
// files a user hands it.
// Properties: nothing crashes, reads out of bounds or throws; a refusal has a reason; whatever the reader accepts the
// writer writes, that text reads back equal, and writing it again gives the same text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bench/suite/results.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = strait::bench::FromJson(text);
  if (!parsed.ok()) {
    Check(!parsed.error().reason.empty());
    return 0;
  }
  const auto written = strait::bench::ToJson(*parsed);
  if (!written.ok()) {  // only a text near the size bound can grow past it when written again
    Check(written.error().code == strait::bench::ResultsError::kTooLarge);
    return 0;
  }
  const auto again = strait::bench::FromJson(*written);
  Check(again.ok());
  Check(*again == *parsed);
  const auto rewritten = strait::bench::ToJson(*again);
  Check(rewritten.ok() && *rewritten == *written);
  return 0;
}
