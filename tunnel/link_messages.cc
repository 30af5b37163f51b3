#include "tunnel/link_messages.h"

#include "crypto/byte_reader.h"

namespace strait::tunnel {
namespace {

// MessageError has no "ok" value; a small wrapper keeps the decoders readable.
struct Status {
  bool ok = true;
  MessageError error = MessageError::kTruncated;
};

// Reads a u8/u16 length and checks it against [min_len, max_len] before looking at the bytes.
template <class L>
Status Str(ByteReader& r, size_t min_len, size_t max_len, Bytes* out) {
  L len = 0;
  bool have = false;
  if constexpr (sizeof(L) == 1) {
    have = r.ReadU8(&len);
  } else {
    have = r.ReadU16(&len);
  }
  if (!have) return {false, MessageError::kTruncated};
  if (len > max_len) return {false, MessageError::kTooLong};
  if (len < min_len) return {false, MessageError::kEmpty};
  if (!r.ReadBytes(len, out)) return {false, MessageError::kTruncated};
  return {};
}
Status Str8(ByteReader& r, size_t min_len, Bytes* out) { return Str<uint8_t>(r, min_len, 255, out); }
Status Str16(ByteReader& r, size_t min_len, size_t max_len, Bytes* out) {
  return Str<uint16_t>(r, min_len, max_len, out);
}
Status Need(bool read_ok) { return read_ok ? Status{} : Status{false, MessageError::kTruncated}; }
Status Exact(const ByteReader& r) { return r.empty() ? Status{} : Status{false, MessageError::kTrailingBytes}; }

// Checks a string for Encode: same bounds as the decoder.
Status Bound(Bytes b, size_t min_len, size_t max_len) {
  if (b.size() > max_len) return {false, MessageError::kTooLong};
  if (b.size() < min_len) return {false, MessageError::kEmpty};
  return {};
}

// Runs an encoder body into `out` after checking size; the body cannot fail once the size fits.
template <class Body>
MessageResult<size_t> Write(size_t size, std::span<uint8_t> out, Body body) {
  if (out.size() < size) return Fail(MessageError::kBufferTooSmall);
  ByteWriter w(out.first(size));
  body(w);
  if (!w.ok() || w.written() != size) return Fail(MessageError::kBufferTooSmall);
  return size;
}

#define STRAIT_TRY(expr)                                 \
  do {                                                   \
    const Status strait_try_s = (expr);                  \
    if (!strait_try_s.ok) return Fail(strait_try_s.error); \
  } while (0)

}  // namespace

std::string_view MessageErrorName(MessageError e) {
  switch (e) {
    case MessageError::kTruncated: return "truncated";
    case MessageError::kTrailingBytes: return "trailing_bytes";
    case MessageError::kTooLong: return "too_long";
    case MessageError::kEmpty: return "empty";
    case MessageError::kBadRole: return "bad_role";
    case MessageError::kBadVersionRange: return "bad_version_range";
    case MessageError::kBadValue: return "bad_value";
    case MessageError::kBufferTooSmall: return "buffer_too_small";
  }
  return "unknown";
}

// ---- HELLO ----
MessageResult<Hello> Hello::Decode(Bytes payload) {
  ByteReader r(payload);
  Hello m;
  uint8_t role = 0;
  STRAIT_TRY(Need(r.ReadU8(&m.version_min) && r.ReadU8(&m.version_max) && r.ReadU8(&role)));
  if (m.version_min == 0 || m.version_min > m.version_max) return Fail(MessageError::kBadVersionRange);
  if (role != static_cast<uint8_t>(LinkRole::kDevice) && role != static_cast<uint8_t>(LinkRole::kConnector)) {
    return Fail(MessageError::kBadRole);
  }
  m.role = static_cast<LinkRole>(role);
  STRAIT_TRY(Str16(r, 1, kMaxCredentialBytes, &m.credential));
  STRAIT_TRY(Need(r.CopyBytes(m.proof)));
  STRAIT_TRY(Str8(r, 0, &m.preferred_connector));
  STRAIT_TRY(Exact(r));
  return m;
}
size_t Hello::EncodedSize() const { return 3 + 2 + credential.size() + kProofBytes + 1 + preferred_connector.size(); }
MessageResult<size_t> Hello::Encode(std::span<uint8_t> out) const {
  if (version_min == 0 || version_min > version_max) return Fail(MessageError::kBadVersionRange);
  if (role != LinkRole::kDevice && role != LinkRole::kConnector) return Fail(MessageError::kBadRole);
  STRAIT_TRY(Bound(credential, 1, kMaxCredentialBytes));
  STRAIT_TRY(Bound(preferred_connector, 0, 255));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U8(version_min);
    w.U8(version_max);
    w.U8(static_cast<uint8_t>(role));
    w.Prefixed16(credential);
    w.Bytes(proof);
    w.Prefixed8(preferred_connector);
  });
}

// ---- HELLO_ACK ----
MessageResult<HelloAck> HelloAck::Decode(Bytes payload) {
  ByteReader r(payload);
  HelloAck m;
  STRAIT_TRY(Need(r.ReadU8(&m.version) && r.ReadU32(&m.max_payload) && r.ReadU32(&m.keepalive_ms) &&
                  r.ReadU32(&m.idle_timeout_ms)));
  if (m.version == 0) return Fail(MessageError::kBadVersionRange);
  if (m.max_payload > kMaxPayload) return Fail(MessageError::kBadValue);
  STRAIT_TRY(Str8(r, 0, &m.relay_id));
  STRAIT_TRY(Str16(r, 0, kMaxCredentialBytes, &m.credential));
  if (!m.credential.empty()) STRAIT_TRY(Need(r.CopyBytes(m.proof)));
  return m;  // extensible: trailing bytes ignored
}
size_t HelloAck::EncodedSize() const {
  return 1 + 4 + 4 + 4 + 1 + relay_id.size() + 2 + credential.size() + (credential.empty() ? 0 : kProofBytes);
}
MessageResult<size_t> HelloAck::Encode(std::span<uint8_t> out) const {
  if (version == 0) return Fail(MessageError::kBadVersionRange);
  if (max_payload > kMaxPayload) return Fail(MessageError::kBadValue);
  STRAIT_TRY(Bound(relay_id, 0, 255));
  STRAIT_TRY(Bound(credential, 0, kMaxCredentialBytes));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U8(version);
    w.U32(max_payload);
    w.U32(keepalive_ms);
    w.U32(idle_timeout_ms);
    w.Prefixed8(relay_id);
    w.Prefixed16(credential);
    if (!credential.empty()) w.Bytes(proof);
  });
}

// ---- PING / PONG ----
namespace {
template <class M>
MessageResult<M> DecodeOpaque(Bytes payload) {
  ByteReader r(payload);
  M m;
  STRAIT_TRY(Need(r.ReadU64(&m.opaque)));
  STRAIT_TRY(Exact(r));
  return m;
}
}  // namespace
MessageResult<Ping> Ping::Decode(Bytes payload) { return DecodeOpaque<Ping>(payload); }
MessageResult<Pong> Pong::Decode(Bytes payload) { return DecodeOpaque<Pong>(payload); }
MessageResult<size_t> Ping::Encode(std::span<uint8_t> out) const {
  return Write(8, out, [&](ByteWriter& w) { w.U64(opaque); });
}
MessageResult<size_t> Pong::Encode(std::span<uint8_t> out) const {
  return Write(8, out, [&](ByteWriter& w) { w.U64(opaque); });
}

// ---- ERROR ----
MessageResult<ErrorMessage> ErrorMessage::Decode(Bytes payload) {
  ByteReader r(payload);
  ErrorMessage m;
  uint16_t code = 0;
  STRAIT_TRY(Need(r.ReadU16(&code)));
  m.code = static_cast<ErrorCode>(code);
  STRAIT_TRY(Str16(r, 0, kMaxErrorReasonBytes, &m.reason));
  STRAIT_TRY(Exact(r));
  return m;
}
MessageResult<size_t> ErrorMessage::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(reason, 0, kMaxErrorReasonBytes));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U16(static_cast<uint16_t>(code));
    w.Prefixed16(reason);
  });
}

// ---- GOAWAY ----
MessageResult<GoAway> GoAway::Decode(Bytes payload) {
  ByteReader r(payload);
  GoAway m;
  uint16_t code = 0;
  STRAIT_TRY(Need(r.ReadU16(&code) && r.ReadU32(&m.drain_ms)));
  m.code = static_cast<ErrorCode>(code);
  STRAIT_TRY(Exact(r));
  return m;
}
MessageResult<size_t> GoAway::Encode(std::span<uint8_t> out) const {
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U16(static_cast<uint16_t>(code));
    w.U32(drain_ms);
  });
}

// ---- SESSION_REQUEST ----
MessageResult<SessionRequest> SessionRequest::Decode(Bytes payload) {
  ByteReader r(payload);
  SessionRequest m;
  STRAIT_TRY(Str8(r, 0, &m.preferred_connector));
  STRAIT_TRY(Exact(r));
  return m;
}
MessageResult<size_t> SessionRequest::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(preferred_connector, 0, 255));
  return Write(EncodedSize(), out, [&](ByteWriter& w) { w.Prefixed8(preferred_connector); });
}

// ---- SESSION_OFFER ----
MessageResult<SessionOffer> SessionOffer::Decode(Bytes payload) {
  ByteReader r(payload);
  SessionOffer m;
  STRAIT_TRY(Str8(r, 1, &m.connector_id));
  STRAIT_TRY(Str16(r, 1, kMaxCredentialBytes, &m.connector_credential));
  return m;  // extensible
}
MessageResult<size_t> SessionOffer::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(connector_id, 1, 255));
  STRAIT_TRY(Bound(connector_credential, 1, kMaxCredentialBytes));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.Prefixed8(connector_id);
    w.Prefixed16(connector_credential);
  });
}

// ---- SESSION_CLOSE ----
MessageResult<SessionClose> SessionClose::Decode(Bytes payload) {
  ByteReader r(payload);
  SessionClose m;
  uint16_t code = 0;
  STRAIT_TRY(Need(r.ReadU16(&code)));
  m.code = static_cast<ErrorCode>(code);
  STRAIT_TRY(Str8(r, 0, &m.reason));
  STRAIT_TRY(Exact(r));
  return m;
}
MessageResult<size_t> SessionClose::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(reason, 0, 255));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U16(static_cast<uint16_t>(code));
    w.Prefixed8(reason);
  });
}

// ---- SESSION_CREDIT ----
MessageResult<SessionCredit> SessionCredit::Decode(Bytes payload) {
  ByteReader r(payload);
  SessionCredit m;
  STRAIT_TRY(Need(r.ReadU32(&m.increment)));
  STRAIT_TRY(Exact(r));
  if (m.increment == 0) return Fail(MessageError::kBadValue);
  return m;
}
MessageResult<size_t> SessionCredit::Encode(std::span<uint8_t> out) const {
  if (increment == 0) return Fail(MessageError::kBadValue);
  return Write(EncodedSize(), out, [&](ByteWriter& w) { w.U32(increment); });
}

// ---- SESSION_INIT / SESSION_ACCEPT ----
MessageResult<NoiseMessage> NoiseMessage::Decode(Bytes payload) {
  STRAIT_TRY(Bound(payload, 1, kMaxNoiseMessageBytes));
  return NoiseMessage{payload};
}
MessageResult<size_t> NoiseMessage::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(message, 1, kMaxNoiseMessageBytes));
  return Write(EncodedSize(), out, [&](ByteWriter& w) { w.Bytes(message); });
}

// ---- Handshake payloads ----
MessageResult<DeviceHandshake> DeviceHandshake::Decode(Bytes payload) {
  ByteReader r(payload);
  DeviceHandshake m;
  STRAIT_TRY(Str16(r, 1, kMaxCredentialBytes, &m.credential));
  STRAIT_TRY(Need(r.ReadU32(&m.initial_session_window) && r.ReadU16(&m.max_streams) && r.ReadU64(&m.timestamp)));
  return m;  // extensible
}
MessageResult<size_t> DeviceHandshake::Encode(std::span<uint8_t> out) const {
  STRAIT_TRY(Bound(credential, 1, kMaxCredentialBytes));
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.Prefixed16(credential);
    w.U32(initial_session_window);
    w.U16(max_streams);
    w.U64(timestamp);
  });
}

MessageResult<ConnectorHandshake> ConnectorHandshake::Decode(Bytes payload) {
  ByteReader r(payload);
  ConnectorHandshake m;
  STRAIT_TRY(Need(r.ReadU32(&m.initial_session_window) && r.ReadU16(&m.max_streams)));
  return m;  // extensible
}
MessageResult<size_t> ConnectorHandshake::Encode(std::span<uint8_t> out) const {
  return Write(EncodedSize(), out, [&](ByteWriter& w) {
    w.U32(initial_session_window);
    w.U16(max_streams);
  });
}

#undef STRAIT_TRY

}  // namespace strait::tunnel
