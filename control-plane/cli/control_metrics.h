// strait-control's /metrics (docs/control-plane.md §8, "Counters"): what the dispatcher, the HTTPS server and the
// event hub count, in the Prometheus text format, so a hostile client shows in metrics and not in log floods.
// Served by `serve --metrics-listen` (loopback only) on a metrics::HttpEndpoint thread; the render reads only
// atomics and the hub's counts.
#pragma once

#include <string>

#include "control-plane/events/hub.h"
#include "control-plane/handlers/dispatcher.h"
#include "control-plane/http/server.h"

namespace strait::control::cli {

struct ControlMetricsSources {
  const Dispatcher* dispatcher = nullptr;
  const http::ServerCounters* server = nullptr;
  const events::Hub* hub = nullptr;
};

std::string RenderControlMetrics(const ControlMetricsSources& s);

}  // namespace strait::control::cli
