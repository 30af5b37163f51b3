#include "bench/suite/compare.h"

#include <cmath>

#include <fmt/format.h>

namespace strait::bench {
namespace {

std::string Percent(double fraction) {
  if (std::isinf(fraction)) return "inf%";
  return fmt::format("{:.1f}%", fraction * 100);
}

std::string WithUnit(double v, const std::string& unit) {
  return unit.empty() ? fmt::format("{:.6g}", v) : fmt::format("{:.6g} {}", v, unit);
}

std::string Verdict(const CompareRow& row) {
  if (!row.ratio) return "(A is 0: no ratio)";
  const double difference = std::abs(*row.ratio - 1);
  if (row.noisy) return fmt::format("(noise: spread {} > difference {})", Percent(row.spread), Percent(difference));
  if (*row.ratio == 1) return "(same)";
  const bool b_higher = *row.ratio > 1;
  return (b_higher == (row.better == Better::kHigher)) ? "(B better)" : "(B worse)";
}

// Free text from a file goes to a terminal: control characters (escape sequences) become '?'.
std::string TerminalSafe(std::string_view text) {
  std::string out(text);
  for (char& ch : out) {
    if ((ch >= 0 && ch < 0x20) || ch == 0x7f) ch = '?';
  }
  return out;
}

void NoteState(const BenchResult& r, const char* name, std::vector<std::string>& notes) {
  if (r.partial) notes.push_back(fmt::format("{} is partial (interrupted)", name));
  if (r.error) notes.push_back(fmt::format("{} failed: {}", name, TerminalSafe(*r.error)));
  if (r.skipped) notes.push_back(fmt::format("{} was skipped: {}", name, TerminalSafe(*r.skipped)));
}

CompareRow Row(const std::string& name, const MetricSummary& sa, const MetricSummary& sb) {
  CompareRow row;
  row.metric = name;
  row.unit = sb.unit;
  row.better = sb.better;
  row.a_median = sa.median;
  row.b_median = sb.median;
  row.spread = std::max(RelativeSpread(sa.median, sa.min, sa.max), RelativeSpread(sb.median, sb.min, sb.max));
  if (sa.median != 0) {
    row.ratio = sb.median / sa.median;
    row.noisy = row.spread > std::abs(*row.ratio - 1);
  }
  return row;
}

}  // namespace

Comparison Compare(const BenchResult& a, const BenchResult& b) {
  Comparison c;
  c.scenario_a = a.scenario;
  c.scenario_b = b.scenario;
  if (a.scenario != b.scenario) {
    c.notes.push_back(fmt::format("the scenarios differ (A {}, B {})", a.scenario, b.scenario));
  }
  NoteState(a, "A", c.notes);
  NoteState(b, "B", c.notes);
  auto rows = [&c](const std::map<std::string, MetricSummary>& in_a, const std::map<std::string, MetricSummary>& in_b) {
    for (const auto& [name, sa] : in_a) {
      auto it = in_b.find(name);
      if (it == in_b.end()) {
        c.only_a.push_back(name);
        continue;
      }
      c.rows.push_back(Row(name, sa, it->second));
    }
    for (const auto& entry : in_b) {
      if (in_a.count(entry.first) == 0) c.only_b.push_back(entry.first);
    }
  };
  rows(a.summary, b.summary);
  // The strait side's latency percentiles, per run, from the histograms.
  rows(SummarizeLatency(a.runs, kStraitSide), SummarizeLatency(b.runs, kStraitSide));
  return c;
}

std::vector<std::string> FormatComparison(const Comparison& c) {
  std::vector<std::string> lines;
  lines.push_back(c.scenario_a == c.scenario_b ? fmt::format("compare {}: B/A of the medians", c.scenario_a)
                                               : fmt::format("compare {} (A) with {} (B): B/A of the medians",
                                                             c.scenario_a, c.scenario_b));
  std::size_t width = 6;
  for (const CompareRow& row : c.rows) width = std::max(width, row.metric.size());
  lines.push_back(fmt::format("{:<{}}  {:>16}  {:>16}  {:>8}", "metric", width, "A median", "B median", "B/A"));
  for (const CompareRow& row : c.rows) {
    const std::string ratio = row.ratio ? fmt::format("{:.3f}", *row.ratio) : "-";
    lines.push_back(fmt::format("{:<{}}  {:>16}  {:>16}  {:>8}  {}", row.metric, width,
                                WithUnit(row.a_median, row.unit), WithUnit(row.b_median, row.unit), ratio,
                                Verdict(row)));
  }
  if (c.rows.empty()) lines.push_back("no metric in common");
  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  if (!c.only_a.empty()) lines.push_back("only in A: " + join(c.only_a));
  if (!c.only_b.empty()) lines.push_back("only in B: " + join(c.only_b));
  for (const std::string& note : c.notes) lines.push_back("note: " + note);
  return lines;
}

}  // namespace strait::bench
