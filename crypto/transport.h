// The end-to-end Noise transport session on the hot path: seal and open one e2e message in place.
//
// Wire layout of one sealed e2e message (fixed by the protocol):
//
//   0            8                          8+n             8+n+16
//   +------------+--------------------------+---------------+
//   | counter    | ciphertext (n bytes)     | Poly1305 tag  |
//   | u64 BE     |                          | 16 bytes      |
//   +------------+--------------------------+---------------+
//    in clear     ChaCha20-Poly1305 (key = this direction's Split() key,
//                 nonce = Noise encoding of counter: 4 zero bytes || LE64(counter),
//                 associated data = supplied by the caller: the outer frame type byte)
//
// Counters are explicit (unlike plain Noise transport messages) so the receiver can keep a sliding replay
// window across messages the relay dropped or reordered. Open authenticates first and only then records the
// counter in the window.
//
// Caller buffer for Seal (in place, no copy):
//
//   buffer: [ header room (8) | plaintext (n) | tag room (16) | ...unused ]
//            ^ counter goes here                ^ tag goes here
//
// Limits: a sealed message is at most kMaxSealedSize (65535, the Noise message maximum) bytes, so the
// plaintext is at most kMaxPlaintextSize. A sender stops at kRejectAfterMessages (2^60, WireGuard's
// RejectAfterMessages) with kCounterExhausted, long before the 64-bit nonce could wrap; the receiver refuses
// counters at or above that bound too. Rekeying (a new handshake) is the session layer's job.
//
// Cost: Seal/Open never allocate and never lock. Thread-safety: one owner (the shard that owns the session).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/aead.h"
#include "crypto/noise_handshake.h"
#include "crypto/replay_window.h"
#include "crypto/symmetric_state.h"

namespace strait::crypto {

inline constexpr size_t kTransportHeaderSize = 8;  // u64 BE counter
inline constexpr size_t kTransportTagSize = kAeadTagSize;
inline constexpr size_t kTransportOverhead = kTransportHeaderSize + kTransportTagSize;
inline constexpr size_t kMaxSealedSize = kNoiseMaxMessageLen;
inline constexpr size_t kMaxPlaintextSize = kMaxSealedSize - kTransportOverhead;
inline constexpr uint64_t kRejectAfterMessages = uint64_t{1} << 60;
static_assert(kTransportOverhead == 24);
static_assert(kMaxPlaintextSize == 65511);
static_assert(kRejectAfterMessages < kNoiseMaxNonce, "the reserved Noise nonce 2^64-1 is never reached");

enum class SealStatus : uint8_t {
  kOk,
  kCounterExhausted,  // kRejectAfterMessages messages sent: a new handshake is required
  kTooLarge,          // plaintext above kMaxPlaintextSize
  kBufferTooSmall,    // buffer shorter than header + plaintext + tag
};

// Why a received message was dropped (style.md item 5: every drop has a name; count them per reason).
enum class OpenStatus : uint8_t {
  kOk,
  kTooShort,          // shorter than header + tag
  kTooLarge,          // longer than kMaxSealedSize
  kCounterExhausted,  // counter at or above kRejectAfterMessages: no honest sender produces it
  kReplayed,          // counter already accepted
  kTooOld,            // counter behind the replay window
  kAuthFailed,        // tag mismatch (wrong key, tampered bytes, or wrong associated data)
};
inline constexpr size_t kOpenStatusCount = 7;

std::string_view SealStatusName(SealStatus s);
std::string_view OpenStatusName(OpenStatus s);

struct [[nodiscard]] Sealed {
  SealStatus status;
  std::span<uint8_t> wire;  // on kOk: the sealed message, a prefix of the caller's buffer
};

struct [[nodiscard]] Opened {
  OpenStatus status;
  std::span<uint8_t> plaintext;  // on kOk: a view into the caller's buffer (bytes 8 .. 8+n)
  uint64_t counter;              // on kOk: the message's counter
};

class TransportSession {
 public:
  explicit TransportSession(const TransportKeys& keys) : send_(keys.send), recv_(keys.recv) {}

  // Seals `plaintext_size` bytes found at buffer[8 .. 8+plaintext_size) in place: writes the counter into
  // buffer[0..8), encrypts, and writes the tag after the ciphertext. Consumes one counter on kOk only.
  Sealed Seal(std::span<const uint8_t> ad, std::span<uint8_t> buffer, size_t plaintext_size);

  // Opens one sealed message in place. Order: length, counter bound, replay pre-check (cheap, no state
  // change), authentication, and only then the replay window update. On failure the window is unchanged.
  Opened Open(std::span<const uint8_t> ad, std::span<uint8_t> message);

  uint64_t next_send_counter() const { return next_send_; }
  const ReplayWindow& replay_window() const { return window_; }

  // Moves the send counter, so tests can reach kRejectAfterMessages without sending 2^60 messages.
  void SetSendCounterForTest(uint64_t n) { next_send_ = n; }

 private:
  // Immutable after construction.
  const ChaChaPoly send_;
  const ChaChaPoly recv_;
  // Owner's thread only.
  uint64_t next_send_ = 0;
  ReplayWindow window_;
};

}  // namespace strait::crypto
