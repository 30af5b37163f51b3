#include "cli/bench/workers.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "bench/suite/worker_protocol.h"
#include "cli/bench/device_credentials.h"
#include "cli/demo/process.h"
#include "runtime/net.h"

namespace strait::cli::bench {
namespace {

using demo::ChildProcess;
using demo::Clock;
using strait::bench::FleetMode;
using strait::bench::FleetOptions;
using strait::bench::FleetProgress;
using strait::bench::FleetResult;
using strait::bench::WorkerEvent;
using strait::bench::WorkerEventKind;

constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr auto kSilenceGrace = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(5);

const char* ModeName(FleetMode m) {
  switch (m) {
    case FleetMode::kHold: return "hold";
    case FleetMode::kStorm: return "storm";
    case FleetMode::kReconnect: return "reconnect";
  }
  return "";
}

std::optional<FleetMode> ParseMode(const std::string& s) {
  for (FleetMode m : {FleetMode::kHold, FleetMode::kStorm, FleetMode::kReconnect}) {
    if (s == ModeName(m)) return m;
  }
  return std::nullopt;
}

std::vector<std::string> WorkerArgv(const WorkerArgs& a) {
  std::vector<std::string> v = {"bench",   "worker", "--mode",  a.mode, "--relay", a.target.relay,
                                "--first", std::to_string(a.first), "--count", std::to_string(a.count),
                                "--parallel", std::to_string(a.parallel), "--timeout", std::to_string(a.timeout)};
  if (!a.target.deployment_dir.empty()) v.insert(v.end(), {"--deployment", a.target.deployment_dir});
  if (!a.target.identity.empty()) {
    v.insert(v.end(), {"--identity", a.target.identity, "--bundles", std::to_string(a.target.bundles)});
  }
  for (const std::string& s : a.sources) v.insert(v.end(), {"--source", s});
  if (a.restart) v.emplace_back("--restart");
  return v;
}

// A private directory for the workers' stderr files, removed with it.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/strait-bench-workers.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Worker {
  std::unique_ptr<ChildProcess> child;
  std::size_t cursor = 0;
  bool ready = false;
  bool up = false;
  bool waiting_drop = false;
  std::optional<FleetResult> result;
  FleetProgress progress;
  Clock::time_point last_line;
};

// The parent's side of one run.
class Spread {
 public:
  Spread(const FleetOptions& o, std::uint32_t workers) : o_(o), w_(workers) {}

  Result<FleetResult, std::string> Run(std::uint32_t first, const WorkerTarget& target) {
    if (scratch_.path().empty()) return Fail(fmt::format("mkdtemp: {}", std::strerror(errno)));
    const auto n = static_cast<std::uint64_t>(w_.size());
    for (std::uint64_t k = 0; k < n; ++k) {
      WorkerArgs a;
      a.mode = ModeName(o_.mode);
      a.target = target;
      a.first = first + static_cast<std::uint32_t>(k * o_.devices / n);
      a.count = static_cast<std::uint32_t>((k + 1) * o_.devices / n - k * o_.devices / n);
      a.parallel = std::max<std::uint32_t>(1, static_cast<std::uint32_t>((k + 1) * o_.parallel / n -
                                                                           k * o_.parallel / n));
      a.timeout = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(o_.timeout).count());
      for (const runtime::SocketAddress& s : o_.sources) a.sources.push_back(s.ToString());
      a.restart = o_.mode == FleetMode::kReconnect && static_cast<bool>(o_.drop);
      std::string error;
      w_[k].child = ChildProcess::Start(fmt::format("worker {}", k), "/proc/self/exe", WorkerArgv(a),
                                        fmt::format("{}/worker-{}.stderr", scratch_.path(), k), &error,
                                        {.stdin_pipe = true, .max_line_bytes = strait::bench::kMaxWorkerLineBytes});
      if (!w_[k].child) return Fail(error);
      w_[k].last_line = Clock::now();
    }
    auto r = Loop();
    if (!r) {
      for (Worker& w : w_) w.child->Stop(kStopGrace);
      return r;
    }
    for (Worker& w : w_) w.child->WaitExit(Clock::now() + kStopGrace);
    return r;
  }

 private:
  Result<FleetResult, std::string> Loop() {
    const Clock::time_point ready_by = Clock::now() + o_.timeout;
    for (;;) {
      for (std::size_t k = 0; k < w_.size(); ++k) {
        if (auto e = Read(k); !e.empty()) return Fail(e);
      }
      if (Stopping() && !stop_passed_) {
        stop_passed_ = true;
        for (Worker& w : w_) w.child->Signal(SIGINT);
      }
      std::size_t ready = 0, up = 0, waiting = 0, done = 0;
      for (const Worker& w : w_) {
        ready += w.ready ? 1 : 0;
        up += w.up ? 1 : 0;
        waiting += w.waiting_drop ? 1 : 0;
        done += w.result ? 1 : 0;
      }
      if (done == w_.size()) break;
      const Clock::time_point now = Clock::now();
      if (!go_sent_) {
        if (ready == w_.size()) {
          Send("go\n");
          go_sent_ = true;
          start_ = now;
          next_progress_ = now + std::chrono::seconds(1);
        } else if (now > ready_by && !Stopping()) {
          return Fail(fmt::format("only {} of {} workers ready after {} s (--timeout)", ready, w_.size(),
                                  o_.timeout.count() / 1000));
        }
      }
      if (go_sent_ && !released_) {
        if (done > 0) {
          Release();  // one ended early: the others end too, and the run reports its error
        } else if (o_.mode != FleetMode::kStorm && up == w_.size()) {
          if (!hold_end_) {
            if (o_.on_all_up) o_.on_all_up();
            hold_end_ = Clock::now() + o_.hold;
          } else if (Clock::now() >= *hold_end_) {
            if (o_.mode == FleetMode::kHold && o_.on_hold_end) o_.on_hold_end();
            Release();
          }
        }
      }
      if (released_ && !dropped_sent_ && waiting > 0 && waiting + done == w_.size()) {
        if (o_.drop) o_.drop();
        Send("dropped\n");
        dropped_sent_ = true;
        for (Worker& w : w_) w.last_line = Clock::now();  // the restart's time was ours, not theirs
      }
      if (go_sent_ && now >= next_progress_) {
        Progress(now);
        next_progress_ += std::chrono::seconds(1);
      }
      std::this_thread::sleep_for(kPoll);
    }
    std::vector<FleetResult> parts;
    for (Worker& w : w_) parts.push_back(std::move(*w.result));
    return strait::bench::MergeFleetResults(parts);
  }

  // Takes worker k's new lines; "" or why the run fails.
  std::string Read(std::size_t k) {
    Worker& w = w_[k];
    while (auto line = w.child->NextLine(&w.cursor)) {
      w.last_line = Clock::now();
      auto ev = strait::bench::ParseWorkerEvent(*line);
      if (!ev) return fmt::format("worker {}: unreadable message ({})", k, ev.error());
      switch (ev->kind) {
        case WorkerEventKind::kReady: w.ready = true; break;
        case WorkerEventKind::kProgress: w.progress = std::move(ev->progress); break;
        case WorkerEventKind::kUp: w.up = true; break;
        case WorkerEventKind::kDrop: w.waiting_drop = true; break;
        case WorkerEventKind::kResult: w.result = std::move(ev->result); break;
        case WorkerEventKind::kError: return fmt::format("worker {}: {}", k, ev->message);
      }
    }
    if (w.result) return "";
    if (w.child->exited()) {
      return fmt::format("worker {} ended ({}) without a result: {}", k, w.child->StatusText(),
                         w.child->StderrTail(3));
    }
    if (Clock::now() - w.last_line > o_.timeout + kSilenceGrace) {
      return fmt::format("worker {} silent for {} s", k,
                         std::chrono::duration_cast<std::chrono::seconds>(o_.timeout + kSilenceGrace).count());
    }
    return "";
  }

  void Send(std::string_view command) {
    for (Worker& w : w_) {
      if (!w.result) (void)w.child->WriteStdin(command);
    }
  }

  void Release() {
    Send("release\n");
    released_ = true;
  }

  bool Stopping() const { return o_.stop != nullptr && o_.stop->load(std::memory_order_relaxed); }

  void Progress(Clock::time_point now) {
    if (!o_.on_progress) return;
    FleetProgress sum;
    sum.t = std::chrono::duration<double>(now - start_).count();
    sum.target = o_.devices;
    for (const Worker& w : w_) {
      sum.up += w.progress.up;
      sum.in_flight += w.progress.in_flight;
      sum.logins += w.progress.logins;
      sum.errors += w.progress.errors;
      sum.login_p99_ns = std::max(sum.login_p99_ns, w.progress.login_p99_ns);
      if (sum.phase.empty()) sum.phase = w.progress.phase;
    }
    sum.phase = fmt::format("{} ({} workers)", sum.phase.empty() ? "starting" : sum.phase, w_.size());
    o_.on_progress(sum);
  }

  const FleetOptions& o_;
  std::vector<Worker> w_;
  ScratchDir scratch_;
  bool go_sent_ = false;
  bool released_ = false;
  bool dropped_sent_ = false;
  bool stop_passed_ = false;
  std::optional<Clock::time_point> hold_end_;
  Clock::time_point start_;
  Clock::time_point next_progress_;
};

// ---- the worker ----

std::atomic<bool> g_go{false};
std::atomic<bool> g_release{false};
std::atomic<bool> g_dropped{false};

extern "C" void OnWorkerSignal(int /*sig*/) { demo::InterruptFlag().store(true); }

// The parent's commands, one a line; end-of-file (the parent is gone) or an unknown command stops the worker.
void ReadCommands() {
  std::string pending;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string cmd = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (cmd == "go") {
        g_go = true;
      } else if (cmd == "release") {
        g_release = true;
      } else if (cmd == "dropped") {
        g_dropped = true;
      } else {
        break;
      }
    }
    if (pending.size() > sizeof buf) break;
  }
  demo::InterruptFlag().store(true);
}

void Emit(const WorkerEvent& e) {
  fmt::print("{}\n", strait::bench::EncodeWorkerEvent(e));
  std::fflush(stdout);
}

int EmitError(const std::string& message) {
  Emit({.kind = WorkerEventKind::kError, .progress = {}, .result = {}, .message = message});
  return 1;
}

// Waits for `flag` (or the stop flag) for at most `limit`; whether it was set.
bool WaitFor(const std::atomic<bool>& flag, std::chrono::seconds limit) {
  const Clock::time_point until = Clock::now() + limit;
  while (!flag.load() && !demo::Interrupted() && Clock::now() < until) std::this_thread::sleep_for(kPoll);
  return flag.load();
}

}  // namespace

Result<FleetResult, std::string> RunFleetInWorkers(const FleetOptions& o, std::uint32_t workers, std::uint32_t first,
                                                   const WorkerTarget& target) {
  if (workers < 2 || workers > kMaxWorkers) return Fail(fmt::format("workers must be in 2..{}", kMaxWorkers));
  if (o.devices < workers) return Fail(fmt::format("{} devices cannot be spread over {} workers", o.devices, workers));
  Spread s(o, workers);
  return s.Run(first, target);
}

CLI::App* AddWorkerCommand(CLI::App& bench, WorkerArgs& a) {
  CLI::App* c = bench.add_subcommand("worker", "Internal: one worker process of a spread run (cli/bench/workers.h)");
  c->group("");  // hidden
  c->add_option("--mode", a.mode)->required()->check(CLI::IsMember({"hold", "storm", "reconnect"}));
  c->add_option("--relay", a.target.relay)->required();
  c->add_option("--deployment", a.target.deployment_dir);
  c->add_option("--identity", a.target.identity);
  c->add_option("--bundles", a.target.bundles);
  c->add_option("--first", a.first)->required();
  c->add_option("--count", a.count)->required()->check(CLI::Range(1u, kMaxLinksPerWorker));
  c->add_option("--source", a.sources);
  c->add_option("--parallel", a.parallel)->check(CLI::Range(1u, 4096u));
  c->add_option("--timeout", a.timeout)->check(CLI::Range(1u, 3600u));
  c->add_flag("--restart", a.restart);
  return c;
}

int RunWorker(const WorkerArgs& a) {
  struct sigaction sa {};
  sa.sa_handler = OnWorkerSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (a.target.deployment_dir.empty() == a.target.identity.empty()) {
    return EmitError("give one of --deployment or --identity");
  }
  const auto mode = ParseMode(a.mode);
  if (!mode) return EmitError(fmt::format("--mode {}: hold, storm or reconnect", a.mode));
  auto relay = runtime::ResolveSocketAddress(a.target.relay);
  if (!relay) return EmitError(fmt::format("--relay {}: {}", a.target.relay, relay.error().reason));
  FleetOptions o;
  for (const std::string& s : a.sources) {
    auto addr = runtime::ParseSocketAddress(s);
    if (!addr) return EmitError(fmt::format("--source {}: {}", s, addr.error().reason));
    o.sources.push_back(*addr);
  }
  std::unique_ptr<DeviceIssuer> issuer;
  DeviceBundles bundles;
  std::vector<link::LinkConfig> issued;
  std::span<const link::LinkConfig> devices;
  if (!a.target.deployment_dir.empty()) {
    auto i = DeviceIssuer::Open(a.target.deployment_dir);
    if (!i) return EmitError(i.error());
    issuer = std::move(*i);
    auto d = issuer->Issue(a.first, a.count);
    if (!d) return EmitError(d.error());
    issued = std::move(*d);
    devices = issued;
  } else {
    const std::string host = a.target.relay.substr(0, a.target.relay.rfind(':'));
    if (auto r = LoadDeviceBundles(a.target.identity, a.target.bundles, host, a.first, a.count, bundles); !r) {
      return EmitError(r.error());
    }
    devices = bundles.configs;
  }
  std::thread(ReadCommands).detach();
  Emit({.kind = WorkerEventKind::kReady, .progress = {}, .result = {}, .message = ""});
  const auto timeout = std::chrono::seconds(a.timeout);
  if (!WaitFor(g_go, timeout)) {
    if (!demo::Interrupted()) return EmitError(fmt::format("no \"go\" from the parent in {} s", a.timeout));
    FleetResult stopped;  // stopped before it started: nothing to report but that
    stopped.stopped = true;
    Emit({.kind = WorkerEventKind::kResult, .progress = {}, .result = std::move(stopped), .message = ""});
    return 0;
  }
  o.mode = *mode;
  o.relay = *relay;
  o.devices = a.count;
  o.parallel = a.parallel;
  o.timeout = timeout;
  o.stop = &demo::InterruptFlag();
  if (*mode != FleetMode::kStorm) o.release = &g_release;
  o.on_all_up = [] { Emit({.kind = WorkerEventKind::kUp, .progress = {}, .result = {}, .message = ""}); };
  if (a.restart) {
    o.drop = [timeout] {
      Emit({.kind = WorkerEventKind::kDrop, .progress = {}, .result = {}, .message = ""});
      (void)WaitFor(g_dropped, timeout);
    };
  }
  o.on_progress = [](const FleetProgress& p) {
    Emit({.kind = WorkerEventKind::kProgress, .progress = p, .result = {}, .message = ""});
  };
  auto r = strait::bench::RunFleet(o, devices);
  if (!r) return EmitError(r.error());
  Emit({.kind = WorkerEventKind::kResult, .progress = {}, .result = std::move(*r), .message = ""});
  return 0;
}

}  // namespace strait::cli::bench
