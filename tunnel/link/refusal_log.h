// RefusalLog: the rate limit on refusal log lines of a listening side (the relay's shards, a connector's Direct
// Connect listener), sans-I/O: the caller passes the time (ns on one monotonic clock) and writes the lines. At most
// `per_second` refusals a second are logged one line each; the rest are counted and summed up in one line when the
// next second's first refusal comes (issue 7: every refusal is visible, and a flood cannot flood the log).
// Thread-safety: none; one loop thread.
#pragma once

#include <cstdint>

namespace strait::link {

class RefusalLog {
 public:
  explicit RefusalLog(std::uint32_t per_second = 10) : per_second_(per_second) {}

  struct Verdict {
    bool log = false;             // log this refusal
    std::uint64_t not_logged = 0;  // refusals over the rate since the last summary: log one line saying so first
  };
  Verdict Admit(std::int64_t now) {
    Verdict v;
    if (!started_ || now - window_start_ >= kSecond) {
      started_ = true;
      window_start_ = now;
      in_window_ = 0;
      v.not_logged = unlogged_;
      unlogged_ = 0;
    }
    if (in_window_ >= per_second_) {
      ++unlogged_;
      return v;
    }
    ++in_window_;
    v.log = true;
    return v;
  }
  std::uint32_t per_second() const { return per_second_; }

 private:
  static constexpr std::int64_t kSecond = 1'000'000'000;
  const std::uint32_t per_second_;
  bool started_ = false;  // the first refusal opens the first window
  std::int64_t window_start_ = 0;
  std::uint32_t in_window_ = 0;
  std::uint64_t unlogged_ = 0;
};

}  // namespace strait::link
