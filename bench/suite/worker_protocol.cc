#include "bench/suite/worker_protocol.h"

#include <array>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "bench/suite/results_json_parts.h"
#include "bench/suite/strict_json.h"
#include "tunnel/control/json_depth.h"

namespace strait::bench {
namespace {

using internal::Json;
using internal::JsonErrors;
using internal::ObjectReader;
using Out = nlohmann::ordered_json;

constexpr std::size_t kMaxDepth = 8;
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

constexpr std::array<std::pair<WorkerEventKind, std::string_view>, 6> kNames = {{
    {WorkerEventKind::kReady, "ready"},
    {WorkerEventKind::kProgress, "progress"},
    {WorkerEventKind::kUp, "up"},
    {WorkerEventKind::kDrop, "drop"},
    {WorkerEventKind::kResult, "result"},
    {WorkerEventKind::kError, "error"},
}};

std::string Cut(const std::string& s) { return s.size() > kMaxWorkerTextBytes ? s.substr(0, kMaxWorkerTextBytes) : s; }

Out ProgressJson(const FleetProgress& p) {
  return Out{{"t", p.t},
             {"target", p.target},
             {"up", p.up},
             {"in_flight", p.in_flight},
             {"logins", p.logins},
             {"errors", p.errors},
             {"login_p99_ns", p.login_p99_ns},
             {"phase", Cut(p.phase)}};
}

Out ResultJson(const FleetResult& r) {
  return Out{{"logins", r.logins},
             {"errors", r.errors},
             {"dials", r.dials},
             {"peak_up", r.peak_up},
             {"login_ns", internal::LatencyJson({.unit = "ns", .histogram = r.login_ns})},
             {"recover_ns", internal::LatencyJson({.unit = "ns", .histogram = r.recover_ns})},
             {"window_s", r.window_s},
             {"timeline", internal::TimelineJson(r.timeline)},
             {"complete", r.complete},
             {"stopped", r.stopped},
             {"last_error", Cut(r.last_error)},
             {"tls_version", Cut(r.tls_version)},
             {"cipher", Cut(r.cipher)}};
}

std::uint32_t U32(ObjectReader& o, std::string_view name) {
  return static_cast<std::uint32_t>(o.Unsigned(name, kMaxU32).value_or(0));
}

FleetProgress ReadProgress(const Json& j, JsonErrors& e) {
  ObjectReader o(j, "/progress", e);
  FleetProgress p;
  p.t = o.Number("t").value_or(0);
  p.target = U32(o, "target");
  p.up = U32(o, "up");
  p.in_flight = U32(o, "in_flight");
  p.logins = o.Unsigned("logins", kMaxU64).value_or(0);
  p.errors = o.Unsigned("errors", kMaxU64).value_or(0);
  p.login_p99_ns = o.Unsigned("login_p99_ns", kMaxU64).value_or(0);
  p.phase = o.String("phase", kMaxWorkerTextBytes).value_or("");
  o.Finish();
  return p;
}

Histogram ReadHistogram(ObjectReader& o, std::string_view name, JsonErrors& e) {
  const Json* j = o.Object(name);
  if (j == nullptr) return {};
  auto l = internal::ReadLatency(*j, o.PointerTo(name), e);
  if (l && l->unit != "ns") e.Add(o.PointerTo(name) + "/unit", "expected \"ns\"");
  return l ? std::move(l->histogram) : Histogram();
}

FleetResult ReadResult(const Json& j, JsonErrors& e) {
  ObjectReader o(j, "/result", e);
  FleetResult r;
  r.logins = o.Unsigned("logins", kMaxU64).value_or(0);
  r.errors = o.Unsigned("errors", kMaxU64).value_or(0);
  r.dials = o.Unsigned("dials", kMaxU64).value_or(0);
  r.peak_up = U32(o, "peak_up");
  r.login_ns = ReadHistogram(o, "login_ns", e);
  r.recover_ns = ReadHistogram(o, "recover_ns", e);
  r.window_s = o.Number("window_s").value_or(0);
  if (const Json* t = o.Array("timeline", kMaxTimelineSamples)) {
    r.timeline = internal::ReadTimeline(*t, o.PointerTo("timeline"), e);
  }
  r.complete = o.Bool("complete").value_or(false);
  r.stopped = o.Bool("stopped").value_or(false);
  r.last_error = o.String("last_error", kMaxWorkerTextBytes).value_or("");
  r.tls_version = o.String("tls_version", kMaxWorkerTextBytes).value_or("");
  r.cipher = o.String("cipher", kMaxWorkerTextBytes).value_or("");
  o.Finish();
  return r;
}

}  // namespace

std::string EncodeWorkerEvent(const WorkerEvent& event) {
  std::string_view name;
  for (const auto& [kind, n] : kNames) {
    if (kind == event.kind) name = n;
  }
  Out j{{"event", name}};
  switch (event.kind) {
    case WorkerEventKind::kProgress: j["progress"] = ProgressJson(event.progress); break;
    case WorkerEventKind::kResult: j["result"] = ResultJson(event.result); break;
    case WorkerEventKind::kError: j["message"] = Cut(event.message); break;
    case WorkerEventKind::kReady:
    case WorkerEventKind::kUp:
    case WorkerEventKind::kDrop: break;
  }
  return j.dump(-1, ' ', false, Out::error_handler_t::replace);
}

Result<WorkerEvent, std::string> ParseWorkerEvent(std::string_view line) {
  if (line.size() > kMaxWorkerLineBytes) {
    return Fail(fmt::format("a line of {} bytes; at most {}", line.size(), kMaxWorkerLineBytes));
  }
  if (control::JsonNestingDepth(line, kMaxDepth) > kMaxDepth) {
    return Fail(fmt::format("nested deeper than {}", kMaxDepth));
  }
  const Json j = Json::parse(line.begin(), line.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(std::string("not a JSON value"));
  JsonErrors e;
  ObjectReader o(j, "", e);
  const std::string name = o.String("event", 16).value_or("");
  WorkerEvent ev;
  bool known = false;
  for (const auto& [kind, n] : kNames) {
    if (n == name) {
      ev.kind = kind;
      known = true;
    }
  }
  if (e.ok() && !known) e.Add("/event", "unknown event (ready, progress, up, drop, result or error)");
  if (e.ok()) {
    switch (ev.kind) {
      case WorkerEventKind::kProgress:
        if (const Json* p = o.Object("progress")) ev.progress = ReadProgress(*p, e);
        break;
      case WorkerEventKind::kResult:
        if (const Json* r = o.Object("result")) ev.result = ReadResult(*r, e);
        break;
      case WorkerEventKind::kError: ev.message = o.String("message", kMaxWorkerTextBytes).value_or(""); break;
      case WorkerEventKind::kReady:
      case WorkerEventKind::kUp:
      case WorkerEventKind::kDrop: break;
    }
  }
  o.Finish();
  if (!e.ok()) return Fail(*e.first);
  return ev;
}

}  // namespace strait::bench
