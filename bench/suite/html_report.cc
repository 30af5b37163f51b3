#include "bench/suite/html_report.h"

#include <algorithm>
#include <set>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "bench/suite/markup.h"
#include "bench/suite/svg_plot.h"

namespace strait::bench {
namespace {

constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .8em;border-bottom:1px solid #eee;"
    "text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".status{padding:.5em;background:#fff3cd}.error{background:#f8d7da}"
    "svg.plot{display:block;margin:.5em 0;font-size:12px}svg .grid{stroke:#eee}svg .tick{fill:#555}"
    "svg .axis-label{fill:#222}svg .legend{fill:#222}";

std::string E(std::string_view s) { return EscapeMarkup(s); }

std::string Number(double v) { return fmt::format("{:.6g}", v); }

std::string ParamText(const ParamValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          return fmt::format("{}", x);
        }
      },
      v);
}

void Row(std::string& out, std::string_view name, std::string_view value) {
  out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", E(name), E(value));
}

void WhatRan(const BenchResult& r, std::string& out) {
  out += "<h2>What ran</h2>\n<table>\n";
  Row(out, "scenario", r.scenario);
  Row(out, "started", r.started_at);
  Row(out, "tool", "strait " + r.tool_version);
  Row(out, "host", fmt::format("{} CPUs, kernel {}", r.host.cpus, r.host.kernel));
  std::string cpus;
  for (const std::uint32_t c : r.target.load_cpus) cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
  Row(out, "target",
      fmt::format("{} relay {}, {} thread(s), relay CPU {}, load CPUs {}", r.target.kind, r.target.relay,
                  r.target.relay_threads, r.target.relay_cpu ? std::to_string(*r.target.relay_cpu) : "not pinned",
                  cpus.empty() ? "-" : cpus));
  Row(out, "negotiated", fmt::format("{} {}", r.negotiated.tls, r.negotiated.cipher));
  Row(out, "workers", fmt::format("{} worker(s), {} source address(es)", r.negotiated.workers, r.negotiated.sources));
  for (const auto& [name, value] : r.params) Row(out, "--" + name, ParamText(value));
  out += "</table>\n";
}

void Summary(const BenchResult& r, std::string& out) {
  out += "<h2>Summary</h2>\n";
  if (r.summary.empty()) {
    out += "<p>No metric was recorded.</p>\n";
    return;
  }
  out += "<table>\n<tr><th>metric</th><th>median</th><th>min .. max</th><th>better</th><th>ratio</th></tr>\n";
  for (const auto& [name, s] : r.summary) {
    std::string ratio = "-";
    if (auto it = r.ratios.find(name); it != r.ratios.end()) {
      ratio = fmt::format("{:.3f} against {} (spread {:.1f}%)", it->second.median_ratio, it->second.against,
                          it->second.spread * 100);
    }
    const std::string unit = s.unit.empty() ? "" : " " + s.unit;
    out += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}{}</td><td class=\"n\">{} .. {}</td><td>{}</td><td>{}</td></tr>\n",
        E(name), Number(s.median), E(unit), Number(s.min), Number(s.max), BetterName(s.better), E(ratio));
  }
  out += "</table>\n";
}

void Runs(const BenchResult& r, std::string& out) {
  if (r.runs.empty()) return;
  std::set<std::string> metrics;
  for (const Run& run : r.runs) {
    for (const auto& m : run.metrics) metrics.insert(m.first);
  }
  out += "<h2>Runs</h2>\n<table>\n<tr><th>rep</th><th>side</th><th>order</th><th>seconds</th>";
  for (const std::string& m : metrics) out += fmt::format("<th>{}</th>", E(m));
  out += "</tr>\n";
  for (const Run& run : r.runs) {
    out += fmt::format("<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                       run.rep, E(run.side) + (run.interrupted ? " (cut short)" : ""), run.order, Number(run.seconds));
    for (const std::string& m : metrics) {
      auto it = run.metrics.find(m);
      out += fmt::format("<td class=\"n\">{}</td>", it == run.metrics.end() ? "-" : Number(it->second));
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
}

std::vector<std::string> Sides(const BenchResult& r) {
  std::vector<std::string> sides;
  for (const Run& run : r.runs) {
    if (std::find(sides.begin(), sides.end(), run.side) == sides.end()) sides.push_back(run.side);
  }
  return sides;
}

// Latency values are shown in µs when recorded in ns.
double Shown(std::uint64_t v, const std::string& unit) {
  return unit == "ns" ? static_cast<double>(v) / 1000.0 : static_cast<double>(v);
}
std::string ShownUnit(const std::string& unit) { return unit == "ns" ? "µs" : unit; }

void LatencyTable(const BenchResult& r, std::string& out) {
  std::string rows;
  std::string unit;  // every run's latency has the same unit (Validate)
  for (const std::string& side : Sides(r)) {
    const auto l = MergedLatency(r.runs, side);
    if (!l) continue;
    unit = l->unit;
    const Histogram& h = l->histogram;
    if (h.empty()) {
      rows += fmt::format("<tr><td>{}</td><td colspan=\"7\">no samples</td></tr>\n", E(side));
      continue;
    }
    rows += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td>", E(side), h.count());
    for (const double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
      rows += fmt::format("<td class=\"n\">{}</td>", Number(Shown(h.Percentile(q), l->unit)));
    }
    rows += fmt::format("<td class=\"n\">{}</td></tr>\n", h.overflow());
  }
  if (rows.empty()) return;
  out += fmt::format(
      "<h2>Latency ({})</h2>\n<table>\n<tr><th>side</th><th>count</th><th>p50</th><th>p90</th><th>p99</th>"
      "<th>p99.9</th><th>max</th><th>overflow</th></tr>\n{}</table>\n",
      E(ShownUnit(unit)), rows);
}

void Plot(std::string& out, std::string_view heading, const PlotSpec& spec, std::string_view none) {
  out += fmt::format("<h2>{}</h2>\n", E(heading));
  const bool any = std::any_of(spec.series.begin(), spec.series.end(),
                               [](const PlotSeries& s) { return !s.points.empty(); });
  out += any ? RenderLinePlot(spec) : fmt::format("<p>{}</p>\n", E(none));
}

void ThroughputPlot(const BenchResult& r, std::string& out) {
  bool bytes = false;
  for (const Run& run : r.runs) {
    for (const TimelineSample& s : run.timeline) bytes = bytes || s.bytes > 0;
  }
  PlotSpec spec;
  spec.title = bytes ? "throughput over time" : "operations per second over time";
  spec.x_label = "time (s)";
  spec.y_label = bytes ? "bytes/s" : "operations/s";
  for (const Run& run : r.runs) {
    PlotSeries s{.label = fmt::format("rep {} {}", run.rep, run.side), .points = {}};
    double previous = 0;
    for (const TimelineSample& sample : run.timeline) {
      const double dt = sample.t - previous;
      if (dt > 0) {
        s.points.emplace_back(sample.t, static_cast<double>(bytes ? sample.bytes : sample.ops) / dt);
      }
      previous = sample.t;
    }
    spec.series.push_back(std::move(s));
  }
  Plot(out, bytes ? "Throughput over time" : "Operations over time", spec, "No timeline was recorded.");
}

void LatencyCdf(const BenchResult& r, std::string& out) {
  PlotSpec spec;
  spec.title = "latency CDF";
  spec.x_scale = Scale::kLog10;
  spec.y_range = std::make_pair(0.0, 1.0);
  spec.y_label = "fraction at or below";
  std::string unit;
  for (const std::string& side : Sides(r)) {
    const auto l = MergedLatency(r.runs, side);
    if (!l) continue;
    unit = l->unit;
    PlotSeries s{.label = side, .points = {}};
    for (const auto& [v, fraction] : l->histogram.CdfPoints()) s.points.emplace_back(Shown(v, l->unit), fraction);
    spec.series.push_back(std::move(s));
  }
  if (spec.series.empty()) return;  // a scenario without latency: no section
  spec.x_label = fmt::format("latency ({}, log scale)", ShownUnit(unit));
  Plot(out, "Latency CDF", spec, "No latency sample was recorded.");
}

void MemoryPlot(const BenchResult& r, std::string& out) {
  if (r.scenario != "idle") return;
  PlotSpec spec;
  spec.title = "relay memory against sessions";
  spec.x_label = "sessions held";
  spec.y_label = "relay RSS (MiB)";
  for (const Run& run : r.runs) {
    auto sessions = run.metrics.find("sessions");
    if (!run.relay || sessions == run.metrics.end()) continue;
    constexpr double kMiB = 1024.0 * 1024.0;
    PlotSeries s{.label = fmt::format("rep {} {}", run.rep, run.side),
                 .points = {{0.0, static_cast<double>(run.relay->rss_before) / kMiB}}};
    for (const auto& [up, rss] : run.relay->rss_by_sessions) {  // sampled while the links came up
      s.points.emplace_back(static_cast<double>(up), static_cast<double>(rss) / kMiB);
    }
    s.points.emplace_back(sessions->second, static_cast<double>(run.relay->rss_after) / kMiB);
    spec.series.push_back(std::move(s));
  }
  Plot(out, "Memory against sessions", spec, "No run recorded both sessions and the relay's memory.");
}

}  // namespace

std::string RenderHtmlReport(const BenchResult& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
  out += fmt::format("<title>strait bench {} {}</title>\n<style>{}</style>\n</head>\n<body>\n", E(r.scenario),
                     E(r.started_at), kStyle);
  out += fmt::format("<h1>strait bench: {}</h1>\n", E(r.scenario));
  if (r.partial) out += "<p class=\"status\">Partial: the run was interrupted; these are the runs so far.</p>\n";
  if (r.error) out += fmt::format("<p class=\"status error\">The run failed: {}</p>\n", E(*r.error));
  if (r.skipped) out += fmt::format("<p class=\"status\">Skipped: {}</p>\n", E(*r.skipped));
  WhatRan(r, out);
  Summary(r, out);
  Runs(r, out);
  LatencyTable(r, out);
  ThroughputPlot(r, out);
  LatencyCdf(r, out);
  MemoryPlot(r, out);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace strait::bench
