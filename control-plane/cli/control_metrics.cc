#include "control-plane/cli/control_metrics.h"

#include <fmt/format.h>

#include "control-plane/api/problem.h"
#include "metrics/prometheus_text.h"

namespace strait::control::cli {

using metrics::Label;
using metrics::MetricType;

std::string RenderControlMetrics(const ControlMetricsSources& s) {
  metrics::PrometheusText out;
  const Dispatcher& d = *s.dispatcher;
  const DispatcherCounters& dc = d.counters();
  const http::ServerCounters& sc = *s.server;

  out.Family("strait_control_requests_total", MetricType::kCounter,
             "Answers by route (method and path template; - for none matched) and status class.");
  const std::span<const Route> routes = d.routes();
  for (size_t r = 0; r <= routes.size(); ++r) {
    const std::string route =
        r < routes.size() ? fmt::format("{} {}", MethodName(routes[r].method), routes[r].path) : std::string("-");
    for (size_t c = 0; c < kStatusClasses.size(); ++c) {
      const Label labels[] = {{"route", route}, {"status", kStatusClasses[c]}};
      out.Sample("strait_control_requests_total", labels, d.answered(r, c));
    }
  }
  out.Family("strait_control_problems_total", MetricType::kCounter,
             "problem+json answers by type (docs/control-plane.md section 4.3).");
  for (const ProblemInfo& p : ProblemTable()) {
    out.Sample("strait_control_problems_total", {"type", p.name},
               dc.by_problem[static_cast<size_t>(p.type)].load(std::memory_order_relaxed));
  }
  out.Family("strait_control_rejected_total", MetricType::kCounter,
             "Requests and connections refused before a handler ran, by reason (section 8).");
  const std::pair<std::string_view, uint64_t> rejected[] = {
      {"unauthenticated", dc.unauthenticated.load()},     {"rate_limited", dc.rate_limited.load()},
      {"connections_full", sc.refused_connections.load()}, {"tls_handshake", sc.handshake_failures.load()},
      {"timeout", sc.timeouts.load()},                     {"too_large", sc.too_large.load()},
      {"overloaded", sc.overloaded.load()},
  };
  for (const auto& [reason, n] : rejected) out.Sample("strait_control_rejected_total", {"reason", reason}, n);
  out.Counter("strait_control_connections_total", "TLS connections accepted.", sc.connections.load());
  const int64_t open = sc.open_connections.load();
  out.Gauge("strait_control_connections", "TLS connections open now.", open > 0 ? static_cast<uint64_t>(open) : 0);
  out.Gauge("strait_control_event_streams", "Event streams open now (relays and connectors following).",
            s.hub->streams());
  out.Counter("strait_control_event_streams_replaced_total",
              "Event streams ended because their subject opened one more than max_per_subject.", s.hub->replaced());
  return out.Take();
}

}  // namespace strait::control::cli
