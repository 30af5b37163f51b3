// RunBulk (app_traffic.h): M streams writing as fast as their sockets take bytes, one epoll loop (level-triggered
// EPOLLOUT), bytes counted at the send() that accepted them, by the time of that call.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bench/suite/load/app_traffic.h"
#include "bench/suite/load/app_traffic_parts.h"

namespace strait::bench {
namespace {

constexpr std::size_t kChunkBytes = 256 * 1024;            // one send()
constexpr std::size_t kBytesPerWakeup = 4 * kChunkBytes;  // a stream's share of one loop turn (fairness)
constexpr int kEventsPerTurn = 256;
constexpr std::uint64_t kMaxWaitNs = 100'000'000;  // the stop flag is seen within this

struct BulkStream {
  int fd = -1;
  bool alive = true;
  std::uint64_t window_bytes = 0;
};

}  // namespace

Result<BulkResult, std::string> RunBulk(const BulkOptions& options) {
  if (auto ok = traffic::CheckCommon(options.to, options.streams, "streams", options.warmup_s, options.seconds,
                                     options.timeout_s);
      !ok) {
    return Fail(ok.error());
  }
  BulkResult r;
  std::vector<BulkStream> streams;
  for (int fd : traffic::OpenStreams(options.to, options.streams, options.timeout_s, options.stop, &r.errors,
                                     &r.first_error)) {
    streams.emplace_back().fd = fd;
  }
  r.streams_up = static_cast<std::uint32_t>(streams.size());
  auto close_all = [&] {
    for (BulkStream& s : streams) {
      if (s.fd >= 0) ::close(s.fd);
      s.fd = -1;
    }
  };
  traffic::Epoll ep;
  if (!ep.ok()) {
    close_all();
    return Fail(fmt::format("epoll_create1: {}", std::strerror(errno)));
  }

  const std::uint64_t start = traffic::NowNs();
  const std::uint64_t win_start = start + traffic::SecondsToNs(options.warmup_s);
  const std::uint64_t win_end = win_start + traffic::SecondsToNs(options.seconds);
  traffic::Timeline timeline(win_start, options.seconds, options.on_sample);
  std::size_t alive = 0;
  auto fail = [&](BulkStream& s, std::uint64_t now, const std::string& why) {
    s.alive = false;
    ::close(s.fd);  // leaves the epoll set with it
    s.fd = -1;
    --alive;
    ++r.errors;
    if (r.first_error.empty()) r.first_error = why;
    if (TimelineSample* t = timeline.At(now)) ++t->errors;
  };
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (ep.Add(streams[i].fd, EPOLLOUT | EPOLLRDHUP, i)) {
      ++alive;
    } else {
      ++alive;  // fail() counts it down
      fail(streams[i], start, fmt::format("stream {}: epoll_ctl: {}", i, std::strerror(errno)));
    }
  }

  // The bytes a send() takes are all the same; the far end only counts them.
  const std::vector<std::uint8_t> chunk(kChunkBytes, 0x42);
  epoll_event events[kEventsPerTurn];
  std::uint64_t end = start;
  for (;;) {
    end = traffic::NowNs();
    timeline.Advance(end);
    if (traffic::Stopped(options.stop)) {
      r.stopped_early = true;
      break;
    }
    if (end >= win_end || alive == 0) break;
    const std::uint64_t wait_ns = std::min(kMaxWaitNs, win_end - end);
    const int n = ::epoll_wait(ep.fd(), events, kEventsPerTurn, static_cast<int>((wait_ns + 999'999) / 1'000'000));
    for (int e = 0; e < n; ++e) {
      BulkStream& s = streams[events[e].data.u64];
      if (!s.alive) continue;
      const std::size_t index = static_cast<std::size_t>(&s - streams.data());
      if ((events[e].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
        fail(s, traffic::NowNs(), fmt::format("stream {}: the far end closed or reset it", index));
        continue;
      }
      for (std::size_t written = 0; written < kBytesPerWakeup;) {
        const ssize_t w = ::send(s.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        const std::uint64_t now = traffic::NowNs();
        if (w > 0) {
          written += static_cast<std::size_t>(w);
          if (now >= win_start && now < win_end) {
            s.window_bytes += static_cast<std::uint64_t>(w);
            if (TimelineSample* t = timeline.At(now)) t->bytes += static_cast<std::uint64_t>(w);
          }
          continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
        fail(s, now, fmt::format("stream {}: send: {}", index, std::strerror(errno)));
        break;
      }
    }
  }
  close_all();

  const std::uint64_t run_end = std::min(end, win_end);
  r.seconds = run_end > win_start ? static_cast<double>(run_end - win_start) / 1e9 : 0;
  r.timeline = std::move(timeline).Finish(run_end);
  for (const BulkStream& s : streams) {
    r.stream_bytes.push_back(s.window_bytes);
    r.bytes += s.window_bytes;
  }
  if (!streams.empty()) {
    const auto [lo, hi] = std::minmax_element(r.stream_bytes.begin(), r.stream_bytes.end());
    r.min_stream_bytes = *lo;
    r.max_stream_bytes = *hi;
  }
  r.bytes_per_s = r.seconds > 0 ? static_cast<double>(r.bytes) / r.seconds : 0;
  return r;
}

}  // namespace strait::bench
