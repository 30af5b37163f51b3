// The echo and sink servers of bench/suite/load/app_servers.h: one epoll loop (level-triggered) on one thread.
#include "bench/suite/load/app_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

namespace strait::bench {
namespace {

constexpr std::uint64_t kListenTag = ~std::uint64_t{0};
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0} - 1;
constexpr int kEventsPerTurn = 256;
constexpr std::size_t kSinkBufferBytes = 256 * 1024;

// One accepted connection. Echo: buf_[begin, end) is received and not yet sent back.
struct ServerConn {
  int fd = -1;
  std::vector<std::uint8_t> buf;
  std::size_t begin = 0;
  std::size_t end = 0;
  bool peer_closed = false;  // EOF read: close once the buffer is echoed
  std::uint32_t events = 0;  // what epoll watches now
};

std::string Errno(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

}  // namespace

Result<std::unique_ptr<AppServer>, std::string> AppServer::Start(const AppServerOptions& options) {
  if (options.max_connections < 1 || options.max_connections > 65536) {
    return Fail(fmt::format("max_connections {} is outside 1 .. 65536", options.max_connections));
  }
  if (options.buffer_bytes < 1024 || options.buffer_bytes > 16u << 20) {
    return Fail(fmt::format("buffer_bytes {} is outside 1 KiB .. 16 MiB", options.buffer_bytes));
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (::inet_pton(AF_INET, options.host.c_str(), &a.sin_addr) != 1) {
    return Fail(fmt::format("'{}' is not an IPv4 address", options.host));
  }
  std::unique_ptr<AppServer> s(new AppServer());
  s->options_ = options;
  s->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Fail(Errno("socket"));
  const int one = 1;
  ::setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    return Fail(Errno(fmt::format("bind {}:0", options.host).c_str()));
  }
  if (::listen(s->listen_fd_, 4096) != 0) return Fail(Errno("listen"));
  socklen_t len = sizeof a;
  if (::getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return Fail(Errno("getsockname"));
  s->address_ = demo::HostPort{options.host, ntohs(a.sin_port)};

  s->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (s->epoll_fd_ < 0) return Fail(Errno("epoll_create1"));
  s->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->wake_fd_ < 0) return Fail(Errno("eventfd"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  if (::epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->listen_fd_, &ev) != 0) return Fail(Errno("epoll_ctl"));
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(s->epoll_fd_, EPOLL_CTL_ADD, s->wake_fd_, &ev) != 0) return Fail(Errno("epoll_ctl"));
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

AppServer::~AppServer() {
  Stop();
  for (int fd : {listen_fd_, epoll_fd_, wake_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void AppServer::Stop() {
  stopping_.store(true, std::memory_order_relaxed);
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

void AppServer::Loop() {
  const bool echo = options_.kind == AppServerKind::kEcho;
  std::unordered_map<int, ServerConn> conns;
  std::vector<std::uint8_t> sink_buf(echo ? 0 : kSinkBufferBytes);
  epoll_event events[kEventsPerTurn];

  auto watch = [&](ServerConn& c, std::uint32_t want) {
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = static_cast<std::uint64_t>(c.fd);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  };
  auto close_conn = [&](int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(fd);
    open_.fetch_sub(1, std::memory_order_relaxed);
  };
  auto accept_all = [&] {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED): try again next turn
      if (conns.size() >= options_.max_connections) {
        refused_.fetch_add(1, std::memory_order_relaxed);  // before the close the peer sees
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ServerConn c;
      c.fd = fd;
      c.events = EPOLLIN | EPOLLRDHUP;
      if (echo) c.buf.resize(options_.buffer_bytes);
      epoll_event ev{};
      ev.events = c.events;
      ev.data.u64 = static_cast<std::uint64_t>(fd);
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      conns.emplace(fd, std::move(c));
      accepted_.fetch_add(1, std::memory_order_relaxed);
      open_.fetch_add(1, std::memory_order_relaxed);
    }
  };
  // Sink: reads what is there (at most a few buffers a turn, for fairness). False: close the connection.
  auto sink_read = [&](ServerConn& c) {
    for (int i = 0; i < 4; ++i) {
      const ssize_t n = ::recv(c.fd, sink_buf.data(), sink_buf.size(), 0);
      if (n > 0) {
        bytes_received_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        if (static_cast<std::size_t>(n) < sink_buf.size()) return true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      return false;  // EOF or an error
    }
    return true;
  };
  // Echo: reads into the free tail of the buffer, sends what it holds, and watches for what it can do next.
  // False: close the connection.
  auto echo_step = [&](ServerConn& c, bool readable) {
    if (readable && !c.peer_closed && c.end < c.buf.size()) {
      const ssize_t n = ::recv(c.fd, c.buf.data() + c.end, c.buf.size() - c.end, 0);
      if (n > 0) {
        c.end += static_cast<std::size_t>(n);
        bytes_received_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      } else if (n == 0) {
        c.peer_closed = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (c.begin < c.end) {
      const ssize_t n = ::send(c.fd, c.buf.data() + c.begin, c.end - c.begin, MSG_NOSIGNAL);
      if (n > 0) {
        c.begin += static_cast<std::size_t>(n);
        bytes_sent_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (c.begin == c.end) {
      c.begin = c.end = 0;
    } else if (c.end == c.buf.size() && c.begin > 0) {
      std::memmove(c.buf.data(), c.buf.data() + c.begin, c.end - c.begin);
      c.end -= c.begin;
      c.begin = 0;
    }
    if (c.peer_closed && c.begin == c.end) return false;
    std::uint32_t want = 0;
    if (!c.peer_closed && c.end < c.buf.size()) want |= EPOLLIN | EPOLLRDHUP;
    if (c.begin < c.end) want |= EPOLLOUT;
    watch(c, want);
    return true;
  };

  while (!stopping_.load(std::memory_order_relaxed)) {
    const int n = ::epoll_wait(epoll_fd_, events, kEventsPerTurn, 100);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        accept_all();
        continue;
      }
      if (tag == kWakeTag) continue;  // the loop condition sees stopping_
      const int fd = static_cast<int>(tag);
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      ServerConn& c = it->second;
      const std::uint32_t got = events[i].events;
      bool keep;
      if (echo) {
        keep = echo_step(c, (got & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0);
        if (keep && (got & EPOLLERR) != 0) keep = false;
      } else {
        keep = (got & EPOLLERR) == 0 && sink_read(c);
      }
      if (!keep) close_conn(fd);
    }
  }
  while (!conns.empty()) close_conn(conns.begin()->first);
}

}  // namespace strait::bench
