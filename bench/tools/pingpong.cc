// strait-pingpong: a small request/response latency tool for whole-program benchmarks.
//
//   strait-pingpong server --listen 127.0.0.1:0 [--lifetime S]
//       Echo server. Prints its bound address ("127.0.0.1:PORT") on stdout, then echoes every byte it receives on
//       each connection (one thread per connection, at most kMaxConnections at once). Exits after --lifetime seconds
//       or on SIGTERM/SIGINT.
//   strait-pingpong client --connect HOST:PORT --size 64 --count N --warmup W [--timeout S] [--json]
//       One TCP connection (TCP_NODELAY), W unrecorded then N recorded sequential round trips of --size bytes: send
//       one message, read exactly --size bytes back, compare them, record the round trip with CLOCK_MONOTONIC
//       (std::chrono::steady_clock). Prints min/p50/p90/p99/p999/max/mean in microseconds.
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

// Splits "HOST:PORT" or "[V6]:PORT". Returns nullopt when there is no port.
std::optional<Endpoint> ParseEndpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return Endpoint{host, text.substr(colon + 1)};
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
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    inet_ntop(AF_INET, &sin.sin_addr, buf.data(), buf.size());
    return fmt::format("{}:{}", buf.data(), ntohs(sin.sin_port));
  }
  sockaddr_in6 sin6{};
  std::memcpy(&sin6, &ss, sizeof sin6);
  inet_ntop(AF_INET6, &sin6.sin6_addr, buf.data(), buf.size());
  return fmt::format("[{}]:{}", buf.data(), ntohs(sin6.sin6_port));
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

struct Summary {
  double min_us, p50_us, p90_us, p99_us, p999_us, max_us, mean_us;
};

// Nearest-rank percentile of sorted samples (q in [0, 1]).
double Percentile(const std::vector<std::int64_t>& sorted_ns, double q) {
  const auto n = sorted_ns.size();
  auto rank = static_cast<std::size_t>(q * static_cast<double>(n) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, n);
  return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

Summary Summarize(std::vector<std::int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (auto v : ns) sum += static_cast<double>(v);
  return Summary{static_cast<double>(ns.front()) / 1000.0, Percentile(ns, 0.50), Percentile(ns, 0.90),
                 Percentile(ns, 0.99), Percentile(ns, 0.999), static_cast<double>(ns.back()) / 1000.0,
                 sum / static_cast<double>(ns.size()) / 1000.0};
}

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

  std::vector<std::uint8_t> out(size);
  std::vector<std::uint8_t> in(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 131 + 7);
  std::vector<std::int64_t> samples;
  samples.reserve(count);

  const auto deadline = Clock::now() + timeout;
  const std::uint64_t total = warmup + count;
  for (std::uint64_t i = 0; i < total; ++i) {
    std::memcpy(out.data(), &i, std::min(size, sizeof i));  // each message differs, so a stale echo is caught
    errno = 0;  // ReadExact reports EOF without setting errno
    const auto t0 = Clock::now();
    if (!WriteAll(fd, out.data(), size) || !ReadExact(fd, in.data(), size)) {
      fmt::print(stderr, "pingpong: round trip {} failed: {}\n", i, errno != 0 ? std::strerror(errno) : "EOF");
      close(fd);
      return 1;
    }
    const auto t1 = Clock::now();
    if (in != out) {
      fmt::print(stderr, "pingpong: round trip {} echoed different bytes\n", i);
      close(fd);
      return 1;
    }
    if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    if (t1 > deadline || g_stop.load(std::memory_order_relaxed)) {
      fmt::print(stderr, "pingpong: gave up after {} of {} round trips (timeout {} s)\n", i + 1, total, timeout_s);
      close(fd);
      return 1;
    }
  }
  close(fd);

  const Summary s = Summarize(samples);
  if (json) {
    fmt::print(
        "{{\"target\":\"{}\",\"size\":{},\"count\":{},\"warmup\":{},\"min_us\":{:.2f},\"p50_us\":{:.2f},"
        "\"p90_us\":{:.2f},\"p99_us\":{:.2f},\"p999_us\":{:.2f},\"max_us\":{:.2f},\"mean_us\":{:.2f}}}\n",
        target, size, count, warmup, s.min_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us, s.mean_us);
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
