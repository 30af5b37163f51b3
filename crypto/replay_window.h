// Sliding anti-replay window over 64-bit message counters (RFC 6479's bitmap ring, as in wireguard-go
// replay/replay.go).
//
//   ring_: kRingBits = 2048 bits = 32 words of 64 bits, indexed by (counter / 64) mod 32.
//   last_: the highest counter accepted so far.
//
// A counter is accepted once if it is above last_ or at most kWindowSize (1984 = 2048 - 64) below it; the one
// word of slack lets the window slide a whole word at a time, so advancing clears at most kRingWords words and
// every operation is O(1) with no allocation. Counters further behind are kTooOld; counters seen before are
// kReplayed. Sizing: 1984 messages of reordering is far beyond what one relay path produces.
//
// Check() never mutates, so a receiver can reject cheaply before authenticating; Update() is called only after
// the message authenticated (an unauthenticated counter must never move the window).
// Thread-safety: one owner (the session's shard).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace strait::crypto {

class ReplayWindow {
 public:
  static constexpr size_t kWordBits = 64;
  static constexpr size_t kRingBits = 2048;
  static constexpr size_t kRingWords = kRingBits / kWordBits;
  static constexpr uint64_t kWindowSize = kRingBits - kWordBits;
  static_assert((kRingWords & (kRingWords - 1)) == 0, "ring index uses a mask");
  static_assert(kRingBits % kWordBits == 0);
  static_assert(kWindowSize == 1984);

  enum class Verdict : uint8_t { kAccept, kReplayed, kTooOld };

  // Would `counter` be accepted now? No side effects.
  Verdict Check(uint64_t counter) const;
  // Check and, on kAccept, record `counter` (sliding the window forward if it is the new highest).
  Verdict Update(uint64_t counter);
  // Forget everything (new session keys).
  void Reset();

  uint64_t last() const { return last_; }

 private:
  static size_t WordIndex(uint64_t counter) { return static_cast<size_t>((counter / kWordBits) % kRingWords); }
  static uint64_t BitMask(uint64_t counter) { return uint64_t{1} << (counter % kWordBits); }

  uint64_t last_ = 0;
  std::array<uint64_t, kRingWords> ring_{};
};

static_assert(sizeof(ReplayWindow) == 8 + ReplayWindow::kRingBits / 8, "no hidden members: 264 bytes a session");

}  // namespace strait::crypto
