// Inner frames: the plaintext of a SEALED_STREAM message (docs/protocol.md §8). THIS HEADER IS THE AUTHORITY for
// their layout. One sealed message holds one or more inner frames back to back:
//
//   0        1        2                                    6                 8
//   |  type  | flags  |  stream_id (u32)                   |  length (u16)   |  payload (length bytes)
//
// Unknown inner types are skipped by length (they come from the authenticated peer, never from the relay).
// Fixed-size payloads (OPEN_OK, WINDOW, RESET) and OPEN are exact: trailing bytes are malformed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/result.h"
#include "tunnel/frame.h"

namespace strait::tunnel {

using StreamId = uint32_t;

inline constexpr size_t kInnerHeaderSize = 8;
inline constexpr size_t kInnerTypeOffset = 0;      // u8
inline constexpr size_t kInnerFlagsOffset = 1;     // u8
inline constexpr size_t kInnerStreamOffset = 2;    // u32
inline constexpr size_t kInnerLengthOffset = 6;    // u16
static_assert(kInnerLengthOffset + 2 == kInnerHeaderSize);
// The largest plaintext of one SEALED_STREAM message, and so the largest buffer PollOutgoing ever needs.
inline constexpr size_t kMaxSealedPlaintext = kMaxPayload - kSealedOverhead;
static_assert(kInnerHeaderSize + kMaxStreamChunk <= kMaxSealedPlaintext);
// What a sender puts in one SEALED_STREAM message by default, so that the whole link frame is one TLS record
// (kTlsRecordPlaintext): 16,348 bytes of inner frames, i.e. one DATA frame of at most kRecordStreamChunk bytes.
// Receivers accept anything up to kMaxSealedPlaintext; this is only the sender's choice.
inline constexpr size_t kRecordSealedPlaintext = kTlsRecordPlaintext - kHeaderSize - kSealedOverhead;
inline constexpr size_t kRecordStreamChunk = kRecordSealedPlaintext - kInnerHeaderSize;  // 16,340
static_assert(kRecordSealedPlaintext <= kMaxSealedPlaintext);

inline constexpr uint8_t kInnerFlagFin = 0x01;  // DATA: the sender's half is closed after these bytes

enum class InnerType : uint8_t {
  kOpen = 0x01,    // u32 initial_window, u8 addr_type, addr (4 | str8 1..255 | 16), u16 port. exact
  kOpenOk = 0x02,  // u32 initial_window. exact
  kData = 0x03,    // bytes (0..kMaxStreamChunk when we send; any u16 length accepted); flag FIN
  kWindow = 0x04,  // u32 increment; stream_id 0 = the session window. exact
  kReset = 0x05,   // u16 code (ErrorCode). exact
  // The IP tunnel's set-up, on stream 0 (payloads: tunnel/tunnel_control.h; docs/ip-tunnel.md §1).
  kTunnelRequest = 0x06,  // device -> connector, once per session
  kTunnelConfig = 0x07,   // connector -> device, the answer
  kTunnelRefused = 0x08,  // connector -> device, the other answer
};
constexpr bool IsKnownInnerType(uint8_t t) { return t >= 0x01 && t <= 0x08; }
std::string_view InnerTypeName(InnerType t);

inline constexpr size_t kOpenOkSize = 4;
inline constexpr size_t kWindowSize = 4;
inline constexpr size_t kResetSize = 2;

enum class AddrType : uint8_t { kIPv4 = 1, kDomain = 3, kIPv6 = 4 };

// Where an OPEN asks the connector to dial. `addr` is 4 bytes (IPv4), 16 bytes (IPv6) or 1..255 bytes of
// domain name; a view into the decoded frame (or the caller's bytes when encoding).
struct OpenTarget {
  AddrType type = AddrType::kIPv4;
  std::span<const uint8_t> addr;
  uint16_t port = 0;
};
struct OpenPayload {
  uint32_t initial_window = kDefaultStreamWindow;  // the opener's receive window for this stream
  OpenTarget target;
};
inline constexpr size_t kMaxOpenSize = 4 + 1 + 1 + 255 + 2;

// One decoded inner frame; `payload` views the plaintext buffer handed to the reader.
struct InnerFrame {
  InnerType type = InnerType::kData;
  uint8_t flags = 0;
  StreamId stream_id = 0;
  std::span<const uint8_t> payload;

  bool fin() const { return (flags & kInnerFlagFin) != 0; }
};

// Why an inner payload was refused (the mux turns these into protocol_error).
enum class InnerError : uint8_t {
  kTruncated,      // payload shorter than its fields
  kTrailingBytes,  // bytes after the last field
  kBadAddrType,    // addr_type not 1, 3 or 4
  kEmptyDomain,    // domain name of length 0
};
std::string_view InnerErrorName(InnerError e);

Result<OpenPayload, InnerError> DecodeOpen(std::span<const uint8_t> payload);
Result<uint32_t, InnerError> DecodeOpenOk(std::span<const uint8_t> payload);
Result<uint32_t, InnerError> DecodeWindow(std::span<const uint8_t> payload);
Result<ErrorCode, InnerError> DecodeReset(std::span<const uint8_t> payload);

// Iterates the inner frames of one plaintext buffer. Next() yields known frames, skips unknown types by length
// (counted in skipped()), and reports kTruncated if the buffer ends inside a header or a payload (the whole
// sealed message is then malformed; frames already yielded stay valid). No allocation.
enum class InnerStatus : uint8_t { kFrame, kEnd, kTruncated };

class InnerFrameReader {
 public:
  explicit InnerFrameReader(std::span<const uint8_t> plaintext) : rest_(plaintext) {}
  InnerStatus Next(InnerFrame* out);
  size_t skipped() const { return skipped_; }

 private:
  std::span<const uint8_t> rest_;
  size_t skipped_ = 0;
};

// Packs inner frames into one caller-owned buffer (the plaintext of one sealed message). Each call writes one
// whole frame and returns true, or returns false and writes nothing if it does not fit (or a length is out of
// range). written() is the plaintext size so far.
class InnerFrameWriter {
 public:
  explicit InnerFrameWriter(std::span<uint8_t> out) : out_(out) {}

  bool Open(StreamId id, uint32_t initial_window, const OpenTarget& target);
  bool OpenOk(StreamId id, uint32_t initial_window);
  bool Data(StreamId id, std::span<const uint8_t> bytes, bool fin);
  bool Window(StreamId id, uint32_t increment);
  bool Reset(StreamId id, ErrorCode code);
  // Any frame, payload given as is (tests, unknown types).
  bool Raw(uint8_t type, uint8_t flags, StreamId id, std::span<const uint8_t> payload);

  size_t written() const { return n_; }
  size_t remaining() const { return out_.size() - n_; }
  std::span<uint8_t> data() const { return out_.first(n_); }

 private:
  // Reserves header + payload_len bytes and writes the header; returns the payload room, empty on failure.
  std::span<uint8_t> Begin(uint8_t type, uint8_t flags, StreamId id, size_t payload_len, bool* ok);

  std::span<uint8_t> out_;
  size_t n_ = 0;
};

// Encoded size of an OPEN payload for `target`, or 0 if the target is invalid.
size_t OpenPayloadSize(const OpenTarget& target);

}  // namespace strait::tunnel
