// Encoding link frames into caller-owned buffers. The counterpart of frame_reader.h; no allocation.
//
// Two ways to build a frame:
//   EncodeFrame(header fields, payload, out)   copies the payload after the header.
//   In place (for sealing without a copy): write the payload at out[kHeaderSize...] first, then
//   EncodeFrameHeader({..., length = n}, out.first(kHeaderSize)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tunnel/frame.h"

namespace strait::tunnel {

// Writes the 12 header bytes. Returns false (writing nothing) if `out` is shorter than kHeaderSize or
// header.length exceeds kMaxPayload.
bool EncodeFrameHeader(const FrameHeader& header, std::span<uint8_t> out);

// Writes header + payload (header.length is taken from payload.size()). Returns the bytes written, or 0 if
// `out` is too small or the payload is above kMaxPayload (nothing written then).
size_t EncodeFrame(FrameType type, uint16_t flags, uint32_t channel, std::span<const uint8_t> payload,
                   std::span<uint8_t> out);

}  // namespace strait::tunnel
