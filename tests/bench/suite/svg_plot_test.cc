// bench/suite/svg_plot.h and markup.h: the report's plots as SVG text.
#include "bench/suite/svg_plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "bench/suite/markup.h"

namespace strait::bench {
namespace {

std::vector<std::string> PathDs(const std::string& svg) {
  std::vector<std::string> out;
  const std::regex d("<path d=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), d); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

TEST(Markup, EscapesEverythingThatCouldOpenATagOrLeaveAnAttribute) {
  EXPECT_EQ(EscapeMarkup("<script>alert(\"x\" & 'y')</script>"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
  EXPECT_EQ(EscapeMarkup(std::string("a\0b\x1b[2J\tc\n\x7f", 11)), "a?b?[2J\tc\n?");
  EXPECT_EQ(EscapeMarkup("µs ✓"), "µs ✓");  // UTF-8 passes
}

TEST(SvgPlot, LinearTicksAreOneTwoFiveStepsCoveringTheRange) {
  EXPECT_EQ(LinearTicks(0, 2100, 5), (std::vector<double>{0, 500, 1000, 1500, 2000, 2500}));
  EXPECT_EQ(LinearTicks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(LinearTicks(-3, 7, 5), (std::vector<double>{-4, -2, 0, 2, 4, 6, 8}));
  EXPECT_EQ(LinearTicks(5, 5, 5), (std::vector<double>{5}));  // no range: one tick
}

TEST(SvgPlot, LogTicksArePowersOfTen) {
  EXPECT_EQ(LogTicks(3, 4000), (std::vector<double>{1, 10, 100, 1000, 10000}));
  EXPECT_TRUE(LogTicks(0, 10).empty());
}

TEST(SvgPlot, TickLabelsAreShort) {
  EXPECT_EQ(TickLabel(0), "0");
  EXPECT_EQ(TickLabel(0.25), "0.25");
  EXPECT_EQ(TickLabel(15), "15");
  EXPECT_EQ(TickLabel(1500), "1.5k");
  EXPECT_EQ(TickLabel(2e6), "2M");
  EXPECT_EQ(TickLabel(3e9), "3G");
}

TEST(SvgPlot, OnePathPerSeriesWithAxesTicksAndLegend) {
  PlotSpec spec;
  spec.title = "ops";
  spec.x_label = "time (s)";
  spec.y_label = "operations/s";
  spec.series = {{"rep 1 strait", {{1, 100}, {2, 120}, {3, 110}}}, {"rep 1 haproxy", {{1, 50}, {2, 60}}}};
  const std::string svg = RenderLinePlot(spec);
  EXPECT_EQ(svg.rfind("<svg class=\"plot\"", 0), 0u);
  EXPECT_EQ(svg.find("xmlns"), std::string::npos);
  const auto ds = PathDs(svg);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].rfind("M72.0 ", 0), 0u) << ds[0];  // the first x is the left edge of the plot area
  EXPECT_EQ(std::count(ds[0].begin(), ds[0].end(), 'L'), 2);
  for (const char* text : {">time (s)<", ">operations/s<", ">rep 1 strait<", ">rep 1 haproxy<", ">100<", ">0<"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
  EXPECT_NE(svg.find("<title>ops</title>"), std::string::npos);
}

TEST(SvgPlot, LogAxisSkipsWhatItCannotDrawAndALonePointIsADot) {
  PlotSpec spec;
  spec.x_scale = Scale::kLog10;
  spec.y_range = std::make_pair(0.0, 1.0);
  spec.series = {{"a", {{0, 0.1}, {-5, 0.2}, {NAN, 0.3}, {150, 0.5}, {15000, 1.0}}}, {"b", {{20, 1.0}}},
                 {"c", {{0, 1.0}}}};
  const std::string svg = RenderLinePlot(spec);
  const auto ds = PathDs(svg);
  ASSERT_EQ(ds.size(), 2u);  // c has nothing drawable
  EXPECT_EQ(std::count(ds[0].begin(), ds[0].end(), 'M'), 1);
  EXPECT_EQ(std::count(ds[0].begin(), ds[0].end(), 'L'), 1);
  EXPECT_NE(ds[1].find(" l 0 0"), std::string::npos) << ds[1];
  for (const char* tick : {">10<", ">100<", ">1k<", ">10k<", ">100k<"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(SvgPlot, NoDataSaysSoWithoutASeriesPath) {
  PlotSpec spec;
  spec.series = {{"empty", {}}};
  const std::string svg = RenderLinePlot(spec);
  EXPECT_NE(svg.find(">no data<"), std::string::npos);
  EXPECT_TRUE(PathDs(svg).empty());
}

TEST(SvgPlot, HostileTextCannotInjectMarkup) {
  const std::string hostile = "\"><script>alert(1)</script><foreignObject onload=\"x\">&amp;";
  PlotSpec spec;
  spec.title = hostile;
  spec.x_label = hostile;
  spec.y_label = hostile;
  spec.series = {{hostile, {{1, 1}, {2, 2}}}};
  const std::string svg = RenderLinePlot(spec);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<foreignObject"), std::string::npos);
  EXPECT_NE(svg.find("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("&amp;amp;"), std::string::npos);
}

}  // namespace
}  // namespace strait::bench
