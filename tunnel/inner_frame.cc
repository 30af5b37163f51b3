#include "tunnel/inner_frame.h"

#include "crypto/byte_reader.h"

namespace strait::tunnel {

std::string_view InnerTypeName(InnerType t) {
  switch (t) {
    case InnerType::kOpen: return "open";
    case InnerType::kOpenOk: return "open_ok";
    case InnerType::kData: return "data";
    case InnerType::kWindow: return "window";
    case InnerType::kReset: return "reset";
    case InnerType::kTunnelRequest: return "tunnel_request";
    case InnerType::kTunnelConfig: return "tunnel_config";
    case InnerType::kTunnelRefused: return "tunnel_refused";
  }
  return "unknown";
}

std::string_view InnerErrorName(InnerError e) {
  switch (e) {
    case InnerError::kTruncated: return "truncated";
    case InnerError::kTrailingBytes: return "trailing_bytes";
    case InnerError::kBadAddrType: return "bad_addr_type";
    case InnerError::kEmptyDomain: return "empty_domain";
  }
  return "unknown";
}

Result<OpenPayload, InnerError> DecodeOpen(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  OpenPayload p;
  uint8_t type = 0;
  if (!r.ReadU32(&p.initial_window) || !r.ReadU8(&type)) return Fail(InnerError::kTruncated);
  switch (static_cast<AddrType>(type)) {
    case AddrType::kIPv4:
      if (!r.ReadBytes(4, &p.target.addr)) return Fail(InnerError::kTruncated);
      break;
    case AddrType::kIPv6:
      if (!r.ReadBytes(16, &p.target.addr)) return Fail(InnerError::kTruncated);
      break;
    case AddrType::kDomain:
      if (!r.ReadPrefixed8(&p.target.addr)) return Fail(InnerError::kTruncated);
      if (p.target.addr.empty()) return Fail(InnerError::kEmptyDomain);
      break;
    default:
      return Fail(InnerError::kBadAddrType);
  }
  p.target.type = static_cast<AddrType>(type);
  if (!r.ReadU16(&p.target.port)) return Fail(InnerError::kTruncated);
  if (!r.empty()) return Fail(InnerError::kTrailingBytes);
  return p;
}

namespace {
Result<uint32_t, InnerError> DecodeU32Exact(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  uint32_t v = 0;
  if (!r.ReadU32(&v)) return Fail(InnerError::kTruncated);
  if (!r.empty()) return Fail(InnerError::kTrailingBytes);
  return v;
}
}  // namespace

Result<uint32_t, InnerError> DecodeOpenOk(std::span<const uint8_t> payload) { return DecodeU32Exact(payload); }
Result<uint32_t, InnerError> DecodeWindow(std::span<const uint8_t> payload) { return DecodeU32Exact(payload); }

Result<ErrorCode, InnerError> DecodeReset(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  uint16_t v = 0;
  if (!r.ReadU16(&v)) return Fail(InnerError::kTruncated);
  if (!r.empty()) return Fail(InnerError::kTrailingBytes);
  return static_cast<ErrorCode>(v);
}

InnerStatus InnerFrameReader::Next(InnerFrame* out) {
  for (;;) {
    if (rest_.empty()) return InnerStatus::kEnd;
    ByteReader r(rest_);
    uint8_t type = 0;
    uint16_t len = 0;
    InnerFrame f;
    if (!r.ReadU8(&type) || !r.ReadU8(&f.flags) || !r.ReadU32(&f.stream_id) || !r.ReadU16(&len) ||
        !r.ReadBytes(len, &f.payload)) {
      return InnerStatus::kTruncated;
    }
    rest_ = r.rest();
    if (!IsKnownInnerType(type)) {
      ++skipped_;
      continue;
    }
    f.type = static_cast<InnerType>(type);
    *out = f;
    return InnerStatus::kFrame;
  }
}

size_t OpenPayloadSize(const OpenTarget& target) {
  size_t addr = 0;
  switch (target.type) {
    case AddrType::kIPv4:
      if (target.addr.size() != 4) return 0;
      addr = 4;
      break;
    case AddrType::kIPv6:
      if (target.addr.size() != 16) return 0;
      addr = 16;
      break;
    case AddrType::kDomain:
      if (target.addr.empty() || target.addr.size() > 255) return 0;
      addr = 1 + target.addr.size();
      break;
    default:
      return 0;
  }
  return 4 + 1 + addr + 2;
}

std::span<uint8_t> InnerFrameWriter::Begin(uint8_t type, uint8_t flags, StreamId id, size_t payload_len,
                                           bool* ok) {
  *ok = false;
  if (payload_len > 0xFFFF || remaining() < kInnerHeaderSize + payload_len) return {};
  ByteWriter w(out_.subspan(n_, kInnerHeaderSize));
  w.U8(type);
  w.U8(flags);
  w.U32(id);
  w.U16(static_cast<uint16_t>(payload_len));
  auto room = out_.subspan(n_ + kInnerHeaderSize, payload_len);
  n_ += kInnerHeaderSize + payload_len;
  *ok = w.ok();
  return room;
}

bool InnerFrameWriter::Raw(uint8_t type, uint8_t flags, StreamId id, std::span<const uint8_t> payload) {
  bool ok = false;
  auto room = Begin(type, flags, id, payload.size(), &ok);
  if (!ok) return false;
  ByteWriter w(room);
  w.Bytes(payload);
  return w.ok();
}

bool InnerFrameWriter::Open(StreamId id, uint32_t initial_window, const OpenTarget& target) {
  const size_t size = OpenPayloadSize(target);
  if (size == 0) return false;
  bool ok = false;
  auto room = Begin(static_cast<uint8_t>(InnerType::kOpen), 0, id, size, &ok);
  if (!ok) return false;
  ByteWriter w(room);
  w.U32(initial_window);
  w.U8(static_cast<uint8_t>(target.type));
  if (target.type == AddrType::kDomain) {
    w.Prefixed8(target.addr);
  } else {
    w.Bytes(target.addr);
  }
  w.U16(target.port);
  return w.ok();
}

bool InnerFrameWriter::OpenOk(StreamId id, uint32_t initial_window) {
  bool ok = false;
  auto room = Begin(static_cast<uint8_t>(InnerType::kOpenOk), 0, id, kOpenOkSize, &ok);
  if (!ok) return false;
  ByteWriter w(room);
  w.U32(initial_window);
  return w.ok();
}

bool InnerFrameWriter::Data(StreamId id, std::span<const uint8_t> bytes, bool fin) {
  return Raw(static_cast<uint8_t>(InnerType::kData), fin ? kInnerFlagFin : 0, id, bytes);
}

bool InnerFrameWriter::Window(StreamId id, uint32_t increment) {
  bool ok = false;
  auto room = Begin(static_cast<uint8_t>(InnerType::kWindow), 0, id, kWindowSize, &ok);
  if (!ok) return false;
  ByteWriter w(room);
  w.U32(increment);
  return w.ok();
}

bool InnerFrameWriter::Reset(StreamId id, ErrorCode code) {
  bool ok = false;
  auto room = Begin(static_cast<uint8_t>(InnerType::kReset), 0, id, kResetSize, &ok);
  if (!ok) return false;
  ByteWriter w(room);
  w.U16(static_cast<uint16_t>(code));
  return w.ok();
}

}  // namespace strait::tunnel
