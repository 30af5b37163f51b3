// A plausible logins result with a haproxy baseline (two repetitions per side, latency, timeline, relay probe), for
// the tests of bench/suite/ and the report sample.
#pragma once

#include <cstdint>
#include <string>

#include "bench/suite/results.h"

namespace strait::bench::testing {

inline Run SampleRun(std::uint32_t rep, std::string side, std::uint32_t order, double logins_per_s,
                     std::uint64_t latency_base_ns) {
  Run run;
  run.rep = rep;
  run.side = std::move(side);
  run.order = order;
  run.seconds = 10.0;
  run.metrics = {{"logins_per_s", logins_per_s}, {"errors", 0}};
  if (run.side == "strait") run.metrics["relay_cpu_us_per_login"] = 300 + rep;
  Latency latency;
  for (std::uint64_t i = 0; i < 2000; ++i) latency.histogram.Record(latency_base_ns + (i * i * 37) % 900'000);
  run.latency = std::move(latency);
  for (std::uint64_t t = 1; t <= 10; ++t) {
    run.timeline.push_back(TimelineSample{.t = static_cast<double>(t),
                                          .ops = static_cast<std::uint64_t>(logins_per_s) + t * 3,
                                          .bytes = 0,
                                          .errors = t == 4 ? 1u : 0u});
  }
  run.relay = RelaySample{.rss_before = 10'000'000,
                          .rss_after = 12'500'000,
                          .cpu_s = 3.25,
                          .metrics_delta = {{"strait_relay_logins_refused_total", 0}},
                          .rss_by_sessions = {}};
  return run;
}

inline BenchResult SampleResult() {
  BenchResult r;
  r.tool_version = "0.1.0";
  r.started_at = "2026-12-03T15:40:00Z";
  r.host = Host{.cpus = 2, .kernel = "6.1.0"};
  r.scenario = "logins";
  r.params = {{"devices", std::int64_t{1000}}, {"parallel", std::int64_t{64}}, {"how", std::string("abort")},
              {"closed", false}, {"rate", 1000.5}};
  r.target = Target{.kind = "local", .relay = "127.0.0.1:40123", .relay_threads = 1, .relay_cpu = 1,
                    .load_cpus = {0}};
  r.negotiated = Negotiated{.tls = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256", .workers = 1, .sources = 1};
  r.runs = {SampleRun(1, "strait", 1, 2100.5, 150'000), SampleRun(1, "haproxy", 2, 1100.0, 300'000),
            SampleRun(2, "haproxy", 1, 1150.0, 310'000), SampleRun(2, "strait", 2, 2050.0, 160'000)};
  r.summary = Summarize(r.runs, kStraitSide,
                        {{"logins_per_s", {"1/s", Better::kHigher}},
                         {"relay_cpu_us_per_login", {"us", Better::kLower}},
                         {"errors", {"", Better::kLower}}});
  r.ratios = ComputeRatios(r.runs, kStraitSide, "haproxy");
  return r;
}

}  // namespace strait::bench::testing
