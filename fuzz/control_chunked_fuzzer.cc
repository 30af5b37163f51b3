// control_chunked_fuzzer: an HTTP chunked body (tunnel/control/chunked_decoder.h), the first byte choosing how it is
// cut into reads.
// Properties: nothing crashes or reads out of bounds; fed whole or in pieces it gives the same status and the same
// body bytes; the body never exceeds the input; after kEnd or kError nothing more is taken.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tunnel/control/chunked_decoder.h"

namespace {

using strait::control::ChunkedDecoder;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = data[0] % 17 + 1;
  const std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);

  ChunkedDecoder whole;
  std::string whole_out;
  const ChunkedDecoder::Status whole_status = whole.Feed(wire, &whole_out);

  ChunkedDecoder pieces;
  std::string pieces_out;
  ChunkedDecoder::Status st = ChunkedDecoder::Status::kOk;
  for (size_t i = 0; i < wire.size() && st == ChunkedDecoder::Status::kOk; i += step) {
    st = pieces.Feed(wire.substr(i, step), &pieces_out);
  }
  Check(st == whole_status);
  Check(pieces_out == whole_out);
  Check(whole_out.size() <= wire.size());
  if (whole_status != ChunkedDecoder::Status::kOk) {
    std::string more;
    Check(whole.Feed("1\r\nx\r\n", &more) == whole_status);
    Check(more.empty());
  }
  return 0;
}
