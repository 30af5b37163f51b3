// Helpers for runtime tests: blocking loopback clients, a failure-guard timer, fd counting. No sleeps: tests wait
// on the loop's own events; the guard only turns a hang into a failure.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/net.h"

namespace strait::runtime::testing {

// Stops the loop after `timeout`; `fired` tells the test the run timed out.
class GuardTimer final : public TimerHandler {
 public:
  GuardTimer(EventLoop& loop, std::chrono::milliseconds timeout) { id_ = loop.AddTimer(timeout, this); }
  void OnTimer(EventLoop& loop, TimerId /*id*/, std::uint64_t /*arg*/) override {
    fired = true;
    loop.RequestStop();
  }
  void Cancel(EventLoop& loop) { loop.CancelTimer(id_); }
  bool fired = false;

 private:
  TimerId id_;
};

// Listening socket on 127.0.0.1:0; returns fd and sets *port.
inline int ListenLoopback(std::uint16_t* port, int backlog = 4096) {
  auto addr = ParseSocketAddress("127.0.0.1:0");
  EXPECT_TRUE(addr.ok());
  ListenOptions lo;
  lo.backlog = backlog;
  auto fd = ListenTcp(*addr, lo);
  EXPECT_TRUE(fd.ok()) << (fd.ok() ? "" : fd.error().reason);
  auto local = LocalAddress(*fd);
  EXPECT_TRUE(local.ok());
  *port = ntohs(local->u.v4.sin_port);
  return *fd;
}

inline SocketAddress Loopback(std::uint16_t port) {
  SocketAddress a;
  a.u.v4.sin_family = AF_INET;
  a.u.v4.sin_port = htons(port);
  a.u.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.len = sizeof(sockaddr_in);
  return a;
}

// Blocking client connected to 127.0.0.1:port, or -1.
inline int ConnectLoopback(std::uint16_t port, int rcvbuf = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  const SocketAddress a = Loopback(port);
  if (connect(fd, a.get(), a.len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline bool WriteAll(int fd, std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads exactly out.size() bytes, waiting at most `timeout` in total. False on EOF, error or timeout.
inline bool ReadExactly(int fd, std::span<std::uint8_t> out, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!out.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = recv(fd, out.data(), out.size(), 0);
    if (n <= 0) return false;
    out = out.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// True when the peer closed (recv returns 0) within timeout.
inline bool WaitEof(int fd, std::chrono::milliseconds timeout) {
  std::uint8_t b[4096];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = recv(fd, b, sizeof b, 0);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

inline std::vector<std::uint8_t> Pattern(std::size_t n, std::uint32_t seed = 1) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

inline int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

// A loop on the calling thread with options suited to tests (small pools).
inline std::unique_ptr<EventLoop> MakeLoop(LoopOptions o = {}) {
  auto loop = EventLoop::Create(o);
  EXPECT_TRUE(loop.ok()) << (loop.ok() ? "" : loop.error().reason + ": " + std::strerror(loop.error().err));
  return loop.ok() ? std::move(loop.value()) : nullptr;
}

// Echo handler with read pausing under backpressure; counts what it saw.
class EchoHandler : public ConnectionHandler {
 public:
  void OnData(EventLoop& loop, ConnId id, Buffer data) override {
    if (loop.RecvPaused(id)) data_while_paused = true;
    bytes += data.size();
    const SendResult r = loop.Send(id, std::move(data));
    if (r != SendResult::kQueued) send_failures++;
    max_queue = std::max<std::size_t>(max_queue, loop.SendQueueBytes(id));
  }
  void OnReadClosed(EventLoop& loop, ConnId id) override { loop.Close(id, CloseMode::kGraceful); }
  void OnSendQueueHigh(EventLoop& loop, ConnId id) override {
    ++highs;
    loop.PauseRecv(id);
  }
  void OnSendQueueLow(EventLoop& loop, ConnId id) override {
    ++lows;
    loop.ResumeRecv(id);
  }
  void OnClose(EventLoop& loop, ConnId /*id*/, CloseReason reason, int /*err*/) override {
    ++closes;
    last_reason = reason;
    if (stop_on_close) loop.RequestStop();
  }
  std::size_t bytes = 0;
  std::size_t max_queue = 0;
  int send_failures = 0;
  int highs = 0;
  int lows = 0;
  int closes = 0;
  bool data_while_paused = false;
  bool stop_on_close = false;
  CloseReason last_reason = CloseReason::kLocal;
};

// Adopts every accepted fd with one handler.
class AdoptAll : public AcceptHandler {
 public:
  explicit AdoptAll(ConnectionHandler* h) : handler(h) {}
  void OnAccept(EventLoop& loop, ListenerId /*id*/, int fd) override {
    ++accepted;
    last = loop.Adopt(fd, handler);
    if (!last.valid()) {
      ++rejected;
      close(fd);
    }
  }
  ConnectionHandler* handler;
  ConnId last;
  int accepted = 0;
  int rejected = 0;
};

}  // namespace strait::runtime::testing
