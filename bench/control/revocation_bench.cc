// strait-revocation-bench: how long a revocation takes to cut a live session (issue 10's benchmark; docs/control-
// plane.md §7.4 "Latency path"), measured end to end with real processes on loopback:
//
//   REST POST .../devices/{d}/revoke ─▶ commit (fsync) ─▶ Hub::Notify ─▶ chunk on the relay's event stream ─▶
//   the relay's subscriber thread ─▶ RelayControl: deny + close the device's links ─▶ ERROR revoked on its link ─▶
//   the device prints "device link down via=relay error=revoked"            (the clock stops when the bench's reader
//                                                                            thread reads that line)
//
// Setup (not timed): strait-control init + serve, a tenant with --count seats, a relay and a connector enrolled and
// running. Then, --parallel devices at a time: each activated (`strait device activate`) and started until its
// session is up; then revoked one after another, each timed from just before the REST call to the device's line.
// Output: one line per revocation in --csv (if given), and a summary: p50, p99, min and max of the cut and of the
// REST call alone, with the count. Bounded: --count <= 1,000, every wait has --timeout.
//
// Usage: strait-revocation-bench --strait PATH --control PATH [--count 100] [--parallel 10] [--timeout 600]
//                                [--csv FILE] [--keep-dir]
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/demo/control_plane.h"
#include "cli/demo/process.h"

namespace {

using strait::demo::ChildProcess;
using strait::demo::Clock;
using Ms = std::chrono::duration<double, std::milli>;

struct Options {
  std::string strait;
  std::string control;
  unsigned count = 100;
  unsigned parallel = 10;
  unsigned timeout_s = 600;
  std::string csv;
  bool keep_dir = false;
};

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}
  ~Bench() {
    devices_.clear();
    daemons_.clear();
    control_.reset();
    if (!dir_.empty() && !o_.keep_dir) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  int Run() {
    deadline_ = Clock::now() + std::chrono::seconds(o_.timeout_s);
    char tmpl[] = "/tmp/strait-revocation.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Die("mkdtemp failed");
    dir_ = tmpl;
    auto cp = strait::demo::ControlPlane::Start(
        {.exe = o_.control,
         .strait = o_.strait,
         .dir = dir_,
         .deadline = deadline_,
         // Every activation comes from 127.0.0.1: the per-address redeem limit (10 a minute) would bound the setup.
         .config_toml = "activate_per_minute = 1000000\nrate_per_key = 100000\nburst_per_key = 100000\n"});
    if (!cp) return Die(cp.error());
    control_ = std::move(*cp);
    auto admin = control_->CreateTenant("bench", o_.count);
    if (!admin) return Die(admin.error());
    const uint16_t dport = strait::demo::PickFreePort(), cport = strait::demo::PickFreePort();
    auto relay_code = control_->CreateRelay("relay-1", dport, cport);
    if (!relay_code) return Die(relay_code.error());
    auto conn_code = control_->CreateConnector(*admin, "bench", "dc-1");
    if (!conn_code) return Die(conn_code.error());
    for (auto [kind, code, name] : {std::tuple{"relay enroll", *relay_code, "relay"},
                                    std::tuple{"connector enroll", *conn_code, "connector"}}) {
      if (auto r = control_->Enrol(kind, code, dir_ + "/" + name); !r) return Die(r.error());
    }
    ChildProcess* relay = Spawn(daemons_, "relay", {"relay", "--identity", dir_ + "/relay", "--device-listen",
                                                    fmt::format("127.0.0.1:{}", dport), "--connector-listen",
                                                    fmt::format("127.0.0.1:{}", cport), "--metrics-listen",
                                                    "127.0.0.1:0", "--threads", "1"});
    ChildProcess* conn = Spawn(daemons_, "connector", {"connector", "--identity", dir_ + "/connector"});
    if (!relay || !conn) return 1;
    if (!relay->WaitLine("relay control snapshot", deadline_)) return Die("relay: " + relay->StderrTail(3));
    if (!conn->WaitLine("connector link up", deadline_)) return Die("connector: " + conn->StderrTail(3));
    std::fprintf(stderr, "revocation bench: control plane, relay and connector up; %u revocations, %u devices at a "
                         "time\n", o_.count, o_.parallel);

    FILE* csv = o_.csv.empty() ? nullptr : std::fopen(o_.csv.c_str(), "w");
    if (csv) std::fprintf(csv, "n,device,api_ms,cut_ms\n");
    for (unsigned done = 0; done < o_.count;) {
      const unsigned batch = std::min(o_.parallel, o_.count - done);
      struct Live {
        ChildProcess* process;
        std::string id;
        size_t cursor = 0;
      };
      std::vector<Live> live;
      devices_.clear();
      for (unsigned i = 0; i < batch; ++i) {
        const std::string name = fmt::format("d{}", done + i);
        auto code = control_->CreateDevice(*admin, "bench", name + "@bench.example");
        if (!code) return Die(code.error());
        auto id = control_->Enrol("device activate", *code, dir_ + "/" + name);
        if (!id) return Die(id.error());
        ChildProcess* p = Spawn(devices_, name, {"device", "--identity", dir_ + "/" + name, "--socks-listen",
                                                 "127.0.0.1:0"});
        if (!p) return 1;
        live.push_back({p, *id});
      }
      for (Live& d : live) {
        if (!d.process->WaitLine("device session up", deadline_, &d.cursor)) {
          return Die(fmt::format("{}: no session: {}", d.id, d.process->StderrTail(3)));
        }
      }
      for (Live& d : live) {
        const auto t0 = Clock::now();
        auto r = admin->Post(fmt::format("/v1/tenants/bench/devices/{}/revoke", d.id), {{"reason", "bench"}});
        const auto t1 = Clock::now();
        if (!r) return Die(r.error());
        auto line = d.process->WaitLine("device link down", deadline_, &d.cursor);
        // When the line was read, not when this thread (which waited for the REST answer first) looked.
        const auto t2 = d.process->Arrival(d.cursor - 1).value_or(Clock::now());
        if (!line || strait::demo::Field(*line, "error") != std::optional<std::string>("revoked")) {
          return Die(fmt::format("{}: no revoked link-down line ({})", d.id, line.value_or("none")));
        }
        api_.push_back(Ms(t1 - t0).count());
        cut_.push_back(Ms(t2 - t0).count());
        if (csv) std::fprintf(csv, "%zu,%s,%.3f,%.3f\n", cut_.size(), d.id.c_str(), api_.back(), cut_.back());
      }
      done += batch;
      std::fprintf(stderr, "revocation bench: %u/%u (last cut %.1f ms)\n", done, o_.count, cut_.back());
    }
    if (csv) std::fclose(csv);
    std::printf("revocations %zu\n", cut_.size());
    std::printf("cut_ms  p50 %.1f  p99 %.1f  min %.1f  max %.1f   (REST call -> the device's link closed)\n",
                Quantile(cut_, 0.5), Quantile(cut_, 0.99), Quantile(cut_, 0), Quantile(cut_, 1));
    std::printf("api_ms  p50 %.1f  p99 %.1f  min %.1f  max %.1f   (the REST call alone: TLS handshake + commit)\n",
                Quantile(api_, 0.5), Quantile(api_, 0.99), Quantile(api_, 0), Quantile(api_, 1));
    return 0;
  }

 private:
  int Die(const std::string& why) {
    std::fprintf(stderr, "strait-revocation-bench: %s\n", why.c_str());
    return 1;
  }
  ChildProcess* Spawn(std::vector<std::unique_ptr<ChildProcess>>& into, const std::string& name,
                      const std::vector<std::string>& args) {
    std::string error;
    auto c = ChildProcess::Start(name, o_.strait, args, dir_ + "/" + name + ".stderr", &error);
    if (!c) {
      Die(error);
      return nullptr;
    }
    into.push_back(std::move(c));
    return into.back().get();
  }

  Options o_;
  Clock::time_point deadline_;
  std::string dir_;
  std::unique_ptr<strait::demo::ControlPlane> control_;
  std::vector<std::unique_ptr<ChildProcess>> daemons_;  // relay, connector
  std::vector<std::unique_ptr<ChildProcess>> devices_;  // the current batch
  std::vector<double> cut_;
  std::vector<double> api_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times revocations end to end: REST call -> the relay cuts the device's link (docs/control-plane.md)"};
  Options o;
  app.add_option("--strait", o.strait, "The strait executable")->required();
  app.add_option("--control", o.control, "The strait-control executable")->required();
  app.add_option("--count", o.count, "Revocations to time")->check(CLI::Range(1u, 1000u))->capture_default_str();
  app.add_option("--parallel", o.parallel, "Devices up at a time")->check(CLI::Range(1u, 50u))->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Give up after this many seconds")->capture_default_str();
  app.add_option("--csv", o.csv, "Write every sample here");
  app.add_flag("--keep-dir", o.keep_dir, "Keep the temporary directory");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  return Bench(std::move(o)).Run();
}
