#include "bench/suite/load/udp_flood.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace strait::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMagic = 0x53425544;  // "SBUD"
constexpr std::uint64_t kMeasuredBit = 1ull << 63;
constexpr unsigned kBatch = 32;               // datagrams per sendmmsg / recvmmsg
constexpr int kSocketBuffer = 4 << 20;        // asked for; the kernel caps it at [rw]mem_max
constexpr int kRecvTimeoutMs = 100;           // the counter's wake-up, for Stop

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration Span(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

std::uint32_t Get32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

}  // namespace

void PutUdpHeader(unsigned char* p, std::uint32_t run_id, std::uint64_t seq, bool measured) {
  if (measured) seq |= kMeasuredBit;
  const std::uint32_t magic = htonl(kMagic), r = htonl(run_id);
  const std::uint32_t hi = htonl(static_cast<std::uint32_t>(seq >> 32)), lo = htonl(static_cast<std::uint32_t>(seq));
  std::memcpy(p, &magic, 4);
  std::memcpy(p + 4, &r, 4);
  std::memcpy(p + 8, &hi, 4);
  std::memcpy(p + 12, &lo, 4);
}

DatagramKind ClassifyDatagram(std::span<const unsigned char> d, bool truncated, std::uint32_t run_id) {
  if (truncated || d.size() < kUdpHeaderBytes || d.size() > kMaxUdpPayload) return DatagramKind::kForeign;
  if (Get32(d.data()) != kMagic || Get32(d.data() + 4) != run_id) return DatagramKind::kForeign;
  return (Get32(d.data() + 8) & 0x80000000u) != 0 ? DatagramKind::kMeasured : DatagramKind::kWarmup;
}

Result<UdpFloodResult, std::string> RunUdpFlood(const UdpFloodOptions& o) {
  if (o.size < kUdpHeaderBytes || o.size > kMaxUdpPayload) {
    return Fail(fmt::format("size must be in {}..{} bytes", kUdpHeaderBytes, kMaxUdpPayload));
  }
  if (!(o.rate >= 0 && o.rate <= kMaxUdpRate)) return Fail(fmt::format("rate must be in 0..{}", kMaxUdpRate));
  if (!(o.warmup_s >= 0 && o.warmup_s <= 3600)) return Fail(std::string("warm-up must be in 0..3600 s"));
  if (!(o.seconds > 0 && o.seconds <= 3600)) return Fail(std::string("seconds must be in (0, 3600]"));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(o.to.port);
  if (inet_pton(AF_INET, o.to.host.c_str(), &to.sin_addr) != 1) {
    return Fail(fmt::format("{}: not an IPv4 address", o.to.host));
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(fmt::format("socket: {}", std::strerror(errno)));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof(kSocketBuffer));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    const int e = errno;
    close(fd);
    return Fail(fmt::format("connect {}:{}: {}", o.to.host, o.to.port, std::strerror(e)));
  }

  std::vector<unsigned char> bufs(static_cast<std::size_t>(kBatch) * o.size, 0x5a);
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  std::memset(msgs, 0, sizeof(msgs));
  for (unsigned i = 0; i < kBatch; ++i) {
    iov[i] = {bufs.data() + static_cast<std::size_t>(i) * o.size, o.size};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  UdpFloodResult r;
  const auto start = Clock::now();
  const auto window_start = start + Span(o.warmup_s);
  const auto window_end = window_start + Span(o.seconds);
  std::uint64_t seq = 0;        // every datagram, warm-up included
  std::uint64_t scheduled = 0;  // paced: datagrams due so far
  TimelineSample sample;
  double next_sample_t = 1;
  auto flush_sample = [&](double t) {
    sample.t = t;
    if (r.timeline.size() < kMaxTimelineSamples) r.timeline.push_back(sample);
    if (o.on_sample) o.on_sample(sample);
    sample = TimelineSample{};
  };
  for (;;) {
    if (o.stop != nullptr && o.stop->load(std::memory_order_relaxed)) {
      r.stopped_early = true;
      break;
    }
    auto now = Clock::now();
    if (now >= window_end) break;
    unsigned n = kBatch;
    if (o.rate > 0) {
      const std::uint64_t due = static_cast<std::uint64_t>(Seconds(now - start) * o.rate) + 1;
      if (due <= scheduled) {
        const auto next = start + Span(static_cast<double>(scheduled) / o.rate);
        std::this_thread::sleep_until(std::min(next, window_end));
        continue;
      }
      n = static_cast<unsigned>(std::min<std::uint64_t>(kBatch, due - scheduled));
      scheduled += n;
    }
    const bool measured = now >= window_start;
    if (measured) {
      while (Seconds(now - window_start) >= next_sample_t) {
        flush_sample(next_sample_t);
        next_sample_t += 1;
      }
    }
    for (unsigned i = 0; i < n; ++i) {
      PutUdpHeader(bufs.data() + static_cast<std::size_t>(i) * o.size, o.run_id, seq + i, measured);
    }
    const int sent = sendmmsg(fd, msgs, n, 0);
    const std::uint64_t ok = sent > 0 ? static_cast<std::uint64_t>(sent) : 0;
    seq += n;
    if (measured) {
      r.sent += ok;
      r.send_errors += n - ok;
      sample.ops += ok;
      sample.bytes += ok * o.size;
    }
  }
  const auto end = std::min(Clock::now(), window_end);
  r.seconds = end > window_start ? Seconds(end - window_start) : 0;
  if (r.seconds > next_sample_t - 1) flush_sample(r.seconds);
  close(fd);
  return r;
}

Result<std::unique_ptr<UdpCounter>, std::string> UdpCounter::Start(const std::string& host) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return Fail(fmt::format("{}: not an IPv4 address", host));
  std::unique_ptr<UdpCounter> c(new UdpCounter());
  c->fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return Fail(fmt::format("socket: {}", std::strerror(errno)));
  (void)setsockopt(c->fd_, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof(kSocketBuffer));
  timeval tv{0, kRecvTimeoutMs * 1000};
  (void)setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (bind(c->fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    return Fail(fmt::format("bind {}: {}", host, std::strerror(errno)));
  }
  socklen_t len = sizeof(a);
  if (getsockname(c->fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return Fail(fmt::format("getsockname: {}", std::strerror(errno)));
  }
  c->port_ = ntohs(a.sin_port);
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

UdpCounter::~UdpCounter() {
  Stop();
  if (fd_ >= 0) close(fd_);
}

void UdpCounter::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void UdpCounter::Expect(std::uint32_t run_id) {
  std::lock_guard lock(mu_);
  run_id_.store(run_id, std::memory_order_relaxed);
  delivered_.store(0, std::memory_order_relaxed);
  delivered_bytes_.store(0, std::memory_order_relaxed);
  foreign_.store(0, std::memory_order_relaxed);
}

void UdpCounter::Loop() {
  constexpr std::size_t kSlot = 2048;  // larger than any datagram the sender makes: a longer one is truncated, foreign
  std::vector<unsigned char> bufs(kBatch * kSlot);
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  while (!stopping_.load(std::memory_order_relaxed)) {
    std::memset(msgs, 0, sizeof(msgs));
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {bufs.data() + i * kSlot, kSlot};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd_, msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;  // the timeout (to look at stopping_), or EINTR
    std::lock_guard lock(mu_);
    const std::uint32_t want = run_id_.load(std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) {
      const std::size_t len = msgs[i].msg_len;
      const auto kind = ClassifyDatagram({bufs.data() + static_cast<std::size_t>(i) * kSlot, len},
                                         (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, want);
      if (kind == DatagramKind::kForeign) foreign_.fetch_add(1, std::memory_order_relaxed);
      if (kind != DatagramKind::kMeasured) continue;  // foreign, or warm-up
      delivered_.fetch_add(1, std::memory_order_relaxed);
      delivered_bytes_.fetch_add(len, std::memory_order_relaxed);
    }
  }
}

}  // namespace strait::bench
