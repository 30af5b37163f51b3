// `strait demo`: the README's main job. With no configuration it
//   1. makes a throwaway root, tenant, TLS CA and relay / connector / device identities in a temp dir
//      (demo_identities.cc, in process), and a policy that allows only the internal server;
//   2. starts the internal HTTP server (demo/http_server.h) on loopback in this process, on its own thread;
//   3. starts `strait relay`, `strait connector` and `strait device` as children of /proc/self/exe on port 0,
//      reading their ready lines (demo/process.h);
//   4. through the device's SOCKS5 door (demo/client.h): GET /hello by IP and by name, a bulk upload checked with
//      SHA-256 on both ends, a burst of small requests over concurrent streams;
//   5. scrapes the relay's and the connector's metrics, stops the children (SIGTERM, then SIGKILL) and prints a
//      table. Everything is cleaned up on success, failure, Ctrl-C and --timeout; any failed step exits 1 with one
//      clear line.
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
#include "cli/demo/http_server.h"
#include "cli/demo_identities.h"
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

struct DemoOptions {
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
      for (const auto& c : children_) {
        if (!c->ExitedCleanly()) {
          rc = ReportError(fmt::format("demo failed: {} did not exit cleanly on SIGTERM: {}", c->name(),
                                       c->StatusText()));
        }
      }
    } else {
      for (const auto& c : children_) Progress(fmt::format("{} (pid {}): {}", c->name(), c->pid(), c->StatusText()));
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

  void Steps() {
    char tmpl[] = "/tmp/strait-demo.XXXXXX";
    if (!::mkdtemp(tmpl)) throw StepFailed(fmt::format("mkdtemp: {}", std::strerror(errno)));
    dir_ = tmpl;
    auto ids = MakeDemoIdentities(dir_, static_cast<uint64_t>(std::time(nullptr)), 1);
    if (!ids) throw StepFailed(ids.error());
    Progress(fmt::format("keys: operator root, tenant \"{}\", TLS CA, relay/connector/device identities in {}",
                         kDemoTenant, dir_));

    std::string error;
    http_ = demo::HttpServer::Start({}, &error);
    if (!http_) throw StepFailed(error);
    const std::string policy = dir_ + "/policy.toml";
    if (auto r = WriteDemoPolicy(policy, http_->port()); !r) throw StepFailed(r.error());
    Progress(fmt::format("internal HTTP server on 127.0.0.1:{}; policy allows only it ({})", http_->port(), policy));
    Check();

    ChildProcess& relay = Spawn("relay", {"relay", "--identity", ids->relay, "--device-listen", "127.0.0.1:0",
                                          "--connector-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                          "--threads", "1"});
    std::size_t rc = 0;
    const std::string ready = WaitLine(relay, "relay ready", &rc);
    const HostPort device_port = Addr(relay, ready, "device");
    const HostPort connector_port = Addr(relay, ready, "connector");
    if (auto m = demo::Field(ready, "metrics"); m) relay_metrics_ = demo::ParseHostPort(*m);
    Progress(fmt::format("relay (pid {}) ready: devices {}:{}, connectors {}:{}", relay.pid(), device_port.host,
                         device_port.port, connector_port.host, connector_port.port));

    const uint16_t cm = demo::PickFreePort();
    std::vector<std::string> cargs = {"connector", "--identity", ids->connector, "--relay",
                                      fmt::format("{}:{}", connector_port.host, connector_port.port),
                                      "--policy", policy};
    if (cm != 0) {
      cargs.insert(cargs.end(), {"--metrics-listen", fmt::format("127.0.0.1:{}", cm)});
      connector_metrics_ = HostPort{"127.0.0.1", cm};
    }
    ChildProcess& connector = Spawn("connector", cargs);
    std::size_t cc = 0;
    WaitLine(connector, "connector ready", &cc);
    WaitLine(connector, "connector link up", &cc);
    Progress(fmt::format("connector (pid {}) ready, link to the relay up", connector.pid()));

    std::vector<std::string> dargs = {"device", "--identity", ids->device, "--relay",
                                      fmt::format("{}:{}", device_port.host, device_port.port), "--socks-listen",
                                      "127.0.0.1:0"};
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

  void StopChildren() {
    // Device first, then connector, then relay: each sees its peers leave in the order a real shutdown would.
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
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
    for (const auto& c : children_) row(fmt::format("{} exit", c->name()), c->StatusText());
    std::fflush(stdout);
  }

  void Cleanup() {
    children_.clear();  // SIGKILLs anything still running and reaps it
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
  std::vector<std::unique_ptr<ChildProcess>> children_;  // relay, connector, device
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
      : sub_(app.add_subcommand("demo", "Run a relay, a connector and a device on loopback with throwaway keys, "
                                        "push traffic through the device's SOCKS5 door and print what it measured")) {
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
