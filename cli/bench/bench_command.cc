// `strait bench`: the load tool (docs/bench.md). Flags and their checks (exit 2, nothing started), the runner that
// repeats a scenario --reps times against a local deployment (fresh relay per repetition where the scenario measures
// memory) or a remote relay, the live progress line, Ctrl-C (the load stops, the children are stopped, the partial
// results are still written, exit 130), and the outputs: a summary table on stdout, --json (schema strait-bench/1),
// --html (the self-contained report). `strait bench compare A.json B.json` prints the ratios of two saved runs.
#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "bench/suite/compare.h"
#include "bench/suite/html_report.h"
#include "bench/suite/load/app_traffic.h"
#include "bench/suite/load/udp_flood.h"
#include "bench/suite/results.h"
#include "cli/bench/device_credentials.h"
#include "cli/bench/scenario.h"
#include "cli/bench/workers.h"
#include "cli/command.h"
#include "cli/demo/process.h"
#include "crypto/keystore.h"

#ifndef STRAIT_VERSION
#error "STRAIT_VERSION comes from project(VERSION) (cli/CMakeLists.txt)"
#endif

namespace strait::cli {
namespace {

using bench::BenchArgs;
using bench::BenchEnv;
using bench::kMaxLinksPerWorker;
using bench::kMaxWorkers;
using bench::ProgressLine;
using bench::Scenario;
using strait::bench::BenchResult;

constexpr int kExitInterrupted = 130;
constexpr std::uint32_t kMaxDevicesPerProcess = 19'000;  // the machine's 20,000 open files, less the tool's own
constexpr std::uint32_t kMaxDevices = 200'000;           // a run's population (docs/bench.md §7)
constexpr std::uint32_t kDevicesPerSource = 10'000;
constexpr std::uint32_t kMaxSources = 16;
constexpr std::uint32_t kMaxLinksPerCredential = 8;  // the relay's default (docs/relay.md "Links per credential")
constexpr std::size_t kMaxReadBytes = strait::bench::kMaxResultsBytes;

extern "C" void OnBenchSignal(int /*sig*/) { demo::InterruptFlag().store(true); }

std::string NowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

strait::bench::Host ThisHost() {
  strait::bench::Host h;
  h.cpus = static_cast<std::uint32_t>(sysconf(_SC_NPROCESSORS_ONLN));
  utsname u{};
  if (uname(&u) == 0) h.kernel = u.release;
  return h;
}

// The soft open-files limit raised to the hard one (what root cannot raise further here: 20,000), at the start of
// every bench command, so that the tool, its workers and the local relay it starts (which inherit it) can use it.
void RaiseOpenFilesLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

// How many links one process under the open-files limit can hold, with one file per link: the limit less what the
// process needs for itself (1,000, or a quarter of a small limit). A local relay inherits the same limit.
std::uint32_t LocalLinkCap() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return kMaxDevices;
  const rlim_t reserve = r.rlim_cur >= 4'000 ? 1'000 : r.rlim_cur / 4;
  return static_cast<std::uint32_t>(std::min<rlim_t>(r.rlim_cur - reserve, kMaxDevices));
}
// The links this process or one of its workers holds at most: the fixed bounds, or less under a lower limit.
std::uint32_t ProcessLinkCap() { return std::min(kMaxDevicesPerProcess, LocalLinkCap()); }
std::uint32_t WorkerLinkCap() { return std::min(kMaxLinksPerWorker, LocalLinkCap()); }

// Link scenarios: the worker processes a run uses (1: the fleet runs in this process).
std::uint32_t Workers(const BenchArgs& a) {
  if (a.workers != 0) return a.workers;
  if (a.scenario == "logins" || a.devices <= ProcessLinkCap()) return 1;
  return (a.devices + WorkerLinkCap() - 1) / WorkerLinkCap();
}

Result<std::string, std::string> ReadFileBounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(fmt::format("{}: cannot open", path));
  std::string text;
  text.resize(kMaxReadBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxReadBytes) return Fail(fmt::format("{}: larger than {} bytes", path, kMaxReadBytes));
  return text;
}

// Writes `text` to path.tmp, then renames it over `path`: a reader never sees half a file; a failure leaves no .tmp.
Result<void, std::string> WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  bool written = false;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Fail(fmt::format("{}: cannot write", tmp));
    out << text;
    written = static_cast<bool>(out.flush());
  }
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return Fail(fmt::format("{}: {}", path, written ? std::strerror(e) : "write failed"));
  }
  return {};
}

// Where --json or --html will be written, checked before the run so that a bad path does not cost the run: its
// directory exists and is writable, and the path is not a directory.
std::string CheckOutputPath(const char* flag, const std::string& path) {
  if (path.empty()) return "";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return fmt::format("{} {}: is a directory", flag, path);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fmt::format("{} {}: cannot write in {}: {}", flag, path, dir, std::strerror(errno));
  }
  return "";
}

std::string FormatValue(double v, const std::string& unit) {
  if (unit == "B") return v >= 1 << 20 ? fmt::format("{:.1f} MiB", v / (1 << 20)) : fmt::format("{:.0f} B", v);
  if (unit == "B/s") return fmt::format("{:.1f} MB/s", v / 1e6);
  if (unit.empty()) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g} {}", v, unit);
}

// The runs of one invocation, and its outputs.
class BenchRunner {
 public:
  BenchRunner(const BenchArgs& a, std::unique_ptr<Scenario> s,
              std::map<std::string, strait::bench::ParamValue> extra_params = {})
      : a_(a), scenario_(std::move(s)), progress_(a.quiet), extra_params_(std::move(extra_params)) {}

  int Run() {
    struct sigaction sa {};
    sa.sa_handler = OnBenchSignal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    r_.tool_version = STRAIT_VERSION;
    r_.started_at = NowRfc3339();
    r_.host = ThisHost();
    r_.scenario = a_.scenario;
    Params();
    if (const std::string why = scenario_->SkipReason(); !why.empty()) {
      r_.skipped = why;
      r_.target = {.kind = "local", .relay = "", .relay_threads = a_.relay_threads, .relay_cpu = std::nullopt,
                   .load_cpus = {}};
      fmt::print("strait bench {}: skipped: {}\n", a_.scenario, why);
      return Output();
    }
    const auto cpus = strait::bench::SplitCpus(strait::bench::AllowedCpus());
    split_ = cpus;
    if (a_.no_pin || !a_.relay.empty()) split_ = {false, 0, strait::bench::AllowedCpus()};
    if (split_.pinned) (void)strait::bench::PinThisThread(split_.load_cpus);

    std::string error = Runs();
    progress_.Done();
    local_.reset();  // the children stop before the report
    r_.partial = demo::Interrupted();
    if (!error.empty() && !r_.partial) r_.error = error;
    r_.summary = strait::bench::Summarize(r_.runs, strait::bench::kStraitSide, scenario_->Specs());
    if (!a_.baseline.empty()) r_.ratios = strait::bench::ComputeRatios(r_.runs, strait::bench::kStraitSide, a_.baseline);
    const int rc = Output();
    if (rc != kExitOk) return rc;
    if (r_.partial) {
      fmt::print(stderr, "strait bench: interrupted; {} of {} repetitions done, partial results written\n",
                 r_.runs.size(), a_.reps);
      return kExitInterrupted;
    }
    if (r_.error) return ReportError(fmt::format("bench {}: {}", a_.scenario, *r_.error));
    return kExitOk;
  }

 private:
  void Params() {
    auto& p = r_.params;
    p["seconds"] = std::int64_t{a_.seconds};
    p["reps"] = std::int64_t{a_.reps};
    p["timeout"] = std::int64_t{a_.timeout};
    if (a_.scenario == "idle" || a_.scenario == "logins" || a_.scenario == "reconnect") {
      p["devices"] = std::int64_t{a_.devices};
      p["parallel"] = std::int64_t{a_.parallel};
      p["workers"] = std::int64_t{workers_};
      if (a_.scenario != "logins") p["hold"] = std::int64_t{a_.hold};
      if (a_.scenario == "reconnect") p["how"] = a_.how;
    }
    if (a_.scenario == "latency" || a_.scenario == "bulk" || a_.scenario == "ip") {
      p["warmup"] = std::int64_t{a_.warmup};
      p["baseline"] = a_.baseline.empty() ? std::string("none") : a_.baseline;
    }
    if (a_.scenario == "latency") {
      p["connections"] = std::int64_t{a_.connections};
      p["size"] = std::int64_t{a_.size};
      p["loop"] = a_.closed ? std::string("closed") : std::string("open");
      if (!a_.closed) p["rate"] = std::int64_t{a_.rate};
      if (!a_.closed) p["max_outstanding"] = std::int64_t{a_.max_outstanding};
    }
    if (a_.scenario == "bulk" || a_.scenario == "ip") p["streams"] = std::int64_t{a_.streams};
    if (a_.scenario == "bulk") p["devices"] = std::int64_t{a_.devices};
    if (a_.scenario == "ip") {
      p["size"] = std::int64_t{a_.size};
      p["rate"] = std::int64_t{a_.rate};
    }
    p["relay_threads"] = std::int64_t{a_.relay_threads};
    for (const auto& [k, v] : extra_params_) p[k] = v;
  }

  // Every repetition; "" or why the run stopped.
  std::string Runs() {
    bench::DeviceBundles remote_bundles;
    if (!a_.relay.empty()) {
      if (auto e = Remote(remote_bundles); !e.empty()) return e;
    }
    for (std::uint32_t rep = 1; rep <= a_.reps && !demo::Interrupted(); ++rep) {
      if (a_.relay.empty() && (!local_ || scenario_->FreshRelayPerRep())) {
        local_.reset();
        progress_.Note(fmt::format("starting a local relay ({} thread{}, {})", a_.relay_threads,
                                   a_.relay_threads == 1 ? "" : "s",
                                   split_.pinned ? fmt::format("pinned to CPU {}", split_.relay_cpu) : "not pinned"));
        bench::LocalDeploymentOptions lo{.relay_threads = a_.relay_threads,
                                         .netns = std::nullopt,
                                         .relay_cpu = split_.pinned ? std::optional(split_.relay_cpu) : std::nullopt,
                                         .timeout = std::chrono::seconds(a_.timeout)};
        if (auto p = scenario_->PlaceRelay(lo); !p) return p.error();
        auto d = bench::LocalDeployment::Start(lo);
        if (!d) return d.error();
        local_ = std::move(*d);
        relay_ = local_->relay_device();
        progress_.Note(fmt::format("local relay pid {} on {}, throwaway keys in {}", local_->relay_pid(),
                                   relay_.ToString(), local_->dir()));
        r_.target = {.kind = "local", .relay = relay_.ToString(), .relay_threads = a_.relay_threads,
                     .relay_cpu = split_.pinned ? std::optional(split_.relay_cpu) : std::nullopt,
                     .load_cpus = split_.load_cpus};
      }
      // With a baseline each repetition runs both sides, the order alternating so neither always goes first.
      std::vector<std::string> sides = {std::string(strait::bench::kStraitSide)};
      if (!a_.baseline.empty()) sides.insert(rep % 2 == 1 ? sides.end() : sides.begin(), a_.baseline);
      for (std::uint32_t k = 0; k < sides.size(); ++k) {
        BenchEnv env(a_);
        env.local = local_.get();
        env.relay = relay_;
        env.sources = Sources();
        env.cpus = split_;
        env.devices = &remote_bundles.configs;
        env.workers = workers_;
        env.identity_bundles = identity_bundles_;
        env.stop = &demo::InterruptFlag();
        env.progress = &progress_;
        env.side = sides[k];
        strait::bench::Run run;
        run.rep = rep;
        run.side = sides[k];
        run.order = k + 1;
        progress_.Note(fmt::format("rep {}/{}: {}{}", rep, a_.reps, a_.scenario,
                                   sides.size() > 1 ? fmt::format(" ({})", sides[k]) : ""));
        auto done = scenario_->RunOnce(env, run);
        if (r_.negotiated.cipher.empty() && !env.cipher.empty()) {
          r_.negotiated = {.tls = env.tls_version, .cipher = env.cipher, .workers = workers_,
                           .sources = static_cast<std::uint32_t>(std::max<std::size_t>(env.sources.size(), 1))};
        }
        if (demo::Interrupted()) {  // kept with what ran until then, marked, and left out of the summary
          if (done && !run.metrics.empty()) {
            run.interrupted = true;
            r_.runs.push_back(std::move(run));
          }
          return "";
        }
        if (!done) return sides.size() > 1 ? fmt::format("{}: {}", sides[k], done.error()) : done.error();
        progress_.Note(fmt::format("rep {}/{}{}: {}", rep, a_.reps,
                                   sides.size() > 1 ? fmt::format(" ({})", sides[k]) : "", OneLine(run)));
        r_.runs.push_back(std::move(run));
      }
    }
    return "";
  }

  // A remote relay: every simulated device logs in with a bundle from --identity (loaded here when the fleet runs in
  // this process; each worker loads its own slice).
  std::string Remote(bench::DeviceBundles& out) {
    auto addr = runtime::ResolveSocketAddress(a_.relay);
    if (!addr) return fmt::format("--relay: {}", addr.error().reason);
    relay_ = *addr;
    r_.target = {.kind = "remote", .relay = a_.relay, .relay_threads = 0, .relay_cpu = std::nullopt,
                 .load_cpus = split_.load_cpus};
    identity_bundles_ = bench::CountDeviceBundles(a_.identity, kMaxDevices);
    const std::uint32_t identities = std::max<std::uint32_t>(identity_bundles_, 1);
    if (workers_ == 1) {
      const std::string host = a_.relay.substr(0, a_.relay.rfind(':'));
      const std::uint32_t count = std::max<std::uint32_t>(a_.devices, 1);
      if (auto r = bench::LoadDeviceBundles(a_.identity, identity_bundles_, host, 0, count, out); !r) return r.error();
    }
    if (a_.scenario != "logins" && a_.devices > identities * kMaxLinksPerCredential) {
      progress_.Note(fmt::format("warning: {} devices over {} identities: a relay admits {} links per credential by "
                                 "default; give a directory of bundles dev-0, dev-1, ... (--identity)",
                                 a_.devices, identities, kMaxLinksPerCredential));
    }
    return "";
  }

  // Local: one source address per 10,000 devices (127.0.0.2, ...), so no address runs short of ports.
  std::vector<runtime::SocketAddress> Sources() const {
    std::vector<runtime::SocketAddress> out;
    if (!a_.relay.empty()) return out;
    const std::uint32_t n =
        a_.sources != 0 ? a_.sources : std::min(kMaxSources, (a_.devices + kDevicesPerSource - 1) / kDevicesPerSource);
    for (std::uint32_t i = 0; i < n; ++i) {
      out.push_back(runtime::ParseSocketAddress(fmt::format("127.0.0.{}:0", i + 2)).value());
    }
    return out;
  }

  std::string OneLine(const strait::bench::Run& run) const {
    std::string s;
    const auto specs = scenario_->Specs();
    for (const auto& [name, v] : run.metrics) {
      const auto it = specs.find(name);
      s += fmt::format("{}{}={}", s.empty() ? "" : ", ", name, FormatValue(v, it != specs.end() ? it->second.unit : ""));
    }
    return s;
  }

  int Output() {
    const bool has_runs = !r_.runs.empty();
    if (has_runs || r_.error) Print();
    if (!a_.json_path.empty()) {
      auto json = strait::bench::ToJson(r_);
      if (!json) return ReportError(fmt::format("--json: {}", json.error().reason));
      if (auto w = WriteFile(a_.json_path, *json); !w) return ReportError(w.error());
    }
    if (!a_.html_path.empty()) {
      if (auto w = WriteFile(a_.html_path, strait::bench::RenderHtmlReport(r_)); !w) return ReportError(w.error());
    }
    return kExitOk;
  }

  void Print() const {
    fmt::print("strait bench {}: {} run{} on {} ({}), TLS {} {}\n", r_.scenario, r_.runs.size(),
               r_.runs.size() == 1 ? "" : "s", r_.target.relay,
               r_.target.relay_cpu ? fmt::format("relay pinned to CPU {}", *r_.target.relay_cpu) : "not pinned",
               r_.negotiated.tls.empty() ? "-" : r_.negotiated.tls,
               r_.negotiated.cipher.empty() ? "-" : r_.negotiated.cipher);
    for (const auto& [name, s] : r_.summary) {
      std::string ratio;
      if (const auto it = r_.ratios.find(name); it != r_.ratios.end()) {
        ratio = fmt::format("  {:.2f}x {} (spread {:.0f}%)", it->second.median_ratio, it->second.against,
                            it->second.spread * 100);
      }
      fmt::print("  {:<28} median {:<26} min {:<14} max {}{}\n", name, FormatValue(s.median, s.unit),
                 FormatValue(s.min, s.unit), FormatValue(s.max, s.unit), ratio);
    }
    std::vector<std::string> sides = {std::string(strait::bench::kStraitSide)};
    if (!a_.baseline.empty()) sides.push_back(a_.baseline);
    for (const std::string& side : sides) {
      auto lat = strait::bench::MergedLatency(r_.runs, side);
      if (!lat || lat->histogram.empty()) continue;
      const auto& h = lat->histogram;
      auto us = [&](double q) { return static_cast<double>(h.Percentile(q)) / 1e3; };
      fmt::print("  {:<28} p50 {:.1f} us, p90 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us, max {:.1f} us ({} samples)\n",
                 fmt::format("{} ({})", LatencyLabel(), side), us(0.5), us(0.9), us(0.99), us(0.999),
                 static_cast<double>(h.max()) / 1e3, h.count());
    }
    if (!a_.baseline.empty()) {  // the percentiles' ratios, per run from the histograms, like the metrics'
      const auto ratios = strait::bench::RatiosOf(strait::bench::SummarizeLatency(r_.runs, strait::bench::kStraitSide),
                                                  strait::bench::SummarizeLatency(r_.runs, a_.baseline), a_.baseline);
      for (const auto& [name, q] : ratios) {
        fmt::print("  {:<28} {:.2f}x {} (spread {:.0f}%)\n", name, q.median_ratio, q.against, q.spread * 100);
      }
    }
    PrintRelayTrouble();
    std::fflush(stdout);
  }

  // The relay's error and drop counters that moved (its /metrics, summed over the strait side's runs), or that none
  // did: what a run's own error counts cannot show (a login the relay refused, a frame it dropped).
  void PrintRelayTrouble() const {
    std::map<std::string, std::uint64_t> sum;
    bool probed = false;
    for (const auto& run : r_.runs) {
      if (run.side != strait::bench::kStraitSide || !run.relay) continue;
      probed = true;
      for (const auto& [name, delta] : run.relay->metrics_delta) {
        if (delta > 0 && IsRelayTrouble(name)) sum[name] += delta;
      }
    }
    if (!probed) return;
    if (sum.empty()) {
      fmt::print("  relay errors and drops: none (its /metrics)\n");
      return;
    }
    for (const auto& [name, n] : sum) fmt::print("  relay {} +{}\n", name, n);
  }

  static bool IsRelayTrouble(std::string_view name) {
    if (name.starts_with("strait_relay_handshakes_total")) return name.find("result=\"ok\"") == std::string_view::npos;
    for (std::string_view word : {"drops", "dropped", "refused", "expired", "revoked", "replaced", "unanswered",
                                  "stalls", "starved", "evicted", "goaway"}) {
      if (name.find(word) != std::string_view::npos) return true;
    }
    return false;
  }

  const char* LatencyLabel() const {
    if (a_.scenario == "reconnect") return "recovery per device";
    if (a_.scenario == "idle" || a_.scenario == "logins") return "login latency";
    return "latency";
  }

  const BenchArgs& a_;
  std::unique_ptr<Scenario> scenario_;
  ProgressLine progress_;
  BenchResult r_;
  std::map<std::string, strait::bench::ParamValue> extra_params_;
  strait::bench::CpuSplit split_;
  std::unique_ptr<bench::LocalDeployment> local_;
  runtime::SocketAddress relay_;
  std::uint32_t workers_ = Workers(a_);
  std::uint32_t identity_bundles_ = 0;
};

class BenchCommand final : public Command {
 public:
  explicit BenchCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("bench", "Load-test a relay: one it starts on loopback, or yours (docs/bench.md)");
    cmd_->require_subcommand(1);
    AddScenario(*cmd_, "idle", "Hold --devices authenticated idle device links; the relay's memory per session",
             10'000);
    AddScenario(*cmd_, "logins", "A login storm: --devices logins, --parallel in flight; logins/s, relay CPU per login",
             1'000);
    AddScenario(*cmd_, "reconnect", "--devices links up, all dropped at once (--how); time until every one is back",
             1'000);
    AddScenario(*cmd_, "latency", "Request/response through the relay at a fixed offered rate (open loop) or --closed",
                0);
    AddScenario(*cmd_, "bulk", "Throughput of --streams app streams over --devices devices through the relay to a sink",
                1);
    AddScenario(*cmd_, "ip", "IP-tunnel packets/s and throughput: device TUN -> relay -> connector TUN, in network "
                             "namespaces (root)", 0);
    AddScenario(*cmd_, "mixed", "Several scenarios at once against one relay, from a TOML profile (--profile)", 0);
    worker_ = bench::AddWorkerCommand(*cmd_, worker_args_);
    compare_ = cmd_->add_subcommand("compare", "Print B/A ratios of two saved results (--json files)");
    compare_->add_option("A", compare_a_, "Results file A (the reference)")->required();
    compare_->add_option("B", compare_b_, "Results file B")->required();
  }

  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    RaiseOpenFilesLimit();
    if (compare_->parsed()) return Compare();
    if (worker_->parsed()) return bench::RunWorker(worker_args_);
    for (auto& [sub, args_ptr] : scenarios_) {
      if (!sub->parsed()) continue;
      const BenchArgs& args = *args_ptr;
      if (auto e = Check(args); !e.empty()) {
        fmt::print(stderr, "strait bench {}: {}\nRun with --help for more information.\n", args.scenario, e);
        return kExitUsage;
      }
      if (args.scenario == "mixed") return Mixed(args);
      std::unique_ptr<bench::Scenario> s = args.scenario == "idle"      ? bench::MakeIdleScenario()
                                           : args.scenario == "logins"  ? bench::MakeLoginsScenario()
                                           : args.scenario == "latency" ? bench::MakeLatencyScenario()
                                           : args.scenario == "bulk"    ? bench::MakeBulkScenario()
                                           : args.scenario == "ip"      ? bench::MakeIpScenario()
                                                                        : bench::MakeReconnectScenario();
      if (!args.baseline.empty() && !s->SupportsBaseline()) {
        fmt::print(stderr, "strait bench {}: --baseline applies to latency, bulk and ip (logins has its floor)\n",
                   args.scenario);
        return kExitUsage;
      }
      if (s->NeedsLocalRelay() && !args.relay.empty()) {
        fmt::print(stderr, "strait bench {}: needs the local relay it starts (on loopback, or in its namespaces for "
                           "ip), because it measures that relay itself (drop --relay)\n", args.scenario);
        return kExitUsage;
      }
      return BenchRunner(args, std::move(s)).Run();
    }
    return kExitUsage;
  }

 private:
  void AddScenario(CLI::App& parent, const std::string& name, const std::string& help, std::uint32_t devices) {
    auto args = std::make_unique<BenchArgs>();
    args->scenario = name;
    args->devices = devices;
    args->hold = name == "idle" ? 2 : 1;
    CLI::App* c = parent.add_subcommand(name, help);
    BenchArgs& a = *args;
    c->add_option("--relay", a.relay, "A remote relay's device port HOST:PORT (default: start one on loopback)");
    c->add_option("--identity", a.identity, "With --relay: a device bundle, or a directory of bundles dev-0, ...");
    c->add_option("--relay-threads", a.relay_threads, "Local relay's shards")
        ->capture_default_str()->check(CLI::Range(1u, 64u));
    c->add_option("--reps", a.reps, "Repetitions")->capture_default_str()->check(CLI::Range(1u, strait::bench::kMaxReps));
    c->add_option("--timeout", a.timeout, "Seconds for each wait: start-up, every link up, every login done")
        ->capture_default_str()->check(CLI::Range(1u, 3600u));
    c->add_option("--sources", a.sources, "Source addresses 127.0.0.2.. to spread over (local; 0 = one per 10,000)")
        ->capture_default_str()->check(CLI::Range(0u, 250u));
    c->add_flag("--no-pin", a.no_pin, "Do not pin the local relay to its own CPU");
    c->add_flag("--quiet", a.quiet, "No progress on stderr");
    c->add_option("--json", a.json_path, "Write the results here (schema strait-bench/1)");
    c->add_option("--html", a.html_path, "Write the self-contained HTML report here");
    const bool ip = name == "ip";
    const bool app = name == "latency" || name == "bulk";
    if (app || name == "mixed") {
      c->add_option("--connector-identity", a.connector_identity,
                    "With --relay: a connector bundle; the tool runs that connector in front of its own server");
      c->add_option("--connector-relay", a.connector_relay, "With --connector-identity: the relay's connector port");
      c->add_option("--server", a.server,
                    std::string("With --relay: the server behind your own connector, HOST:PORT (") +
                        (name == "latency" ? "an echo server)"
                         : name == "bulk"  ? "a sink that discards)"
                                           : "an echo server for latency parts, a sink for bulk parts)"));
    }
    if (name == "mixed") {
      c->add_option("--profile", a.profile, "The parts to run at once: a TOML profile (docs/bench.md §2)")->required();
      c->add_option("--seconds", a.seconds, "Measured seconds of the latency and bulk parts (the profile's wins)")
          ->capture_default_str()->check(CLI::Range(1u, 3600u));
      scenarios_.emplace_back(c, std::move(args));
      return;
    }
    if (app || ip) {
      c->add_option("--seconds", a.seconds,
                    ip ? "Measured seconds of each phase (tcp, then udp) per repetition"
                       : "Measured seconds per repetition")
          ->capture_default_str()->check(CLI::Range(1u, 3600u));
      c->add_option("--warmup", a.warmup,
                    ip ? "Seconds of traffic before each phase's measured window"
                       : "Seconds of traffic before the measured window")
          ->capture_default_str()->check(CLI::Range(0u, 600u));
      c->add_option("--baseline", a.baseline,
                    ip ? "Run the same traffic direct (kernel routing through the same namespaces, no tunnel), "
                         "alternating the order, and report the ratios"
                       : "Run the same traffic through haproxy (TLS on both legs), direct, or direct-connect (a "
                         "device reaching the connector without the relay), alternating the order; report the ratios")
          ->check(ip ? CLI::IsMember({"direct"}) : CLI::IsMember({"haproxy", "direct", "direct-connect"}));
    }
    if (ip) {
      args->rate = 0;
      c->add_option("--streams", a.streams, "TCP streams writing at once (tcp phase)")
          ->capture_default_str()->check(CLI::Range(1u, 1024u));
      c->add_option("--size", a.size, "UDP payload bytes (udp phase); 1,392 fills the tunnel's MTU")
          ->capture_default_str()->check(CLI::Range(strait::bench::kUdpHeaderBytes, strait::bench::kMaxUdpPayload));
      c->add_option("--rate", a.rate, "Datagrams a second offered (udp phase); 0: as fast as the socket takes them")
          ->capture_default_str()->check(CLI::Range(0u, 10'000'000u));
      scenarios_.emplace_back(c, std::move(args));
      return;
    }
    if (name == "latency") {
      c->add_option("--connections", a.connections, "Streams")->capture_default_str()->check(CLI::Range(1u, 4096u));
      c->add_option("--size", a.size, "Request and response bytes")
          ->capture_default_str()->check(CLI::Range(1u, 65536u));
      c->add_option("--rate", a.rate, "Offered requests a second in total (open loop)")
          ->capture_default_str()->check(CLI::Range(1u, 1'000'000u));
      c->add_flag("--closed", a.closed, "Closed loop: one request in flight per stream (the round trip)");
      c->add_option("--max-outstanding", a.max_outstanding, "Open loop: in flight per stream; beyond it, dropped")
          ->capture_default_str()->check(CLI::Range(1u, 1u << 20));
    }
    if (name == "bulk") {
      c->add_option("--streams", a.streams, "Streams writing at once")
          ->capture_default_str()->check(CLI::Range(1u, 1024u));
      c->add_option("--devices", a.devices, "Devices the streams spread over (stream i through device i mod N)")
          ->capture_default_str()->check(CLI::Range(1u, bench::kMaxAppDevices));
    }
    if (app) {
      scenarios_.emplace_back(c, std::move(args));
      return;
    }
    c->add_option("--devices", a.devices, "Simulated devices")
        ->capture_default_str()->check(CLI::Range(1u, kMaxDevices));
    c->add_option("--workers", a.workers,
                  fmt::format("Worker processes to spread the devices over (0: this process up to {} links, else {} "
                              "a worker)", kMaxDevicesPerProcess, kMaxLinksPerWorker))
        ->capture_default_str()->check(CLI::Range(0u, kMaxWorkers));
    c->add_option("--parallel", a.parallel, "Logins in flight at once")
        ->capture_default_str()->check(CLI::Range(1u, 4096u));
    if (name != "logins") {
      c->add_option("--hold", a.hold, name == "idle" ? "Seconds to hold the links once all are up"
                                                     : "Seconds the links stay up before the drop")
          ->capture_default_str()->check(CLI::Range(0u, 3600u));
    }
    if (name == "reconnect") {
      c->add_option("--how", a.how, "abort: the tool drops every link; restart: the local relay is killed and "
                                    "started again")
          ->capture_default_str()->check(CLI::IsMember({"abort", "restart"}));
    }
    scenarios_.emplace_back(c, std::move(args));
  }

  int Mixed(const BenchArgs& args) {
    auto usage = [&](const std::string& why) {
      fmt::print(stderr, "strait bench mixed: {}\n", why);
      return kExitUsage;
    };
    auto text = ReadFileBounded(args.profile);
    if (!text) return usage(fmt::format("--profile {}", text.error()));
    auto profile = strait::bench::ParseProfile(*text);
    if (!profile) return usage(fmt::format("--profile {}: {}", args.profile, profile.error()));
    // Against a remote relay an app part needs what the scenario alone would (its connector, or the server).
    std::set<std::string> app_kinds;
    for (std::size_t i = 0; i < profile->parts.size(); ++i) {
      BenchArgs part = args;
      part.scenario = profile->parts[i].scenario;
      if (part.scenario != "latency" && part.scenario != "bulk") continue;
      if (auto e = Check(part); !e.empty()) return usage(fmt::format("part {}{}: {}", part.scenario, i + 1, e));
      app_kinds.insert(part.scenario);
    }
    if (!args.server.empty() && app_kinds.size() > 1) {
      return usage("one --server cannot be the latency parts' echo and the bulk parts' sink: give "
                   "--connector-identity and --connector-relay (the tool runs both servers)");
    }
    BenchArgs merged = args;
    std::map<std::string, strait::bench::ParamValue> params;
    auto s = bench::MakeMixedScenario(*profile, args, &merged, &params);
    if (!s) return usage(fmt::format("--profile {}: {}", args.profile, s.error()));
    params["profile"] = args.profile;
    params["parts"] = static_cast<std::int64_t>(profile->parts.size());
    return BenchRunner(merged, std::move(*s), std::move(params)).Run();
  }

  static std::string Check(const BenchArgs& a) {
    if (!a.relay.empty() && a.identity.empty()) return "--relay needs --identity (a device bundle or a directory)";
    if (a.relay.empty() && !a.identity.empty()) return "--identity goes with --relay";
    if (!a.relay.empty()) {
      auto r = runtime::ResolveSocketAddress(a.relay);
      if (!r) return fmt::format("--relay {}: {}", a.relay, r.error().reason);
    }
    for (const auto& [flag, value] :
         {std::pair{"--server", &a.server}, std::pair{"--connector-relay", &a.connector_relay}}) {
      if (!value->empty() && !demo::ParseHostPort(*value)) return fmt::format("{} {}: not HOST:PORT", flag, *value);
    }
    if (a.how == "restart" && !a.relay.empty()) return "--how restart restarts the local relay: not with --relay";
    if (a.scenario == "latency" || a.scenario == "bulk" || a.scenario == "mixed") {
      const bool own_connector = !a.connector_identity.empty() || !a.connector_relay.empty();
      if (a.relay.empty() && (own_connector || !a.server.empty())) {
        return "--connector-identity, --connector-relay and --server go with --relay";
      }
      if (!a.relay.empty() && a.scenario != "mixed") {  // a profile's app parts are checked part by part
        if (own_connector == !a.server.empty()) {
          return "with --relay, give --connector-identity and --connector-relay (the tool runs that connector in "
                 "front of its own server) or --server (the server behind your own connector)";
        }
        if (own_connector && (a.connector_identity.empty() || a.connector_relay.empty())) {
          return "--connector-identity and --connector-relay go together";
        }
        if (a.baseline == "haproxy" || a.baseline == "direct-connect") {
          return fmt::format("--baseline {} runs on the local deployment: not with --relay", a.baseline);
        }
      }
    }
    if (!a.json_path.empty() && a.json_path == a.html_path) return "--json and --html name the same file";
    if (auto e = CheckOutputPath("--json", a.json_path); !e.empty()) return e;
    if (auto e = CheckOutputPath("--html", a.html_path); !e.empty()) return e;
    if (a.scenario == "latency" && !a.closed &&
        std::uint64_t{a.connections} * a.max_outstanding > strait::bench::kMaxOutstandingTotal) {
      return fmt::format("--connections {} x --max-outstanding {}: more than {} requests in flight in all",
                         a.connections, a.max_outstanding, strait::bench::kMaxOutstandingTotal);
    }
    if (a.scenario == "bulk" && a.devices > a.streams) {
      return fmt::format("--devices {}: more devices than --streams {} (stream i goes through device i mod N)",
                         a.devices, a.streams);
    }
    if (a.scenario != "idle" && a.scenario != "logins" && a.scenario != "reconnect") return "";
    const bool holds = a.scenario != "logins";  // a storm holds at most --parallel links at once
    const std::uint32_t workers = Workers(a);
    if (workers > a.devices) return fmt::format("--workers {}: more workers than --devices {}", workers, a.devices);
    if (a.scenario == "logins" && workers > a.parallel) {
      return fmt::format("--workers {}: more workers than --parallel {} (each keeps a login in flight)", workers,
                         a.parallel);
    }
    if (holds && a.relay.empty() && a.devices > LocalLinkCap()) {
      return fmt::format("--devices {}: the local relay is one process under this machine's open-files limit and "
                         "holds one file per link: at most {} (point --relay at a relay on a larger host)",
                         a.devices, LocalLinkCap());
    }
    if (holds && workers == 1 && a.devices > ProcessLinkCap()) {
      return fmt::format("--devices {}: one process holds at most {} links; give --workers {} or more (or 0)",
                         a.devices, ProcessLinkCap(), (a.devices + WorkerLinkCap() - 1) / WorkerLinkCap());
    }
    if (holds && workers > 1 && a.devices > std::uint64_t{workers} * WorkerLinkCap()) {
      return fmt::format("--devices {}: a worker holds at most {} links; give --workers {} or more (or 0)", a.devices,
                         WorkerLinkCap(), (a.devices + WorkerLinkCap() - 1) / WorkerLinkCap());
    }
    return "";
  }

  int Compare() {
    auto a = Load(compare_a_);
    if (!a) return ReportError(a.error());
    auto b = Load(compare_b_);
    if (!b) return ReportError(b.error());
    for (const std::string& line : strait::bench::FormatComparison(strait::bench::Compare(*a, *b))) {
      fmt::print("{}\n", line);
    }
    return kExitOk;
  }

  static Result<BenchResult, std::string> Load(const std::string& path) {
    auto text = ReadFileBounded(path);
    if (!text) return Fail(text.error());
    auto r = strait::bench::FromJson(*text);
    if (!r) return Fail(fmt::format("{}: {}", path, r.error().reason));
    return std::move(*r);
  }

  CLI::App* cmd_ = nullptr;
  CLI::App* compare_ = nullptr;
  CLI::App* worker_ = nullptr;
  bench::WorkerArgs worker_args_;
  std::string compare_a_;
  std::string compare_b_;
  std::vector<std::pair<CLI::App*, std::unique_ptr<BenchArgs>>> scenarios_;
};

}  // namespace

std::unique_ptr<Command> MakeBenchCommand(CLI::App& app) { return std::make_unique<BenchCommand>(app); }

namespace bench {

ProgressLine::ProgressLine(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::Update(const std::string& text) {
  {
    std::lock_guard lock(mu_);
    last_ = text;
  }
  if (quiet_) return;
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", text);
    open_ = true;
    return;
  }
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now - last_line_s_ < 5) return;
  last_line_s_ = now;
  fmt::print(stderr, "{}\n", text);
}

void ProgressLine::Note(const std::string& text) {
  if (quiet_) return;
  Done();
  fmt::print(stderr, "strait bench: {}\n", text);
}

std::string ProgressLine::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

void ProgressLine::Done() {
  if (open_) fmt::print(stderr, "\n");
  open_ = false;
}

}  // namespace bench
}  // namespace strait::cli
