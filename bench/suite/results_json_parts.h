// Internal to strait_bench_suite: the pieces of the results JSON (results_json.cc, schema strait-bench/1) that the
// worker protocol (worker_protocol.cc) writes and reads the same way: a latency histogram and a timeline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/suite/results.h"
#include "bench/suite/strict_json.h"

namespace strait::bench::internal {

// {"unit", "count", "min", "max", "sum", "overflow", "buckets": [[index, count], ...]}
nlohmann::ordered_json LatencyJson(const Latency& l);
// The strict reader of LatencyJson's object at pointer `at`; nullopt after an error (recorded in `e`).
std::optional<Latency> ReadLatency(const Json& j, const std::string& at, JsonErrors& e);

// [{"t", "ops", "bytes", "errors"}, ...]
nlohmann::ordered_json TimelineJson(const std::vector<TimelineSample>& timeline);
// The strict reader of TimelineJson's array (the caller bounds its size) at pointer `at`.
std::vector<TimelineSample> ReadTimeline(const Json& samples, const std::string& at, JsonErrors& e);

}  // namespace strait::bench::internal
