// strait-app-load: the load ends of the app-session benchmark scripts (bench/streams/run.sh, bench/adversary/run.sh),
// able to go through a SOCKS5 door (the Strait device) or straight to a TCP address (direct, haproxy).
//
//   strait-app-load sink --listen 127.0.0.1:0 [--lifetime S]
//       Prints its address, then for each connection (one thread each, at most 64 at once): reads until EOF,
//       counting bytes, answers "<bytes>\n" and closes.
//   strait-app-load send --connect IP:PORT [--socks IP:PORT] --bytes N [--timeout S]
//       One stream: sends N bytes (the deterministic pattern), half-closes, waits for the sink's count; prints
//       {"bytes":N,"seconds":S,"mb_s":X} (the time runs from the first byte to the sink's answer).
//   strait-app-load pingpong --connect IP:PORT [--socks IP:PORT] --size 64 --count N --warmup W [--timeout S]
//       One stream to an echo server (strait-pingpong server): W unrecorded, then N recorded sequential round
//       trips; prints {"count":N,"min_us":..,"p50_us":..,...} like strait-pingpong --json (bench/lib/round_trips.h,
//       the loop and summary both use).
//   strait-app-load source --listen 127.0.0.1:0 [--lifetime S]
//       Prints its address; on every connection it waits for one byte, then writes (one poll() thread,
//       non-blocking) until the peer closes: an endless download.
//   strait-app-load fetch --connect IP:PORT [--socks IP:PORT] --streams N --seconds S [--timeout S]
//       N streams to a source, all opened, then started with one byte each, read with poll() on one thread for S
//       seconds; prints
//       {"streams":N,"bytes":B,"seconds":S,"mb_s":X,"min_stream_bytes":..,"max_gap_ms":..} (max_gap_ms: the longest
//       time in which no stream received a byte).
// Every wait is bounded by --timeout. The SOCKS5 client and the pattern come from cli/demo/client.h.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/lib/round_trips.h"
#include "cli/demo/client.h"

namespace {

using strait::demo::Clock;
using strait::demo::Connection;
using strait::demo::HostPort;

constexpr int kMaxSinkConnections = 64;

int Fail(const std::string& m) {
  std::fprintf(stderr, "strait-app-load: %s\n", m.c_str());
  return 1;
}

strait::Result<Connection, std::string> Open(const std::string& connect, const std::string& socks,
                                             Clock::time_point deadline) {
  auto target = strait::demo::ParseHostPort(connect);
  if (!target) return strait::Fail(fmt::format("--connect {}: want IP:PORT", connect));
  if (socks.empty()) return Connection::Dial(*target, deadline);
  auto door = strait::demo::ParseHostPort(socks);
  if (!door) return strait::Fail(fmt::format("--socks {}: want IP:PORT", socks));
  return Connection::ViaSocks5(*door, target->host, target->port, deadline);
}

// Listens on `listen` (IP or IP:PORT, port 0 by default) and prints the bound address. -1 after Fail().
int ListenAndPrint(const std::string& listen, int type_flags, int backlog) {
  auto hp = strait::demo::ParseHostPort(listen + (listen.find(':') == std::string::npos ? ":0" : ""));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  const std::string host = hp ? hp->host : "127.0.0.1";
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  a.sin_port = htons(hp ? hp->port : 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0) {
    Fail(fmt::format("listen {}: {}", listen, std::strerror(errno)));
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  fmt::print("{}:{}\n", host, ntohs(a.sin_port));
  std::fflush(stdout);
  return fd;
}

int Sink(const std::string& listen, uint32_t lifetime_s) {
  const int fd = ListenAndPrint(listen, 0, 128);
  if (fd < 0) return 1;
  static std::atomic<int> open{0};  // outlives detached connection threads
  const auto end = Clock::now() + std::chrono::seconds(lifetime_s);
  while (Clock::now() < end) {
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    if (open.load() >= kMaxSinkConnections) {
      ::close(c);
      continue;
    }
    ++open;
    std::thread([c] {
      timeval t{30, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
      std::vector<char> buf(256 * 1024);
      uint64_t total = 0;
      for (;;) {
        const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
        if (n > 0) {
          total += static_cast<uint64_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
      }
      const std::string reply = fmt::format("{}\n", total);
      (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
      --open;
    }).detach();
  }
  ::close(fd);
  return 0;
}

int Source(const std::string& listen, uint32_t lifetime_s) {
  const int fd = ListenAndPrint(listen, SOCK_NONBLOCK, 1024);
  if (fd < 0) return 1;
  std::vector<uint8_t> buf(256 * 1024);
  strait::demo::FillPattern(0, buf);
  std::vector<pollfd> fds{{fd, POLLIN, 0}};
  const auto end = Clock::now() + std::chrono::seconds(lifetime_s);
  while (Clock::now() < end) {
    if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const bool gone = (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
      if (!gone && fds[i].events == POLLIN) {  // waiting for the go byte
        char go = 0;
        const ssize_t r = ::recv(fds[i].fd, &go, 1, MSG_DONTWAIT);
        if (r == 1) fds[i].events = POLLOUT;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
        }
        continue;
      }
      const ssize_t n = gone ? -1 : ::send(fds[i].fd, buf.data(), buf.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (gone || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
    std::erase_if(fds, [](const pollfd& p) { return p.fd < 0; });
    if ((fds[0].revents & POLLIN) != 0) {
      for (int c; fds.size() < 4096 && (c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
        fds.push_back({c, POLLIN, 0});
      }
    }
  }
  for (const pollfd& p : fds) ::close(p.fd);
  return 0;
}

int Fetch(const std::string& connect, const std::string& socks, uint32_t streams, uint32_t seconds,
          uint32_t timeout_s) {
  ::alarm(timeout_s + seconds + 5);  // a hard stop, whatever a stalled stack does to the waits below
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  std::vector<Connection> conns;
  for (uint32_t i = 0; i < streams; ++i) {
    auto c = Open(connect, socks, deadline);
    if (!c) return Fail(fmt::format("stream {}: {}", i, c.error()));
    conns.push_back(std::move(c).value());
  }
  // All open first, then one go byte each: the downloads start together (the source waits for it).
  const uint8_t go = 1;
  for (Connection& c : conns) {
    if (auto w = c.WriteAll(std::span(&go, 1), deadline); !w) return Fail(w.error());
  }
  std::vector<pollfd> fds;
  for (const Connection& c : conns) fds.push_back({c.fd(), POLLIN, 0});
  std::vector<uint64_t> got(streams, 0);
  std::vector<uint8_t> buf(256 * 1024);
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::seconds(seconds);
  auto last = t0;
  Clock::duration max_gap{};
  uint64_t total = 0;
  while (Clock::now() < end) {
    const int n = ::poll(fds.data(), fds.size(), 50);
    const auto now = Clock::now();
    for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t r = ::recv(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        return Fail(fmt::format("stream {} ended after {} bytes", i, got[i]));
      }
      if (r > 0) {
        got[i] += static_cast<uint64_t>(r);
        total += static_cast<uint64_t>(r);
        last = now;
      }
    }
    max_gap = std::max(max_gap, now - last);
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print("{{\"streams\":{},\"bytes\":{},\"seconds\":{:.6f},\"mb_s\":{:.3f},\"min_stream_bytes\":{},"
             "\"max_gap_ms\":{:.1f}}}\n",
             streams, total, s, static_cast<double>(total) / 1e6 / s, *std::min_element(got.begin(), got.end()),
             std::chrono::duration<double, std::milli>(max_gap).count());
  return 0;
}

int Send(const std::string& connect, const std::string& socks, uint64_t bytes, uint32_t timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto c = Open(connect, socks, deadline);
  if (!c) return Fail(c.error());
  std::vector<uint8_t> buf(256 * 1024);
  strait::demo::FillPattern(0, buf);
  const auto t0 = Clock::now();
  for (uint64_t sent = 0; sent < bytes;) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(buf.size(), bytes - sent));
    if (auto w = c->WriteAll(std::span(buf).first(n), deadline); !w) return Fail(w.error());
    sent += n;
  }
  c->ShutdownWrite();
  std::string answer;
  std::array<uint8_t, 64> r{};
  for (;;) {
    auto n = c->ReadSome(r, deadline);
    if (!n) return Fail(n.error());
    if (*n == 0) break;
    answer.append(reinterpret_cast<const char*>(r.data()), *n);
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (answer != fmt::format("{}\n", bytes)) return Fail(fmt::format("sink counted {:?}, sent {}", answer, bytes));
  fmt::print("{{\"bytes\":{},\"seconds\":{:.6f},\"mb_s\":{:.3f}}}\n", bytes, s, static_cast<double>(bytes) / 1e6 / s);
  return 0;
}

int PingPong(const std::string& connect, const std::string& socks, uint32_t size, uint32_t count, uint32_t warmup,
             uint32_t timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto c = Open(connect, socks, deadline);
  if (!c) return Fail(c.error());
  strait::bench::RoundTripOptions options;
  options.size = size;
  options.count = count;
  options.warmup = warmup;
  options.deadline = deadline;
  const strait::bench::RoundTrips r =
      strait::bench::RunRoundTrips(options, [&](std::span<const uint8_t> out, std::span<uint8_t> in) {
        if (auto w = c->WriteAll(out, deadline); !w) return w.error();
        if (auto rd = c->ReadExact(in, deadline); !rd) return rd.error();
        return std::string();
      });
  if (!r.error.empty()) return Fail(r.error);
  fmt::print("{{{}}}\n", strait::bench::JsonMembers(strait::bench::Summarize(r.ns)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strait-app-load: sink, source, bulk sender, parallel fetcher and ping-pong client for bench/"};
  app.require_subcommand(1);
  ::signal(SIGPIPE, SIG_IGN);
  std::string listen = "127.0.0.1:0", connect, socks;
  uint32_t lifetime = 3600, timeout = 120, size = 64, count = 20000, warmup = 2000;
  uint64_t bytes = 1ull << 30;
  auto* sink = app.add_subcommand("sink", "Counting sink");
  sink->add_option("--listen", listen)->capture_default_str();
  sink->add_option("--lifetime", lifetime)->capture_default_str();
  auto* source = app.add_subcommand("source", "Endless download source");
  source->add_option("--listen", listen)->capture_default_str();
  source->add_option("--lifetime", lifetime)->capture_default_str();
  auto* send = app.add_subcommand("send", "Bulk sender");
  auto* ping = app.add_subcommand("pingpong", "Ping-pong client");
  auto* fetch = app.add_subcommand("fetch", "Parallel downloads from a source");
  uint32_t streams = 1, seconds = 10;
  fetch->add_option("--streams", streams)->capture_default_str()->check(CLI::Range(1u, 4096u));
  fetch->add_option("--seconds", seconds)->capture_default_str()->check(CLI::Range(1u, 3600u));
  for (auto* s : {send, ping, fetch}) {
    s->add_option("--connect", connect, "Target IP:PORT (through --socks when given)")->required();
    s->add_option("--socks", socks, "SOCKS5 door IP:PORT");
    s->add_option("--timeout", timeout)->capture_default_str();
  }
  send->add_option("--bytes", bytes)->capture_default_str();
  ping->add_option("--size", size)->capture_default_str()->check(CLI::Range(1u, 1u << 20));
  ping->add_option("--count", count)->capture_default_str()->check(CLI::Range(1u, 10000000u));
  ping->add_option("--warmup", warmup)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (sink->parsed()) return Sink(listen, lifetime);
  if (source->parsed()) return Source(listen, lifetime);
  if (fetch->parsed()) return Fetch(connect, socks, streams, seconds, timeout);
  if (send->parsed()) return Send(connect, socks, bytes, timeout);
  return PingPong(connect, socks, size, count, warmup, timeout);
}
