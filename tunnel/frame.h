// The link wire format of Strait, version 1. THIS HEADER IS THE AUTHORITY for byte layouts on a link;
// docs/protocol.md tells the story and is fixed when the two disagree. Inner (sealed stream) frames are in
// tunnel/inner_frame.h, sealed messages in crypto/transport.h, credentials in crypto/credential.h.
//
// Protocol flow (all integers big-endian; str8/str16 = u8/u16 length then that many bytes):
//
//   Login (one link = one TLS 1.3 connection, peer -> relay, or device -> connector for Direct Connect):
//     peer  -> relay   HELLO       version range, role, credential, 64-byte proof over the TLS exporter
//     relay -> peer    HELLO_ACK   chosen version, max_payload, keepalive and idle timeouts, relay id
//                      (or ERROR <code>, then close)
//   Session set-up (device link; the relay forwards INIT/ACCEPT between the two links, channel = session id):
//     device -> relay  SESSION_REQUEST   preferred connector (sticky) or empty            channel 0
//     relay -> device  SESSION_OFFER     connector id + credential                         channel = new id
//     device -> conn   SESSION_INIT      Noise IK msg 1; payload DeviceHandshake (link_messages.h)
//     conn -> device   SESSION_ACCEPT    Noise IK msg 2; payload ConnectorHandshake
//   Sealed frames (end to end; the relay reads only the 12-byte header):
//     SEALED_STREAM    one sealed message holding inner frames (streams, flow control); never dropped
//     SEALED_DATAGRAM  one sealed message holding one IPv4 packet; droppable under pressure (counted)
//   Any time: PING/PONG (keepalive), ERROR (channel 0: fatal for the link), GOAWAY (drain), SESSION_CLOSE.
//
// Frame = 12-byte header + payload:
//
//   0        1        2                 4                                 8                               12
//   | ver=1  |  type  |  flags (u16)    |  length (u32)                   |  channel (u32)                |
//
// Rules for extension: unknown frame types are skipped by their length and counted, unless the sender set
// kFlagCritical, in which case the receiver answers ERROR unsupported_frame and closes. Reserved flag bits are
// sent as 0 and ignored. New fields go at the end of a payload; trailing bytes are ignored only where a payload
// says so below ("extensible"). The framing version changes only if the header layout changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::tunnel {

// ---- Framing (header byte 0) ----
inline constexpr uint8_t kFramingVersion = 1;

// ---- Protocol version, negotiated in HELLO / HELLO_ACK ----
// Changelog:
//   1 — first version (docs/protocol.md, this header).
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr uint8_t kMinProtocolVersion = 1;

// ---- Header layout ----
inline constexpr size_t kVersionOffset = 0;  // u8
inline constexpr size_t kTypeOffset = 1;     // u8
inline constexpr size_t kFlagsOffset = 2;    // u16
inline constexpr size_t kLengthOffset = 4;   // u32, payload bytes
inline constexpr size_t kChannelOffset = 8;  // u32, 0 = the link itself, else a session id
inline constexpr size_t kHeaderSize = 12;
static_assert(kTypeOffset == kVersionOffset + 1);
static_assert(kFlagsOffset == kTypeOffset + 1);
static_assert(kLengthOffset == kFlagsOffset + 2);
static_assert(kChannelOffset == kLengthOffset + 4);
static_assert(kHeaderSize == kChannelOffset + 4);

// ---- Sizes ----
// 16 KiB of stream data + sealed-message overhead (8 counter + 16 tag) + one inner frame header (8), rounded up
// to leave room for a few small inner frames beside a full DATA chunk.
inline constexpr size_t kMaxStreamChunk = 16384;
inline constexpr size_t kSealedOverhead = 8 + 16;  // counter + Poly1305 tag (crypto/transport.h)
inline constexpr size_t kMaxPayload = 16640;
// Relay credit (docs/protocol.md §8, "Relay credit"): the bytes of frames a peer may have in the relay on one
// session channel (every frame but SEALED_DATAGRAM, header included) before the relay returns them with
// SESSION_CREDIT. A peer starts every session with kInitialRelayCredit and sends SEALED_STREAM only while its
// credit covers the frame; the relay closes a link that goes more than kRelayCreditSlack beyond it (set-up and
// close frames are sent whatever the credit).
inline constexpr uint32_t kInitialRelayCredit = 1u << 20;
inline constexpr uint32_t kRelayCreditSlack = 4096;
static_assert(kMaxStreamChunk + kSealedOverhead + 8 <= kMaxPayload);
static_assert(kHeaderSize + kMaxPayload <= 16 * 1024 + 512, "one frame must fit a 16.5 KiB buffer");
// TLS 1.3 carries at most 2^14 bytes of plaintext per record (RFC 8446 §5.1). A sender that keeps its frames at or
// below this size and seals whole frames writes one record per full frame, so the receiver decrypts each frame out
// of one record and never reassembles a frame across records (docs/link.md, "Record alignment").
inline constexpr size_t kTlsRecordPlaintext = 16384;

// Bounds on variable-length fields (each decoder rejects a larger length before reading further).
inline constexpr size_t kMaxCredentialBytes = 512;   // = crypto/credential.h kMaxCredentialSize
inline constexpr size_t kMaxErrorReasonBytes = 256;  // ERROR reason (UTF-8, for humans)
inline constexpr size_t kMaxNoiseMessageBytes = 1024;  // SESSION_INIT / SESSION_ACCEPT payload
inline constexpr size_t kProofBytes = 64;             // Ed25519 signature (crypto/proof.h)
// Noise IK message 1 = 32 (e) + 48 (encrypted s) + payload + 16 (tag); the largest DeviceHandshake must fit.
static_assert(32 + 48 + (2 + kMaxCredentialBytes + 4 + 2) + 16 <= kMaxNoiseMessageBytes);

// Defaults for the values a side announces in its handshake payload and in OPEN / OPEN_OK.
inline constexpr uint32_t kDefaultSessionWindow = 16u << 20;  // 16 MiB
inline constexpr uint32_t kDefaultStreamWindow = 1u << 20;  // 1 MiB
inline constexpr uint16_t kDefaultMaxStreams = 4096;

// ---- Flags ----
inline constexpr uint16_t kFlagCritical = 0x0001;  // the receiver must understand this type
inline constexpr uint16_t kKnownFlags = kFlagCritical;

// ---- Frame types ----
// One entry per type; the trailing comment is the payload layout. "exact" = no trailing bytes allowed;
// "extensible" = a receiver ignores bytes after the last field it knows.
enum class FrameType : uint8_t {
  kHello = 0x01,           // ch 0. u8 version_min, u8 version_max, u8 role (1 device, 2 connector),
                           //   str16 credential (1..512), 64 proof, str8 preferred_connector. exact
  kHelloAck = 0x02,        // ch 0. u8 version, u32 max_payload (<= kMaxPayload), u32 keepalive_ms,
                           //   u32 idle_timeout_ms, str8 relay_id. extensible
  kPing = 0x03,            // ch 0. u64 opaque. exact
  kPong = 0x04,            // ch 0. u64 opaque (echoed). exact
  kError = 0x05,           // any ch. u16 code (ErrorCode), str16 reason (<= 256, UTF-8). exact
  kGoAway = 0x06,          // ch 0. u16 code, u32 drain_ms. exact
  kSessionRequest = 0x10,  // ch 0. str8 preferred_connector (empty: no preference). exact
  kSessionOffer = 0x11,    // ch new id. str8 connector_id (non-empty), str16 connector_credential (1..512).
                           //   extensible
  kSessionInit = 0x12,     // ch id. Noise IK message 1 (1..1024 bytes); its payload is DeviceHandshake
  kSessionAccept = 0x13,   // ch id. Noise IK message 2 (1..1024 bytes); its payload is ConnectorHandshake
  kSessionClose = 0x14,    // ch id. u16 code, str8 reason. exact
  kSessionCredit = 0x15,   // ch id. u32 increment (> 0): relay credit returned to the sender (§8). exact
  kSealedStream = 0x20,    // ch id. sealed message (crypto/transport.h) of inner frames (inner_frame.h)
  kSealedDatagram = 0x21,  // ch id. sealed message of one IPv4 packet (<= 16384 bytes)
  // 0x80-0xFF: reserved for extensions and experiments.
};

// True for the types listed above; any other value is "unknown" (skipped unless kFlagCritical).
constexpr bool IsKnownFrameType(FrameType t) {
  switch (t) {
    case FrameType::kHello:
    case FrameType::kHelloAck:
    case FrameType::kPing:
    case FrameType::kPong:
    case FrameType::kError:
    case FrameType::kGoAway:
    case FrameType::kSessionRequest:
    case FrameType::kSessionOffer:
    case FrameType::kSessionInit:
    case FrameType::kSessionAccept:
    case FrameType::kSessionClose:
    case FrameType::kSessionCredit:
    case FrameType::kSealedStream:
    case FrameType::kSealedDatagram:
      return true;
  }
  return false;
}
std::string_view FrameTypeName(FrameType t);  // "hello", ..., or "unknown"

// The role byte of HELLO (same values as crypto::Role; relays never send HELLO).
enum class LinkRole : uint8_t {
  kDevice = 1,
  kConnector = 2,
};

// ---- Error codes (ERROR, GOAWAY, SESSION_CLOSE and inner RESET frames) ----
// Stable numbers; ErrorCodeName gives the snake_case name used in docs, metrics and logs.
enum class ErrorCode : uint16_t {
  kProtocolError = 1,        // malformed frame or frame not allowed in this state
  kUnsupportedVersion = 2,   // no common version in HELLO
  kUnsupportedFrame = 3,     // unknown type with kFlagCritical
  kFrameTooLarge = 4,        // length above kMaxPayload (or the negotiated max_payload)
  kBadCredential = 5,        // credential failed verification (the reason says which check)
  kBadProof = 6,             // proof of possession failed
  kWrongRole = 7,            // credential role does not fit this port or use
  kUnauthorized = 8,         // tenant or policy forbids it
  kHandshakeTimeout = 9,     // TLS + HELLO did not complete in time
  kIdleTimeout = 10,         // nothing received for idle_timeout_ms
  kNoConnector = 11,         // no live connector for the tenant
  kConnectorGone = 12,       // the session's connector went away
  kDeviceGone = 13,          // the session's device went away
  kTooManySessions = 14,     // a link's session limit was reached
  kOverloaded = 15,          // queue or memory bound reached
  kShuttingDown = 16,        // the relay is draining (with GOAWAY)
  kRevoked = 17,             // the credential was revoked
  kFlowControl = 18,         // a window was exceeded
  kRekeyRequired = 19,       // the transport counter limit was reached
  kRefusedByPolicy = 20,     // stream destination not allowed
  kConnectFailed = 21,       // the connector could not reach the destination
  kDnsFailed = 22,           // the connector could not resolve the name
  kTimeout = 23,             // the destination did not answer in time
  kCancelled = 24,           // the opener gave up
  kInternal = 25,            // a bug on the sender's side
  kTooManyStreams = 26,      // OPEN beyond the session's max_streams
  kReplayed = 27,            // SESSION_INIT timestamp not newer than the device's last, or outside the clock window
};
inline constexpr uint16_t kMaxErrorCode = 27;
std::string_view ErrorCodeName(ErrorCode c);  // e.g. "flow_control"; "unknown" for codes not listed

// ---- The header ----
// `type` may hold any byte value (unknown types are representable, see IsKnownFrameType).
struct FrameHeader {
  uint8_t version = kFramingVersion;
  FrameType type = FrameType::kPing;
  uint16_t flags = 0;
  uint32_t length = 0;   // payload bytes
  uint32_t channel = 0;  // 0 = link, else session id

  bool critical() const { return (flags & kFlagCritical) != 0; }
  friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

}  // namespace strait::tunnel
