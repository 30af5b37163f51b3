// Line plots as SVG text for the HTML report (docs/bench.md §6): throughput over time, latency CDFs on a log axis,
// memory against sessions. Sans-I/O, no script: the output is an <svg> element to inline in HTML (no xmlns, no
// external reference), every text escaped (markup.h).
//
// Layout: a frame with the plot area inside fixed margins; ticks and grid lines on both axes (linear: 1-2-5 steps,
// about five of them, the range widened to whole steps; log10: one per decade, the range widened to whole decades);
// axis labels; one <path> per series with at least one drawable point, colours from a fixed palette, and a legend
// below the plot (rows of entries, so the SVG is taller than `height` by the legend).
// Points that cannot be drawn (not finite, or <= 0 on a log axis) are skipped. A plot with no drawable point says
// "no data" and has no series path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strait::bench {

enum class Scale : std::uint8_t { kLinear, kLog10 };

struct PlotSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
};

struct PlotSpec {
  std::string title;  // the <title> and aria-label of the <svg>
  std::string x_label;
  std::string y_label;
  Scale x_scale = Scale::kLinear;
  Scale y_scale = Scale::kLinear;
  std::optional<std::pair<double, double>> y_range;  // a fixed y range (a CDF: 0 .. 1) instead of the data's
  bool y_from_zero = true;                           // a linear y axis starts at 0 unless the data goes below
  std::vector<PlotSeries> series;
  int width = 720;
  int height = 360;
};

std::string RenderLinePlot(const PlotSpec& spec);

// Tick positions (exposed for the tests). Linear: multiples of a 1-2-5 step covering [lo, hi], about `target` of
// them. Log10: the powers of ten covering [lo, hi] (lo > 0).
std::vector<double> LinearTicks(double lo, double hi, int target);
std::vector<double> LogTicks(double lo, double hi);
// A short tick label: 0, 0.25, 15, 1.5k, 20M, 3G ("k", "M", "G" from 10^3 on).
std::string TickLabel(double v);

}  // namespace strait::bench
