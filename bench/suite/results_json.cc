// The JSON side of results.h: ToJson and the strict FromJson (schema strait-bench/1, docs/bench.md §5).
#include <limits>

#include <fmt/format.h>

#include "bench/suite/results.h"
#include "bench/suite/results_json_parts.h"
#include "bench/suite/strict_json.h"
#include "tunnel/control/json_depth.h"

namespace strait::bench {
namespace {

using internal::AsNumber;
using internal::AsString;
using internal::AsUnsigned;
using internal::Json;
using internal::JsonErrors;
using internal::LatencyJson;
using internal::ObjectReader;
using internal::PointerTo;
using internal::ReadLatency;
using internal::ReadTimeline;
using internal::TimelineJson;
using Out = nlohmann::ordered_json;

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

Out Nullable(const std::optional<std::string>& s) { return s ? Out(*s) : Out(nullptr); }

}  // namespace

namespace internal {

Out LatencyJson(const Latency& l) {
  const Histogram& h = l.histogram;
  Out buckets = Out::array();
  for (const auto& [index, count] : h.NonEmptyBuckets()) buckets.push_back(Out::array({index, count}));
  return Out{{"unit", l.unit}, {"count", h.count()},       {"min", h.min()},       {"max", h.max()},
             {"sum", h.sum()},  {"overflow", h.overflow()}, {"buckets", std::move(buckets)}};
}

Out TimelineJson(const std::vector<TimelineSample>& timeline) {
  Out out = Out::array();
  for (const TimelineSample& s : timeline) {
    out.push_back({{"t", s.t}, {"ops", s.ops}, {"bytes", s.bytes}, {"errors", s.errors}});
  }
  return out;
}

std::optional<Latency> ReadLatency(const Json& j, const std::string& at, JsonErrors& e) {
  ObjectReader o(j, at, e);
  Latency l;
  l.unit = o.String("unit", 8).value_or("");
  const auto count = o.Unsigned("count", kMaxU64);
  const auto min = o.Unsigned("min", kMaxU64);
  const auto max = o.Unsigned("max", kMaxU64);
  const auto sum = o.Unsigned("sum", kMaxU64);
  const auto overflow = o.Unsigned("overflow", kMaxU64);
  const Json* buckets = o.Array("buckets", Histogram::kBucketCount);
  o.Finish();
  if (!e.ok()) return std::nullopt;
  std::vector<std::pair<std::size_t, std::uint64_t>> parts;
  for (std::size_t i = 0; i < buckets->size() && e.ok(); ++i) {
    const Json& b = (*buckets)[i];
    const std::string p = fmt::format("{}/buckets/{}", at, i);
    if (!b.is_array() || b.size() != 2) {
      e.Add(p, "expected [bucket_index, count]");
      break;
    }
    const auto index = AsUnsigned(b[0], p + "/0", Histogram::kBucketCount - 1, e);
    const auto n = AsUnsigned(b[1], p + "/1", kMaxU64, e);
    if (index && n) parts.emplace_back(static_cast<std::size_t>(*index), *n);
  }
  if (!e.ok()) return std::nullopt;
  std::string why;
  auto h = Histogram::FromParts(parts, *count, *min, *max, *sum, *overflow, &why);
  if (!h) {
    e.Add(at, why);
    return std::nullopt;
  }
  l.histogram = std::move(*h);
  return l;
}

std::vector<TimelineSample> ReadTimeline(const Json& samples, const std::string& at, JsonErrors& e) {
  std::vector<TimelineSample> out;
  for (std::size_t i = 0; i < samples.size() && e.ok(); ++i) {
    ObjectReader s(samples[i], fmt::format("{}/{}", at, i), e);
    TimelineSample sample;
    sample.t = s.Number("t").value_or(0);
    sample.ops = s.Unsigned("ops", kMaxU64).value_or(0);
    sample.bytes = s.Unsigned("bytes", kMaxU64).value_or(0);
    sample.errors = s.Unsigned("errors", kMaxU64).value_or(0);
    s.Finish();
    out.push_back(sample);
  }
  return out;
}

}  // namespace internal

namespace {

Out RunJson(const Run& run) {
  Out metrics = Out::object();
  for (const auto& [name, v] : run.metrics) metrics[name] = v;
  Out relay(nullptr);
  if (run.relay) {
    Out delta = Out::object();
    for (const auto& [name, v] : run.relay->metrics_delta) delta[name] = v;
    relay = Out{{"rss_before", run.relay->rss_before},
                {"rss_after", run.relay->rss_after},
                {"cpu_s", run.relay->cpu_s},
                {"metrics_delta", std::move(delta)},
                {"rss_by_sessions", run.relay->rss_by_sessions}};
  }
  return Out{{"rep", run.rep},
             {"side", run.side},
             {"order", run.order},
             {"seconds", run.seconds},
             {"metrics", std::move(metrics)},
             {"latency", run.latency ? LatencyJson(*run.latency) : Out(nullptr)},
             {"timeline", TimelineJson(run.timeline)},
             {"relay", std::move(relay)},
             {"interrupted", run.interrupted}};
}

// ---- reading ----

std::optional<std::uint32_t> U32(ObjectReader& o, std::string_view name) {
  auto v = o.Unsigned(name, kMaxU32);
  return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
}

// An object used as a map of at most `max` entries; `read` gets each value and its pointer.
template <class F>
void ReadMap(const Json* obj, const std::string& pointer, std::size_t max, JsonErrors& e, F&& read) {
  if (obj == nullptr || !e.ok()) return;
  if (obj->size() > max) {
    e.Add(pointer, fmt::format("{} entries; at most {}", obj->size(), max));
    return;
  }
  for (auto it = obj->begin(); it != obj->end() && e.ok(); ++it) {
    read(it.key(), it.value(), PointerTo(pointer, it.key()));
  }
}

Run ReadRun(const Json& j, const std::string& at, JsonErrors& e) {
  ObjectReader o(j, at, e);
  Run run;
  run.rep = U32(o, "rep").value_or(0);
  run.side = o.String("side", kMaxNameBytes).value_or("");
  run.order = U32(o, "order").value_or(0);
  run.seconds = o.Number("seconds").value_or(0);
  // Optional (files written before it existed have none): absent is false.
  run.interrupted = o.Has("interrupted") && o.Bool("interrupted").value_or(false);
  ReadMap(o.Object("metrics"), at + "/metrics", kMaxMetrics, e,
          [&](const std::string& name, const Json& v, const std::string& p) {
            if (auto d = AsNumber(v, p, e)) run.metrics.emplace(name, *d);
          });
  if (!o.TakeNull("latency")) {
    if (const Json* l = o.Object("latency")) run.latency = ReadLatency(*l, at + "/latency", e);
  }
  if (const Json* t = o.Array("timeline", kMaxTimelineSamples)) run.timeline = ReadTimeline(*t, at + "/timeline", e);
  if (!o.TakeNull("relay")) {
    if (const Json* r = o.Object("relay")) {
      ObjectReader ro(*r, at + "/relay", e);
      RelaySample relay;
      relay.rss_before = ro.Unsigned("rss_before", kMaxU64).value_or(0);
      relay.rss_after = ro.Unsigned("rss_after", kMaxU64).value_or(0);
      relay.cpu_s = ro.Number("cpu_s").value_or(0);
      ReadMap(ro.Object("metrics_delta"), at + "/relay/metrics_delta", kMaxRelayCounters, e,
              [&](const std::string& name, const Json& v, const std::string& p) {
                if (auto n = AsUnsigned(v, p, kMaxU64, e)) relay.metrics_delta.emplace(name, *n);
              });
      if (ro.Has("rss_by_sessions")) {
        if (const Json* pts = ro.Array("rss_by_sessions", kMaxTimelineSamples)) {
          for (std::size_t i = 0; i < pts->size() && e.ok(); ++i) {
            const Json& pt = (*pts)[i];
            const std::string p = fmt::format("{}/relay/rss_by_sessions/{}", at, i);
            if (!pt.is_array() || pt.size() != 2) {
              e.Add(p, "expected [sessions, rss bytes]");
              break;
            }
            const auto sessions = AsUnsigned(pt[0], p + "/0", kMaxU64, e);
            const auto rss = AsUnsigned(pt[1], p + "/1", kMaxU64, e);
            if (sessions && rss) relay.rss_by_sessions.emplace_back(*sessions, *rss);
          }
        }
      }
      ro.Finish();
      run.relay = std::move(relay);
    }
  }
  o.Finish();
  return run;
}

std::optional<ParamValue> ReadParam(const Json& v, const std::string& p, JsonErrors& e) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_unsigned()) {
    if (auto n = AsUnsigned(v, p, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), e)) {
      return static_cast<std::int64_t>(*n);
    }
    return std::nullopt;
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    if (auto d = AsNumber(v, p, e)) return *d;
    return std::nullopt;
  }
  if (v.is_string()) {
    if (auto s = AsString(v, p, kMaxTextBytes, e)) return std::move(*s);
    return std::nullopt;
  }
  e.Add(p, fmt::format("expected true, false, a number or a string, got {}", v.type_name()));
  return std::nullopt;
}

std::optional<std::string> ReadNullableText(ObjectReader& o, std::string_view name) {
  if (o.TakeNull(name)) return std::nullopt;
  return o.String(name, kMaxTextBytes);
}

}  // namespace

strait::Result<std::string, ResultsFailure> ToJson(const BenchResult& r) {
  if (auto v = Validate(r); !v.ok()) return Fail(v.error());
  Out params = Out::object();
  for (const auto& [name, value] : r.params) {
    std::visit([&, key = name](const auto& x) { params[key] = x; }, value);
  }
  Out load_cpus = Out::array();
  for (const std::uint32_t cpu : r.target.load_cpus) load_cpus.push_back(cpu);
  Out runs = Out::array();
  for (const Run& run : r.runs) runs.push_back(RunJson(run));
  Out summary = Out::object();
  for (const auto& [name, s] : r.summary) {
    summary[name] = Out{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"unit", s.unit},
                        {"better", BetterName(s.better)}};
  }
  Out ratios = Out::object();
  for (const auto& [name, ratio] : r.ratios) {
    ratios[name] = Out{{"against", ratio.against}, {"median_ratio", ratio.median_ratio}, {"spread", ratio.spread}};
  }
  const Out doc{
      {"schema", kResultsSchema},
      {"tool", Out{{"version", r.tool_version}}},
      {"started_at", r.started_at},
      {"host", Out{{"cpus", r.host.cpus}, {"kernel", r.host.kernel}}},
      {"scenario", r.scenario},
      {"params", std::move(params)},
      {"target", Out{{"kind", r.target.kind},
                     {"relay", r.target.relay},
                     {"relay_threads", r.target.relay_threads},
                     {"relay_cpu", r.target.relay_cpu ? Out(*r.target.relay_cpu) : Out(nullptr)},
                     {"load_cpus", std::move(load_cpus)}}},
      {"negotiated", Out{{"tls", r.negotiated.tls},
                         {"cipher", r.negotiated.cipher},
                         {"workers", r.negotiated.workers},
                         {"sources", r.negotiated.sources}}},
      {"runs", std::move(runs)},
      {"summary", std::move(summary)},
      {"ratios", std::move(ratios)},
      {"partial", r.partial},
      {"error", Nullable(r.error)},
      {"skipped", Nullable(r.skipped)},
  };
  // One line (`jq .` indents it): indented, a histogram takes four lines a bucket, and a result at the bounds would
  // no longer fit the reader's size limit. Invalid UTF-8 in a string (a parameter as typed) becomes U+FFFD rather
  // than an exception.
  std::string text = doc.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace) + "\n";
  if (text.size() > kMaxResultsBytes) {
    return Fail(ResultsFailure{ResultsError::kTooLarge,
                               fmt::format("{} bytes; a results file is at most {}", text.size(), kMaxResultsBytes)});
  }
  return text;
}

strait::Result<BenchResult, ResultsFailure> FromJson(std::string_view text) {
  if (text.size() > kMaxResultsBytes) {
    return Fail(ResultsFailure{ResultsError::kTooLarge,
                               fmt::format("{} bytes; a results file is at most {}", text.size(), kMaxResultsBytes)});
  }
  if (control::JsonNestingDepth(text, kMaxResultsDepth) > kMaxResultsDepth) {
    return Fail(ResultsFailure{ResultsError::kTooDeep, fmt::format("nested deeper than {}", kMaxResultsDepth)});
  }
  const Json j = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(ResultsFailure{ResultsError::kMalformed, "not a JSON value"});
  if (!j.is_object()) {
    return Fail(
        ResultsFailure{ResultsError::kWrongSchema, fmt::format("/: expected an object, got {}", j.type_name())});
  }
  auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_string() || schema->get_ref<const std::string&>() != kResultsSchema) {
    return Fail(ResultsFailure{
        ResultsError::kWrongSchema,
        fmt::format("/schema: expected \"{}\" (a results file of this version)", kResultsSchema)});
  }

  JsonErrors e;
  ObjectReader o(j, "", e);
  BenchResult r;
  o.String("schema", kMaxNameBytes);
  if (const Json* tool = o.Object("tool")) {
    ObjectReader t(*tool, "/tool", e);
    r.tool_version = t.String("version", kMaxNameBytes).value_or("");
    t.Finish();
  }
  r.started_at = o.String("started_at", kMaxNameBytes).value_or("");
  if (const Json* host = o.Object("host")) {
    ObjectReader h(*host, "/host", e);
    r.host.cpus = U32(h, "cpus").value_or(0);
    r.host.kernel = h.String("kernel", kMaxNameBytes).value_or("");
    h.Finish();
  }
  r.scenario = o.String("scenario", kMaxNameBytes).value_or("");
  ReadMap(o.Object("params"), "/params", kMaxParams, e,
          [&](const std::string& name, const Json& v, const std::string& p) {
            if (auto value = ReadParam(v, p, e)) r.params.emplace(name, std::move(*value));
          });
  if (const Json* target = o.Object("target")) {
    ObjectReader t(*target, "/target", e);
    r.target.kind = t.String("kind", kMaxNameBytes).value_or("");
    r.target.relay = t.String("relay", kMaxCounterNameBytes).value_or("");
    r.target.relay_threads = U32(t, "relay_threads").value_or(0);
    if (!t.TakeNull("relay_cpu")) r.target.relay_cpu = U32(t, "relay_cpu");
    if (const Json* cpus = t.Array("load_cpus", kMaxCpus)) {
      for (std::size_t i = 0; i < cpus->size() && e.ok(); ++i) {
        if (auto cpu = AsUnsigned((*cpus)[i], fmt::format("/target/load_cpus/{}", i), kMaxU32, e)) {
          r.target.load_cpus.push_back(static_cast<std::uint32_t>(*cpu));
        }
      }
    }
    t.Finish();
  }
  if (const Json* negotiated = o.Object("negotiated")) {
    ObjectReader n(*negotiated, "/negotiated", e);
    r.negotiated.tls = n.String("tls", kMaxNameBytes).value_or("");
    r.negotiated.cipher = n.String("cipher", kMaxNameBytes).value_or("");
    r.negotiated.workers = U32(n, "workers").value_or(0);
    r.negotiated.sources = U32(n, "sources").value_or(0);
    n.Finish();
  }
  if (const Json* runs = o.Array("runs", kMaxRuns)) {
    for (std::size_t i = 0; i < runs->size() && e.ok(); ++i) {
      r.runs.push_back(ReadRun((*runs)[i], fmt::format("/runs/{}", i), e));
    }
  }
  ReadMap(o.Object("summary"), "/summary", kMaxMetrics, e,
          [&](const std::string& name, const Json& v, const std::string& p) {
            ObjectReader s(v, p, e);
            MetricSummary m;
            m.median = s.Number("median").value_or(0);
            m.min = s.Number("min").value_or(0);
            m.max = s.Number("max").value_or(0);
            m.unit = s.String("unit", 16).value_or("");
            const std::string better = s.String("better", 8).value_or("");
            if (better == "lower") {
              m.better = Better::kLower;
            } else if (better != "higher" && e.ok()) {
              e.Add(PointerTo(p, "better"), "must be higher or lower");
            }
            s.Finish();
            r.summary.emplace(name, std::move(m));
          });
  ReadMap(o.Object("ratios"), "/ratios", kMaxMetrics, e,
          [&](const std::string& name, const Json& v, const std::string& p) {
            ObjectReader s(v, p, e);
            Ratio ratio;
            ratio.against = s.String("against", kMaxNameBytes).value_or("");
            ratio.median_ratio = s.Number("median_ratio").value_or(0);
            ratio.spread = s.Number("spread").value_or(0);
            s.Finish();
            r.ratios.emplace(name, std::move(ratio));
          });
  r.partial = o.Bool("partial").value_or(false);
  r.error = ReadNullableText(o, "error");
  r.skipped = ReadNullableText(o, "skipped");
  o.Finish();
  if (!e.ok()) return Fail(ResultsFailure{ResultsError::kInvalid, *e.first});
  if (auto v = Validate(r); !v.ok()) return Fail(v.error());
  return r;
}

}  // namespace strait::bench
