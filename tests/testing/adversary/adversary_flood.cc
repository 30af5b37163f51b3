// Idle, half-open and TLS-but-no-HELLO floods: one epoll loop over non-blocking sockets (adversary.h).
//
// Each slot holds one connection. A slot whose connection the target closes (or that fails) is reopened at once,
// until --duration or until max_opens connections have been opened in all. The TLS mode drives BoringSSL's
// handshake without checking the certificate (an attacker does not need to) and then only watches for the close.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <openssl/ssl.h>

#include "tests/testing/adversary/adversary.h"

namespace strait::adversary {
namespace {

using Clock = std::chrono::steady_clock;

// The first 43 bytes of a TLS ClientHello: a record header announcing 512 bytes, the handshake header, the
// legacy version and a random. A server waits for the rest.
constexpr unsigned char kPartialClientHello[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a, 0x5a, 0x5a,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};

enum class SlotState : std::uint8_t { kFree, kConnecting, kHandshaking, kHeld };

struct Slot {
  int fd = -1;
  SlotState state = SlotState::kFree;
  SSL* ssl = nullptr;
};

struct Counts {
  std::uint64_t opens = 0;
  std::uint64_t connect_failed = 0;   // socket/connect refused or reset before it was held
  std::uint64_t peer_closed = 0;      // held, then closed by the target
  std::uint64_t tls_done = 0;         // tls-idle: handshakes finished
  std::uint32_t held = 0;             // now
  std::uint32_t peak_held = 0;
  std::uint64_t ever_held = 0;        // connections that reached the attack's resting state
};

const char* ModeName(FloodMode m) {
  switch (m) {
    case FloodMode::kIdle: return "idle";
    case FloodMode::kHalfOpen: return "half-open";
    case FloodMode::kTlsIdle: return "tls-idle";
  }
  return "?";
}

class Flood {
 public:
  explicit Flood(const FloodOptions& o) : o_(o), slots_(o.count) {
    max_opens_ = o.max_opens != 0 ? o.max_opens : 1000ull * o.count;
    if (o.mode == FloodMode::kTlsIdle) {
      ctx_ = SSL_CTX_new(TLS_method());
      SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
  }
  ~Flood() {
    for (auto& s : slots_) Release(s);
    if (ctx_) SSL_CTX_free(ctx_);
    if (ep_ >= 0) ::close(ep_);
  }
  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;

  int Run() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return Fail("epoll_create1");
    const auto start = Clock::now();
    const auto end = start + o_.duration;
    for (std::uint32_t i = 0; i < o_.count; ++i) Open(i);
    auto next_progress = start + std::chrono::seconds(5);
    bool announced = false;
    std::vector<epoll_event> events(1024);
    while (Clock::now() < end) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 50);
      if (n < 0 && errno != EINTR) return Fail("epoll_wait");
      for (int k = 0; k < n; ++k) OnEvent(static_cast<std::uint32_t>(events[k].data.u32), events[k].events);
      // Slots that could not reopen (no fds, opens spent) are retried here.
      for (std::uint32_t i = 0; i < o_.count && opens_left(); ++i) {
        if (slots_[i].state == SlotState::kFree) Open(i);
      }
      // In place once as many connections as slots have been established (the target may already have closed
      // some of them: they are being reopened).
      if (!announced && c_.ever_held >= o_.count) {
        announced = true;
        fmt::print("{} ready held={} after_ms={}\n", ModeName(o_.mode), c_.held,
                   std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
        std::fflush(stdout);
      }
      if (Clock::now() >= next_progress) {
        next_progress += std::chrono::seconds(5);
        std::fprintf(stderr, "strait-adversary %s: held %u of %u, %llu opens, %llu closed by the target\n",
                     ModeName(o_.mode), c_.held, o_.count, static_cast<unsigned long long>(c_.opens),
                     static_cast<unsigned long long>(c_.peer_closed));
      }
    }
    fmt::print("{} held={} peak_held={} ever_held={} opens={} peer_closed={} connect_failed={} tls_done={}\n",
               ModeName(o_.mode), c_.held, c_.peak_held, c_.ever_held, c_.opens, c_.peer_closed, c_.connect_failed,
               c_.tls_done);
    std::fflush(stdout);
    return 0;
  }

 private:
  bool opens_left() const { return c_.opens < max_opens_; }

  int Fail(const char* what) {
    std::fprintf(stderr, "strait-adversary: %s: %s\n", what, std::strerror(errno));
    return 1;
  }

  void Open(std::uint32_t i) {
    if (!opens_left()) return;
    Slot& s = slots_[i];
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;  // out of fds: retried from the loop
    ++c_.opens;
    const int one = 1;
    ::setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000002u + (i % o_.sources));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        (::connect(fd, reinterpret_cast<const sockaddr*>(&o_.target), sizeof o_.target) != 0 &&
         errno != EINPROGRESS)) {
      ++c_.connect_failed;
      ::close(fd);
      return;
    }
    s.fd = fd;
    s.state = SlotState::kConnecting;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u32 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Release(Slot& s) {
    if (s.ssl) SSL_free(s.ssl);
    s.ssl = nullptr;
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
    if (s.state == SlotState::kHeld) --c_.held;
    s.state = SlotState::kFree;
  }

  void Hold(Slot& s, std::uint32_t events) {
    s.state = SlotState::kHeld;
    ++c_.held;
    ++c_.ever_held;
    if (c_.held > c_.peak_held) c_.peak_held = c_.held;
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<std::uint32_t>(&s - slots_.data());
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
  }

  // Drives the TLS handshake; true once it is done (or the slot was released).
  void StepTls(Slot& s) {
    const int r = SSL_do_handshake(s.ssl);
    if (r == 1) {
      ++c_.tls_done;
      Hold(s, EPOLLIN | EPOLLRDHUP);
      return;
    }
    const int e = SSL_get_error(s.ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      epoll_event ev{};
      ev.events = (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP;
      ev.data.u32 = static_cast<std::uint32_t>(&s - slots_.data());
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
      return;
    }
    ++c_.connect_failed;
    Reopen(s);
  }

  void Reopen(Slot& s) {
    const auto i = static_cast<std::uint32_t>(&s - slots_.data());
    Release(s);
    Open(i);
  }

  void OnEvent(std::uint32_t i, std::uint32_t events) {
    if (i >= slots_.size()) return;
    Slot& s = slots_[i];
    if (s.state == SlotState::kFree) return;
    if (s.state == SlotState::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
        ++c_.connect_failed;
        Reopen(s);
        return;
      }
      if ((events & EPOLLOUT) == 0) return;
      switch (o_.mode) {
        case FloodMode::kIdle:
          Hold(s, EPOLLIN | EPOLLRDHUP);
          return;
        case FloodMode::kHalfOpen:
          (void)!::send(s.fd, kPartialClientHello, sizeof kPartialClientHello, MSG_NOSIGNAL);
          Hold(s, EPOLLIN | EPOLLRDHUP);
          return;
        case FloodMode::kTlsIdle:
          s.ssl = SSL_new(ctx_);
          SSL_set_fd(s.ssl, s.fd);
          SSL_set_tlsext_host_name(s.ssl, o_.server_name.c_str());
          SSL_set_connect_state(s.ssl);
          s.state = SlotState::kHandshaking;
          StepTls(s);
          return;
      }
    }
    if (s.state == SlotState::kHandshaking) {
      StepTls(s);
      return;
    }
    // Held: anything readable is either the close or (TLS) a session ticket / alert; drain and look for EOF.
    char buf[4096];
    bool closed = (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
    if (!closed) {
      if (s.ssl) {
        const int r = SSL_read(s.ssl, buf, sizeof buf);
        if (r <= 0) {
          const int e = SSL_get_error(s.ssl, r);
          closed = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
      } else {
        const ssize_t r = ::recv(s.fd, buf, sizeof buf, 0);
        closed = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
      }
    }
    if (closed) {
      ++c_.peer_closed;
      Reopen(s);
    }
  }

  FloodOptions o_;
  std::vector<Slot> slots_;
  std::uint64_t max_opens_ = 0;
  SSL_CTX* ctx_ = nullptr;
  int ep_ = -1;
  Counts c_;
};

}  // namespace

int RunFlood(const FloodOptions& o) {
  Flood f(o);
  return f.Run();
}

}  // namespace strait::adversary
