// bench/suite/compare.h: `strait bench compare` (docs/bench.md §5).
#include "bench/suite/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "tests/bench/suite/sample_result.h"

namespace strait::bench {
namespace {

using testing::SampleResult;

// A result whose strait side has `values` for one metric (one run each).
BenchResult WithMetric(const std::string& name, std::vector<double> values, Better better = Better::kHigher) {
  BenchResult r = SampleResult();
  r.runs.clear();
  for (std::size_t i = 0; i < values.size(); ++i) {
    Run run = testing::SampleRun(static_cast<std::uint32_t>(i + 1), "strait", 1, 1, 1000);
    run.metrics = {{name, values[i]}};
    run.latency.reset();
    r.runs.push_back(std::move(run));
  }
  r.summary = Summarize(r.runs, kStraitSide, {{name, {"1/s", better}}});
  r.ratios.clear();
  return r;
}

bool HasLine(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

TEST(Compare, RatioOfMediansWithoutNoiseWhenTheSpreadIsSmall) {
  const auto c = Compare(WithMetric("ops", {100, 101, 99}), WithMetric("ops", {120, 121, 119}));
  ASSERT_EQ(c.rows.size(), 1u);
  const CompareRow& row = c.rows[0];
  EXPECT_EQ(row.metric, "ops");
  EXPECT_EQ(row.a_median, 100);
  EXPECT_EQ(row.b_median, 120);
  ASSERT_TRUE(row.ratio);
  EXPECT_DOUBLE_EQ(*row.ratio, 1.2);
  EXPECT_DOUBLE_EQ(row.spread, 0.02);  // A: 2/100 > B: 2/120
  EXPECT_FALSE(row.noisy);
  const auto lines = FormatComparison(c);
  EXPECT_TRUE(HasLine(lines, "1.200  (B better)")) << lines[2];
}

// Latency percentiles are compared too, per run from the histograms (never stored): B's requests take twice as long.
TEST(Compare, LatencyPercentilesFromTheHistograms) {
  auto with_latency = [](std::uint64_t base_ns) {
    BenchResult r = WithMetric("ops", {100, 100});
    for (strait::bench::Run& run : r.runs) {
      run.latency = Latency{.unit = "ns", .histogram = {}};
      for (std::uint64_t i = 1; i <= 1000; ++i) run.latency->histogram.Record(base_ns * i);
    }
    return r;
  };
  const auto c = Compare(with_latency(1000), with_latency(2000));
  std::map<std::string, CompareRow> rows;
  for (const CompareRow& row : c.rows) rows[row.metric] = row;
  ASSERT_EQ(rows.size(), 4u);
  for (const char* name : {"latency_p50", "latency_p99", "latency_p999"}) {
    ASSERT_TRUE(rows.count(name)) << name;
    const CompareRow& row = rows[name];
    EXPECT_EQ(row.unit, "us");
    EXPECT_EQ(row.better, Better::kLower);
    ASSERT_TRUE(row.ratio);
    EXPECT_NEAR(*row.ratio, 2.0, 0.05) << name;  // the histogram's buckets are within 1%
  }
  EXPECT_NEAR(rows["latency_p50"].a_median, 500, 10);  // 500 µs
  EXPECT_TRUE(HasLine(FormatComparison(c), "(B worse)"));
  // A file without latency has none of these rows, and says which side has them.
  const auto d = Compare(WithMetric("ops", {100}), with_latency(1000));
  EXPECT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.only_b, (std::vector<std::string>{"latency_p50", "latency_p99", "latency_p999"}));
}

TEST(Compare, NoiseNoteWhenTheSpreadExceedsTheDifference) {
  const auto c = Compare(WithMetric("ops", {100, 80, 120}), WithMetric("ops", {105, 104, 106}));
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_TRUE(c.rows[0].noisy);
  EXPECT_DOUBLE_EQ(c.rows[0].spread, 0.4);
  EXPECT_TRUE(HasLine(FormatComparison(c), "(noise: spread 40.0% > difference 5.0%)"));
}

TEST(Compare, LowerIsBetterTurnsTheVerdict) {
  const auto c = Compare(WithMetric("p99_us", {100}, Better::kLower), WithMetric("p99_us", {150}, Better::kLower));
  EXPECT_TRUE(HasLine(FormatComparison(c), "1.500  (B worse)"));
}

TEST(Compare, ZeroBaselineHasNoRatio) {
  const auto c = Compare(WithMetric("errors", {0, 0}), WithMetric("errors", {3, 3}));
  ASSERT_EQ(c.rows.size(), 1u);
  EXPECT_FALSE(c.rows[0].ratio);
  EXPECT_FALSE(c.rows[0].noisy);
  EXPECT_TRUE(HasLine(FormatComparison(c), "(A is 0: no ratio)"));
}

TEST(Compare, MetricsInOnlyOneFileAreListed) {
  BenchResult a = SampleResult();
  BenchResult b = WithMetric("bytes_per_s", {5});
  b.scenario = "bulk";
  const auto c = Compare(a, b);
  EXPECT_TRUE(c.rows.empty());
  EXPECT_EQ(c.only_a, (std::vector<std::string>{"errors", "logins_per_s", "relay_cpu_us_per_login", "latency_p50",
                                                "latency_p99", "latency_p999"}));
  EXPECT_EQ(c.only_b, (std::vector<std::string>{"bytes_per_s"}));
  const auto lines = FormatComparison(c);
  EXPECT_TRUE(HasLine(lines, "no metric in common"));
  EXPECT_TRUE(HasLine(lines, "only in A: errors, logins_per_s, relay_cpu_us_per_login, latency_p50"));
  EXPECT_TRUE(HasLine(lines, "only in B: bytes_per_s"));
  EXPECT_TRUE(HasLine(lines, "note: the scenarios differ (A logins, B bulk)"));
}

TEST(Compare, SameFileIsRatioOneEverywhere) {
  const auto c = Compare(SampleResult(), SampleResult());
  EXPECT_EQ(c.rows.size(), 6u);  // 3 metrics and 3 latency percentiles
  for (const CompareRow& row : c.rows) {
    if (row.ratio) {
      EXPECT_EQ(*row.ratio, 1) << row.metric;
    }
  }
  EXPECT_TRUE(c.only_a.empty() && c.only_b.empty() && c.notes.empty());
}

TEST(Compare, FreeTextCannotDriveTheTerminal) {
  BenchResult b = SampleResult();
  b.partial = true;
  b.error = "boom\x1b[2J\n";
  const auto lines = FormatComparison(Compare(SampleResult(), b));
  EXPECT_TRUE(HasLine(lines, "note: B is partial (interrupted)"));
  EXPECT_TRUE(HasLine(lines, "note: B failed: boom?[2J?"));
  for (const std::string& l : lines) EXPECT_EQ(l.find('\x1b'), std::string::npos) << l;
}

}  // namespace
}  // namespace strait::bench
