// The parts both traffic engines use (app_traffic_parts.h).
#include "bench/suite/load/app_traffic_parts.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "cli/demo/client.h"

namespace strait::bench::traffic {

std::uint64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t SecondsToNs(double s) { return s <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(s * 1e9)); }

Result<void, std::string> CheckCommon(const TrafficTarget& to, std::uint32_t streams, const char* streams_name,
                                      double warmup_s, double seconds, double timeout_s) {
  if (to.target.host.empty() || to.target.port == 0) return Fail(std::string("target: want HOST:PORT"));
  for (const demo::HostPort& door : to.doors) {
    if (door.host.empty() || door.port == 0) return Fail(std::string("socks: want HOST:PORT"));
  }
  if (streams < 1 || streams > kMaxTrafficStreams) {
    return Fail(fmt::format("{} {} is outside 1 .. {}", streams_name, streams, kMaxTrafficStreams));
  }
  if (!(warmup_s >= 0 && warmup_s <= kMaxTrafficSeconds)) {
    return Fail(fmt::format("warmup {} s is outside 0 .. {}", warmup_s, kMaxTrafficSeconds));
  }
  if (!(seconds > 0 && seconds <= kMaxTrafficSeconds)) {
    return Fail(fmt::format("seconds {} is outside (0, {}]", seconds, kMaxTrafficSeconds));
  }
  if (!(timeout_s > 0 && timeout_s <= kMaxTrafficSeconds)) {
    return Fail(fmt::format("timeout {} s is outside (0, {}]", timeout_s, kMaxTrafficSeconds));
  }
  return {};
}

std::vector<int> OpenStreams(const TrafficTarget& to, std::uint32_t n, double timeout_s,
                             const std::atomic<bool>* stop, std::uint64_t* errors, std::string* first_error) {
  const auto deadline =
      demo::Clock::now() + std::chrono::duration_cast<demo::Clock::duration>(std::chrono::duration<double>(timeout_s));
  auto failed = [&](const std::string& why) {
    ++*errors;
    if (first_error->empty()) *first_error = why;
  };
  std::vector<int> fds;
  fds.reserve(n);
  for (std::uint32_t i = 0; i < n && !Stopped(stop); ++i) {
    const demo::HostPort* door = to.doors.empty() ? nullptr : &to.doors[i % to.doors.size()];
    auto c = door != nullptr ? demo::Connection::ViaSocks5(*door, to.target.host, to.target.port, deadline)
                             : demo::Connection::Dial(to.target, deadline);
    if (!c) {
      failed(fmt::format("stream {} to {}:{}{}: {}", i, to.target.host, to.target.port,
                         door != nullptr ? fmt::format(" via SOCKS5 {}:{}", door->host, door->port) : "", c.error()));
      continue;
    }
    // The Connection closes its fd; the engine keeps a duplicate, non-blocking (TCP_NODELAY carries over).
    const int fd = ::fcntl(c->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
      if (fd >= 0) ::close(fd);
      failed(fmt::format("stream {}: fcntl failed", i));
      continue;
    }
    fds.push_back(fd);
  }
  return fds;
}

Timeline::Timeline(std::uint64_t start_ns, double seconds, OnSample on_sample)
    : start_ns_(start_ns),
      end_ns_(start_ns + SecondsToNs(seconds)),
      samples_(std::min<std::size_t>(kMaxTimelineSamples, static_cast<std::size_t>(std::ceil(seconds)))),
      on_sample_(std::move(on_sample)) {
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    samples_[i].t = std::min(static_cast<double>(i + 1), seconds);
  }
}

TimelineSample* Timeline::At(std::uint64_t now_ns) {
  if (now_ns < start_ns_ || now_ns >= end_ns_ || samples_.empty()) return nullptr;
  const std::size_t i = std::min<std::size_t>((now_ns - start_ns_) / 1'000'000'000u, samples_.size() - 1);
  return &samples_[i];
}

void Timeline::Advance(std::uint64_t now_ns) {
  while (reported_ < samples_.size() &&
         std::min(end_ns_, start_ns_ + (reported_ + 1) * std::uint64_t{1'000'000'000}) <= now_ns) {
    if (on_sample_) on_sample_(samples_[reported_]);
    ++reported_;
  }
}

std::vector<TimelineSample> Timeline::Finish(std::uint64_t end_ns) && {
  if (end_ns <= start_ns_) {
    samples_.clear();
  } else if (end_ns < end_ns_) {
    const double run_s = static_cast<double>(end_ns - start_ns_) / 1e9;
    samples_.resize(std::min(samples_.size(), static_cast<std::size_t>(std::ceil(run_s))));
    if (!samples_.empty()) samples_.back().t = std::min(samples_.back().t, run_s);
  }
  for (; reported_ < samples_.size(); ++reported_) {
    if (on_sample_) on_sample_(samples_[reported_]);
  }
  return std::move(samples_);
}

Epoll::Epoll() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {}
Epoll::~Epoll() {
  if (fd_ >= 0) ::close(fd_);
}
bool Epoll::Add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}
bool Epoll::Mod(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ::epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

Timer::Timer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {}
Timer::~Timer() {
  if (fd_ >= 0) ::close(fd_);
}
void Timer::ArmAt(std::uint64_t at_ns) {
  if (at_ns == 0) at_ns = 1;  // 0 would disarm
  if (at_ns == armed_ns_) return;
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(at_ns / 1'000'000'000u);
  spec.it_value.tv_nsec = static_cast<long>(at_ns % 1'000'000'000u);
  ::timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  armed_ns_ = at_ns;
}
void Timer::Clear() {
  std::uint64_t expirations = 0;
  (void)!::read(fd_, &expirations, sizeof expirations);
  armed_ns_ = 0;  // fired (or about to): the next ArmAt sets it again
}

TimerSlackGuard::TimerSlackGuard() : saved_(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) {
  if (saved_ > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}
TimerSlackGuard::~TimerSlackGuard() {
  if (saved_ > 0) ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(saved_), 0, 0, 0);
}

}  // namespace strait::bench::traffic
