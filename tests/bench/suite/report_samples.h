// Results for the report tests: the logins sample with a hostile parameter, and an idle run (memory plot). The
// headless Chromium test renders the same ones (tests/bench/report_sample.cc).
#pragma once

#include <string>

#include "tests/bench/suite/sample_result.h"

namespace strait::bench::testing {

// Text that would open a script, an image and an attribute if it were not escaped.
inline const std::string kHostileText =
    "</td></table><script>document.title='pwned'</script><img src=x onerror=\"alert(1)\">&amp;'";

inline BenchResult LoginsReportSample() {
  BenchResult r = SampleResult();
  r.params["label"] = kHostileText;
  r.error = kHostileText;
  return r;
}

inline BenchResult IdleReportSample() {
  BenchResult r = SampleResult();
  r.scenario = "idle";
  r.params = {{"devices", std::string("10000,19000")}, {"hold", std::int64_t{5}}};
  r.runs.clear();
  const double sessions[] = {10000, 19000};
  for (std::uint32_t i = 0; i < 2; ++i) {
    Run run = SampleRun(i + 1, "strait", 1, 0, 0);
    run.latency.reset();
    run.metrics = {{"sessions", sessions[i]}, {"rss_per_session_b", 2900.0 + i * 10}};
    run.relay->rss_before = 9'000'000;
    run.relay->rss_after = 9'000'000 + static_cast<std::uint64_t>(sessions[i]) * (2900 + i * 10);
    r.runs.push_back(std::move(run));
  }
  r.summary = Summarize(r.runs, kStraitSide,
                        {{"sessions", {"", Better::kHigher}}, {"rss_per_session_b", {"B", Better::kLower}}});
  r.ratios.clear();
  return r;
}

}  // namespace strait::bench::testing
