#include "bench/lib/round_trips.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace strait::bench {
namespace {

using Clock = std::chrono::steady_clock;

double NearestRankUs(const std::vector<std::int64_t>& sorted_ns, double q) {
  const auto n = sorted_ns.size();
  auto rank = static_cast<std::size_t>(q * static_cast<double>(n) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, n);
  return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

}  // namespace

RoundTrips RunRoundTrips(const RoundTripOptions& options, const Exchange& exchange) {
  RoundTrips r;
  if (options.size == 0) {
    r.error = "messages need at least one byte";
    return r;
  }
  std::vector<std::uint8_t> out(options.size);
  std::vector<std::uint8_t> in(options.size);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 131 + 7);
  r.ns.reserve(options.count);
  const std::uint64_t total = options.warmup + options.count;
  for (std::uint64_t i = 0; i < total; ++i) {
    std::memcpy(out.data(), &i, std::min(out.size(), sizeof i));
    const auto t0 = Clock::now();
    if (std::string e = exchange(out, in); !e.empty()) {
      r.error = fmt::format("round trip {} failed: {}", i, e);
      return r;
    }
    const auto t1 = Clock::now();
    if (in != out) {
      r.error = fmt::format("round trip {} echoed different bytes", i);
      return r;
    }
    if (i >= options.warmup) r.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    if (i + 1 < total && (t1 > options.deadline || (options.stop != nullptr && options.stop->load()))) {
      r.error = fmt::format("gave up after {} of {} round trips", i + 1, total);
      return r;
    }
  }
  return r;
}

LatencySummary Summarize(std::vector<std::int64_t> ns) {
  LatencySummary s;
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (const auto v : ns) sum += static_cast<double>(v);
  s.count = ns.size();
  s.min_us = static_cast<double>(ns.front()) / 1000.0;
  s.p50_us = NearestRankUs(ns, 0.50);
  s.p90_us = NearestRankUs(ns, 0.90);
  s.p99_us = NearestRankUs(ns, 0.99);
  s.p999_us = NearestRankUs(ns, 0.999);
  s.max_us = static_cast<double>(ns.back()) / 1000.0;
  s.mean_us = sum / static_cast<double>(ns.size()) / 1000.0;
  return s;
}

std::string JsonMembers(const LatencySummary& s) {
  return fmt::format(
      "\"count\":{},\"min_us\":{:.2f},\"p50_us\":{:.2f},\"p90_us\":{:.2f},\"p99_us\":{:.2f},\"p999_us\":{:.2f},"
      "\"max_us\":{:.2f},\"mean_us\":{:.2f}",
      s.count, s.min_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us, s.mean_us);
}

}  // namespace strait::bench
