// RunLatency (app_traffic.h): request/response over C streams, open loop (a Pacer per stream, woken by a timerfd at
// the next due time) or closed loop, one epoll loop. Requests are written from one constant buffer (a stream only
// counts the request bytes it still owes, so nothing is buffered per request); responses are checked against the
// same byte and matched in order to the stream's FIFO of request times.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>

#include <fmt/format.h>

#include "bench/suite/load/app_traffic.h"
#include "bench/suite/load/app_traffic_parts.h"
#include "bench/suite/pacer.h"

namespace strait::bench {
namespace {

constexpr std::uint8_t kRequestByte = 0x5a;
constexpr std::size_t kIoBytes = 64 * 1024;  // one send() or recv()
constexpr int kReadsPerWakeup = 16;          // a stream's share of one loop turn
constexpr int kEventsPerTurn = 256;
constexpr std::uint64_t kTimerTag = ~std::uint64_t{0};
constexpr std::uint64_t kMaxWaitNs = 100'000'000;  // the stop flag is seen within this

struct LatencyStream {
  int fd = -1;
  bool alive = true;
  bool watching_out = false;       // EPOLLOUT is in the interest set
  std::optional<Pacer> pacer;      // open loop only
  std::deque<std::uint64_t> fifo;  // the times of the requests in flight, oldest first (at most max_outstanding)
  std::uint64_t unwritten = 0;     // request bytes taken and not yet written
  std::uint32_t received = 0;      // bytes of the oldest request's response read so far
};

// One run's state and its steps; Run() is the driver loop.
class LatencyRun {
 public:
  explicit LatencyRun(const LatencyOptions& o) : o_(o), io_(kIoBytes, kRequestByte), scratch_(kIoBytes) {}

  Result<LatencyResult, std::string> Run();

 private:
  bool Measured(std::uint64_t t) const { return t >= win_start_ && t < win_end_; }
  std::uint64_t Tag(const LatencyStream& s) const { return static_cast<std::uint64_t>(&s - streams_.data()); }

  void Broken(LatencyStream& s, std::uint64_t now, const std::string& why);
  void Send(LatencyStream& s, std::uint64_t t, std::uint64_t now);
  void TakeDue(LatencyStream& s, std::uint64_t now);
  void Flush(LatencyStream& s, std::uint64_t now);
  void Read(LatencyStream& s);
  void Complete(LatencyStream& s, std::uint64_t now);
  std::uint64_t NextWake(std::uint64_t now, bool draining, std::uint64_t drain_deadline) const;

  const LatencyOptions& o_;
  const std::vector<std::uint8_t> io_;  // kRequestByte repeated: what every request is made of
  std::vector<std::uint8_t> scratch_;   // receive buffer
  std::vector<LatencyStream> streams_;
  traffic::Epoll ep_;
  traffic::Timer timer_;
  std::uint64_t win_start_ = 0;
  std::uint64_t win_end_ = 0;
  std::optional<traffic::Timeline> timeline_;
  std::size_t alive_ = 0;
  std::uint64_t in_flight_ = 0;  // over the live streams
  LatencyResult r_;
};

void LatencyRun::Broken(LatencyStream& s, std::uint64_t now, const std::string& why) {
  for (std::uint64_t t : s.fifo) r_.unanswered += Measured(t) ? 1 : 0;
  in_flight_ -= s.fifo.size();
  s.fifo.clear();
  s.alive = false;
  ::close(s.fd);  // leaves the epoll set with it
  s.fd = -1;
  --alive_;
  ++r_.errors;
  if (r_.first_error.empty()) r_.first_error = fmt::format("stream {}: {}", Tag(s), why);
  if (TimelineSample* t = timeline_->At(now)) ++t->errors;
}

// Queues one request with time `t` (intended or actual send time) and writes what the socket takes.
void LatencyRun::Send(LatencyStream& s, std::uint64_t t, std::uint64_t now) {
  s.fifo.push_back(t);
  ++in_flight_;
  s.unwritten += o_.size;
  if (Measured(t)) {
    ++r_.sent;
    if (!o_.closed && now - t >= o_.late_after_ns) ++r_.late;
  }
}

void LatencyRun::TakeDue(LatencyStream& s, std::uint64_t now) {
  while (s.alive && s.pacer->next_due_ns() <= now && s.pacer->next_due_ns() < win_end_) {
    std::uint64_t intended = 0;
    if (s.pacer->Take(&intended)) {
      Send(s, intended, now);
    } else if (Measured(intended)) {
      ++r_.dropped;
    }
  }
}

void LatencyRun::Flush(LatencyStream& s, std::uint64_t now) {
  while (s.alive && s.unwritten > 0) {
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(s.unwritten, io_.size()));
    const ssize_t w = ::send(s.fd, io_.data(), len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      s.unwritten -= static_cast<std::uint64_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    Broken(s, now, fmt::format("send: {}", std::strerror(errno)));
    return;
  }
  const bool want_out = s.unwritten > 0;
  if (s.alive && want_out != s.watching_out) {
    ep_.Mod(s.fd, EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u), Tag(s));
    s.watching_out = want_out;
  }
}

void LatencyRun::Complete(LatencyStream& s, std::uint64_t now) {
  const std::uint64_t t = s.fifo.front();
  s.fifo.pop_front();
  --in_flight_;
  const std::uint64_t latency = s.pacer ? s.pacer->Completed(t, now) : (now > t ? now - t : 0);
  if (Measured(t)) {
    ++r_.completed;
    r_.histogram.Record(latency);
    if (TimelineSample* sample = timeline_->At(now)) {
      ++sample->ops;
      sample->bytes += o_.size;
    }
  }
  if (o_.closed && now < win_end_) Send(s, now, now);  // the next request goes when this one is answered
}

void LatencyRun::Read(LatencyStream& s) {
  for (int i = 0; i < kReadsPerWakeup && s.alive; ++i) {
    const ssize_t n = ::recv(s.fd, scratch_.data(), scratch_.size(), MSG_DONTWAIT);
    const std::uint64_t now = traffic::NowNs();
    if (n == 0) return Broken(s, now, "the echo closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return Broken(s, now, fmt::format("recv: {}", std::strerror(errno)));
    }
    const std::size_t got = static_cast<std::size_t>(n);
    if (std::memcmp(scratch_.data(), io_.data(), got) != 0) return Broken(s, now, "the echo returned other bytes");
    for (std::size_t left = got; left > 0;) {
      if (s.fifo.empty()) return Broken(s, now, "the echo returned more bytes than were sent");
      const std::size_t take = std::min<std::size_t>(left, o_.size - s.received);
      s.received += static_cast<std::uint32_t>(take);
      left -= take;
      if (s.received == o_.size) {
        s.received = 0;
        Complete(s, now);
      }
    }
    if (got < scratch_.size()) break;
  }
  if (o_.closed) Flush(s, traffic::NowNs());
}

std::uint64_t LatencyRun::NextWake(std::uint64_t now, bool draining, std::uint64_t drain_deadline) const {
  std::uint64_t wake = now + kMaxWaitNs;
  if (draining) return std::min(wake, drain_deadline);
  wake = std::min(wake, win_end_);
  if (o_.closed) return wake;
  for (const LatencyStream& s : streams_) {
    if (s.alive) wake = std::min(wake, s.pacer->next_due_ns());
  }
  return wake;
}

Result<LatencyResult, std::string> LatencyRun::Run() {
  for (int fd : traffic::OpenStreams(o_.to, o_.connections, o_.timeout_s, o_.stop, &r_.errors, &r_.first_error)) {
    streams_.emplace_back().fd = fd;
  }
  r_.streams_up = static_cast<std::uint32_t>(streams_.size());
  if (!ep_.ok() || !timer_.ok() || !ep_.Add(timer_.fd(), EPOLLIN, kTimerTag)) {
    for (LatencyStream& s : streams_) ::close(s.fd);
    return strait::Fail(fmt::format("epoll or timerfd: {}", std::strerror(errno)));
  }
  traffic::TimerSlackGuard slack;

  const std::uint64_t start = traffic::NowNs();
  win_start_ = start + traffic::SecondsToNs(o_.warmup_s);
  win_end_ = win_start_ + traffic::SecondsToNs(o_.seconds);
  timeline_.emplace(win_start_, o_.seconds, [this](const TimelineSample& sample) {
    if (o_.on_sample) o_.on_sample(sample);
    if (o_.on_progress) o_.on_progress(sample, r_.histogram);
  });
  const double stream_rate = o_.rate / static_cast<double>(o_.connections);
  alive_ = streams_.size();
  for (std::size_t i = 0; i < streams_.size(); ++i) {
    LatencyStream& s = streams_[i];
    if (!ep_.Add(s.fd, EPOLLIN | EPOLLRDHUP, i)) {
      Broken(s, start, fmt::format("epoll_ctl: {}", std::strerror(errno)));
      continue;
    }
    if (o_.closed) {
      Send(s, start, start);
      Flush(s, start);
    } else {
      // Stream i's schedule starts i / rate after the first: together they make one evenly spaced schedule.
      s.pacer.emplace(start + traffic::SecondsToNs(static_cast<double>(i) / o_.rate), stream_rate,
                      o_.max_outstanding);
    }
  }

  epoll_event events[kEventsPerTurn];
  bool draining = false;
  std::uint64_t drain_deadline = 0;
  std::uint64_t end = start;
  for (;;) {
    const std::uint64_t now = traffic::NowNs();
    end = now;
    timeline_->Advance(now);
    if (traffic::Stopped(o_.stop)) {
      r_.stopped_early = true;
      break;
    }
    if (alive_ == 0) break;
    if (!draining && now >= win_end_) {
      draining = true;
      drain_deadline = now + traffic::SecondsToNs(o_.timeout_s);
    }
    if (draining && (in_flight_ == 0 || now >= drain_deadline)) break;
    if (!o_.closed && !draining) {
      for (LatencyStream& s : streams_) {
        if (!s.alive) continue;
        TakeDue(s, now);
        if (s.unwritten > 0 && !s.watching_out) Flush(s, now);
      }
    }
    timer_.ArmAt(NextWake(traffic::NowNs(), draining, drain_deadline));
    const int n = ::epoll_wait(ep_.fd(), events, kEventsPerTurn, static_cast<int>(kMaxWaitNs / 1'000'000));
    for (int e = 0; e < n; ++e) {
      const std::uint64_t tag = events[e].data.u64;
      if (tag == kTimerTag) {
        timer_.Clear();
        continue;
      }
      LatencyStream& s = streams_[tag];
      if (!s.alive) continue;
      const std::uint32_t got = events[e].events;
      if ((got & EPOLLERR) != 0) {
        Broken(s, traffic::NowNs(), "the connection failed (EPOLLERR)");
        continue;
      }
      if ((got & EPOLLOUT) != 0) Flush(s, traffic::NowNs());
      if ((got & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) Read(s);
    }
  }

  for (LatencyStream& s : streams_) {
    if (!s.alive) continue;
    for (std::uint64_t t : s.fifo) r_.unanswered += Measured(t) ? 1 : 0;
    ::close(s.fd);
    s.fd = -1;
  }
  const std::uint64_t run_end = std::min(end, win_end_);
  r_.seconds = run_end > win_start_ ? static_cast<double>(run_end - win_start_) / 1e9 : 0;
  r_.timeline = std::move(*timeline_).Finish(run_end);
  r_.achieved_rate = r_.seconds > 0 ? static_cast<double>(r_.completed) / r_.seconds : 0;
  return std::move(r_);
}

}  // namespace

Result<LatencyResult, std::string> RunLatency(const LatencyOptions& options) {
  if (auto ok = traffic::CheckCommon(options.to, options.connections, "connections", options.warmup_s,
                                     options.seconds, options.timeout_s);
      !ok) {
    return Fail(ok.error());
  }
  if (options.size < 1 || options.size > kMaxRequestBytes) {
    return Fail(fmt::format("size {} is outside 1 .. {}", options.size, kMaxRequestBytes));
  }
  if (!options.closed) {
    if (!(options.rate > 0 && options.rate <= kMaxRequestRate)) {
      return Fail(fmt::format("rate {}/s is outside (0, {}]", options.rate, kMaxRequestRate));
    }
    if (options.max_outstanding < 1 || options.max_outstanding > kMaxOutstandingLimit) {
      return Fail(fmt::format("max_outstanding {} is outside 1 .. {}", options.max_outstanding, kMaxOutstandingLimit));
    }
    if (std::uint64_t{options.connections} * options.max_outstanding > kMaxOutstandingTotal) {
      return Fail(fmt::format("connections x max_outstanding {} is more than {}",
                              std::uint64_t{options.connections} * options.max_outstanding, kMaxOutstandingTotal));
    }
  }
  return LatencyRun(options).Run();
}

}  // namespace strait::bench
