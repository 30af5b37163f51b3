#include "tunnel/frame_writer.h"

#include "crypto/byte_reader.h"

namespace strait::tunnel {

bool EncodeFrameHeader(const FrameHeader& header, std::span<uint8_t> out) {
  if (out.size() < kHeaderSize || header.length > kMaxPayload) return false;
  ByteWriter w(out.first(kHeaderSize));
  w.U8(header.version);
  w.U8(static_cast<uint8_t>(header.type));
  w.U16(header.flags);
  w.U32(header.length);
  w.U32(header.channel);
  return w.ok();
}

size_t EncodeFrame(FrameType type, uint16_t flags, uint32_t channel, std::span<const uint8_t> payload,
                   std::span<uint8_t> out) {
  if (payload.size() > kMaxPayload || out.size() < kHeaderSize + payload.size()) return 0;
  const FrameHeader h{kFramingVersion, type, flags, static_cast<uint32_t>(payload.size()), channel};
  if (!EncodeFrameHeader(h, out)) return 0;
  ByteWriter w(out.subspan(kHeaderSize, payload.size()));
  w.Bytes(payload);
  return w.ok() ? kHeaderSize + payload.size() : 0;
}

}  // namespace strait::tunnel
