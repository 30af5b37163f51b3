// strait-pingpong: a small request/response latency tool for whole-program benchmarks.
//
//   strait-pingpong server --listen 127.0.0.1:0 [--lifetime S]
//       Echo server. Prints its bound address ("127.0.0.1:PORT") on stdout, then echoes every byte it receives on
//       each connection (one thread per connection, at most kMaxConnections at once). Exits after --lifetime seconds
//       or on SIGTERM/SIGINT.
//   strait-pingpong client --connect HOST:PORT --size 64 --count N --warmup W [--timeout S] [--json]
//       One TCP connection (TCP_NODELAY), W unrecorded then N recorded sequential round trips of --size bytes: send
//       one message, read exactly --size bytes back, compare them, record the round trip with CLOCK_MONOTONIC
//       (std::chrono::steady_clock). Prints min/p50/p90/p99/p999/max/mean in microseconds (nearest rank). The loop and
//       the summary are bench/lib/round_trips.h, shared with strait-app-load pingpong.
//
// Plain blocking sockets on purpose: the tool measures the path, and a blocking read/write pair is the shortest,
// best-understood path through the kernel on both ends. Every loop is bounded by count and by a wall-clock deadline.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/lib/round_trips.h"
#include "runtime/address_text.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxConnections = 64;            // concurrent echo connections the server accepts
constexpr std::size_t kMaxMessageSize = 1 << 20;
constexpr std::uint64_t kMaxCount = 10'000'000;  // recorded round trips per client run
constexpr std::size_t kEchoBufferSize = 64 * 1024;

std::atomic<bool> g_stop{false};  // set by SIGTERM/SIGINT; the only process-wide state

extern "C" void OnStopSignal(int /*sig*/) { g_stop.store(true); }

struct Endpoint {
  std::string host;
  std::string port;
};

// Splits "HOST:PORT" or "[V6]:PORT" (runtime/address_text.h). Returns nullopt when there is no numeric port.
std::optional<Endpoint> ParseEndpoint(const std::string& text) {
  const auto hp = strait::runtime::SplitHostPort(text);
  if (!hp) return std::nullopt;
  return Endpoint{std::string(hp->host), std::to_string(hp->port)};
}

// Resolves numerically or by name; the caller owns the returned list.
addrinfo* Resolve(const Endpoint& ep, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(ep.host.empty() ? nullptr : ep.host.c_str(), ep.port.c_str(), &hints, &res);
  if (rc != 0) {
    fmt::print(stderr, "pingpong: cannot resolve {}:{}: {}\n", ep.host, ep.port, gai_strerror(rc));
    return nullptr;
  }
  return res;
}

void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void SetIoTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string FormatAddress(const sockaddr_storage& ss) {
  return strait::runtime::AddressText(reinterpret_cast<const sockaddr*>(&ss));
}

// Writes all of `len` bytes. Returns false on error or timeout (SO_SNDTIMEO).
bool WriteAll(int fd, const std::uint8_t* data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `len` bytes. Returns false on EOF, error or timeout (SO_RCVTIMEO).
bool ReadExact(int fd, std::uint8_t* data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = recv(fd, data, len, 0);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

// ---- server ----

std::atomic<int> g_active_connections{0};

// Echoes until EOF, error or an idle period of `idle`. Owns `fd` and closes it.
void EchoConnection(int fd, std::chrono::milliseconds idle) {
  SetNoDelay(fd);
  SetIoTimeout(fd, idle);
  std::vector<std::uint8_t> buf(kEchoBufferSize);
  while (!g_stop.load(std::memory_order_relaxed)) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!WriteAll(fd, buf.data(), static_cast<std::size_t>(n))) break;
  }
  close(fd);
  g_active_connections.fetch_sub(1);
}

int RunServer(const std::string& listen, int lifetime_s, int idle_s) {
  const auto ep = ParseEndpoint(listen);
  if (!ep) {
    fmt::print(stderr, "pingpong: --listen wants HOST:PORT, got '{}'\n", listen);
    return 2;
  }
  addrinfo* res = Resolve(*ep, true);
  if (res == nullptr) return 2;
  const int lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(lfd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(lfd, 128) != 0) {
    fmt::print(stderr, "pingpong: cannot listen on {}: {}\n", listen, std::strerror(errno));
    if (lfd >= 0) close(lfd);
    freeaddrinfo(res);
    return 1;
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  fmt::print("{}\n", FormatAddress(bound));
  std::fflush(stdout);

  const auto deadline = Clock::now() + std::chrono::seconds(lifetime_s);
  const auto idle = std::chrono::milliseconds(std::chrono::seconds(idle_s));
  while (!g_stop.load() && Clock::now() < deadline) {
    pollfd pfd{lfd, POLLIN, 0};
    const int rc = poll(&pfd, 1, 200);  // wake up regularly to honour the deadline and signals
    if (rc <= 0) continue;
    const int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    if (g_active_connections.load() >= kMaxConnections) {
      close(cfd);  // bounded: refuse rather than grow without limit
      continue;
    }
    g_active_connections.fetch_add(1);
    std::thread(EchoConnection, cfd, idle).detach();
  }
  close(lfd);
  return 0;
}

// ---- client ----

int ConnectTo(const std::string& target, std::chrono::milliseconds timeout) {
  const auto ep = ParseEndpoint(target);
  if (!ep) {
    fmt::print(stderr, "pingpong: --connect wants HOST:PORT, got '{}'\n", target);
    return -1;
  }
  addrinfo* res = Resolve(*ep, false);
  if (res == nullptr) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    SetIoTimeout(fd, timeout);  // also bounds a blocking connect on Linux
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) fmt::print(stderr, "pingpong: cannot connect to {}: {}\n", target, std::strerror(errno));
  return fd;
}

int RunClient(const std::string& target, std::size_t size, std::uint64_t count, std::uint64_t warmup,
              int timeout_s, bool json) {
  const auto timeout = std::chrono::milliseconds(std::chrono::seconds(timeout_s));
  const int fd = ConnectTo(target, timeout);
  if (fd < 0) return 1;
  SetNoDelay(fd);
  strait::bench::RoundTripOptions options;
  options.size = size;
  options.count = count;
  options.warmup = warmup;
  options.deadline = Clock::now() + timeout;
  options.stop = &g_stop;
  const strait::bench::RoundTrips r =
      strait::bench::RunRoundTrips(options, [fd](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
        errno = 0;  // ReadExact reports EOF without setting errno
        if (WriteAll(fd, out.data(), out.size()) && ReadExact(fd, in.data(), in.size())) return std::string();
        return std::string(errno != 0 ? std::strerror(errno) : "EOF");
      });
  close(fd);
  if (!r.error.empty()) {
    fmt::print(stderr, "pingpong: {} (timeout {} s)\n", r.error, timeout_s);
    return 1;
  }
  const strait::bench::LatencySummary s = strait::bench::Summarize(r.ns);
  if (json) {
    fmt::print("{{\"target\":\"{}\",\"size\":{},\"warmup\":{},{}}}\n", target, size, warmup,
               strait::bench::JsonMembers(s));
  } else {
    fmt::print("{} x {} B via {}: min {:.1f} p50 {:.1f} p90 {:.1f} p99 {:.1f} p99.9 {:.1f} max {:.1f} mean {:.1f} us\n",
               count, size, target, s.min_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us, s.mean_us);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strait-pingpong: TCP echo server and sequential round-trip latency client"};
  app.require_subcommand(1);

  std::string listen = "127.0.0.1:0";
  int lifetime_s = 3600;
  int idle_s = 120;
  auto* server = app.add_subcommand("server", "echo server; prints its bound address on stdout");
  server->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)");
  server->add_option("--lifetime", lifetime_s, "exit after this many seconds")->check(CLI::Range(1, 86400));
  server->add_option("--idle-timeout", idle_s, "close a connection idle this many seconds")->check(CLI::Range(1, 3600));

  std::string target;
  std::size_t size = 64;
  std::uint64_t count = 20000;
  std::uint64_t warmup = 1000;
  int timeout_s = 60;
  bool json = false;
  auto* client = app.add_subcommand("client", "sequential request/response over one connection");
  client->add_option("--connect", target, "HOST:PORT of the echo server or a proxy in front of it")->required();
  client->add_option("--size", size, "message size in bytes")->check(CLI::Range(std::size_t{1}, kMaxMessageSize));
  client->add_option("--count", count, "recorded round trips")->check(CLI::Range(std::uint64_t{1}, kMaxCount));
  client->add_option("--warmup", warmup, "unrecorded round trips first")->check(CLI::Range(std::uint64_t{0}, kMaxCount));
  client->add_option("--timeout", timeout_s, "give up after this many seconds in total")->check(CLI::Range(1, 3600));
  client->add_flag("--json", json, "print one JSON object instead of a line of text");

  CLI11_PARSE(app, argc, argv);

  struct sigaction sa{};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (server->parsed()) return RunServer(listen, lifetime_s, idle_s);
  return RunClient(target, size, count, warmup, timeout_s, json);
}
