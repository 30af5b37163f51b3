#include "bench/suite/svg_plot.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "bench/suite/markup.h"

namespace strait::bench {
namespace {

constexpr int kLeft = 72;
constexpr int kRight = 16;
constexpr int kTop = 16;
constexpr int kBottom = 48;
constexpr double kLegendRow = 18;
constexpr double kLegendCharWidth = 7;  // an estimate at 12 px: no script measures text
constexpr std::array<const char*, 8> kPalette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                 "#9467bd", "#8c564b", "#e377c2", "#17becf"};

bool Drawable(double v, Scale scale) { return std::isfinite(v) && (scale == Scale::kLinear || v > 0); }

double Transform(double v, Scale scale) { return scale == Scale::kLog10 ? std::log10(v) : v; }

// An axis: the data range widened to its ticks, and the mapping to pixels.
struct Axis {
  Scale scale = Scale::kLinear;
  double lo = 0;  // transformed (log10 for a log axis)
  double hi = 1;
  std::vector<double> ticks;  // untransformed

  double Map(double v, double px_lo, double px_hi) const {
    return px_lo + (Transform(v, scale) - lo) / (hi - lo) * (px_hi - px_lo);
  }
};

Axis MakeAxis(double lo, double hi, Scale scale) {
  Axis a;
  a.scale = scale;
  if (scale == Scale::kLog10) {
    double dlo = std::floor(std::log10(lo));
    double dhi = std::ceil(std::log10(hi));
    if (dhi <= dlo) dhi = dlo + 1;
    a.lo = dlo;
    a.hi = dhi;
    a.ticks = LogTicks(std::pow(10.0, dlo), std::pow(10.0, dhi));
    return a;
  }
  if (hi <= lo) {  // one value: a range around it
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  a.ticks = LinearTicks(lo, hi, 5);
  a.lo = std::min(lo, a.ticks.front());
  a.hi = std::max(hi, a.ticks.back());
  return a;
}

std::string Num(double v) { return fmt::format("{:.1f}", v); }

// The <svg> element around `body`, `height` tall (the plot and the legend below it).
std::string Framed(const PlotSpec& spec, int width, int height, const std::string& body) {
  return fmt::format(
      "<svg class=\"plot\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">"
      "<title>{2}</title>\n{3}</svg>\n",
      width, height, EscapeMarkup(spec.title), body);
}

}  // namespace

std::vector<double> LinearTicks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step) * step;
  for (int i = 0; i < 100; ++i) {
    double t = first + i * step;
    if (std::abs(t) < step * 1e-9) t = 0;  // no "-0" from rounding
    ticks.push_back(t);
    if (t >= hi - step * 1e-9) break;
  }
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi >= lo) || !std::isfinite(hi)) return ticks;
  for (double e = std::floor(std::log10(lo)); e <= std::ceil(std::log10(hi)) && ticks.size() < 64; ++e) {
    ticks.push_back(std::pow(10.0, e));
  }
  return ticks;
}

std::string TickLabel(double v) {
  const double a = std::abs(v);
  if (a >= 1e9) return fmt::format("{:g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

std::string RenderLinePlot(const PlotSpec& spec) {
  const int width = std::max(spec.width, kLeft + kRight + 100);
  const int height = std::max(spec.height, kTop + kBottom + 60);
  const double x0 = kLeft;
  const double x1 = width - kRight;
  const double y0 = height - kBottom;  // pixel y of the axis bottom
  const double y1 = kTop;

  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const PlotSeries& s : spec.series) {
    for (const auto& [x, y] : s.points) {
      if (!Drawable(x, spec.x_scale) || !Drawable(y, spec.y_scale)) continue;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  const bool has_data = xmin <= xmax;
  if (spec.y_range) {
    ymin = spec.y_range->first;
    ymax = spec.y_range->second;
  } else if (has_data && spec.y_scale == Scale::kLinear && spec.y_from_zero) {
    ymin = std::min(ymin, 0.0);
  }

  std::string out = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#888\"/>\n",
                                Num(x0), Num(y1), Num(x1 - x0), Num(y0 - y1));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis-label\">{}</text>\n",
                     Num((x0 + x1) / 2), height - 10, EscapeMarkup(spec.x_label));
  out += fmt::format(
      "<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\" class=\"axis-label\">{1}"
      "</text>\n",
      Num((y0 + y1) / 2), EscapeMarkup(spec.y_label));
  if (!has_data) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n", Num((x0 + x1) / 2),
                       Num((y0 + y1) / 2));
    return Framed(spec, width, height, out);
  }

  const Axis xa = MakeAxis(xmin, xmax, spec.x_scale);
  const Axis ya = MakeAxis(ymin, ymax, spec.y_scale);
  for (const double t : xa.ticks) {
    const double px = xa.Map(t, x0, x1);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"grid\"/>"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\" class=\"tick\">{4}</text>\n",
        Num(px), Num(y1), Num(y0), Num(y0 + 16), EscapeMarkup(TickLabel(t)));
  }
  for (const double t : ya.ticks) {
    const double py = ya.Map(t, y0, y1);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"grid\"/>"
        "<text x=\"{3}\" y=\"{4}\" text-anchor=\"end\" class=\"tick\">{5}</text>\n",
        Num(x0), Num(py), Num(x1), Num(x0 - 6), Num(py + 4), EscapeMarkup(TickLabel(t)));
  }

  // The legend goes below the plot, in rows, so it never hides a line.
  double lx = x0;
  double ly = height + 4;
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& s = spec.series[i];
    std::string d;
    for (const auto& [x, y] : s.points) {
      if (!Drawable(x, spec.x_scale) || !Drawable(y, spec.y_scale)) continue;
      d += fmt::format("{}{} {}", d.empty() ? "M" : " L", Num(xa.Map(x, x0, x1)), Num(ya.Map(y, y0, y1)));
    }
    if (d.empty()) continue;
    const char* colour = kPalette[i % kPalette.size()];
    // A lone point is a zero-length segment: round caps draw it as a dot.
    out += fmt::format(
        "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linecap=\"round\" "
        "stroke-linejoin=\"round\"><title>{}</title></path>\n",
        d.find('L') == std::string::npos ? d + " l 0 0" : d, colour, EscapeMarkup(s.label));
    const double entry = 34 + kLegendCharWidth * static_cast<double>(std::min<std::size_t>(s.label.size(), 60));
    if (lx > x0 && lx + entry > x1) {
      lx = x0;
      ly += kLegendRow;
    }
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>"
        "<text x=\"{4}\" y=\"{5}\" class=\"legend\">{6}</text>\n",
        Num(lx), Num(ly + 8), Num(lx + 20), colour, Num(lx + 26), Num(ly + 12), EscapeMarkup(s.label));
    lx += entry;
  }
  return Framed(spec, width, static_cast<int>(ly) + (lx > x0 ? kLegendRow : 0), out);
}

}  // namespace strait::bench
