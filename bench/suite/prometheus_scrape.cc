#include "bench/suite/prometheus_scrape.h"

#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "cli/demo/client.h"

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

Result<Samples, std::string> Scrape(const demo::HostPort& address, std::chrono::milliseconds timeout,
                                    const ScrapeLimits& limits) {
  const auto deadline = demo::Clock::now() + timeout;
  const std::string where = fmt::format("{}:{}", address.host, address.port);
  auto c = demo::Connection::Dial(address, deadline);
  if (!c) return Fail(fmt::format("metrics {}: {}", where, c.error()));
  auto r = demo::HttpGet(*c, address.host, "/metrics", deadline);
  if (!r) return Fail(fmt::format("metrics {}: {}", where, r.error()));
  if (r->status != 200) return Fail(fmt::format("metrics {}: HTTP {}", where, r->status));
  // HttpGet keeps a body up to 1 MiB and counts the rest: a longer one is refused here, never parsed in part.
  if (r->body_bytes > limits.max_bytes || r->body_bytes != r->body.size()) {
    return Fail(fmt::format("metrics {}: the answer is over {} bytes", where, limits.max_bytes));
  }
  auto parsed = ParsePrometheusText(r->body, limits);
  if (!parsed) return Fail(fmt::format("metrics {}: {}", where, parsed.error()));
  return std::move(*parsed);
}

}  // namespace strait::bench
