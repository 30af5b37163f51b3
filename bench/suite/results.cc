#include "bench/suite/results.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "bench/suite/strict_json.h"

namespace strait::bench {
namespace {

using internal::PointerTo;

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameBytes && std::all_of(s.begin(), s.end(), IsNameChar);
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool IsSide(std::string_view s) {
  return s == "strait" || s == "haproxy" || s == "direct" || s == "direct-connect";
}

// 2026-12-03T15:40:00Z: digits where the pattern has 'd', the rest literal, fields in range.
bool IsUtcTime(std::string_view s) {
  constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != kPattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (kPattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != kPattern[i]) return false;
  }
  auto field = [&](std::size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
  const int month = field(5), day = field(8), hour = field(11), minute = field(14), second = field(17);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
}

// The first rule broken, with the JSON pointer of the value that breaks it.
class Checker {
 public:
  bool ok() const { return !error_; }
  const std::string& error() const { return *error_; }

  void Require(bool rule, const std::string& pointer, std::string_view why) {
    if (!rule && !error_) error_ = fmt::format("{}: {}", pointer, why);
  }
  void Text(std::string_view s, const std::string& pointer, std::size_t max_bytes) {
    Require(s.size() <= max_bytes, pointer, fmt::format("{} bytes; at most {}", s.size(), max_bytes));
  }
  void Finite(double v, const std::string& pointer) { Require(std::isfinite(v), pointer, "not a finite number"); }
  void NonNegative(double v, const std::string& pointer) {
    Finite(v, pointer);
    Require(!(v < 0), pointer, "must not be negative");
  }
  void Name(std::string_view s, const std::string& pointer) {
    Require(IsName(s), pointer, fmt::format("a name is 1..{} of [a-z0-9_-]", kMaxNameBytes));
  }

 private:
  std::optional<std::string> error_;
};

void CheckRun(const Run& run, const std::string& at, std::optional<std::string>* unit, Checker& c) {
  c.Require(run.rep >= 1 && run.rep <= kMaxReps, at + "/rep", fmt::format("must be 1..{}", kMaxReps));
  c.Require(IsSide(run.side), at + "/side", "must be strait, haproxy, direct or direct-connect");
  c.Require(run.order == 1 || run.order == 2, at + "/order", "must be 1 or 2");
  c.NonNegative(run.seconds, at + "/seconds");
  c.Require(run.metrics.size() <= kMaxMetrics, at + "/metrics", fmt::format("at most {} metrics", kMaxMetrics));
  for (const auto& [name, value] : run.metrics) {
    c.Name(name, PointerTo(at + "/metrics", name));
    c.Finite(value, PointerTo(at + "/metrics", name));
  }
  if (run.latency) {
    const std::string& u = run.latency->unit;
    const bool lower_letters = std::all_of(u.begin(), u.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
    c.Require(!u.empty() && u.size() <= 8 && lower_letters, at + "/latency/unit", "a unit is 1..8 of [a-z]");
    if (!*unit) *unit = u;
    c.Require(u == **unit, at + "/latency/unit", fmt::format("every run's latency has the same unit ({})", **unit));
  }
  c.Require(run.timeline.size() <= kMaxTimelineSamples, at + "/timeline",
            fmt::format("at most {} samples", kMaxTimelineSamples));
  for (std::size_t i = 0; i < run.timeline.size(); ++i) {
    const std::string p = fmt::format("{}/timeline/{}/t", at, i);
    c.NonNegative(run.timeline[i].t, p);
    if (i > 0) c.Require(run.timeline[i].t > run.timeline[i - 1].t, p, "t must increase from sample to sample");
  }
  if (run.relay) {
    c.NonNegative(run.relay->cpu_s, at + "/relay/cpu_s");
    c.Require(run.relay->rss_by_sessions.size() <= kMaxTimelineSamples, at + "/relay/rss_by_sessions",
              fmt::format("at most {} points", kMaxTimelineSamples));
    c.Require(run.relay->metrics_delta.size() <= kMaxRelayCounters, at + "/relay/metrics_delta",
              fmt::format("at most {} counters", kMaxRelayCounters));
    for (const auto& [name, value] : run.relay->metrics_delta) {
      const std::string p = PointerTo(at + "/relay/metrics_delta", name);
      c.Require(!name.empty() && name.size() <= kMaxCounterNameBytes && IsPrintableAscii(name), p,
                fmt::format("a counter name is 1..{} printable ASCII characters", kMaxCounterNameBytes));
    }
  }
}

}  // namespace

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  if (values.size() % 2 == 1) return values[mid];
  return values[mid - 1] + (values[mid] - values[mid - 1]) / 2;  // no overflow for large values of one sign
}

double RelativeSpread(double median, double min, double max) {
  if (max == min) return 0;
  if (median == 0) return std::numeric_limits<double>::infinity();
  return (max - min) / std::abs(median);
}

std::map<std::string, MetricSummary> Summarize(const std::vector<Run>& runs, std::string_view side,
                                               const std::map<std::string, MetricSpec>& specs) {
  std::map<std::string, std::vector<double>> values;
  for (const Run& run : runs) {
    if (run.side != side || run.interrupted) continue;
    for (const auto& [name, v] : run.metrics) values[name].push_back(v);
  }
  std::map<std::string, MetricSummary> out;
  for (auto& [name, v] : values) {
    MetricSummary s;
    s.min = *std::min_element(v.begin(), v.end());
    s.max = *std::max_element(v.begin(), v.end());
    s.median = Median(std::move(v));
    if (auto it = specs.find(name); it != specs.end()) {
      s.unit = it->second.unit;
      s.better = it->second.better;
    }
    out.emplace(name, std::move(s));
  }
  return out;
}

std::map<std::string, Ratio> ComputeRatios(const std::vector<Run>& runs, std::string_view side,
                                           std::string_view against) {
  return RatiosOf(Summarize(runs, side, {}), Summarize(runs, against, {}), against);
}

std::map<std::string, Ratio> RatiosOf(const std::map<std::string, MetricSummary>& ours,
                                      const std::map<std::string, MetricSummary>& theirs, std::string_view against) {
  std::map<std::string, Ratio> out;
  for (const auto& [name, a] : ours) {
    auto it = theirs.find(name);
    if (it == theirs.end() || it->second.median == 0) continue;
    const MetricSummary& b = it->second;
    const double spread = std::max(RelativeSpread(a.median, a.min, a.max), RelativeSpread(b.median, b.min, b.max));
    const double ratio = a.median / b.median;
    if (!std::isfinite(spread) || !std::isfinite(ratio)) continue;
    out.emplace(name, Ratio{.against = std::string(against), .median_ratio = ratio, .spread = spread});
  }
  return out;
}

std::map<std::string, MetricSummary> SummarizeLatency(const std::vector<Run>& runs, std::string_view side) {
  static constexpr std::pair<const char*, double> kQuantiles[] = {
      {"latency_p50", 0.5}, {"latency_p99", 0.99}, {"latency_p999", 0.999}};
  std::vector<Run> as_metrics;
  std::map<std::string, MetricSpec> specs;
  for (const Run& run : runs) {
    if (run.side != side || run.interrupted || !run.latency || run.latency->histogram.empty()) continue;
    const bool ns = run.latency->unit == "ns";
    Run r;
    r.side = run.side;
    for (const auto& [name, q] : kQuantiles) {
      const auto v = static_cast<double>(run.latency->histogram.Percentile(q));
      r.metrics[name] = ns ? v / 1e3 : v;
      specs[name] = MetricSpec{.unit = ns ? "us" : run.latency->unit, .better = Better::kLower};
    }
    as_metrics.push_back(std::move(r));
  }
  return Summarize(as_metrics, side, specs);
}

std::optional<Latency> MergedLatency(const std::vector<Run>& runs, std::string_view side) {
  std::optional<Latency> merged;
  for (const Run& run : runs) {
    if (run.side != side || !run.latency) continue;
    if (!merged) {
      merged = *run.latency;
    } else {
      merged->histogram.Merge(run.latency->histogram);
    }
  }
  return merged;
}

std::string_view BetterName(Better better) { return better == Better::kLower ? "lower" : "higher"; }

strait::Result<void, ResultsFailure> Validate(const BenchResult& r) {
  Checker c;
  c.Require(!r.tool_version.empty() && r.tool_version.size() <= kMaxNameBytes && IsPrintableAscii(r.tool_version),
            "/tool/version", fmt::format("1..{} printable ASCII characters", kMaxNameBytes));
  c.Require(IsUtcTime(r.started_at), "/started_at", "expected an RFC 3339 UTC time such as 2026-12-03T15:40:00Z");
  c.Require(r.host.cpus >= 1 && r.host.cpus <= kMaxCpus, "/host/cpus", fmt::format("must be 1..{}", kMaxCpus));
  c.Text(r.host.kernel, "/host/kernel", kMaxNameBytes);
  c.Name(r.scenario, "/scenario");
  c.Require(r.params.size() <= kMaxParams, "/params", fmt::format("at most {} parameters", kMaxParams));
  for (const auto& [name, value] : r.params) {
    const std::string at = PointerTo("/params", name);
    c.Name(name, at);
    if (const auto* d = std::get_if<double>(&value)) c.Finite(*d, at);
    if (const auto* s = std::get_if<std::string>(&value)) c.Text(*s, at, kMaxTextBytes);
  }
  c.Require(r.target.kind == "local" || r.target.kind == "remote", "/target/kind", "must be local or remote");
  c.Text(r.target.relay, "/target/relay", kMaxCounterNameBytes);
  c.Require(r.target.relay_threads <= kMaxCpus, "/target/relay_threads", fmt::format("at most {}", kMaxCpus));
  c.Require(!r.target.relay_cpu || *r.target.relay_cpu < kMaxCpus, "/target/relay_cpu",
            fmt::format("below {}", kMaxCpus));
  c.Require(r.target.load_cpus.size() <= kMaxCpus, "/target/load_cpus", fmt::format("at most {} CPUs", kMaxCpus));
  for (std::size_t i = 0; i < r.target.load_cpus.size(); ++i) {
    c.Require(r.target.load_cpus[i] < kMaxCpus, fmt::format("/target/load_cpus/{}", i),
              fmt::format("below {}", kMaxCpus));
  }
  c.Text(r.negotiated.tls, "/negotiated/tls", kMaxNameBytes);
  c.Text(r.negotiated.cipher, "/negotiated/cipher", kMaxNameBytes);
  c.Require(r.negotiated.workers <= 64, "/negotiated/workers", "at most 64");
  c.Require(r.negotiated.sources <= 256, "/negotiated/sources", "at most 256");

  c.Require(r.runs.size() <= kMaxRuns, "/runs", fmt::format("at most {} runs", kMaxRuns));
  std::optional<std::string> latency_unit;
  std::set<std::string> strait_metrics;
  std::set<std::string> sides;
  for (std::size_t i = 0; i < r.runs.size() && c.ok(); ++i) {
    CheckRun(r.runs[i], fmt::format("/runs/{}", i), &latency_unit, c);
    sides.insert(r.runs[i].side);
    if (r.runs[i].side == kStraitSide && !r.runs[i].interrupted) {
      for (const auto& m : r.runs[i].metrics) strait_metrics.insert(m.first);
    }
  }
  for (const auto& [name, s] : r.summary) {
    const std::string at = PointerTo("/summary", name);
    c.Require(strait_metrics.count(name) == 1, at, "no strait run has this metric");
    c.Finite(s.median, at + "/median");
    c.Finite(s.min, at + "/min");
    c.Finite(s.max, at + "/max");
    c.Require(s.min <= s.median && s.median <= s.max, at, "needs min <= median <= max");
    c.Require(s.unit.size() <= 16 && IsPrintableAscii(s.unit), at + "/unit", "0..16 printable ASCII characters");
  }
  for (const std::string& name : strait_metrics) {
    c.Require(r.summary.count(name) == 1, PointerTo("/summary", name), "missing: a strait run has this metric");
  }
  for (const auto& [name, ratio] : r.ratios) {
    const std::string at = PointerTo("/ratios", name);
    c.Require(r.summary.count(name) == 1, at, "a ratio needs the metric's summary");
    c.Require(ratio.against != kStraitSide && IsSide(ratio.against) && sides.count(ratio.against) == 1,
              at + "/against", "must name a baseline side that has runs");
    c.NonNegative(ratio.median_ratio, at + "/median_ratio");
    c.NonNegative(ratio.spread, at + "/spread");
  }
  for (std::size_t i = 0; i < r.runs.size(); ++i) {
    c.Require(!r.runs[i].interrupted || r.partial, fmt::format("/runs/{}/interrupted", i),
              "an interrupted run needs \"partial\": true");
  }
  if (r.error) c.Text(*r.error, "/error", kMaxTextBytes);
  if (r.skipped) c.Text(*r.skipped, "/skipped", kMaxTextBytes);
  if (!c.ok()) return Fail(ResultsFailure{ResultsError::kInvalid, c.error()});
  return {};
}

}  // namespace strait::bench
