// Internal to the traffic engines (app_traffic.cc, app_latency.cc): opening the streams, the checks every run's
// options share, the per-second timeline, and the epoll and timerfd handles. Not for other callers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/suite/load/app_traffic.h"

namespace strait::bench::traffic {

// CLOCK_MONOTONIC in nanoseconds (the clock timerfd and steady_clock use).
std::uint64_t NowNs();
std::uint64_t SecondsToNs(double s);
inline bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(std::memory_order_relaxed); }

// The options every run shares; the reason names the option.
Result<void, std::string> CheckCommon(const TrafficTarget& to, std::uint32_t streams, const char* streams_name,
                                      double warmup_s, double seconds, double timeout_s);

// Opens `n` streams one after another (SOCKS5 CONNECT or TCP connect), every wait bounded by one deadline
// timeout_s away, and gives back the non-blocking fds of those that opened (the caller closes them). Each failure
// counts in *errors (the first one's reason in *first_error). Stops opening when `stop` is set.
std::vector<int> OpenStreams(const TrafficTarget& to, std::uint32_t n, double timeout_s,
                             const std::atomic<bool>* stop, std::uint64_t* errors, std::string* first_error);

// One TimelineSample a second of the window [start_ns, start_ns + seconds). `on_sample` (may be empty) is handed
// each sample once it is over: by Advance, and by Finish for the rest.
class Timeline {
 public:
  using OnSample = std::function<void(const TimelineSample&)>;
  Timeline(std::uint64_t start_ns, double seconds, OnSample on_sample);
  // The sample `now_ns` falls in; nullptr outside the window.
  TimelineSample* At(std::uint64_t now_ns);
  // Hands on_sample the samples that ended by now_ns.
  void Advance(std::uint64_t now_ns);
  // The samples up to `end_ns` (the window as run, at most the whole window); the last one's t is end_ns's.
  std::vector<TimelineSample> Finish(std::uint64_t end_ns) &&;

 private:
  std::uint64_t start_ns_;
  std::uint64_t end_ns_;
  std::vector<TimelineSample> samples_;
  OnSample on_sample_;
  std::size_t reported_ = 0;  // samples handed to on_sample_
};

// An epoll instance (owned). Tags are the caller's (data.u64).
class Epoll {
 public:
  Epoll();
  ~Epoll();
  Epoll(const Epoll&) = delete;
  Epoll& operator=(const Epoll&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Add(int fd, std::uint32_t events, std::uint64_t tag);
  bool Mod(int fd, std::uint32_t events, std::uint64_t tag);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A CLOCK_MONOTONIC timerfd (owned), armed at absolute times.
class Timer {
 public:
  Timer();
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Fires at `at_ns` (NowNs's clock); re-arms only when the time changed.
  void ArmAt(std::uint64_t at_ns);
  // Reads the expiry count after the fd was readable.
  void Clear();

 private:
  int fd_ = -1;
  std::uint64_t armed_ns_ = 0;
};

// Lowers the calling thread's timer slack to 1 ns while it lives (open-loop sends are due to the microsecond), and
// restores it.
class TimerSlackGuard {
 public:
  TimerSlackGuard();
  ~TimerSlackGuard();
  TimerSlackGuard(const TimerSlackGuard&) = delete;
  TimerSlackGuard& operator=(const TimerSlackGuard&) = delete;

 private:
  long saved_ = -1;
};

}  // namespace strait::bench::traffic
