// The HTML report of one result (docs/bench.md §6): one self-contained page, inline CSS and inline SVG (svg_plot.h),
// no script, no external resource; a Content-Security-Policy that allows neither, so even a page edited by hand
// loads nothing. Sans-I/O: the CLI writes the string to --html FILE.
//
// Sections: what ran (scenario, parameters, target, negotiated TLS, workers, host, tool), the summary table
// (median, min .. max, ratio to the baseline with its spread), the runs, the latency percentiles of each side
// (computed from the merged histograms: p50, p90, p99, p99.9, max), and the plots:
//   - throughput over time, one line per run: bytes/s if any run moved bytes, else operations/s (each timeline
//     sample's count over the time since the previous sample)
//   - the latency CDF, one line per side, log x axis (µs when the unit is ns)
//   - for `idle`, the relay's memory against sessions: per run, (0, RSS before) to (the `sessions` metric, RSS after)
// A plot without data is left out with a line saying so. Every text from the result is escaped (markup.h).
#pragma once

#include <string>

#include "bench/suite/results.h"

namespace strait::bench {

std::string RenderHtmlReport(const BenchResult& result);

}  // namespace strait::bench
