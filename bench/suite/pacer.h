// Pacer: the open-loop schedule of `strait bench latency` (docs/bench.md §2). Request i of a stream is due at
// start + i / rate, whatever happened to the ones before it; its latency is measured from that intended time, not
// from when it was sent, so a stall shows as the queueing it caused instead of being hidden by the sender waiting
// (coordinated omission). A stream holds at most max_outstanding requests in flight: a request due while that many
// are outstanding is not sent and counts as dropped (the backlog a peer can make grow stays bounded).
// Sans-I/O: the caller passes the clock (any monotonic count of nanoseconds) and does the sending.
#pragma once

#include <cstdint>

namespace strait::bench {

class Pacer {
 public:
  // `rate_per_s` > 0 requests a second on this stream, the first due at `start_ns`.
  Pacer(std::uint64_t start_ns, double rate_per_s, std::uint32_t max_outstanding)
      : start_ns_(start_ns), interval_ns_(1e9 / rate_per_s), max_outstanding_(max_outstanding) {}

  // When the next request is due.
  std::uint64_t next_due_ns() const { return Due(next_); }

  // Call when now_ns >= next_due_ns(). Sends (true: the caller sends it and later calls Completed with the intended
  // time it got in *intended_ns) or drops it (false: counted) and moves on to the next slot either way.
  bool Take(std::uint64_t* intended_ns) {
    *intended_ns = Due(next_);
    ++next_;
    if (outstanding_ >= max_outstanding_) {
      ++dropped_;
      return false;
    }
    ++outstanding_;
    ++sent_;
    return true;
  }
  // A response came back; returns its latency (now - intended).
  std::uint64_t Completed(std::uint64_t intended_ns, std::uint64_t now_ns) {
    if (outstanding_ > 0) --outstanding_;
    return now_ns > intended_ns ? now_ns - intended_ns : 0;
  }
  // How far behind schedule the stream is: due slots not yet taken at now_ns.
  std::uint64_t late(std::uint64_t now_ns) const {
    if (now_ns < next_due_ns()) return 0;
    return static_cast<std::uint64_t>(static_cast<double>(now_ns - start_ns_) / interval_ns_) + 1 - next_;
  }

  std::uint64_t sent() const { return sent_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint32_t outstanding() const { return outstanding_; }

 private:
  std::uint64_t Due(std::uint64_t i) const {
    return start_ns_ + static_cast<std::uint64_t>(static_cast<double>(i) * interval_ns_);
  }

  std::uint64_t start_ns_;
  double interval_ns_;
  std::uint32_t max_outstanding_;
  std::uint64_t next_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint32_t outstanding_ = 0;
};

}  // namespace strait::bench
