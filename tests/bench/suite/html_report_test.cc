// bench/suite/html_report.h: the self-contained HTML report (docs/bench.md §6). The page as a browser sees it is
// checked by bench_suite_report_chromium (tests/bench/report_chromium_test.sh).
#include "bench/suite/html_report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>

#include "bench/suite/markup.h"
#include "tests/bench/suite/report_samples.h"

namespace strait::bench {
namespace {

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(HtmlReport, IsSelfContainedWithoutScriptOrExternalResource) {
  for (const BenchResult& r : {testing::LoginsReportSample(), testing::IdleReportSample()}) {
    const std::string html = RenderHtmlReport(r);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    for (const char* banned : {"http://", "https://", "<script", "<img", "<link", "<iframe", "url(", "@import"}) {
      EXPECT_EQ(html.find(banned), std::string::npos) << banned;
    }
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);  // the CSP: nothing loads even if edited
  }
}

TEST(HtmlReport, HostileTextIsShownNotRun) {
  const std::string html = RenderHtmlReport(testing::LoginsReportSample());
  const std::string escaped = EscapeMarkup(testing::kHostileText);
  EXPECT_EQ(Count(html, escaped), 2u);  // the parameter and the error
  EXPECT_EQ(html.find("onerror=\""), std::string::npos);
  EXPECT_EQ(Count(html, "</table>"), Count(html, "<table>"));  // no table closed early
}

TEST(HtmlReport, LoginsHasWhatRanSummaryLatencyAndTwoPlots) {
  const BenchResult r = testing::LoginsReportSample();
  const std::string html = RenderHtmlReport(r);
  for (const char* part : {"<h2>What ran</h2>", "TLS_AES_128_GCM_SHA256", "<th>--devices</th><td>1000</td>",
                           "<h2>Summary</h2>", "against haproxy", "<h2>Runs</h2>", "<h2>Latency (µs)</h2>",
                           "<h2>Operations over time</h2>", "<h2>Latency CDF</h2>", "The run failed: "}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }
  EXPECT_EQ(html.find("Memory against sessions"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 2u);
  // The percentiles come from the merged histograms: the strait side's p99 in µs.
  const auto merged = MergedLatency(r.runs, "strait");
  const std::string p99 = fmt::format(">{:.6g}<", static_cast<double>(merged->histogram.Percentile(0.99)) / 1000);
  EXPECT_NE(html.find(p99), std::string::npos) << p99;
  // Every series path has points.
  const std::regex d("<path d=\"([^\"]*)\"");
  std::size_t paths = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), d); it != std::sregex_iterator(); ++it, ++paths) {
    EXPECT_GT((*it)[1].length(), 3u);
  }
  EXPECT_EQ(paths, 4u + 2u);  // a timeline per run, a CDF per side
}

TEST(HtmlReport, IdleHasTheMemoryPlotAndNoLatencySection) {
  const std::string html = RenderHtmlReport(testing::IdleReportSample());
  EXPECT_NE(html.find("<h2>Memory against sessions</h2>"), std::string::npos);
  EXPECT_NE(html.find(">sessions held<"), std::string::npos);
  EXPECT_EQ(html.find("Latency"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 2u);  // operations over time, memory
}

TEST(HtmlReport, TheLatencyUnitComesFromASideThatHasLatency) {
  BenchResult r = testing::SampleResult();
  for (bench::Run& run : r.runs) {  // (TEST bodies see testing::Test::Run)
    if (run.side == "strait") run.latency.reset();
  }
  const std::string html = RenderHtmlReport(r);
  EXPECT_NE(html.find("<h2>Latency (µs)</h2>"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 2u);  // the CDF has the haproxy line
}

TEST(HtmlReport, AnEmptySkippedResultStillRenders) {
  BenchResult r = testing::SampleResult();
  r.runs.clear();
  r.summary.clear();
  r.ratios.clear();
  r.skipped = "needs root";
  r.partial = true;
  const std::string html = RenderHtmlReport(r);
  EXPECT_NE(html.find("Skipped: needs root"), std::string::npos);
  EXPECT_NE(html.find("Partial:"), std::string::npos);
  EXPECT_NE(html.find("No metric was recorded."), std::string::npos);
  EXPECT_NE(html.find("No timeline was recorded."), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 0u);
}

}  // namespace
}  // namespace strait::bench
