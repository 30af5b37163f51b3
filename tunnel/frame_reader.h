// FrameReader: the streaming, bounded decoder for link frames (BoringSSL tls_open_record, derp readFrame).
//
// The caller owns buffering. It hands Next() the bytes it has not consumed yet; Next() looks at most at one
// frame and says what to do:
//
//   kFrame    a whole known frame is at the front: `header`, `payload` (a view into the input), `consumed` =
//             kHeaderSize + length. The caller drops `consumed` bytes once it is done with `payload`.
//   kNeedMore the input holds less than one frame; `wanted` = bytes the next step needs in total (header, then
//             header + length). `consumed` = 0. The length has already been checked by then, so `wanted` never
//             exceeds kHeaderSize + max_payload: buffering up to `wanted` is always safe.
//   kSkip     a whole frame of an unknown, non-critical type: `consumed` bytes to drop, counted in skipped().
//   kError    the link must close: `error` says why (ErrorCodeFor gives the ERROR code to send). Reported as
//             soon as the header arrives, before any payload is waited for. `consumed` = 0.
//
// Cost: a header parse through ByteReader and a few compares; no allocation, no copy. Not thread-safe (one
// reader per link, loop thread only); it keeps only counters, so it may be reused across links.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tunnel/frame.h"

namespace strait::tunnel {

enum class ReadKind : uint8_t { kFrame, kNeedMore, kSkip, kError };

// Why a link's byte stream is refused. One name per reason, for counters.
enum class FrameError : uint8_t {
  kNone = 0,
  kBadVersion,        // header byte 0 is not kFramingVersion          -> ERROR protocol_error
  kTooLarge,          // length above max_payload                       -> ERROR frame_too_large
  kCriticalUnknown,   // unknown type with kFlagCritical                -> ERROR unsupported_frame
};
inline constexpr size_t kFrameErrorCount = 4;
std::string_view FrameErrorName(FrameError e);
ErrorCode ErrorCodeFor(FrameError e);

struct ReadResult {
  ReadKind kind = ReadKind::kNeedMore;
  size_t consumed = 0;
  size_t wanted = 0;                   // kNeedMore only
  FrameHeader header{};                // kFrame, kSkip, and kError when the header was readable
  std::span<const uint8_t> payload{};  // kFrame only; lives as long as the input buffer
  FrameError error = FrameError::kNone;
};

// Decodes just the 12 header bytes; does not judge them. Returns false if fewer than kHeaderSize bytes.
bool ParseFrameHeader(std::span<const uint8_t> in, FrameHeader* out);

class FrameReader {
 public:
  // `max_payload` is kMaxPayload, or the smaller value a HELLO_ACK announced.
  explicit FrameReader(uint32_t max_payload = kMaxPayload) : max_payload_(max_payload) {}

  ReadResult Next(std::span<const uint8_t> in);

  uint32_t max_payload() const { return max_payload_; }
  uint64_t frames() const { return frames_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t errors(FrameError e) const { return errors_[static_cast<size_t>(e)]; }

 private:
  // Immutable after construction.
  uint32_t max_payload_;
  // Counters (loop thread only).
  uint64_t frames_ = 0;
  uint64_t skipped_ = 0;
  uint64_t errors_[kFrameErrorCount] = {};
};

}  // namespace strait::tunnel
