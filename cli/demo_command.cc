// `strait demo`: the README's main job. With no configuration it
//   1. starts the control plane: `strait-control init` (operator root, TLS CA, an operator API key) and `serve` on
//      loopback port 0, in a temp dir;
//   2. as the operator and then a tenant admin, through the REST API (demo/control_api.h): a tenant with 10 device
//      seats, a relay, a default policy that allows only the internal HTTP server, a connector, a user; one
//      activation code each for the relay, the connector and the device;
//   3. enrols them as a user would: `strait relay enroll`, `strait connector enroll`, `strait device activate`;
//   4. starts the internal HTTP server (demo/http_server.h) on its own thread, and `strait relay`, `strait connector`
//      and `strait device` as children of /proc/self/exe from their identity directories alone (the relay on the
//      ports the control plane lists for it; the connector takes its policy from the control plane's snapshot);
//   5. through the device's SOCKS5 door (demo/client.h): GET /hello by IP and by name, a bulk upload checked with
//      SHA-256 on both ends, a burst of small requests over concurrent streams;
//   6. scrapes the daemons' metrics, then revokes the device through the REST API and times how long the relay
//      takes to cut its link (the device's "device link down ... error=revoked" line);
//   7. stops the children (SIGTERM, then SIGKILL) and prints a table. Everything is cleaned up on success, failure,
//      Ctrl-C and --timeout; any failed step exits 1 with one clear line.
// strait-control is a separate executable (OpenSSL 3; design.md "One TLS library per process"): --control-bin, else
// next to this executable, else ../control-plane/strait-control from it (the build tree), else on PATH.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/demo/client.h"
#include "cli/demo/control_api.h"
#include "cli/demo/control_plane.h"
#include "cli/demo/http_server.h"
#include "cli/demo/process.h"

namespace strait::cli {
namespace {

using demo::ChildProcess;
using demo::Clock;
using demo::Connection;
using demo::HostPort;

constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr uint32_t kMaxBulkMib = 64 * 1024;
constexpr uint32_t kMaxRequests = 1'000'000;
constexpr uint32_t kMaxConcurrency = 1024;
constexpr uint32_t kSmallBody = 64;

constexpr const char* kDemoTenant = "demo";
constexpr const char* kDemoRelay = "relay-1";
constexpr const char* kDemoConnector = "dc-demo";

struct DemoOptions {
  std::string control_bin;  // strait-control; "" = look for it (FindControlBinary)
  uint32_t bulk_mib = 256;
  uint32_t requests = 2000;
  uint32_t concurrency = 16;
  uint32_t timeout_s = 120;
  bool keep_dir = false;
};

extern "C" void OnDemoSignal(int /*sig*/) { demo::InterruptFlag().store(true); }

class StepFailed {
 public:
  explicit StepFailed(std::string m) : message(std::move(m)) {}
  std::string message;
};

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Prometheus text: samples whose metric name mentions sessions or streams (what the table shows), e.g. the
// relay's strait_relay_sessions; the relay cannot see streams (docs/relay.md), the device and connector can.
std::vector<std::string> InterestingSamples(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t e = text.find('\n', pos);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(pos, e - pos);
    pos = e + 1;
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (name.find("session") != std::string::npos || name.find("stream") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

class DemoRun {
 public:
  explicit DemoRun(const DemoOptions& o) : o_(o) {}
  ~DemoRun() { Cleanup(); }

  int Run() {
    start_ = Clock::now();
    deadline_ = start_ + std::chrono::seconds(o_.timeout_s);
    int rc = kExitOk;
    try {
      Steps();
    } catch (const StepFailed& f) {
      rc = ReportError(fmt::format("demo failed: {}", f.message));
    }
    StopChildren();
    if (rc == kExitOk) PrintTable();
    if (rc == kExitOk) {
      for (ChildProcess* c : All()) {
        if (!c->ExitedCleanly()) {
          rc = ReportError(fmt::format("demo failed: {} did not exit cleanly on SIGTERM: {}", c->name(),
                                       c->StatusText()));
        }
      }
    } else {
      for (ChildProcess* c : All()) Progress(fmt::format("{} (pid {}): {}", c->name(), c->pid(), c->StatusText()));
    }
    Cleanup();
    return rc;
  }

 private:
  void Progress(const std::string& what) {
    const double t = std::chrono::duration<double>(Clock::now() - start_).count();
    fmt::print("[{:6.2f}s] {}\n", t, what);
    std::fflush(stdout);
  }

  void Check() {
    if (demo::Interrupted()) throw StepFailed("interrupted");
    if (Clock::now() >= deadline_) throw StepFailed(fmt::format("timed out after {} s (--timeout)", o_.timeout_s));
  }

  [[noreturn]] void ChildFailed(ChildProcess& c, const std::string& waiting_for) {
    if (demo::Interrupted()) throw StepFailed("interrupted");
    std::string why = c.exited() ? fmt::format("it exited ({})", c.StatusText())
                                 : Clock::now() >= deadline_ ? fmt::format("timed out after {} s", o_.timeout_s)
                                                             : "it stopped writing";
    throw StepFailed(fmt::format("{} never printed \"{}\": {}; stderr: {}", c.name(), waiting_for, why,
                                 c.StderrTail(3)));
  }

  ChildProcess& Spawn(const std::string& name, std::vector<std::string> args) {
    std::string error;
    auto c = ChildProcess::Start(name, "/proc/self/exe", args, dir_ + "/" + name + ".stderr", &error);
    if (!c) throw StepFailed(error);
    children_.push_back(std::move(c));
    return *children_.back();
  }

  std::string WaitLine(ChildProcess& c, std::string_view prefix, std::size_t* cursor) {
    auto line = c.WaitLine(prefix, deadline_, cursor);
    if (!line) ChildFailed(c, std::string(prefix));
    return *line;
  }

  HostPort Addr(ChildProcess& c, const std::string& line, std::string_view key) {
    auto v = demo::Field(line, key);
    auto hp = v ? demo::ParseHostPort(*v) : std::nullopt;
    if (!hp) throw StepFailed(fmt::format("{}: cannot read {}= from its ready line \"{}\"", c.name(), key, line));
    return *hp;
  }

  template <typename T>
  T Must(Result<T, std::string> r) {
    Check();
    if (!r) throw StepFailed(r.error());
    return std::move(*r);
  }

  // Steps 1-3: the control plane, its resources, and the three identity directories.
  void ControlPlane() {
    const std::string bin = o_.control_bin.empty() ? demo::FindControlBinary("/proc/self/exe") : o_.control_bin;
    control_ = Must(demo::ControlPlane::Start({.exe = bin, .strait = "/proc/self/exe", .dir = dir_,
                                               .deadline = deadline_, .config_toml = {}}));
    Progress(fmt::format("control plane (pid {}) ready at {} (init: operator root, TLS CA, operator API key)",
                         control_->process().pid(), control_->url()));

    admin_.emplace(Must(control_->CreateTenant(kDemoTenant, 10)));
    relay_device_port_ = demo::PickFreePort();
    relay_connector_port_ = demo::PickFreePort();
    if (relay_device_port_ == 0 || relay_connector_port_ == 0) throw StepFailed("no free loopback port for the relay");
    const std::string relay_code = Must(control_->CreateRelay(kDemoRelay, relay_device_port_, relay_connector_port_));
    Progress(fmt::format("operator: tenant \"{}\" (10 device seats) and its admin API key, relay \"{}\" and its "
                         "activation code", kDemoTenant, kDemoRelay));

    const std::string port = std::to_string(http_->port());
    Must(admin_->Post(fmt::format("/v1/tenants/{}/policies", kDemoTenant),
                      {{"name", "demo"},
                       {"default", true},
                       {"app", {{"allow", {{{"cidrs", {"127.0.0.1/32"}}, {"ports", {port}}},
                                           {{"hosts", {"localhost"}}, {"ports", {port}}}}},
                                {"deny", nlohmann::json::array()}}}}));
    const std::string conn_code = Must(control_->CreateConnector(*admin_, kDemoTenant, kDemoConnector));
    const std::string dev_code = Must(control_->CreateDevice(*admin_, kDemoTenant, "ann@demo.example"));
    Progress(fmt::format("tenant admin: default policy (only 127.0.0.1:{0} and localhost:{0}), connector \"{1}\", "
                         "user ann@demo.example, activation codes", port, kDemoConnector));

    relay_dir_ = dir_ + "/relay";
    connector_dir_ = dir_ + "/connector";
    device_dir_ = dir_ + "/device";
    Must(control_->Enrol("relay enroll", relay_code, relay_dir_));
    Must(control_->Enrol("connector enroll", conn_code, connector_dir_));
    device_id_ = Must(control_->Enrol("device activate", dev_code, device_dir_));
    Progress(fmt::format("enrolled: relay, connector, device {} (strait relay enroll / connector enroll / device "
                         "activate: each made its keys and got its bundle through its code)", device_id_));
  }

  void Steps() {
    char tmpl[] = "/tmp/strait-demo.XXXXXX";
    if (!::mkdtemp(tmpl)) throw StepFailed(fmt::format("mkdtemp: {}", std::strerror(errno)));
    dir_ = tmpl;
    std::string error;
    http_ = demo::HttpServer::Start({}, &error);
    if (!http_) throw StepFailed(error);
    Progress(fmt::format("internal HTTP server on 127.0.0.1:{}", http_->port()));
    ControlPlane();
    Check();

    ChildProcess& relay = Spawn("relay", {"relay", "--identity", relay_dir_, "--device-listen",
                                          fmt::format("127.0.0.1:{}", relay_device_port_), "--connector-listen",
                                          fmt::format("127.0.0.1:{}", relay_connector_port_), "--metrics-listen",
                                          "127.0.0.1:0", "--threads", "1"});
    std::size_t rc = 0;
    const std::string ready = WaitLine(relay, "relay ready", &rc);
    if (auto m = demo::Field(ready, "metrics"); m) relay_metrics_ = demo::ParseHostPort(*m);
    WaitLine(relay, "relay control snapshot", &rc);
    Progress(fmt::format("relay (pid {}) ready on 127.0.0.1:{} (devices) and :{} (connectors); following the "
                         "control plane's events", relay.pid(), relay_device_port_, relay_connector_port_));

    std::vector<std::string> cargs = {"connector", "--identity", connector_dir_};
    if (const uint16_t cm = demo::PickFreePort(); cm != 0) {
      cargs.insert(cargs.end(), {"--metrics-listen", fmt::format("127.0.0.1:{}", cm)});
      connector_metrics_ = HostPort{"127.0.0.1", cm};
    }
    ChildProcess& connector = Spawn("connector", cargs);
    std::size_t cc = 0;
    WaitLine(connector, "connector ready", &cc);
    std::size_t cs = cc;
    WaitLine(connector, "connector control snapshot", &cs);
    WaitLine(connector, "connector link up", &cc);
    Progress(fmt::format("connector (pid {}) ready: policy from the control plane, link to the relay up",
                         connector.pid()));

    std::vector<std::string> dargs = {"device", "--identity", device_dir_, "--socks-listen", "127.0.0.1:0"};
    if (const uint16_t dm = demo::PickFreePort(); dm != 0) {
      dargs.insert(dargs.end(), {"--metrics-listen", fmt::format("127.0.0.1:{}", dm)});
      device_metrics_ = HostPort{"127.0.0.1", dm};
    }
    ChildProcess& device = Spawn("device", dargs);
    std::size_t dc = 0;
    const std::string dready = WaitLine(device, "device ready", &dc);
    socks_ = Addr(device, dready, "socks");
    const std::string sup = WaitLine(device, "device session up", &dc);
    Progress(fmt::format("device (pid {}) ready: SOCKS5 door {}:{}; {}", device.pid(), socks_.host, socks_.port,
                         sup.substr(std::string_view("device ").size())));
    Check();

    for (const char* host : {"127.0.0.1", "localhost"}) Hello(host);
    Bulk();
    Burst();
    // The relay's shards publish their counters once a second (RelayOptions::metrics_interval): scraped sooner, a
    // run this short showed the relay with no session at all.
    Progress("waiting 1.1 s for the relay's shards to publish their counters");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    Scrape();
    Revoke(device, dc);
  }

  // Step 6: revoke the device through the API; the relay cuts its link (ERROR revoked) once the event reaches it.
  void Revoke(ChildProcess& device, std::size_t cursor) {
    const auto t0 = Clock::now();
    Must(admin_->Post(fmt::format("/v1/tenants/{}/devices/{}/revoke", kDemoTenant, device_id_),
                      {{"reason", "demo: revoked to show the cut"}}));
    const auto t1 = Clock::now();
    const std::string down = WaitLine(device, "device link down", &cursor);
    const auto t2 = device.Arrival(cursor - 1).value_or(Clock::now());  // when it was read, not when we looked
    if (demo::Field(down, "error") != std::optional<std::string>("revoked")) {
      throw StepFailed(fmt::format("revocation: the device's link went down, but not for the revocation: \"{}\"",
                                   down));
    }
    revoke_api_ms_ = std::chrono::duration<double, std::milli>(t1 - t0).count();
    revoke_cut_ms_ = std::chrono::duration<double, std::milli>(t2 - t0).count();
    Progress(fmt::format("revoked device {}: API answered in {:.1f} ms, the relay cut its link {:.1f} ms after the "
                         "call (error=revoked)", device_id_, revoke_api_ms_, revoke_cut_ms_));
  }

  void Hello(const std::string& host) {
    const auto t0 = Clock::now();
    auto c = Connection::ViaSocks5(socks_, host, http_->port(), deadline_);
    if (!c) throw StepFailed(fmt::format("GET /hello via {}: {}", host, c.error()));
    auto r = demo::HttpGet(*c, host, "/hello", deadline_);
    if (!r) throw StepFailed(fmt::format("GET /hello via {}: {}", host, r.error()));
    if (r->status != 200 || r->body.find("hello") == std::string::npos) {
      throw StepFailed(fmt::format("GET /hello via {}: status {} body {:?}", host, r->status, r->body));
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    hello_.push_back(fmt::format("GET http://{}:{}/hello -> {} \"{}\" in {:.1f} ms (new stream)", host,
                                 http_->port(), r->status, r->body.substr(0, r->body.find('\n')), ms));
    Progress(hello_.back());
  }

  void Bulk() {
    const uint64_t size = static_cast<uint64_t>(o_.bulk_mib) << 20;
    Progress(fmt::format("bulk: uploading {} MiB through one stream (SHA-256 on both ends)...", o_.bulk_mib));
    auto c = Connection::ViaSocks5(socks_, "127.0.0.1", http_->port(), deadline_);
    if (!c) throw StepFailed(fmt::format("bulk: {}", c.error()));
    const auto t0 = Clock::now();
    std::string local;
    auto r = demo::HttpPostPattern(*c, "127.0.0.1", size, deadline_, &local);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!r) throw StepFailed(fmt::format("bulk: {}", r.error()));
    const std::string expect = fmt::format("{} {}", size, local);
    if (r->status != 200 || r->body.substr(0, expect.size()) != expect) {
      throw StepFailed(fmt::format("bulk: the server received something else: sent \"{}\", server says {} \"{}\"",
                                   expect, r->status, r->body.substr(0, r->body.find('\n'))));
    }
    bulk_mb_s_ = static_cast<double>(size) / 1e6 / s;
    bulk_sha_ = local;
    bulk_s_ = s;
    Progress(fmt::format("bulk: {} MiB in {:.2f} s = {:.1f} MB/s; SHA-256 {} matches", o_.bulk_mib, s, bulk_mb_s_,
                         local.substr(0, 16)));
  }

  void Burst() {
    Progress(fmt::format("burst: {} GET /bytes/{} over {} concurrent streams...", o_.requests, kSmallBody,
                         o_.concurrency));
    std::vector<uint8_t> expect(kSmallBody);
    demo::FillPattern(0, expect);
    std::atomic<uint32_t> next{0};
    std::mutex mu;
    std::vector<double> lat;
    lat.reserve(o_.requests);
    std::string first_error;
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < o_.concurrency; ++i) {
      threads.emplace_back([&] {
        std::vector<double> mine;
        std::string err;
        auto c = Connection::ViaSocks5(socks_, "127.0.0.1", http_->port(), deadline_);
        if (!c) err = c.error();
        while (err.empty() && next.fetch_add(1) < o_.requests) {
          const auto a = Clock::now();
          auto r = demo::HttpGet(*c, "127.0.0.1", fmt::format("/bytes/{}", kSmallBody), deadline_);
          const auto b = Clock::now();
          if (!r) {
            err = r.error();
          } else if (r->status != 200 || r->body.size() != expect.size() ||
                     std::memcmp(r->body.data(), expect.data(), expect.size()) != 0) {
            err = fmt::format("wrong response (status {}, {} bytes)", r->status, r->body.size());
          } else {
            mine.push_back(std::chrono::duration<double, std::micro>(b - a).count());
          }
        }
        std::lock_guard lock(mu);
        lat.insert(lat.end(), mine.begin(), mine.end());
        if (!err.empty() && first_error.empty()) first_error = err;
      });
    }
    for (auto& t : threads) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!first_error.empty()) throw StepFailed(fmt::format("burst: {}", first_error));
    if (lat.size() != o_.requests) {
      throw StepFailed(fmt::format("burst: {} of {} requests completed", lat.size(), o_.requests));
    }
    p50_us_ = Percentile(lat, 0.50);
    p99_us_ = Percentile(lat, 0.99);
    burst_rps_ = static_cast<double>(lat.size()) / s;
    Progress(fmt::format("burst: {} requests in {:.2f} s ({:.0f} req/s), p50 {:.0f} us, p99 {:.0f} us", lat.size(), s,
                         burst_rps_, p50_us_, p99_us_));
  }

  std::vector<std::string> ScrapeOne(const std::optional<HostPort>& addr) {
    if (!addr) return {"(no metrics address)"};
    const auto deadline = std::min(deadline_, Clock::now() + std::chrono::seconds(3));
    auto c = Connection::Dial(*addr, deadline);
    if (!c) return {fmt::format("(metrics unavailable: {})", c.error())};
    auto r = demo::HttpGet(*c, addr->host, "/metrics", deadline);
    if (!r || r->status != 200) return {fmt::format("(metrics unavailable: {})", r ? fmt::format("HTTP {}", r->status) : r.error())};
    auto s = InterestingSamples(r->body);
    if (s.empty()) return {"(no session or stream metrics exported)"};
    return s;
  }

  void Scrape() {
    relay_samples_ = ScrapeOne(relay_metrics_);
    connector_samples_ = ScrapeOne(connector_metrics_);
    device_samples_ = ScrapeOne(device_metrics_);
  }

  // strait-control, then the daemons in start order.
  std::vector<ChildProcess*> All() {
    std::vector<ChildProcess*> all;
    if (control_) all.push_back(&control_->process());
    for (const auto& c : children_) all.push_back(c.get());
    return all;
  }

  void StopChildren() {
    // Device first, then connector, relay and the control plane: each sees its peers leave in the order a real
    // shutdown would.
    const std::vector<ChildProcess*> all = All();
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!(*it)->exited()) Progress(fmt::format("stopping {} (SIGTERM)", (*it)->name()));
      (*it)->Stop(kStopGrace);
    }
  }

  void PrintTable() {
    auto row = [](std::string_view k, const std::string& v) { fmt::print("  {:<28} {}\n", k, v); };
    fmt::print("\nstrait demo: results\n");
    fmt::print("  {:-<28} {:-<60}\n", "", "");
    for (const auto& h : hello_) row("hello", h);
    row("bulk throughput", fmt::format("{:.1f} MB/s ({} MiB in {:.2f} s, one stream, SHA-256 {}... on both ends)",
                                       bulk_mb_s_, o_.bulk_mib, bulk_s_, bulk_sha_.substr(0, 12)));
    row("revocation", fmt::format("device {} cut {:.1f} ms after the REST call (the call itself {:.1f} ms; one "
                                  "sample: bench/control for p50/p99)", device_id_, revoke_cut_ms_, revoke_api_ms_));
    row("small-request latency", fmt::format("p50 {:.0f} us, p99 {:.0f} us ({} x GET /bytes/{} over {} streams, "
                                             "{:.0f} req/s)",
                                             p50_us_, p99_us_, o_.requests, kSmallBody, o_.concurrency, burst_rps_));
    constexpr std::size_t kMaxSamples = 8;
    for (std::size_t i = 0; i < relay_samples_.size() && i < kMaxSamples; ++i) {
      row(i == 0 ? "relay metrics" : "", relay_samples_[i]);
    }
    for (std::size_t i = 0; i < connector_samples_.size() && i < kMaxSamples; ++i) {
      row(i == 0 ? "connector metrics" : "", connector_samples_[i]);
    }
    for (std::size_t i = 0; i < device_samples_.size() && i < kMaxSamples; ++i) {
      row(i == 0 ? "device metrics" : "", device_samples_[i]);
    }
    row("internal server", fmt::format("{} connections, {} requests", http_->stats().connections.load(),
                                       http_->stats().requests.load()));
    for (ChildProcess* c : All()) row(fmt::format("{} exit", c->name()), c->StatusText());
    std::fflush(stdout);
  }

  void Cleanup() {
    children_.clear();  // SIGKILLs anything still running and reaps it
    control_.reset();
    http_.reset();
    if (!dir_.empty()) {
      if (o_.keep_dir) {
        Progress(fmt::format("kept {}", dir_));
      } else {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
      }
      dir_.clear();
    }
  }

  DemoOptions o_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  std::string dir_;
  std::unique_ptr<demo::HttpServer> http_;
  std::unique_ptr<demo::ControlPlane> control_;          // strait-control (stopped after the daemons)
  std::vector<std::unique_ptr<ChildProcess>> children_;  // relay, connector, device
  std::optional<demo::ControlApi> admin_;
  uint16_t relay_device_port_ = 0;
  uint16_t relay_connector_port_ = 0;
  std::string relay_dir_;
  std::string connector_dir_;
  std::string device_dir_;
  std::string device_id_;
  double revoke_api_ms_ = 0;
  double revoke_cut_ms_ = 0;
  HostPort socks_;
  std::optional<HostPort> relay_metrics_;
  std::optional<HostPort> connector_metrics_;
  std::optional<HostPort> device_metrics_;
  std::vector<std::string> hello_;
  double bulk_mb_s_ = 0;
  double bulk_s_ = 0;
  std::string bulk_sha_;
  double p50_us_ = 0;
  double p99_us_ = 0;
  double burst_rps_ = 0;
  std::vector<std::string> relay_samples_;
  std::vector<std::string> connector_samples_;
  std::vector<std::string> device_samples_;
};

class DemoCommand : public Command {
 public:
  explicit DemoCommand(CLI::App& app)
      : sub_(app.add_subcommand("demo", "Run strait-control, a relay, a connector and a device on loopback, enrol them "
                                        "through activation codes, push traffic through the device's SOCKS5 door, "
                                        "revoke the device and print what it measured")) {
    sub_->add_option("--bulk-mib", o_.bulk_mib, "Bulk upload size in MiB (SHA-256 checked on both ends)")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxBulkMib));
    sub_->add_option("--requests", o_.requests, "Small requests in the burst")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxRequests));
    sub_->add_option("--streams", o_.concurrency, "Concurrent streams (SOCKS5 connections) for the burst")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxConcurrency));
    sub_->add_option("--timeout", o_.timeout_s, "Give up (and clean up) after this many seconds")
        ->capture_default_str()
        ->check(CLI::Range(5u, 3600u));
    sub_->add_flag("--keep-dir", o_.keep_dir, "Keep the temporary directory (keys, policy, children's stderr)");
    sub_->add_option("--control-bin", o_.control_bin,
                     "strait-control executable (default: next to strait, the build tree, then PATH)");
  }
  bool Selected() const override { return sub_->parsed(); }
  int Run() override {
    struct sigaction sa {};
    sa.sa_handler = OnDemoSignal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    DemoRun run(o_);
    return run.Run();
  }

 private:
  CLI::App* sub_;
  DemoOptions o_;
};

}  // namespace

std::unique_ptr<Command> MakeDemoCommand(CLI::App& app) { return std::make_unique<DemoCommand>(app); }

}  // namespace strait::cli
