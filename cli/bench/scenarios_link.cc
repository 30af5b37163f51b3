// The link-level scenarios of `strait bench` (docs/bench.md §2), all driven by DeviceFleet:
//   idle       --devices N authenticated links held for --hold s; the relay's RSS delta per session (fresh relay)
//   logins     a storm of --devices N logins, --parallel P in flight; logins/s and the relay's CPU µs per login
//   reconnect  N links up, then all dropped at once (--how abort | restart); time until every device is back
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "bench/suite/load/device_fleet.h"
#include "bench/suite/load/login_floor.h"
#include "bench/suite/proc_sample.h"
#include "crypto/keystore.h"
#include "cli/bench/relay_probe.h"
#include "cli/bench/scenario.h"
#include "cli/bench/workers.h"

namespace strait::cli::bench {
namespace {

using strait::bench::Better;
using strait::bench::FleetMode;
using strait::bench::FleetOptions;
using strait::bench::FleetProgress;
using strait::bench::FleetResult;

constexpr std::uint32_t kFloorIterations = 200;

// The floor of a login (docs/bench.md §2): the relay's own TLS and login code in memory, on a thread pinned to the
// relay's CPU while the relay idles, with the local deployment's relay and device bundles.
Result<strait::bench::LoginFloor, std::string> MeasureFloor(const BenchEnv& env) {
  auto relay = crypto::LoadIdentityBundle(env.local->dir() + "/relay");
  if (!relay) return Fail(fmt::format("floor: relay bundle: {}", relay.error().reason));
  auto device = crypto::LoadIdentityBundle(env.local->dir() + "/dev");
  if (!device) return Fail(fmt::format("floor: device bundle: {}", device.error().reason));
  auto inputs = strait::bench::LoginFloorInputsFromBundles(*relay, *device, "localhost");
  if (!inputs) return Fail(fmt::format("floor: {}", inputs.error()));
  std::optional<Result<strait::bench::LoginFloor, std::string>> out;
  std::thread t([&] {
    if (env.cpus.pinned) (void)strait::bench::PinThisThread({env.cpus.relay_cpu});
    out.emplace(strait::bench::MeasureLoginFloor(*inputs, kFloorIterations));
  });
  t.join();
  return std::move(*out);
}

// The live line's rate and time left, from one progress report to the next.
struct LiveRate {
  double t = 0;
  std::uint64_t logins = 0;
  double rate = 0;                     // logins a second over the last report
  std::optional<double> holding_since;  // when the phase became "holding"
};

// "12.0s  logging in: 9000 of 19000 up, 64 in flight, 1150 logins/s, p99 48.2 ms, 0 errors, ~9 s left"
std::string ProgressText(const FleetProgress& p, LiveRate& live, FleetMode mode, std::uint32_t hold_s) {
  if (p.t > live.t) {
    live.rate = static_cast<double>(p.logins - std::min(p.logins, live.logins)) / (p.t - live.t);
    live.t = p.t;
    live.logins = p.logins;
  }
  std::string left;
  if (p.phase.starts_with("holding")) {
    if (!live.holding_since) live.holding_since = p.t;
    left = fmt::format(", ~{:.0f} s left", std::max(0.0, hold_s - (p.t - *live.holding_since)));
  } else if (live.rate > 0) {
    const std::uint64_t done = mode == FleetMode::kStorm ? p.logins : p.up;
    left = fmt::format(", ~{:.0f} s left", static_cast<double>(p.target - std::min<std::uint64_t>(done, p.target)) /
                                               live.rate);
  }
  return fmt::format("{:6.1f}s  {}: {} of {} up, {} in flight, {:.0f} logins/s, p99 {:.1f} ms, {} errors{}", p.t,
                     p.phase, p.up, p.target, p.in_flight, live.rate, static_cast<double>(p.login_p99_ns) / 1e6,
                     p.errors, left);
}

FleetOptions BaseOptions(BenchEnv& env, FleetMode mode, std::uint32_t devices) {
  FleetOptions o;
  o.mode = mode;
  o.relay = env.relay;
  o.sources = env.sources;
  o.devices = devices;
  o.parallel = env.args.parallel;
  o.timeout = std::chrono::seconds(env.args.timeout);
  o.stop = env.stop;
  o.on_progress = [&env, live = std::make_shared<LiveRate>(), mode, hold = env.args.hold](const FleetProgress& p) {
    env.progress->Update(ProgressText(p, *live, mode, hold));
  };
  return o;
}

// Runs the fleet: in this process, with a credential per device (a local deployment issues them; a remote run has
// what --identity gave), or spread over worker processes that build their own slices.
Result<FleetResult, std::string> RunChecked(BenchEnv& env, const FleetOptions& o) {
  auto r = [&]() -> Result<FleetResult, std::string> {
    if (env.workers > 1) {
      WorkerTarget target{.relay = env.local != nullptr ? env.relay.ToString() : env.args.relay,
                          .deployment_dir = env.local != nullptr ? env.local->dir() : "",
                          .identity = env.local != nullptr ? "" : env.args.identity,
                          .bundles = env.identity_bundles};
      const std::uint32_t first = env.local != nullptr ? env.local->ReserveDevices(o.devices) : 0;
      env.progress->Note(fmt::format("{} devices over {} worker processes", o.devices, env.workers));
      return RunFleetInWorkers(o, env.workers, first, target);
    }
    if (env.local == nullptr) return strait::bench::RunFleet(o, *env.devices);
    env.progress->Note(fmt::format("issuing {} device credentials", o.devices));
    auto made = env.local->MakeDevices(o.devices);
    if (!made) return Fail(made.error());
    return strait::bench::RunFleet(o, *made);
  }();
  env.progress->Done();
  if (!r) return Fail(r.error());
  if (env.cipher.empty()) {
    env.tls_version = r->tls_version;
    env.cipher = r->cipher;
  }
  if (!r->complete && !r->stopped) return Fail(r->last_error);
  return r;
}

void Common(Run& run, const FleetResult& r) {
  run.metrics["errors"] = static_cast<double>(r.errors);
  run.timeline = r.timeline;
}

class IdleScenario final : public Scenario {
 public:
  std::map<std::string, MetricSpec> Specs() const override {
    return {{"sessions", {"", Better::kHigher}},
            {"rss_per_session", {"B", Better::kLower}},
            {"host_slab_per_session", {"B", Better::kLower}},
            {"logins_per_s", {"1/s", Better::kHigher}},
            {"errors", {"", Better::kLower}}};
  }
  bool FreshRelayPerRep() const override { return true; }

  // Against a remote relay the links are held and counted, but its memory is not this host's to read: the
  // operator's own monitoring has it (rss_per_session and host_slab_per_session are absent).
  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    std::optional<RelayProbe> probe;
    std::optional<std::uint64_t> slab_before, slab_after;
    if (env.local != nullptr) {
      probe.emplace(*env.local);
      if (auto b = probe->Before(); !b) return Fail(b.error());
      // The host's slab too: the kernel's side of every link (both ends on this host), which RSS does not show.
      if (auto s = strait::bench::HostSlabBytes(); s) slab_before = *s;
    }
    FleetOptions o = BaseOptions(env, FleetMode::kHold, env.args.devices);
    o.hold = std::chrono::seconds(env.args.hold);
    // The relay's RSS against the links up, once a second while they come up (the progress callback's thread).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> rss_by_sessions;
    if (probe) {
      o.on_progress = [&, line = o.on_progress](const FleetProgress& p) {
        line(p);
        if (rss_by_sessions.size() >= strait::bench::kMaxTimelineSamples || p.phase.starts_with("holding")) return;
        if (auto s = strait::bench::Sample(env.local->relay_pid()); s) rss_by_sessions.emplace_back(p.up, s->rss_bytes);
      };
    }
    bool read = false;  // the hold ended with every link up (not stopped before): memory read
    o.on_hold_end = [&] {
      if (!probe) return;
      probe->After();
      if (auto s = strait::bench::HostSlabBytes(); s) slab_after = *s;
      read = true;
    };
    auto r = RunChecked(env, o);
    if (!r) return Fail(r.error());
    const std::uint32_t held = r->peak_up;
    Common(run, *r);
    run.seconds = r->window_s + static_cast<double>(env.args.hold);
    run.metrics["sessions"] = held;
    run.metrics["logins_per_s"] = r->window_s > 0 ? static_cast<double>(held) / r->window_s : 0;
    run.latency = strait::bench::Latency{.unit = "ns", .histogram = r->login_ns};
    if (!probe || !read) return {};  // remote, or stopped before the hold ended: no memory figure
    const double delta = static_cast<double>(probe->rss_after()) - static_cast<double>(probe->rss_before());
    run.metrics["rss_per_session"] = held > 0 ? delta / held : 0;
    if (slab_before && slab_after && held > 0) {
      run.metrics["host_slab_per_session"] =
          (static_cast<double>(*slab_after) - static_cast<double>(*slab_before)) / held;
    }
    run.relay = probe->Finish();
    run.relay->rss_by_sessions = std::move(rss_by_sessions);
    return {};
  }
};

class LoginsScenario final : public Scenario {
 public:
  std::map<std::string, MetricSpec> Specs() const override {
    return {{"logins", {"", Better::kHigher}},
            {"logins_per_s", {"1/s", Better::kHigher}},
            {"relay_cpu_us_per_login", {"us", Better::kLower}},
            {"floor_us", {"us", Better::kLower}},
            {"ratio_to_floor", {"x", Better::kLower}},
            {"errors", {"", Better::kLower}}};
  }
  bool NeedsLocalRelay() const override { return false; }

  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    std::optional<RelayProbe> probe;
    std::optional<strait::bench::LoginFloor> floor;
    if (env.local != nullptr) {
      env.progress->Note(fmt::format("measuring the floor: {} in-memory logins on the relay's CPU", kFloorIterations));
      auto f = MeasureFloor(env);
      if (!f) return Fail(f.error());
      floor = *f;
      probe.emplace(*env.local);
      if (auto b = probe->Before(); !b) return Fail(b.error());
    }
    auto r = RunChecked(env, BaseOptions(env, FleetMode::kStorm, env.args.devices));
    if (!r) return Fail(r.error());
    if (probe) probe->After();
    Common(run, *r);
    run.seconds = r->window_s;
    run.metrics["logins"] = static_cast<double>(r->logins);
    run.metrics["logins_per_s"] = r->window_s > 0 ? static_cast<double>(r->logins) / r->window_s : 0;
    run.latency = strait::bench::Latency{.unit = "ns", .histogram = r->login_ns};
    if (probe) {
      if (r->logins > 0) {
        const double us = probe->cpu_s() * 1e6 / static_cast<double>(r->logins);
        run.metrics["relay_cpu_us_per_login"] = us;
        run.metrics["floor_us"] = floor->us_per_login;
        if (floor->us_per_login > 0) run.metrics["ratio_to_floor"] = us / floor->us_per_login;
      }
      run.relay = probe->Finish();
    }
    return {};
  }
};

class ReconnectScenario final : public Scenario {
 public:
  std::map<std::string, MetricSpec> Specs() const override {
    return {{"devices", {"", Better::kHigher}},
            {"recover_s", {"s", Better::kLower}},
            {"errors", {"", Better::kLower}}};
  }

  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    FleetOptions o = BaseOptions(env, FleetMode::kReconnect, env.args.devices);
    o.hold = std::chrono::seconds(env.args.hold);
    // The local relay's counters over the storm (refused logins, drops); not across a restart, which zeroes them.
    std::optional<RelayProbe> probe;
    if (env.local != nullptr && env.args.how != "restart") {
      probe.emplace(*env.local);
      if (auto b = probe->Before(); !b) return Fail(b.error());
    }
    std::string restart_error;
    if (env.args.how == "restart") {
      o.drop = [&env, &restart_error] {
        env.progress->Note("restarting the relay (SIGKILL, then the same ports)");
        if (auto r = env.local->RestartRelay(); !r) restart_error = r.error();
      };
    }
    auto r = RunChecked(env, o);
    if (!restart_error.empty()) return Fail(restart_error);
    if (!r) return Fail(r.error());
    Common(run, *r);
    run.seconds = r->window_s;
    run.metrics["devices"] = static_cast<double>(r->recover_ns.count());  // the devices that came back
    run.metrics["recover_s"] = r->window_s;
    run.latency = strait::bench::Latency{.unit = "ns", .histogram = r->recover_ns};
    if (probe) {
      probe->After();
      run.relay = probe->Finish();
    }
    return {};
  }
};

}  // namespace

Result<void, std::string> ProbeNegotiated(BenchEnv& env) {
  if (!env.cipher.empty()) return {};
  std::vector<link::LinkConfig> made;
  if (env.local != nullptr) {
    auto m = env.local->MakeDevices(1);
    if (!m) return Fail(m.error());
    made = std::move(*m);
  }
  const std::vector<link::LinkConfig>* devices = env.local != nullptr ? &made : env.devices;
  if (devices == nullptr || devices->empty()) return {};
  FleetOptions o;
  o.mode = FleetMode::kStorm;
  o.relay = env.relay;
  o.devices = 1;
  o.timeout = std::chrono::seconds(env.args.timeout);
  o.stop = env.stop;
  auto r = strait::bench::RunFleet(o, *devices);
  if (!r) return Fail(r.error());
  if (!r->complete) return Fail(fmt::format("probe login: {}", r->last_error));
  env.tls_version = r->tls_version;
  env.cipher = r->cipher;
  return {};
}

std::unique_ptr<Scenario> MakeIdleScenario() { return std::make_unique<IdleScenario>(); }
std::unique_ptr<Scenario> MakeLoginsScenario() { return std::make_unique<LoginsScenario>(); }
std::unique_ptr<Scenario> MakeReconnectScenario() { return std::make_unique<ReconnectScenario>(); }

}  // namespace strait::cli::bench
