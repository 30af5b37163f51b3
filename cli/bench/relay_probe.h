// The local relay as `strait bench` sees it from outside (docs/bench.md §3): /proc (RSS, CPU of every thread) and
// its /metrics (the counters that moved, errors and drops by reason). The /metrics endpoint is scraped from inside
// the relay's network namespace when it runs in one (`strait bench ip`).
#pragma once

#include <cstdint>
#include <string>

#include "bench/suite/proc_sample.h"
#include "bench/suite/prometheus_scrape.h"
#include "bench/suite/results.h"
#include "cli/bench/local_deployment.h"
#include "crypto/result.h"

namespace strait::cli::bench {

class RelayProbe {
 public:
  explicit RelayProbe(const LocalDeployment& d) : d_(d) {}
  // Before the load: RSS, CPU and the counters.
  Result<void, std::string> Before();
  // After the load (on any thread): RSS and CPU now.
  void After();
  std::uint64_t rss_before() const { return before_.rss_bytes; }
  std::uint64_t rss_after() const { return after_.rss_bytes; }
  double cpu_s() const { return strait::bench::CpuSeconds(before_, after_); }
  // The sample for the run: RSS, CPU and the counters that moved. Waits 1.1 s first: the relay publishes its
  // counters once a second.
  strait::bench::RelaySample Finish();

 private:
  Result<strait::bench::Samples, std::string> Scrape() const;

  const LocalDeployment& d_;
  strait::bench::ProcSample before_;
  strait::bench::ProcSample after_;
  strait::bench::Samples metrics_before_;
};

}  // namespace strait::cli::bench
