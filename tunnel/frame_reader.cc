#include "tunnel/frame_reader.h"

#include "crypto/byte_reader.h"

namespace strait::tunnel {

std::string_view FrameErrorName(FrameError e) {
  switch (e) {
    case FrameError::kNone: return "none";
    case FrameError::kBadVersion: return "bad_version";
    case FrameError::kTooLarge: return "frame_too_large";
    case FrameError::kCriticalUnknown: return "critical_unknown_type";
  }
  return "unknown";
}

ErrorCode ErrorCodeFor(FrameError e) {
  switch (e) {
    case FrameError::kTooLarge: return ErrorCode::kFrameTooLarge;
    case FrameError::kCriticalUnknown: return ErrorCode::kUnsupportedFrame;
    case FrameError::kNone:
    case FrameError::kBadVersion: break;
  }
  return ErrorCode::kProtocolError;
}

bool ParseFrameHeader(std::span<const uint8_t> in, FrameHeader* out) {
  ByteReader r(in);
  uint8_t type = 0;
  FrameHeader h;
  if (!r.ReadU8(&h.version) || !r.ReadU8(&type) || !r.ReadU16(&h.flags) || !r.ReadU32(&h.length) ||
      !r.ReadU32(&h.channel)) {
    return false;
  }
  h.type = static_cast<FrameType>(type);
  *out = h;
  return true;
}

ReadResult FrameReader::Next(std::span<const uint8_t> in) {
  ReadResult res;
  if (!ParseFrameHeader(in, &res.header)) {
    res.kind = ReadKind::kNeedMore;
    res.wanted = kHeaderSize;
    return res;
  }
  // Judge the header before waiting for any payload: a bad version, an oversized length or a critical unknown
  // type closes the link without buffering a byte of what follows.
  FrameError err = FrameError::kNone;
  if (res.header.version != kFramingVersion) {
    err = FrameError::kBadVersion;
  } else if (res.header.length > max_payload_) {
    err = FrameError::kTooLarge;
  } else if (!IsKnownFrameType(res.header.type) && res.header.critical()) {
    err = FrameError::kCriticalUnknown;
  }
  if (err != FrameError::kNone) {
    ++errors_[static_cast<size_t>(err)];
    res.kind = ReadKind::kError;
    res.error = err;
    return res;
  }

  ByteReader r(in);
  r.Skip(kHeaderSize);
  if (!r.ReadBytes(res.header.length, &res.payload)) {
    res.kind = ReadKind::kNeedMore;
    res.wanted = kHeaderSize + res.header.length;
    return res;
  }
  res.consumed = kHeaderSize + res.header.length;
  if (!IsKnownFrameType(res.header.type)) {
    ++skipped_;
    res.kind = ReadKind::kSkip;
    res.payload = {};
    return res;
  }
  ++frames_;
  res.kind = ReadKind::kFrame;
  return res;
}

}  // namespace strait::tunnel
