// The app-traffic scenarios of `strait bench` (docs/bench.md §2), on the traffic engines of
// bench/suite/load/app_traffic.h and the in-process servers of app_servers.h:
//   latency  request/response of --size bytes over --connections streams to an echo server; open loop at --rate
//            (latency from the intended send time) or --closed (one request in flight per stream)
//   bulk     --streams streams writing as fast as they can to a sink
// Sides: strait (device SOCKS5 door -> relay -> connector -> server, the local deployment's app path), direct (the
// engine straight to the server), direct-connect (a second device's door -> the same connector by Direct Connect,
// no relay) and haproxy (in -> MID -> out -> server, TLS on both legs of the mid). The
// forwarder's CPU is the relay's (strait) or the haproxy mid's, each pinned to the relay's CPU.
// Against a remote relay (--relay): a device child with the --identity bundle, and either a connector child
// (--connector-identity, --connector-relay) in front of the tool's own server, or the operator's connector in front of
// --server; the relay's CPU is not the tool's to read there.
#include <algorithm>

#include <fmt/format.h>

#include "bench/suite/load/app_servers.h"
#include "bench/suite/load/app_traffic.h"
#include "bench/suite/proc_sample.h"
#include "cli/bench/baseline_haproxy.h"
#include "cli/bench/daemons.h"
#include "cli/bench/relay_probe.h"
#include "cli/bench/scenario.h"

namespace strait::cli::bench {
namespace {

using strait::bench::AppServer;
using strait::bench::AppServerKind;
using strait::bench::Better;
using strait::bench::TrafficTarget;

class AppScenario final : public Scenario {
 public:
  explicit AppScenario(bool latency) : latency_(latency) {}

  std::map<std::string, MetricSpec> Specs() const override {
    if (latency_) {
      return {{"achieved_rate", {"1/s", Better::kHigher}}, {"completed", {"", Better::kHigher}},
              {"dropped", {"", Better::kLower}},           {"late", {"", Better::kLower}},
              {"unanswered", {"", Better::kLower}},        {"errors", {"", Better::kLower}},
              {"forwarder_cpu_us_per_request", {"us", Better::kLower}}};
    }
    return {{"bytes_per_s", {"B/s", Better::kHigher}},     {"min_stream_bytes", {"B", Better::kHigher}},
            {"max_stream_bytes", {"B", Better::kHigher}},  {"errors", {"", Better::kLower}},
            {"forwarder_cpu_s_per_gb", {"s/GB", Better::kLower}}};
  }
  bool SupportsBaseline() const override { return true; }

  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    if (auto s = EnsureServer(env.args); !s) return Fail(s.error());
    if (auto p = ProbeNegotiated(env); !p) return Fail(p.error());
    auto to = Target(env);
    if (!to) return Fail(to.error());
    if (!latency_ && to->doors.size() > 1) {
      env.progress->Note(fmt::format("{}: {} streams over {} devices", env.side, env.args.streams, to->doors.size()));
    }
    // The forwarder's CPU: the haproxy mid's from /proc, or the local relay's through its probe (which also has its
    // error and drop counters).
    std::optional<RelayProbe> probe;
    if (env.side == "strait" && env.local != nullptr) {
      probe.emplace(*env.local);
      if (auto b = probe->Before(); !b) return Fail(b.error());
    }
    std::optional<strait::bench::ProcSample> before;
    if (env.side == "haproxy") {
      if (auto s = strait::bench::Sample(haproxy_->mid_pid()); s) before = *s;
    }
    const auto& a = env.args;
    // "  3.0s  strait: 1000 responses/s, p50 121.0 us, p99 402.5 us, 0 errors, 7 s left" (the latency so far)
    const double seconds = a.seconds;
    auto line = [&env, seconds](const strait::bench::TimelineSample& s, const std::string& what) {
      env.progress->Update(fmt::format("{:6.1f}s  {}: {}, {} errors, {:.0f} s left", s.t, env.side, what, s.errors,
                                       std::max(0.0, seconds - s.t)));
    };
    auto progress = [&line](const strait::bench::TimelineSample& s) {
      line(s, fmt::format("{:.1f} MB/s", static_cast<double>(s.bytes) / 1e6));
    };
    auto latency_progress = [&line](const strait::bench::TimelineSample& s, const strait::bench::Histogram& h) {
      line(s, fmt::format("{} responses/s, p50 {:.1f} us, p99 {:.1f} us", s.ops,
                          static_cast<double>(h.Percentile(0.5)) / 1e3, static_cast<double>(h.Percentile(0.99)) / 1e3));
    };
    double forwarded_units = 0;  // requests (latency) or GB (bulk), for the forwarder's CPU per unit
    if (latency_) {
      strait::bench::LatencyOptions o;
      o.to = *to;
      o.connections = a.connections;
      o.size = a.size;
      o.closed = a.closed;
      o.rate = a.rate;
      o.max_outstanding = a.max_outstanding;
      o.warmup_s = a.warmup;
      o.seconds = a.seconds;
      o.timeout_s = a.timeout;
      o.stop = env.stop;
      o.on_progress = latency_progress;
      auto r = strait::bench::RunLatency(o);
      env.progress->Done();
      if (!r) return Fail(r.error());
      if (r->streams_up == 0) return Fail(fmt::format("no stream opened: {}", r->first_error));
      run.seconds = r->seconds;
      run.metrics["achieved_rate"] = r->achieved_rate;
      run.metrics["completed"] = static_cast<double>(r->completed);
      run.metrics["dropped"] = static_cast<double>(r->dropped);
      run.metrics["late"] = static_cast<double>(r->late);
      run.metrics["unanswered"] = static_cast<double>(r->unanswered);
      run.metrics["errors"] = static_cast<double>(r->errors);
      run.latency = strait::bench::Latency{.unit = "ns", .histogram = r->histogram};
      run.timeline = r->timeline;
      forwarded_units = static_cast<double>(r->completed);
    } else {
      strait::bench::BulkOptions o;
      o.to = *to;
      o.streams = a.streams;
      o.warmup_s = a.warmup;
      o.seconds = a.seconds;
      o.timeout_s = a.timeout;
      o.stop = env.stop;
      o.on_sample = progress;
      auto r = strait::bench::RunBulk(o);
      env.progress->Done();
      if (!r) return Fail(r.error());
      if (r->streams_up == 0) return Fail(fmt::format("no stream opened: {}", r->first_error));
      run.seconds = r->seconds;
      run.metrics["bytes_per_s"] = r->bytes_per_s;
      run.metrics["min_stream_bytes"] = static_cast<double>(r->min_stream_bytes);
      run.metrics["max_stream_bytes"] = static_cast<double>(r->max_stream_bytes);
      run.metrics["errors"] = static_cast<double>(r->errors);
      run.timeline = r->timeline;
      forwarded_units = static_cast<double>(r->bytes) / 1e9;
    }
    // The forwarder's CPU over the whole run (warm-up included) per unit moved in the window: both sides are
    // measured the same way, so the ratio holds; the absolute figure is a slight over-estimate.
    std::optional<double> cpu;
    if (probe) {
      probe->After();
      cpu = probe->cpu_s();
      run.relay = probe->Finish();
    } else if (before) {
      if (auto after = strait::bench::Sample(haproxy_->mid_pid()); after) cpu = strait::bench::CpuSeconds(*before, *after);
    }
    if (cpu && forwarded_units > 0) {
      run.metrics[latency_ ? "forwarder_cpu_us_per_request" : "forwarder_cpu_s_per_gb"] =
          latency_ ? *cpu * 1e6 / forwarded_units : *cpu / forwarded_units;
    }
    return {};
  }

 private:
  Result<void, std::string> EnsureServer(const BenchArgs& a) {
    if (server_ || server_address_) return {};
    if (!a.server.empty()) {  // the operator's, behind the operator's connector
      server_address_ = demo::ParseHostPort(a.server);
      if (!server_address_) return Fail(fmt::format("--server {}: not HOST:PORT", a.server));
      return {};
    }
    strait::bench::AppServerOptions o;
    o.kind = latency_ ? AppServerKind::kEcho : AppServerKind::kSink;
    auto s = AppServer::Start(o);
    if (!s) return Fail(fmt::format("{} server: {}", latency_ ? "echo" : "sink", s.error()));
    server_ = std::move(*s);
    server_address_ = server_->address();
    return {};
  }

  // Bulk spreads its streams over --devices devices (stream i through device i mod N); latency has one device.
  Result<TrafficTarget, std::string> Target(BenchEnv& env) {
    const demo::HostPort server = *server_address_;
    const std::uint32_t devices = latency_ ? 1 : env.args.devices;
    if (env.side == "direct") return TrafficTarget{server, {}};
    if (env.side == "direct-connect") {  // devices that reach the same connector without the relay
      auto doors = env.local->DirectConnectDoors(devices);
      if (!doors) return Fail(doors.error());
      return TrafficTarget{server, std::move(*doors)};
    }
    if (env.side == "haproxy") {
      if (!haproxy_) {
        auto pem = env.local->MakeServerPem("haproxy");
        if (!pem) return Fail(pem.error());
        HaproxyChainOptions o;
        o.dir = env.local->dir();
        o.server_pem = *pem;
        o.ca_pem_path = env.local->ca_pem_path();
        o.target_port = server.port;
        if (env.cpus.pinned) o.mid_cpu = env.cpus.relay_cpu;
        o.timeout = std::chrono::seconds(env.args.timeout);
        auto h = HaproxyChain::Start(o);
        if (!h) return Fail(h.error());
        haproxy_ = std::move(*h);
        env.progress->Note(fmt::format("baseline: {} (in -> mid -> out, TLS 1.3 on the mid's both legs)",
                                       haproxy_->version()));
      }
      return TrafficTarget{demo::HostPort{"127.0.0.1", haproxy_->port()}, {}};
    }
    if (env.local != nullptr) {
      auto doors = env.local->AppDoors(devices);
      if (!doors) return Fail(doors.error());
      return TrafficTarget{server, std::move(*doors)};
    }
    if (!remote_) {
      const auto& a = env.args;
      env.progress->Note(a.connector_identity.empty()
                             ? fmt::format("a device linked to {}, to your connector's {}", a.relay, a.server)
                             : fmt::format("a device and a connector linked to {} (connector port {})", a.relay,
                                           a.connector_relay));
      std::vector<std::string> identities;  // device k: bundle dev-k (mod their count), or the one bundle
      for (std::uint32_t k = 0; k < devices; ++k) {
        identities.push_back(env.identity_bundles > 0
                                 ? fmt::format("{}/dev-{}", a.identity, k % env.identity_bundles)
                                 : a.identity);
      }
      auto r = RemoteApp::Start({.connector_identity = a.connector_identity,
                                 .connector_relay = a.connector_relay,
                                 .device_identities = std::move(identities),
                                 .device_relay = a.relay,
                                 .allow = "127.0.0.1/32"},
                                std::chrono::seconds(a.timeout));
      if (!r) return Fail(r.error());
      remote_ = std::move(*r);
    }
    return TrafficTarget{server, remote_->doors()};
  }

  bool latency_;
  std::unique_ptr<AppServer> server_;
  std::optional<demo::HostPort> server_address_;  // server_'s, or --server
  std::unique_ptr<HaproxyChain> haproxy_;
  std::unique_ptr<RemoteApp> remote_;
};

}  // namespace

std::unique_ptr<Scenario> MakeLatencyScenario() { return std::make_unique<AppScenario>(true); }
std::unique_ptr<Scenario> MakeBulkScenario() { return std::make_unique<AppScenario>(false); }

}  // namespace strait::cli::bench
