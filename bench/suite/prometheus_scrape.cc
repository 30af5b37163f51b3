#include "bench/suite/prometheus_scrape.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace strait::bench {
namespace {

bool NameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// The series at the start of `line` (name, then an optional {...} block with quoted values); its length, or 0.
std::size_t SeriesLength(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && NameChar(line[i], i == 0)) ++i;
  if (i == 0) return 0;
  if (i == line.size() || line[i] != '{') return i;
  ++i;
  bool quoted = false;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\') {
        if (++i == line.size()) return 0;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '}') {
      return i + 1;
    } else if (c == '\n') {
      return 0;
    }
  }
  return 0;  // no closing brace
}

std::optional<double> ParseValue(std::string_view s) {
  if (s == "+Inf" || s == "-Inf" || s == "NaN") return std::nullopt;  // not a counter we can subtract
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

Result<Samples, std::string> ParsePrometheusText(std::string_view text, const ScrapeLimits& limits) {
  if (text.size() > limits.max_bytes) return Fail(fmt::format("metrics text over {} bytes", limits.max_bytes));
  Samples out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > limits.max_line) return Fail(fmt::format("line {}: over {} bytes", line_no, limits.max_line));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t n = SeriesLength(line);
    if (n == 0 || n == line.size() || line[n] != ' ') return Fail(fmt::format("line {}: not `series value`", line_no));
    std::string_view rest = line.substr(n + 1);
    const std::size_t space = rest.find(' ');
    const std::optional<double> value = ParseValue(rest.substr(0, space));
    if (!value) return Fail(fmt::format("line {}: the value is not a finite number", line_no));
    if (out.size() == limits.max_samples) return Fail(fmt::format("over {} samples", limits.max_samples));
    if (!out.emplace(std::string(line.substr(0, n)), *value).second) {
      return Fail(fmt::format("line {}: series {} given twice", line_no, line.substr(0, n)));
    }
  }
  return out;
}

Samples CounterDeltas(const Samples& before, const Samples& after, std::string_view prefix) {
  Samples out;
  for (const auto& [series, value] : after) {
    if (!series.starts_with(prefix)) continue;
    const auto b = before.find(series);
    const double d = value - (b == before.end() ? 0.0 : b->second);
    if (d != 0) out.emplace(series, d);
  }
  return out;
}

Result<Samples, std::string> Scrape(const runtime::SocketAddress& address, std::chrono::milliseconds timeout,
                                    const ScrapeLimits& limits) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = address.ToString();
  const int fd = ::socket(address.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(fmt::format("metrics {}: socket: {}", where, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // Waits for `events` on the socket until the deadline; false when it passed.
  auto wait = [&](short events) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  if (::connect(fd, address.get(), address.len) != 0 && errno != EINPROGRESS) {
    return Fail(fmt::format("metrics {}: connect: {}", where, std::strerror(errno)));
  }
  if (!wait(POLLOUT)) return Fail(fmt::format("metrics {}: no connection within {} ms", where, timeout.count()));
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    return Fail(fmt::format("metrics {}: connect: {}", where, std::strerror(err)));
  }
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: " + where + "\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait(POLLOUT)) return Fail(fmt::format("metrics {}: send timed out", where));
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return Fail(fmt::format("metrics {}: send: {}", where, std::strerror(errno)));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buf[16384];
  while (true) {
    if (!wait(POLLIN)) {
      return Fail(fmt::format("metrics {}: no complete answer within {} ms", where, timeout.count()));
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN) continue;
      return Fail(fmt::format("metrics {}: recv: {}", where, std::strerror(errno)));
    }
    response.append(buf, static_cast<std::size_t>(n));
    if (response.size() > limits.max_bytes + 4096) return Fail(fmt::format("metrics {}: answer too large", where));
  }
  const std::size_t head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.1 200") || head_end == std::string::npos) {
    return Fail(fmt::format("metrics {}: not an HTTP 200 answer", where));
  }
  // The endpoints answer with Content-Length and close (metrics/http_exchange.h): the body is the rest.
  auto parsed = ParsePrometheusText(std::string_view(response).substr(head_end + 4), limits);
  if (!parsed) return Fail(fmt::format("metrics {}: {}", where, parsed.error()));
  return std::move(*parsed);
}

}  // namespace strait::bench
