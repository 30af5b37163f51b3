// `strait bench ip` (docs/bench.md §3): the IP tunnel in network namespaces. The relay in its namespace, the connector
// carrying the tunnel on a TUN in its own, the device with --tun in the device namespace; the bench sends from the
// device namespace to receivers in corp, two phases a repetition:
//   tcp  --streams TCP streams writing to a sink (the bulk engine): bytes/s
//   udp  --size-byte datagrams at --rate a second (0: as fast as the socket takes them) to a counter: datagrams sent
//        and delivered a second, loss
// Sides: strait (through the tunnel, to corp 10.20.0.10) and direct (kernel routing through the same namespaces, to
// corp 10.20.0.20: no tunnel, no encryption). The relay's CPU per GB (tcp) and per delivered packet (udp).
#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "bench/suite/load/app_servers.h"
#include "bench/suite/load/app_traffic.h"
#include "bench/suite/load/udp_flood.h"
#include "bench/suite/proc_sample.h"
#include "cli/bench/netns_lab.h"
#include "cli/bench/relay_probe.h"
#include "cli/bench/scenario.h"

namespace strait::cli::bench {
namespace {

using strait::bench::AppServer;
using strait::bench::Better;

constexpr const char* kPool = "100.96.0.0/16";
constexpr auto kUdpDrain = std::chrono::milliseconds(500);

class IpScenario final : public Scenario {
 public:
  std::map<std::string, MetricSpec> Specs() const override {
    return {{"tcp_bytes_per_s", {"B/s", Better::kHigher}},
            {"udp_sent_per_s", {"1/s", Better::kHigher}},
            {"udp_delivered_per_s", {"1/s", Better::kHigher}},
            {"udp_loss_pct", {"%", Better::kLower}},
            {"udp_send_errors", {"", Better::kLower}},
            {"errors", {"", Better::kLower}},
            {"relay_cpu_s_per_gb", {"s/GB", Better::kLower}},
            {"relay_cpu_us_per_packet", {"us", Better::kLower}}};
  }
  bool NeedsLocalRelay() const override { return true; }
  bool SupportsBaseline() const override { return true; }
  std::string SkipReason() const override { return NetnsLab::Unavailable(); }

  Result<void, std::string> PlaceRelay(LocalDeploymentOptions& o) override {
    if (!lab_) {
      auto lab = NetnsLab::Create();
      if (!lab) return Fail(fmt::format("network namespaces: {}", lab.error()));
      lab_ = std::move(*lab);
      if (auto r = lab_->RouteToConnector(kPool); !r) return Fail(r.error());
    }
    o.netns = RelayNetns{.ns = lab_->relay(),
                         .device_ip = NetnsLab::kRelayDeviceSideIp,
                         .connector_ip = NetnsLab::kRelayConnectorSideIp};
    return {};
  }

  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    if (!lab_ || env.local == nullptr) return Fail(std::string("the ip scenario runs in its own namespaces"));
    if (auto r = EnsureReceivers(); !r) return Fail(r.error());
    const bool strait = env.side == "strait";
    if (strait) {
      auto up = env.local->IpTunnel({.connector_ns = lab_->connector(),
                                     .device_ns = lab_->device(),
                                     .allow_cidr = fmt::format("{}/32", NetnsLab::kCorpTunnelIp),
                                     .pool = kPool});
      if (!up) return Fail(fmt::format("IP tunnel: {}", up.error()));
      if (!announced_) env.progress->Note(fmt::format("tunnel: {}", *up));
      announced_ = true;
      if (auto p = NetnsLab::Call(lab_->device(), [&] { return ProbeNegotiated(env); }); !p) return Fail(p.error());
    }
    const std::string host = strait ? NetnsLab::kCorpTunnelIp : NetnsLab::kCorpDirectIp;
    std::optional<RelayProbe> relay;
    if (strait) {
      relay.emplace(*env.local);
      if (auto b = relay->Before(); !b) return Fail(b.error());
    }
    const auto& a = env.args;

    // tcp
    strait::bench::BulkOptions bo;
    bo.to = {demo::HostPort{host, sink_->port()}, {}};
    bo.streams = a.streams;
    bo.warmup_s = a.warmup;
    bo.seconds = a.seconds;
    bo.timeout_s = a.timeout;
    bo.stop = env.stop;
    bo.on_sample = [&env](const strait::bench::TimelineSample& s) {
      env.progress->Update(fmt::format("{:6.1f}s  {} tcp: {:.1f} MB/s, {} errors", s.t, env.side, s.bytes / 1e6,
                                       s.errors));
    };
    auto cpu0 = RelayCpu(env, strait);
    auto tcp = NetnsLab::Call(lab_->device(), [&] { return strait::bench::RunBulk(bo); });
    env.progress->Done();
    if (!tcp) return Fail(fmt::format("tcp: {}", tcp.error()));
    if (tcp->streams_up == 0) return Fail(fmt::format("tcp: no stream opened: {}", tcp->first_error));
    auto cpu1 = RelayCpu(env, strait);
    if (env.stop->load()) return {};

    // udp
    const std::uint32_t run_id = std::random_device{}();
    counter_->Expect(run_id);
    strait::bench::UdpFloodOptions uo;
    uo.to = demo::HostPort{host, counter_->port()};
    uo.size = a.size;
    uo.rate = a.rate;
    uo.run_id = run_id;
    uo.warmup_s = a.warmup;
    uo.seconds = a.seconds;
    uo.stop = env.stop;
    uo.on_sample = [&env](const strait::bench::TimelineSample& s) {
      env.progress->Update(fmt::format("{:6.1f}s  {} udp: {} datagrams/s sent", s.t, env.side, s.ops));
    };
    auto udp = NetnsLab::Call(lab_->device(), [&] { return strait::bench::RunUdpFlood(uo); });
    env.progress->Done();
    if (!udp) return Fail(fmt::format("udp: {}", udp.error()));
    std::this_thread::sleep_for(kUdpDrain);
    auto cpu2 = RelayCpu(env, strait);
    const auto& t = *tcp;
    const auto& u = *udp;
    const std::uint64_t delivered = std::min(counter_->delivered(), u.sent);

    run.seconds = t.seconds;
    run.timeline = t.timeline;
    run.metrics["tcp_bytes_per_s"] = t.bytes_per_s;
    run.metrics["errors"] = static_cast<double>(t.errors);
    if (u.seconds > 0) {
      run.metrics["udp_sent_per_s"] = static_cast<double>(u.sent) / u.seconds;
      run.metrics["udp_delivered_per_s"] = static_cast<double>(delivered) / u.seconds;
    }
    run.metrics["udp_loss_pct"] =
        u.sent > 0 ? 100.0 * static_cast<double>(u.sent - delivered) / static_cast<double>(u.sent) : 0;
    run.metrics["udp_send_errors"] = static_cast<double>(u.send_errors);
    if (cpu0 && cpu1 && cpu2) {
      // Over each phase's warm-up and window, per what its window moved (slightly high; the same for every rep).
      if (t.bytes > 0) run.metrics["relay_cpu_s_per_gb"] = strait::bench::CpuSeconds(*cpu0, *cpu1) / (t.bytes / 1e9);
      if (delivered > 0) {
        run.metrics["relay_cpu_us_per_packet"] =
            strait::bench::CpuSeconds(*cpu1, *cpu2) * 1e6 / static_cast<double>(delivered);
      }
    }
    if (relay) {
      relay->After();
      run.relay = relay->Finish();
    }
    return {};
  }

 private:
  // The sink and the datagram counter, in corp, on every address (both sides' targets).
  Result<void, std::string> EnsureReceivers() {
    if (sink_) return {};
    return NetnsLab::Call(lab_->corp(), [&]() -> Result<void, std::string> {
      strait::bench::AppServerOptions o;
      o.kind = strait::bench::AppServerKind::kSink;
      o.host = "0.0.0.0";
      auto s = AppServer::Start(o);
      if (!s) return Fail(fmt::format("sink: {}", s.error()));
      auto c = strait::bench::UdpCounter::Start("0.0.0.0");
      if (!c) return Fail(fmt::format("udp counter: {}", c.error()));
      sink_ = std::move(*s);
      counter_ = std::move(*c);
      return {};
    });
  }

  static std::optional<strait::bench::ProcSample> RelayCpu(const BenchEnv& env, bool strait) {
    if (!strait) return std::nullopt;
    auto s = strait::bench::Sample(env.local->relay_pid());
    if (!s) return std::nullopt;
    return *s;
  }

  // Declared first, destroyed last: the receivers' sockets and the children go before the namespaces.
  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<AppServer> sink_;
  std::unique_ptr<strait::bench::UdpCounter> counter_;
  bool announced_ = false;
};

}  // namespace

std::unique_ptr<Scenario> MakeIpScenario() { return std::make_unique<IpScenario>(); }

}  // namespace strait::cli::bench
