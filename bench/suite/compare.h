// `strait bench compare A.json B.json` without the I/O (docs/bench.md §5): for every metric both summaries have, B/A
// of the medians and whether the runs' spread makes the difference noise. Sans-I/O: the CLI reads the files
// (FromJson) and prints FormatComparison's lines.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/suite/results.h"

namespace strait::bench {

struct CompareRow {
  std::string metric;
  std::string unit;  // B's (the newer file's) unit
  Better better = Better::kHigher;
  double a_median = 0;
  double b_median = 0;
  std::optional<double> ratio;  // b_median / a_median; none when A's median is 0
  double spread = 0;            // the larger relative spread (max - min) / median of A and B (may be +infinity)
  bool noisy = false;           // spread > |ratio - 1|: the difference is within the runs' own spread
};

struct Comparison {
  std::string scenario_a;
  std::string scenario_b;
  std::vector<CompareRow> rows;     // the metrics both summaries have, by name
  std::vector<std::string> only_a;  // metrics only A has, by name
  std::vector<std::string> only_b;
  std::vector<std::string> notes;   // different scenarios, partial or failed runs
};

Comparison Compare(const BenchResult& a, const BenchResult& b);

// The comparison as lines for a terminal: a header, one aligned row per common metric with the note
// "(noise: spread X% > difference Y%)" where it applies (else which side is better), then the metrics found in only
// one file and the notes (free text from the files with control characters shown as '?'). No trailing newlines.
std::vector<std::string> FormatComparison(const Comparison& c);

}  // namespace strait::bench
