#include "tunnel/device/dns_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace strait::device {
namespace {

// A UDP datagram's largest payload; a bigger read is cut (MSG_TRUNC says so) and dropped.
constexpr size_t kMaxDatagram = 65536;

runtime::SocketAddress Loopback(uint8_t last, uint16_t port) {
  return ToSocketAddress(UdpEndpoint{(127u << 24) | last, port});
}

// A non-blocking, close-on-exec IPv4 UDP socket bound to `address`; -1 with errno set on failure.
int BoundUdp(const runtime::SocketAddress& address) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, address.get(), address.len) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<UdpEndpoint> ToUdpEndpoint(const runtime::SocketAddress& address) {
  if (address.u.sa.sa_family != AF_INET) return std::nullopt;
  return UdpEndpoint{ntohl(address.u.v4.sin_addr.s_addr), ntohs(address.u.v4.sin_port)};
}

runtime::SocketAddress ToSocketAddress(UdpEndpoint endpoint) {
  runtime::SocketAddress a;
  a.u.v4.sin_family = AF_INET;
  a.u.v4.sin_addr.s_addr = htonl(endpoint.ip);
  a.u.v4.sin_port = htons(endpoint.port);
  a.len = sizeof(sockaddr_in);
  return a;
}

DnsStub::DnsStub(runtime::EventLoop& loop, const DnsStubOptions& options, DnsForwarderOptions forwarder_options)
    : loop_(&loop), batch_(options.batch == 0 ? 1 : options.batch), forwarder_(std::move(forwarder_options)),
      buffer_(kMaxDatagram) {}

Result<std::unique_ptr<DnsStub>, std::string> DnsStub::Start(runtime::EventLoop& loop, DnsStubOptions options) {
  // The listen socket first: its address decides which upstreams would be a loop.
  int listen_fd = -1;
  runtime::SocketAddress address;
  if (options.listen) {
    address = *options.listen;
    if (address.u.sa.sa_family != AF_INET || !runtime::IsLoopback(address)) {
      return Fail("dns stub: " + address.ToString() + " is not an IPv4 loopback address");
    }
    listen_fd = BoundUdp(address);
  } else {
    address = Loopback(53, 53);  // 127.0.0.53:53
    listen_fd = BoundUdp(address);
    if (listen_fd < 0 && errno == EADDRINUSE) {
      address = Loopback(54, 53);  // 127.0.0.54:53
      listen_fd = BoundUdp(address);
    }
  }
  if (listen_fd < 0) {
    return Fail("dns stub: bind " + address.ToString() + ": " + std::strerror(errno));
  }
  auto bound = runtime::LocalAddress(listen_fd);
  if (!bound) {
    close(listen_fd);
    return Fail("dns stub: " + bound.error().reason);
  }
  address = *bound;
  const UdpEndpoint self = *ToUdpEndpoint(address);

  DnsForwarderOptions fo;
  for (const UdpEndpoint& u : options.upstreams) {
    if (!(u == self)) fo.upstreams.push_back(u);
  }
  fo.internal_port = options.internal_port;
  fo.max_pending = options.max_pending;
  fo.timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options.timeout).count();
  std::unique_ptr<DnsStub> s(new DnsStub(loop, options, std::move(fo)));
  s->listen_fd_ = listen_fd;
  s->address_ = address;

  runtime::SocketAddress any;
  any.u.v4.sin_family = AF_INET;
  any.len = sizeof(sockaddr_in);
  s->upstream_fd_ = BoundUdp(any);
  if (s->upstream_fd_ < 0) return Fail(std::string("dns stub: upstream socket: ") + std::strerror(errno));

  s->listen_watch_ = loop.WatchReadable(s->listen_fd_, s.get());
  s->upstream_watch_ = loop.WatchReadable(s->upstream_fd_, s.get());
  if (!s->listen_watch_.valid() || !s->upstream_watch_.valid()) {
    return Fail(std::string("dns stub: no free readiness watch (LoopOptions::max_watches)"));
  }
  return s;
}

DnsStub::~DnsStub() { Stop(); }

void DnsStub::Update(std::span<const uint32_t> servers, std::span<const std::string> domains) {
  forwarder_.Update(servers, domains);
}

void DnsStub::Stop() {
  if (listen_watch_.valid()) loop_->Unwatch(listen_watch_);
  if (upstream_watch_.valid()) loop_->Unwatch(upstream_watch_);
  listen_watch_ = {};
  upstream_watch_ = {};
  if (timer_armed_) (void)loop_->CancelTimer(timer_);
  timer_armed_ = false;
  if (listen_fd_ >= 0) close(listen_fd_);
  if (upstream_fd_ >= 0) close(upstream_fd_);
  listen_fd_ = upstream_fd_ = -1;
}

void DnsStub::OnReadable(runtime::EventLoop& /*loop*/, runtime::WatchId id) {
  if (id.slot == listen_watch_.slot && id.gen == listen_watch_.gen) {
    ReadQueries();
  } else {
    ReadAnswers();
  }
}

void DnsStub::OnWatchError(runtime::EventLoop& /*loop*/, runtime::WatchId id, int /*err*/) {
  // Only a closed fd does this (ours stay open until Stop, which ends the watches first); the watch is over.
  if (id.slot == listen_watch_.slot && id.gen == listen_watch_.gen) listen_watch_ = {};
  if (id.slot == upstream_watch_.slot && id.gen == upstream_watch_.gen) upstream_watch_ = {};
}

void DnsStub::ReadQueries() {
  for (uint32_t i = 0; i < batch_ && listen_fd_ >= 0; ++i) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(listen_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: all read (other errors: the next readiness tries again)
    if (static_cast<size_t>(n) > buffer_.size()) {
      ++forwarder_.mutable_stats().oversized;
      continue;
    }
    const UdpEndpoint asker{ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
    const std::span<uint8_t> packet(buffer_.data(), static_cast<size_t>(n));
    UdpEndpoint to;
    size_t reply = 0;
    switch (forwarder_.OnQuery(packet, asker, NowNs(), &to, &reply)) {
      case DnsForwarder::QueryVerdict::kForward:
        SendTo(upstream_fd_, to, packet);
        ArmTimer();
        break;
      case DnsForwarder::QueryVerdict::kServFail:
        SendTo(listen_fd_, asker, packet.first(reply));
        break;
      case DnsForwarder::QueryVerdict::kDrop:
        break;
    }
  }
}

void DnsStub::ReadAnswers() {
  for (uint32_t i = 0; i < batch_ && upstream_fd_ >= 0; ++i) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = recvfrom(upstream_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    if (static_cast<size_t>(n) > buffer_.size()) {
      ++forwarder_.mutable_stats().oversized;
      continue;
    }
    const std::span<uint8_t> packet(buffer_.data(), static_cast<size_t>(n));
    UdpEndpoint asker;
    if (forwarder_.OnAnswer(packet, UdpEndpoint{ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)}, &asker)) {
      SendTo(listen_fd_, asker, packet);
    }
  }
}

void DnsStub::SendTo(int fd, UdpEndpoint to, std::span<const uint8_t> bytes) {
  const runtime::SocketAddress a = ToSocketAddress(to);
  if (sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, a.get(), a.len) < 0) {
    ++forwarder_.mutable_stats().send_failed;
  }
}

void DnsStub::ArmTimer() {
  if (timer_armed_) return;
  const auto deadline = forwarder_.NextDeadline();
  if (!deadline) return;
  const int64_t delay = std::max<int64_t>(*deadline - NowNs(), 0);
  timer_ = loop_->AddTimer(std::chrono::nanoseconds(delay), this);
  timer_armed_ = timer_.valid();
}

void DnsStub::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  timer_armed_ = false;
  ExpireNow();
  ArmTimer();
}

void DnsStub::ExpireNow() {
  std::array<uint8_t, kDnsHeaderSize + kDnsMaxQuestionSize> out{};
  UdpEndpoint asker;
  size_t n = 0;
  const int64_t now = NowNs();
  while (forwarder_.PopExpired(now, out, &asker, &n)) {
    if (n != 0 && listen_fd_ >= 0) SendTo(listen_fd_, asker, std::span<const uint8_t>(out).first(n));
  }
}

int64_t DnsStub::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace strait::device
