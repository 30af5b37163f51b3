#include "crypto/replay_window.h"

namespace strait::crypto {

ReplayWindow::Verdict ReplayWindow::Check(uint64_t counter) const {
  if (counter > last_) return Verdict::kAccept;
  if (last_ - counter > kWindowSize) return Verdict::kTooOld;
  return (ring_[WordIndex(counter)] & BitMask(counter)) != 0 ? Verdict::kReplayed : Verdict::kAccept;
}

ReplayWindow::Verdict ReplayWindow::Update(uint64_t counter) {
  if (counter > last_) {
    // Slide forward: clear the words between the old and the new highest block, at most the whole ring.
    const uint64_t current = last_ / kWordBits;
    const uint64_t target = counter / kWordBits;
    const uint64_t diff = target - current < kRingWords ? target - current : kRingWords;
    for (uint64_t i = 1; i <= diff; ++i) ring_[static_cast<size_t>((current + i) % kRingWords)] = 0;
    last_ = counter;
  } else if (last_ - counter > kWindowSize) {
    return Verdict::kTooOld;
  }
  uint64_t& word = ring_[WordIndex(counter)];
  const uint64_t bit = BitMask(counter);
  if ((word & bit) != 0) return Verdict::kReplayed;
  word |= bit;
  return Verdict::kAccept;
}

void ReplayWindow::Reset() {
  last_ = 0;
  ring_.fill(0);
}

}  // namespace strait::crypto
