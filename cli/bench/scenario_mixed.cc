// `strait bench mixed --profile FILE` (docs/bench.md §2): the parts of a profile (bench/suite/profile.h) run at once
// against one relay (the local one, or a remote one: --relay, --identity), each on its own thread with its own engine (a DeviceFleet loop, or a traffic engine),
// and each part's figures reported side by side: a metric `m` of part i (scenario s) is `s<i>_m` ("latency2_
// achieved_rate"). The latency histogram and the timeline are the first latency part's (else the first part's).
//
// What the parts share is the point: the relay, its CPU, the app path (one connector and one device). So a part's
// figure is what it got while the others ran; the idle part's memory per session counts whatever else the relay
// held at the time, and says so in bench/README.md. Against a remote relay each link part logs in with its own run of
// --identity's bundles, after the previous parts' (so parts share a credential only when the bundles run out), and
// each app part runs its own device (and connector) children.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/suite/profile.h"
#include "cli/bench/relay_probe.h"
#include "cli/bench/scenario.h"

namespace strait::cli::bench {
namespace {

using strait::bench::ParamValue;

struct Part {
  std::string name;  // "latency2"
  BenchArgs args;
  std::uint32_t links = 0;  // held at once: the idle and reconnect devices, the logins in flight
  std::unique_ptr<Scenario> scenario;
};

std::unique_ptr<Scenario> MakeScenario(const std::string& s) {
  if (s == "idle") return MakeIdleScenario();
  if (s == "logins") return MakeLoginsScenario();
  if (s == "reconnect") return MakeReconnectScenario();
  if (s == "latency") return MakeLatencyScenario();
  return MakeBulkScenario();
}

std::int64_t Int(const std::map<std::string, ParamValue>& p, const char* key, std::int64_t fallback) {
  const auto it = p.find(key);
  if (it == p.end()) return fallback;
  if (const auto* v = std::get_if<std::int64_t>(&it->second)) return *v;
  return fallback;
}

class MixedScenario final : public Scenario {
 public:
  explicit MixedScenario(std::vector<Part> parts) : parts_(std::move(parts)) {}

  std::map<std::string, MetricSpec> Specs() const override {
    std::map<std::string, MetricSpec> out;
    for (const Part& p : parts_) {
      for (const auto& [name, spec] : p.scenario->Specs()) out[p.name + "_" + name] = spec;
    }
    return out;
  }

  Result<void, std::string> RunOnce(BenchEnv& env, Run& run) override {
    std::vector<std::vector<link::LinkConfig>> slices = RemoteSlices(env);
    std::optional<RelayProbe> probe;  // the local relay under all the parts: its CPU, memory and counters
    if (env.local != nullptr) {
      probe.emplace(*env.local);
      if (auto b = probe->Before(); !b) return Fail(b.error());
    }
    struct Outcome {
      Run run;
      std::optional<std::string> error;
      std::string tls_version, cipher;
    };
    std::vector<Outcome> out(parts_.size());
    std::deque<ProgressLine> quiet;  // not movable (a mutex each)
    for (std::size_t i = 0; i < parts_.size(); ++i) quiet.emplace_back(true);
    std::vector<std::thread> threads;
    std::atomic<std::size_t> finished{0};
    env.progress->Note(fmt::format("{} parts at once: {}", parts_.size(), Names()));
    for (std::size_t i = 0; i < parts_.size(); ++i) {
      threads.emplace_back([&, i] {
        BenchEnv penv(parts_[i].args);
        penv.local = env.local;
        penv.relay = env.relay;
        penv.sources = env.sources;
        penv.cpus = env.cpus;
        penv.devices = slices[i].empty() ? env.devices : &slices[i];
        penv.identity_bundles = env.identity_bundles;
        penv.stop = env.stop;
        penv.progress = &quiet[i];
        auto r = parts_[i].scenario->RunOnce(penv, out[i].run);
        if (!r) out[i].error = r.error();
        out[i].tls_version = penv.tls_version;
        out[i].cipher = penv.cipher;
        finished.fetch_add(1);
      });
    }
    // One live line for all the parts: each part's own (quiet) line, after its name.
    const auto start = std::chrono::steady_clock::now();
    while (finished.load() < parts_.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::string line;
      for (std::size_t i = 0; i < parts_.size(); ++i) {
        std::string text = quiet[i].Last();
        if (const auto cut = text.find("s  "); cut != std::string::npos && cut < 8) text.erase(0, cut + 3);
        if (!text.empty()) line += fmt::format("{}{}: {}", line.empty() ? "" : " | ", parts_[i].name, text);
      }
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!line.empty()) env.progress->Update(fmt::format("{:6.1f}s  {}", t, line));
    }
    env.progress->Done();
    for (std::thread& t : threads) t.join();
    if (probe) {
      probe->After();
      run.relay = probe->Finish();
    }
    for (std::size_t i = 0; i < parts_.size(); ++i) {
      if (out[i].error) return Fail(fmt::format("part {}: {}", parts_[i].name, *out[i].error));
      if (env.cipher.empty()) {
        env.tls_version = out[i].tls_version;
        env.cipher = out[i].cipher;
      }
    }
    std::optional<std::size_t> lead;  // the part whose latency and timeline the run carries
    for (std::size_t i = 0; i < parts_.size() && !lead; ++i) {
      if (parts_[i].args.scenario == "latency") lead = i;
    }
    const std::size_t l = lead.value_or(0);
    for (std::size_t i = 0; i < parts_.size(); ++i) {
      for (const auto& [name, v] : out[i].run.metrics) run.metrics[parts_[i].name + "_" + name] = v;
      run.seconds = std::max(run.seconds, out[i].run.seconds);
    }
    run.latency = out[l].run.latency;
    run.timeline = out[l].run.timeline;
    return {};
  }

 private:
  // A remote relay's bundles (env.devices, loaded for the parts' links in all) dealt out: part i's links take the
  // next ones, wrapping round when they run out. Empty for a local relay and for the app parts.
  std::vector<std::vector<link::LinkConfig>> RemoteSlices(const BenchEnv& env) const {
    std::vector<std::vector<link::LinkConfig>> out(parts_.size());
    if (env.local != nullptr || env.devices == nullptr || env.devices->empty()) return out;
    const std::vector<link::LinkConfig>& all = *env.devices;
    std::size_t next = 0;
    for (std::size_t i = 0; i < parts_.size(); ++i) {
      for (std::uint32_t j = 0; j < parts_[i].links; ++j) out[i].push_back(all[next++ % all.size()]);
    }
    return out;
  }

  std::string Names() const {
    std::string s;
    for (const Part& p : parts_) s += (s.empty() ? "" : ", ") + p.name;
    return s;
  }

  std::vector<Part> parts_;
};

}  // namespace

Result<std::unique_ptr<Scenario>, std::string> MakeMixedScenario(const strait::bench::Profile& profile,
                                                                 const BenchArgs& base, BenchArgs* merged,
                                                                 std::map<std::string, ParamValue>* part_params) {
  std::vector<Part> parts;
  std::uint64_t links = 0;
  for (std::size_t i = 0; i < profile.parts.size(); ++i) {
    const strait::bench::ProfilePart& pp = profile.parts[i];
    Part p;
    p.name = fmt::format("{}{}", pp.scenario, i + 1);
    p.args = base;
    p.args.scenario = pp.scenario;
    p.args.baseline.clear();
    p.args.devices = static_cast<std::uint32_t>(Int(pp.params, "devices", 1));
    p.args.parallel = static_cast<std::uint32_t>(Int(pp.params, "parallel", base.parallel));
    p.args.hold = static_cast<std::uint32_t>(Int(pp.params, "hold", base.hold));
    p.args.size = static_cast<std::uint32_t>(Int(pp.params, "size", base.size));
    p.args.connections = static_cast<std::uint32_t>(Int(pp.params, "connections", base.connections));
    p.args.rate = static_cast<std::uint32_t>(Int(pp.params, "rate", base.rate));
    p.args.streams = static_cast<std::uint32_t>(Int(pp.params, "streams", base.streams));
    if (const auto it = pp.params.find("closed"); it != pp.params.end() && std::holds_alternative<bool>(it->second)) {
      p.args.closed = std::get<bool>(it->second);
    }
    if (const auto it = pp.params.find("how"); it != pp.params.end()) {
      if (const auto* how = std::get_if<std::string>(&it->second); how != nullptr && *how == "restart") {
        return Fail(fmt::format("part {}: how = \"restart\" would restart the relay under every other part; a mixed "
                                "run takes \"abort\"", p.name));
      }
    }
    if (profile.seconds) p.args.seconds = *profile.seconds;
    // Links this process holds at once: the idle and reconnect devices, the logins in flight.
    if (p.args.scenario == "idle" || p.args.scenario == "reconnect") p.links = p.args.devices;
    if (p.args.scenario == "logins") p.links = std::min(p.args.parallel, p.args.devices);
    links += p.links;
    for (const auto& [key, value] : pp.params) (*part_params)[p.name + "_" + key] = value;
    p.scenario = MakeScenario(pp.scenario);
    parts.push_back(std::move(p));
  }
  constexpr std::uint64_t kMaxLinks = 19'000;
  if (links > kMaxLinks) {
    return Fail(fmt::format("the parts hold up to {} links at once; one process holds at most {} (the machine's "
                            "20,000 open files)", links, kMaxLinks));
  }
  merged->devices = static_cast<std::uint32_t>(links);
  if (profile.seconds) merged->seconds = *profile.seconds;
  return std::unique_ptr<Scenario>(new MixedScenario(std::move(parts)));
}

}  // namespace strait::cli::bench
