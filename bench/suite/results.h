// The result model of `strait bench` and its JSON form, schema "strait-bench/1" (docs/bench.md §5). Sans-I/O: the
// caller reads and writes the files.
//
// One BenchResult per invocation: what ran (scenario, parameters, target, negotiated TLS), one Run per repetition
// and side ("strait", or the baseline "haproxy" / "direct"), the summary of the strait side's runs per metric
// (median, min, max), and the ratios to the baseline. The summary and the ratios are computed from the runs
// (Summarize, ComputeRatios); latency percentiles are never stored, only the histograms they come from.
//
// The reader is strict, because `strait bench compare` reads files a user hands it: every key the schema does not
// name is refused, as are a wrong "schema", a wrong type, a non-finite number, a count that is not an integer, and
// anything beyond the bounds of docs/bench.md §7 (file size, nesting, list lengths). Each refusal names the JSON
// pointer of the value ("/runs/0/metrics/errors: expected a number, got string"). The writer checks the same rules
// (Validate), so it never writes what the reader would refuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bench/suite/histogram.h"
#include "crypto/result.h"

namespace strait::bench {

inline constexpr std::string_view kResultsSchema = "strait-bench/1";
inline constexpr std::string_view kStraitSide = "strait";  // the side the summary describes

// Bounds of the reader (docs/bench.md §7) and of the model.
inline constexpr std::size_t kMaxResultsBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxResultsDepth = 32;
inline constexpr std::size_t kMaxRuns = 200;             // 100 repetitions x 2 sides
inline constexpr std::uint32_t kMaxReps = 100;
inline constexpr std::size_t kMaxTimelineSamples = 3600;  // one a second, one hour
inline constexpr std::size_t kMaxMetrics = 64;            // per run, and in the summary
inline constexpr std::size_t kMaxParams = 64;
inline constexpr std::size_t kMaxRelayCounters = 256;     // runs[].relay.metrics_delta
inline constexpr std::size_t kMaxCpus = 4096;
inline constexpr std::size_t kMaxNameBytes = 64;          // metric, parameter and scenario names
inline constexpr std::size_t kMaxCounterNameBytes = 256;  // a Prometheus series with its labels
inline constexpr std::size_t kMaxTextBytes = 4096;        // strings: parameter values, error, skipped, ...

enum class Better : std::uint8_t { kHigher, kLower };

struct Host {
  std::uint32_t cpus = 0;
  std::string kernel;
  bool operator==(const Host&) const = default;
};

struct Target {
  std::string kind;                         // "local" (started by the tool) or "remote" (--relay)
  std::string relay;                        // HOST:PORT
  std::uint32_t relay_threads = 0;
  std::optional<std::uint32_t> relay_cpu;   // the CPU the relay was pinned to; none when not pinned (remote)
  std::vector<std::uint32_t> load_cpus;     // where the load ran
  bool operator==(const Target&) const = default;
};

struct Negotiated {
  std::string tls;      // "TLSv1.3"
  std::string cipher;   // "TLS_AES_128_GCM_SHA256"
  std::uint32_t workers = 0;
  std::uint32_t sources = 0;
  bool operator==(const Negotiated&) const = default;
};

// A scenario parameter as given (after defaults): a flag, an integer, a number or text.
using ParamValue = std::variant<bool, std::int64_t, double, std::string>;

// One timeline sample: what happened in the second ending at t (seconds into the measured window).
struct TimelineSample {
  double t = 0;
  std::uint64_t ops = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  bool operator==(const TimelineSample&) const = default;
};

// What the probe saw of the relay during one run (relay_probe.h): RSS in bytes, CPU seconds, counter deltas.
struct RelaySample {
  std::uint64_t rss_before = 0;
  std::uint64_t rss_after = 0;
  double cpu_s = 0;
  std::map<std::string, std::uint64_t> metrics_delta;
  // idle: (links up, relay RSS bytes) about once a second while the links came up, at most kMaxTimelineSamples;
  // the memory-against-sessions plot. Optional in the reader (files written before it existed lack it).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rss_by_sessions;
  bool operator==(const RelaySample&) const = default;
};

struct Latency {
  std::string unit = "ns";
  Histogram histogram;
  bool operator==(const Latency&) const = default;
};

struct Run {
  std::uint32_t rep = 0;    // 1 .. kMaxReps
  std::string side;         // "strait", "haproxy" or "direct"
  std::uint32_t order = 0;  // 1 or 2: its place within the repetition (the order alternates)
  double seconds = 0;       // measured time
  std::map<std::string, double> metrics;
  std::optional<Latency> latency;
  std::vector<TimelineSample> timeline;  // t strictly increasing
  std::optional<RelaySample> relay;
  // Cut short by Ctrl-C: its figures are what ran until then. Summaries and ratios leave it out; the file says
  // "partial".
  bool interrupted = false;
  bool operator==(const Run&) const = default;
};

struct MetricSummary {
  double median = 0;
  double min = 0;
  double max = 0;
  std::string unit;  // "1/s", "us", "B", ... ("" for a plain count)
  Better better = Better::kHigher;
  bool operator==(const MetricSummary&) const = default;
};

struct Ratio {
  std::string against;      // the baseline side
  double median_ratio = 0;  // strait median / baseline median
  double spread = 0;        // the larger relative spread (max - min) / median of the two sides
  bool operator==(const Ratio&) const = default;
};

struct BenchResult {
  std::string tool_version;
  std::string started_at;  // RFC 3339 UTC, whole seconds: 2026-12-03T15:40:00Z
  Host host;
  std::string scenario;
  std::map<std::string, ParamValue> params;
  Target target;
  Negotiated negotiated;
  std::vector<Run> runs;
  std::map<std::string, MetricSummary> summary;  // keys: every metric of the strait side's runs
  std::map<std::string, Ratio> ratios;           // keys: a subset of summary's
  bool partial = false;                          // interrupted: the runs so far
  std::optional<std::string> error;              // why the run failed
  std::optional<std::string> skipped;            // why the scenario did not run (no root, no TUN)
  bool operator==(const BenchResult&) const = default;
};

// What the caller knows of each metric: its unit and which way is better. Metrics without an entry get unit "" and
// Better::kHigher.
struct MetricSpec {
  std::string unit;
  Better better = Better::kHigher;
};

// The median of `values` (an even count: the mean of the two middle values); 0 for none.
double Median(std::vector<double> values);
// (max - min) / median, the spread Ratio and compare report: 0 when min == max, +infinity when the median is 0 and
// the values differ.
double RelativeSpread(double median, double min, double max);

// One MetricSummary per metric that a run of `side` has, over those runs (interrupted runs left out).
std::map<std::string, MetricSummary> Summarize(const std::vector<Run>& runs, std::string_view side,
                                               const std::map<std::string, MetricSpec>& specs);
// For each metric both `side` and `against` have, median(side) / median(against) and the spread. A metric whose
// baseline median is 0 (or whose spread is infinite) has no ratio.
std::map<std::string, Ratio> ComputeRatios(const std::vector<Run>& runs, std::string_view side,
                                           std::string_view against);

// Each run's latency percentiles p50, p99 and p99.9 as if they were metrics, summarised like Summarize over `side`'s
// runs with a non-empty histogram: "latency_p50", "latency_p99", "latency_p999", in µs when the unit is ns (else the
// histogram's unit), lower better. Computed from the histograms, never stored (compare and the ratios use them).
std::map<std::string, MetricSummary> SummarizeLatency(const std::vector<Run>& runs, std::string_view side);

// The same for two summaries already made (ComputeRatios, and the latency percentiles of SummarizeLatency).
std::map<std::string, Ratio> RatiosOf(const std::map<std::string, MetricSummary>& ours,
                                      const std::map<std::string, MetricSummary>& theirs, std::string_view against);

// The latency histograms of `side`'s runs merged (repetitions); nullopt when none has one. All must share a unit.
std::optional<Latency> MergedLatency(const std::vector<Run>& runs, std::string_view side);

std::string_view BetterName(Better better);  // "higher" / "lower"

enum class ResultsError : std::uint8_t {
  kTooLarge,     // the text is above kMaxResultsBytes
  kTooDeep,      // nested deeper than kMaxResultsDepth
  kMalformed,    // not one JSON value
  kWrongSchema,  // "schema" is missing or not strait-bench/1
  kInvalid,      // a key, a type, a value or a bound the schema does not allow (reason: the JSON pointer and why)
};
using ResultsFailure = Error<ResultsError>;

// The rules of the header comment, on a model (the writer's check). The reason names the JSON pointer.
strait::Result<void, ResultsFailure> Validate(const BenchResult& result);
// The JSON text (one line and a newline, keys in the schema's order), or Validate's refusal, or kTooLarge if the text
// would be above kMaxResultsBytes (only a result near every bound at once).
strait::Result<std::string, ResultsFailure> ToJson(const BenchResult& result);
// Reads a results file's text. Throws nothing.
strait::Result<BenchResult, ResultsFailure> FromJson(std::string_view text);

}  // namespace strait::bench
