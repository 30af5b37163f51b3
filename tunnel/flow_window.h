// Credit windows for stream and session flow control (docs/protocol.md §8). Plain counters, no I/O.
//
// SendWindow: credit the peer granted us. Debited when we queue DATA, credited by WINDOW frames.
// RecvWindow: credit we granted the peer. Every byte we advertised is in exactly one of three places:
//
//   window = credit (the peer may still send) + held (delivered, not yet released) + pending (released, not yet
//            returned in a WINDOW frame)
//
// The stream mux releases a stream's bytes when the application consumes them, and the session's bytes as soon
// as they are accepted into a stream (held is always 0 for the session window). A WINDOW update is due once
// pending reaches half the window, so updates are batched but the sender never waits on a half-returned window.
#pragma once

#include <algorithm>
#include <cstdint>

namespace strait::tunnel {

// A window may never exceed this; a WINDOW frame that would push it higher is a flow_control error.
inline constexpr uint64_t kMaxWindow = 0xFFFFFFFFu;

class SendWindow {
 public:
  explicit SendWindow(uint64_t initial = 0) : credit_(initial) {}
  uint64_t available() const { return credit_; }
  // Debits n bytes; the caller has already limited n to available().
  void Spend(uint64_t n) { credit_ -= std::min(n, credit_); }
  // Credits a WINDOW increment. Returns false (and changes nothing) if the window would exceed kMaxWindow.
  bool Grant(uint32_t increment) {
    if (credit_ + increment > kMaxWindow) return false;
    credit_ += increment;
    return true;
  }

 private:
  uint64_t credit_;
};

class RecvWindow {
 public:
  explicit RecvWindow(uint32_t window = 0) : window_(window), credit_(window) {}

  uint32_t window() const { return window_; }
  uint32_t credit() const { return credit_; }
  uint32_t held() const { return held_; }
  uint32_t pending() const { return pending_; }

  // The peer sent n bytes. Returns false (and changes nothing) if n exceeds the credit it had.
  bool Accept(uint32_t n) {
    if (n > credit_) return false;
    credit_ -= n;
    held_ += n;
    return true;
  }
  // n held bytes are done with (consumed by the application, or dropped). Returns false if n > held.
  bool Release(uint32_t n) {
    if (n > held_) return false;
    held_ -= n;
    pending_ += n;
    return true;
  }
  // True when a WINDOW frame should go out.
  bool UpdateDue() const { return pending_ > 0 && pending_ >= std::max<uint32_t>(1, window_ / 2); }
  // The increment for the WINDOW frame being sent; moves pending back to credit.
  uint32_t TakeUpdate() {
    const uint32_t inc = pending_;
    credit_ += pending_;
    pending_ = 0;
    return inc;
  }
  bool Consistent() const { return uint64_t{credit_} + held_ + pending_ == window_; }

 private:
  uint32_t window_;
  uint32_t credit_;
  uint32_t held_ = 0;
  uint32_t pending_ = 0;
};

}  // namespace strait::tunnel
