// The relay's (and connector's) /metrics as `strait bench` reads them (docs/bench.md §2): the error and drop counters
// before and after a run, reported as deltas. ParsePrometheusText reads the text exposition format (version 0.0.4)
// without I/O, strictly and within bounds, since a remote relay's endpoint is not ours to trust; Scrape() fetches
// it with strait_demo's blocking HTTP/1.1 client (cli/demo/client.h: Connection::Dial, HttpGet; the endpoints
// listen on loopback only: docs/relay.md "Metrics").
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::bench {

// Series -> value. A series is spelled as in the text: `name` or `name{label="value",...}` with the labels in the
// order given (the daemons write them in a fixed order).
using Samples = std::map<std::string, double, std::less<>>;

struct ScrapeLimits {
  std::size_t max_bytes = 1 << 20;   // the whole text
  std::size_t max_samples = 20'000;
  std::size_t max_line = 4096;
};

// Comment lines (# HELP, # TYPE, anything after #) and blank lines are skipped; every other line is `series value
// [timestamp]`. A malformed line, a duplicate series or a bound exceeded fails with the line number.
Result<Samples, std::string> ParsePrometheusText(std::string_view text, const ScrapeLimits& limits = {});

// after - before for every series of `after` whose name starts with `prefix` (a series missing before counts from
// 0). Series whose delta is 0 are left out.
Samples CounterDeltas(const Samples& before, const Samples& after, std::string_view prefix);

// GET /metrics from `address` (within `timeout` in all) and parse it.
Result<Samples, std::string> Scrape(const demo::HostPort& address, std::chrono::milliseconds timeout,
                                    const ScrapeLimits& limits = {});

}  // namespace strait::bench
