// Typed control payloads of link frames (layouts: tunnel/frame.h, story: docs/protocol.md §2-§6).
//
// Each message is a struct with
//   static constexpr FrameType kType;          (the frame type that carries it, where there is one)
//   static Result<M, MessageError> Decode(std::span<const uint8_t> payload);
//   Result<size_t, MessageError> Encode(std::span<uint8_t> out) const;   bytes written
//   size_t EncodedSize() const;
//
// Lifetimes: the std::span fields of a decoded message are views into the payload passed to Decode; they are
// valid as long as that buffer is and must be copied out before it is reused. Encode reads the spans the caller
// filled in. Decoders never allocate and reject a length before reading past it. "exact" payloads reject trailing
// bytes; "extensible" payloads (HELLO_ACK, SESSION_OFFER, the handshake payloads) ignore them (protocol.md §11).
//
// Credentials and proofs are opaque bytes here; crypto/credential.h and crypto/proof.h judge them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/result.h"
#include "tunnel/frame.h"

namespace strait::tunnel {

// Why a payload was refused. One name per reason, for counters and the ERROR reason text.
enum class MessageError : uint8_t {
  kTruncated,       // the payload ends inside a field
  kTrailingBytes,   // bytes after the last field of an exact payload
  kTooLong,         // a string above its bound (credential 512, ERROR reason 256, Noise message 1024)
  kEmpty,           // a string that must not be empty is
  kBadRole,         // HELLO role not 1 or 2
  kBadVersionRange, // HELLO version_min > version_max, or version 0
  kBadValue,        // a number outside its range (HELLO_ACK max_payload above kMaxPayload)
  kBufferTooSmall,  // Encode: `out` cannot hold the message
};
std::string_view MessageErrorName(MessageError e);

template <class T>
using MessageResult = Result<T, MessageError>;
using Bytes = std::span<const uint8_t>;

// HELLO: peer -> relay. exact.
struct Hello {
  static constexpr FrameType kType = FrameType::kHello;
  uint8_t version_min = kMinProtocolVersion;
  uint8_t version_max = kProtocolVersion;
  LinkRole role = LinkRole::kDevice;
  Bytes credential;                              // 1..kMaxCredentialBytes
  std::array<uint8_t, kProofBytes> proof{};      // copied: fixed size
  Bytes preferred_connector;                     // str8, may be empty

  static MessageResult<Hello> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const;
};

// HELLO_ACK: relay -> peer. extensible.
//   u8 version | u32 max_payload | u32 keepalive_ms | u32 idle_timeout_ms | str8 relay_id
//   | str16 credential (0..512) | 64 proof (present iff the credential is not empty)
// The server's own credential and its proof of possession over the session's exporter (protocol.md §3): a relay's
// (role relay), or a Direct Connect connector's (role connector); empty when the server has none to show.
struct HelloAck {
  static constexpr FrameType kType = FrameType::kHelloAck;
  uint8_t version = kProtocolVersion;
  uint32_t max_payload = kMaxPayload;  // <= kMaxPayload
  uint32_t keepalive_ms = 15000;
  uint32_t idle_timeout_ms = 60000;
  Bytes relay_id;                      // str8
  Bytes credential;                    // str16, 0..kMaxCredentialBytes; empty = none (then no proof)
  std::array<uint8_t, kProofBytes> proof{};

  static MessageResult<HelloAck> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const;
};

// PING and PONG: u64 opaque. exact.
struct Ping {
  static constexpr FrameType kType = FrameType::kPing;
  uint64_t opaque = 0;
  static MessageResult<Ping> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 8; }
};
struct Pong {
  static constexpr FrameType kType = FrameType::kPong;
  uint64_t opaque = 0;
  static MessageResult<Pong> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 8; }
};

// ERROR: u16 code, str16 reason (<= 256). exact. `code` may hold values this build does not name.
struct ErrorMessage {
  static constexpr FrameType kType = FrameType::kError;
  ErrorCode code = ErrorCode::kProtocolError;
  Bytes reason;

  static MessageResult<ErrorMessage> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 2 + 2 + reason.size(); }
};

// GOAWAY: u16 code, u32 drain_ms. exact.
struct GoAway {
  static constexpr FrameType kType = FrameType::kGoAway;
  ErrorCode code = ErrorCode::kShuttingDown;
  uint32_t drain_ms = 0;

  static MessageResult<GoAway> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 6; }
};

// SESSION_REQUEST: str8 preferred_connector. exact.
struct SessionRequest {
  static constexpr FrameType kType = FrameType::kSessionRequest;
  Bytes preferred_connector;

  static MessageResult<SessionRequest> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 1 + preferred_connector.size(); }
};

// SESSION_OFFER: str8 connector_id (non-empty), str16 connector_credential (1..512). extensible.
struct SessionOffer {
  static constexpr FrameType kType = FrameType::kSessionOffer;
  Bytes connector_id;
  Bytes connector_credential;

  static MessageResult<SessionOffer> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 1 + connector_id.size() + 2 + connector_credential.size(); }
};

// SESSION_CLOSE: u16 code, str8 reason. exact.
struct SessionClose {
  static constexpr FrameType kType = FrameType::kSessionClose;
  ErrorCode code = ErrorCode::kProtocolError;
  Bytes reason;

  static MessageResult<SessionClose> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 2 + 1 + reason.size(); }
};

// SESSION_CREDIT: u32 increment (> 0). exact.
struct SessionCredit {
  static constexpr FrameType kType = FrameType::kSessionCredit;
  uint32_t increment = 0;

  static MessageResult<SessionCredit> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 4; }
};

// SESSION_INIT / SESSION_ACCEPT payload: one Noise IK message, 1..kMaxNoiseMessageBytes, opaque here.
struct NoiseMessage {
  Bytes message;

  static MessageResult<NoiseMessage> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return message.size(); }
};

// Payload of Noise IK message 1 (device -> connector, inside SESSION_INIT). extensible; every field required.
//   str16 device_credential (1..512) | u32 initial_session_window | u16 max_streams | u64 timestamp
struct DeviceHandshake {
  Bytes credential;
  uint32_t initial_session_window = kDefaultSessionWindow;  // what the connector may send before credit returns
  uint16_t max_streams = kDefaultMaxStreams;
  uint64_t timestamp = 0;  // device wall clock, ns since the Unix epoch; strictly increasing per device (§6)

  static MessageResult<DeviceHandshake> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 2 + credential.size() + 4 + 2 + 8; }
};
inline constexpr size_t kMaxDeviceHandshakeBytes = 2 + kMaxCredentialBytes + 4 + 2 + 8;

// Payload of Noise IK message 2 (connector -> device, inside SESSION_ACCEPT). extensible.
//   u32 initial_session_window | u16 max_streams
struct ConnectorHandshake {
  uint32_t initial_session_window = kDefaultSessionWindow;  // what the device may send before credit returns
  uint16_t max_streams = kDefaultMaxStreams;                // streams the device may have open at once

  static MessageResult<ConnectorHandshake> Decode(Bytes payload);
  MessageResult<size_t> Encode(std::span<uint8_t> out) const;
  size_t EncodedSize() const { return 4 + 2; }
};

}  // namespace strait::tunnel
