// What a `strait bench` scenario is to the runner (cli/bench/bench_command.cc): its arguments, the environment one
// repetition runs in (the local deployment or a remote relay, the simulated devices, the stop flag, the progress
// line), and the interface each scenario implements (docs/bench.md §2, one file per family: scenarios_link.cc for
// idle, logins and reconnect; scenarios_app.cc for latency and bulk; scenario_ip.cc; scenario_mixed.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bench/suite/load/cpu_pin.h"
#include "bench/suite/profile.h"
#include "bench/suite/results.h"
#include "cli/bench/local_deployment.h"
#include "crypto/result.h"
#include "runtime/net.h"
#include "tunnel/link/tls_link.h"

namespace strait::cli::bench {

using strait::bench::BenchResult;
using strait::bench::MetricSpec;
using strait::bench::Run;

// Every option of every scenario, after defaults and checks (bench_command.cc owns the flags and their ranges).
struct BenchArgs {
  std::string scenario;
  // target
  std::string relay;     // HOST:PORT of a remote relay; "" = start a local deployment
  std::string identity;  // remote: a device bundle, or a directory of bundles dev-0, dev-1, ...
  // remote latency and bulk: a connector the tool starts (its identity, and the relay's connector port), or the app
  // server behind the operator's own connector (an echo for latency, a sink for bulk)
  std::string connector_identity;
  std::string connector_relay;
  std::string server;
  std::uint32_t relay_threads = 1;
  // the run
  std::uint32_t seconds = 10;
  std::uint32_t warmup = 1;
  std::uint32_t reps = 3;
  std::uint32_t timeout = 60;
  std::uint32_t sources = 0;  // 0: one per 10,000 devices, at most 16 (local only)
  std::uint32_t workers = 0;  // idle, logins, reconnect: 0 = in this process up to 19,000 links, else 15,000 each
  bool no_pin = false;
  bool quiet = false;
  std::string baseline;  // "", "haproxy", "direct"
  std::string json_path;
  std::string html_path;
  // idle, logins, reconnect
  std::uint32_t devices = 0;
  std::uint32_t parallel = 64;
  std::uint32_t hold = 2;
  std::string how = "abort";  // reconnect: abort | restart
  // latency, bulk
  std::uint32_t connections = 8;
  std::uint32_t size = 64;
  std::uint32_t rate = 1000;
  bool closed = false;
  std::uint32_t streams = 4;
  std::uint32_t max_outstanding = 1024;
  // mixed
  std::string profile;
};

// One line of live progress (stderr): rewritten in place on a terminal, a line every 5 s otherwise, none with
// --quiet. Thread-safe enough for its use: called from the one thread that runs the load.
class ProgressLine {
 public:
  explicit ProgressLine(bool quiet);
  void Update(const std::string& text);  // rate, latency, errors, time left: the caller formats
  void Note(const std::string& text);    // a line of its own ("rep 2/3: ...")
  void Done();                           // ends an in-place line
  std::string Last() const;              // the last Update's text (kept when quiet too; any thread)

 private:
  mutable std::mutex mu_;
  std::string last_;
  bool quiet_;
  bool tty_;
  bool open_ = false;
  double last_line_s_ = -1e9;
};

// What one repetition runs in.
struct BenchEnv {
  explicit BenchEnv(const BenchArgs& a) : args(a) {}
  const BenchArgs& args;
  LocalDeployment* local = nullptr;  // null for a remote relay
  runtime::SocketAddress relay;       // the device port
  std::vector<runtime::SocketAddress> sources;
  strait::bench::CpuSplit cpus;
  std::vector<link::LinkConfig>* devices = nullptr;  // remote: from --identity; local: made by the scenario
  std::uint32_t workers = 1;           // >1: the fleet runs in that many worker processes (cli/bench/workers.h)
  std::uint32_t identity_bundles = 0;  // remote: bundles dev-0 .. in --identity (0: it is one bundle)
  const std::atomic<bool>* stop = nullptr;
  ProgressLine* progress = nullptr;
  std::string side = "strait";  // this run's side: "strait", or the baseline's name
  // Filled in by the scenario from what it saw (the first link's handshake).
  std::string tls_version;
  std::string cipher;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Unit and direction of each metric the runs carry.
  virtual std::map<std::string, MetricSpec> Specs() const = 0;
  // Whether every repetition needs a fresh relay (memory is measured from a fresh relay's RSS).
  virtual bool FreshRelayPerRep() const { return false; }
  // Whether the scenario measures the relay itself (its RSS, CPU): needs a local relay.
  virtual bool NeedsLocalRelay() const { return false; }
  // Whether --baseline applies (the same traffic through haproxy, or direct).
  virtual bool SupportsBaseline() const { return false; }
  // Why this scenario cannot run on this machine ("" when it can): asked before anything starts; the runner then
  // writes a result whose "skipped" says why, and exits 0.
  virtual std::string SkipReason() const { return ""; }
  // Where the local relay runs: on loopback unless the scenario places it (the ip scenario's relay namespace).
  // Called before each local deployment starts.
  virtual Result<void, std::string> PlaceRelay(LocalDeploymentOptions& /*options*/) { return {}; }
  // Runs one repetition of the strait side into `run` (metrics, latency, timeline, relay). An error ends the run.
  virtual Result<void, std::string> RunOnce(BenchEnv& env, Run& run) = 0;
};

std::unique_ptr<Scenario> MakeIdleScenario();
std::unique_ptr<Scenario> MakeLoginsScenario();
std::unique_ptr<Scenario> MakeReconnectScenario();
std::unique_ptr<Scenario> MakeLatencyScenario();
std::unique_ptr<Scenario> MakeBulkScenario();
std::unique_ptr<Scenario> MakeIpScenario();
// The parts of a profile as one scenario (scenario_mixed.cc). Sets merged->devices to the links held at once (for the
// source addresses) and merged->seconds to the profile's; adds each part's parameters to *part_params as
// "<part>_<key>". Refuses a profile this process cannot run (too many links, a relay restart).
Result<std::unique_ptr<Scenario>, std::string> MakeMixedScenario(const strait::bench::Profile& profile,
                                                                 const BenchArgs& base, BenchArgs* merged,
                                                                 std::map<std::string, strait::bench::ParamValue>*
                                                                     part_params);

// One device login through the relay, to learn what TLS it negotiates (for scenarios whose own links are the
// device child's): fills env.tls_version and env.cipher. With the local deployment's credentials, or --identity's.
Result<void, std::string> ProbeNegotiated(BenchEnv& env);

}  // namespace strait::cli::bench
