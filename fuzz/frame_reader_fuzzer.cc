// Feeds arbitrary bytes to FrameReader in input-chosen chunkings, the way a link's receive path does: append a
// chunk to the unconsumed bytes, call Next until it needs more. Properties:
//   - every kFrame re-encodes (EncodeFrame) to exactly the bytes it consumed;
//   - kNeedMore asks for more than is buffered, and never more than one header + max_payload;
//   - kSkip consumes exactly one header + length; kError consumes nothing and ends the link;
//   - nothing is read out of bounds (each Next sees an exact-size heap copy, so ASan catches overreads).
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"

using namespace strait::tunnel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Byte 0: chunking seed; byte 1: max_payload choice (the full bound or a negotiated smaller one).
  uint32_t seed = data[0];
  const uint32_t max_payload = (data[1] & 1) ? kMaxPayload : 64u + data[1];
  data += 2;
  size -= 2;

  FrameReader reader(max_payload);
  std::vector<uint8_t> buffered;
  std::vector<uint8_t> reencoded(kHeaderSize + kMaxPayload);
  size_t off = 0;
  while (off < size) {
    seed = seed * 1103515245u + 12345u;
    const size_t chunk = 1 + (seed >> 16) % 97;
    const size_t n = chunk < size - off ? chunk : size - off;
    buffered.insert(buffered.end(), data + off, data + off + n);
    off += n;
    for (;;) {
      const std::vector<uint8_t> view(buffered);  // exact size: overreads trip ASan
      const ReadResult r = reader.Next(view);
      if (r.kind == ReadKind::kNeedMore) {
        if (r.consumed != 0 || r.wanted <= view.size() || r.wanted > kHeaderSize + max_payload) __builtin_trap();
        break;
      }
      if (r.kind == ReadKind::kError) {
        if (r.consumed != 0 || r.error == FrameError::kNone) __builtin_trap();
        return 0;  // the link closes
      }
      if (r.consumed != kHeaderSize + r.header.length || r.consumed > view.size()) __builtin_trap();
      if (r.kind == ReadKind::kFrame) {
        if (!IsKnownFrameType(r.header.type) || r.payload.size() != r.header.length) __builtin_trap();
        const size_t w =
            EncodeFrame(r.header.type, r.header.flags, r.header.channel, r.payload, reencoded);
        if (w != r.consumed || std::memcmp(reencoded.data(), view.data(), w) != 0) __builtin_trap();
      } else if (IsKnownFrameType(r.header.type) || r.header.critical()) {
        __builtin_trap();  // only unknown, non-critical types are skipped
      }
      buffered.erase(buffered.begin(), buffered.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    }
  }
  return 0;
}
