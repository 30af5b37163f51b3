#include "bench/suite/load/device_fleet.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "runtime/event_loop.h"

namespace strait::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{50};
constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
constexpr std::uint64_t kRetryBaseNs = 100'000'000;    // a failed dial is retried after 100 ms ..
constexpr std::uint64_t kRetryJitterNs = 100'000'000;  // .. plus up to 100 ms, so retries do not march in step

std::uint64_t NowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

enum class Phase : std::uint8_t { kLogin, kHolding, kRecovering, kDone };

const char* PhaseName(Phase p, FleetMode mode) {
  switch (p) {
    case Phase::kLogin: return mode == FleetMode::kStorm ? "login storm" : "logging in";
    case Phase::kHolding: return "holding";
    case Phase::kRecovering: return "dropped: reconnecting";
    case Phase::kDone: return "done";
  }
  return "";
}

class Fleet;

// One simulated device: its link handler and its state.
struct Device final : link::LinkHandler {
  Fleet* fleet = nullptr;
  std::uint32_t index = 0;
  std::unique_ptr<link::TlsLink> link;
  std::uint64_t dial_ns = 0;
  bool up = false;
  bool down_since_drop = false;  // kReconnect: its link went down after the drop
  bool recovered = false;        // kReconnect: up again after going down

  void OnLinkUp(link::TlsLink& l, const link::LinkIdentity& id) override;
  void OnFrame(link::TlsLink& /*l*/, const link::Frame& /*frame*/) override {}
  void OnLinkDown(link::TlsLink& l, const link::LinkDown& down) override;
};

class Fleet final : public runtime::TimerHandler {
 public:
  Fleet(runtime::EventLoop& loop, const FleetOptions& o, std::span<const link::LinkConfig> configs)
      : loop_(loop), o_(o), configs_(configs), devices_(o.devices), rng_(std::random_device{}()) {
    for (std::uint32_t i = 0; i < o.devices; ++i) {
      devices_[i].fleet = this;
      devices_[i].index = i;
    }
    max_dials_ = std::uint64_t{o.devices} * (o.mode == FleetMode::kReconnect ? 50 : o.mode == FleetMode::kHold ? 3 : 1);
  }

  FleetResult Run() {
    start_ns_ = NowNs();
    next_sample_ns_ = start_ns_ + kNsPerSecond;
    phase_deadline_ns_ = start_ns_ + Ns(o_.timeout);
    for (std::uint32_t i = 0; i < o_.devices; ++i) queue_.push(i);
    Pump();
    loop_.AddTimer(kTick, this, 0);
    loop_.Run();
    Sample(NowNs(), /*final=*/true);
    r_.peak_up = peak_up_;
    return std::move(r_);
  }

  void LinkUp(Device& d, link::TlsLink& l) {
    const std::uint64_t now = NowNs();
    --in_flight_;
    ++r_.logins;
    r_.login_ns.Record(now - d.dial_ns);
    if (r_.cipher.empty()) ReadNegotiated(l);
    if (o_.mode == FleetMode::kStorm) {
      ++done_;
      l.Abort();  // its OnLinkDown follows; the login is what was measured
      if (done_ == o_.devices) Finish(now, /*complete=*/true);
      Pump();
      return;
    }
    d.up = true;
    ++up_;
    peak_up_ = std::max(peak_up_, up_);
    if (phase_ == Phase::kRecovering && d.down_since_drop && !d.recovered) {
      d.recovered = true;
      ++recovered_;
      r_.recover_ns.Record(now - drop_ns_);
      if (recovered_ == o_.devices) Finish(now, /*complete=*/true);
      return;
    }
    if (phase_ == Phase::kLogin && up_ == o_.devices) AllUp(now);
  }

  void LinkDown(Device& d, const link::LinkDown& down) {
    dead_.push_back(std::move(d.link));  // destroyed at the next tick, outside its own callback
    if (d.up) {
      d.up = false;
      --up_;
    } else if (!down.was_up) {  // (a storm's link was up, aborted after its login: counted out in LinkUp)
      --in_flight_;
    }
    if (loop_.stopping() || phase_ == Phase::kDone) return;
    const std::uint64_t now = NowNs();
    if (o_.mode == FleetMode::kStorm) {
      if (down.was_up) return;  // the abort after its login
      Failed(down);
      ++done_;
      if (done_ == o_.devices) Finish(now, /*complete=*/true);
      Pump();
      return;
    }
    if (down.was_up && phase_ == Phase::kRecovering) {
      d.down_since_drop = true;  // the drop: dial again at once, as a real device does
      queue_.push(d.index);
      Pump();
      return;
    }
    Failed(down);
    if (down.was_up) {
      queue_.push(d.index);  // went down unasked: back at once
    } else {
      retries_.push({now + kRetryBaseNs + rng_() % kRetryJitterNs, d.index});
    }
    if (phase_ == Phase::kRecovering && !d.down_since_drop) d.down_since_drop = true;
    Pump();
  }

  void OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    const std::uint64_t now = NowNs();
    dead_.clear();
    if (phase_ == Phase::kDone) return;
    if (o_.stop != nullptr && o_.stop->load(std::memory_order_relaxed)) {
      r_.stopped = true;
      Finish(now, /*complete=*/false);
      return;
    }
    while (!retries_.empty() && retries_.top().first <= now) {
      queue_.push(retries_.top().second);
      retries_.pop();
    }
    if (phase_ == Phase::kHolding && HoldOver(now)) {
      if (o_.mode == FleetMode::kHold) {
        if (o_.on_hold_end) o_.on_hold_end();
        Finish(now, /*complete=*/true);
        return;
      }
      Drop(now);
    } else if (phase_ != Phase::kHolding && now >= phase_deadline_ns_) {
      r_.last_error = fmt::format("{} after {} ms (--timeout); last error: {}", Short(), o_.timeout.count(),
                                  r_.last_error.empty() ? "none" : r_.last_error);
      Finish(now, /*complete=*/false);
      return;
    }
    Pump();
    if (Stuck()) {
      r_.last_error = fmt::format("{} after {} dials; last error: {}", Short(), r_.dials,
                                  r_.last_error.empty() ? "none" : r_.last_error);
      Finish(now, /*complete=*/false);
      return;
    }
    Sample(now, /*final=*/false);
    loop.AddTimer(kTick, this, 0);
  }

 private:
  static std::uint64_t Ns(std::chrono::milliseconds d) { return static_cast<std::uint64_t>(d.count()) * 1'000'000; }

  bool HoldOver(std::uint64_t now) const {
    return o_.release != nullptr ? o_.release->load(std::memory_order_acquire) : now >= hold_end_ns_;
  }

  void Failed(const link::LinkDown& down) {
    ++r_.errors;
    ++errors_since_sample_;
    r_.last_error = fmt::format("{} (code {}): {}", link::DownReasonName(down.reason), down.code, down.message);
  }

  void Pump() {
    while (phase_ != Phase::kDone && in_flight_ < o_.parallel && !queue_.empty() && r_.dials < max_dials_) {
      const std::uint32_t i = queue_.front();
      queue_.pop();
      Dial(devices_[i]);
    }
  }

  void Dial(Device& d) {
    ++r_.dials;
    d.link = std::make_unique<link::TlsLink>(loop_, shared_, configs_[d.index % configs_.size()], d);
    const runtime::SocketAddress* source =
        o_.sources.empty() ? nullptr : &o_.sources[d.index % o_.sources.size()];
    d.dial_ns = NowNs();
    if (!d.link->Connect(o_.relay, source)) {
      d.link.reset();
      ++r_.errors;
      ++errors_since_sample_;
      r_.last_error = "no free connection slot, or socket() or bind() failed";
      if (o_.mode == FleetMode::kStorm) {
        if (++done_ == o_.devices) Finish(NowNs(), /*complete=*/true);
      } else {
        retries_.push({NowNs() + kRetryBaseNs + rng_() % kRetryJitterNs, d.index});
      }
      return;
    }
    ++in_flight_;
  }

  void AllUp(std::uint64_t now) {
    r_.window_s = static_cast<double>(now - start_ns_) / 1e9;
    if (o_.on_all_up) o_.on_all_up();
    phase_ = Phase::kHolding;
    hold_end_ns_ = NowNs() + Ns(o_.hold);
  }

  void Drop(std::uint64_t now) {
    drop_ns_ = now;
    phase_ = Phase::kRecovering;
    phase_deadline_ns_ = now + Ns(o_.timeout);
    // A device whose link is not up at the drop (it went down while held and is dialling again) is already
    // dropped: it recovers when it comes up.
    for (Device& d : devices_) d.down_since_drop = !d.up || !o_.drop;
    if (o_.drop) {
      o_.drop();  // the links go down by themselves (LinkDown marks them)
      return;
    }
    for (Device& d : devices_) {
      if (d.link) d.link->Abort();
    }
  }

  void Finish(std::uint64_t now, bool complete) {
    if (phase_ == Phase::kDone) return;
    if (complete) {
      r_.complete = true;
      if (o_.mode == FleetMode::kStorm) r_.window_s = static_cast<double>(now - start_ns_) / 1e9;
      if (o_.mode == FleetMode::kReconnect) r_.window_s = static_cast<double>(now - drop_ns_) / 1e9;
    }
    phase_ = Phase::kDone;
    loop_.RequestStop();
  }

  // Every dial spent and nothing in flight or waiting: waiting for the deadline would only hide the failure.
  bool Stuck() const {
    return phase_ != Phase::kHolding && r_.dials >= max_dials_ && in_flight_ == 0 && o_.mode != FleetMode::kStorm;
  }

  std::string Short() const {
    switch (phase_) {
      case Phase::kRecovering:
        return fmt::format("only {} of {} devices back", recovered_, o_.devices);
      case Phase::kLogin:
        if (o_.mode == FleetMode::kStorm) return fmt::format("only {} of {} logins done", done_, o_.devices);
        return fmt::format("only {} of {} links up", up_, o_.devices);
      default:
        return "stopped";
    }
  }

  void ReadNegotiated(link::TlsLink& l) {
    const crypto::TlsSession* s = l.session();
    if (s == nullptr || s->native_handle() == nullptr) return;
    SSL* ssl = s->native_handle();
    r_.tls_version = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) r_.cipher = SSL_CIPHER_standard_name(c);
  }

  void Sample(std::uint64_t now, bool final) {
    if (!final && now < next_sample_ns_) return;
    const double t = static_cast<double>(now - start_ns_) / 1e9;
    if (r_.timeline.size() < kMaxTimelineSamples && (r_.timeline.empty() || t > r_.timeline.back().t)) {
      r_.timeline.push_back({.t = t, .ops = r_.logins - logins_at_sample_, .bytes = 0,
                             .errors = errors_since_sample_});
    }
    logins_at_sample_ = r_.logins;
    errors_since_sample_ = 0;
    next_sample_ns_ += kNsPerSecond;
    if (!final && o_.on_progress) {
      o_.on_progress({.t = t, .target = o_.devices, .up = up_, .in_flight = in_flight_, .logins = r_.logins,
                      .errors = r_.errors, .login_p99_ns = r_.login_ns.Percentile(0.99),
                      .phase = PhaseName(phase_, o_.mode)});
    }
  }

  runtime::EventLoop& loop_;
  const FleetOptions& o_;
  std::span<const link::LinkConfig> configs_;
  link::LinkLoopState shared_;
  std::vector<Device> devices_;
  std::vector<std::unique_ptr<link::TlsLink>> dead_;
  std::queue<std::uint32_t> queue_;  // devices to dial, in order
  using Retry = std::pair<std::uint64_t, std::uint32_t>;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries_;  // (due, device)
  std::minstd_rand rng_;
  Phase phase_ = Phase::kLogin;
  std::uint64_t start_ns_ = 0;
  std::uint64_t phase_deadline_ns_ = 0;
  std::uint64_t hold_end_ns_ = 0;
  std::uint64_t drop_ns_ = 0;
  std::uint64_t next_sample_ns_ = 0;
  std::uint64_t logins_at_sample_ = 0;
  std::uint64_t errors_since_sample_ = 0;
  std::uint64_t max_dials_ = 0;
  std::uint32_t in_flight_ = 0;
  std::uint32_t up_ = 0;
  std::uint32_t peak_up_ = 0;
  std::uint32_t done_ = 0;       // kStorm: logins ended (up or failed)
  std::uint32_t recovered_ = 0;  // kReconnect
  FleetResult r_;
};

void Device::OnLinkUp(link::TlsLink& l, const link::LinkIdentity& /*id*/) { fleet->LinkUp(*this, l); }
void Device::OnLinkDown(link::TlsLink& /*l*/, const link::LinkDown& down) { fleet->LinkDown(*this, down); }

}  // namespace

Result<FleetResult, std::string> RunFleet(const FleetOptions& o, std::span<const link::LinkConfig> devices) {
  if (devices.empty()) return Fail(std::string("no device credential to log in with"));
  if (o.devices == 0) return Fail(std::string("devices must be at least 1"));
  if (o.parallel == 0) return Fail(std::string("parallel must be at least 1"));
  for (const link::LinkConfig& c : devices) {
    if (c.tls == nullptr || c.tls->is_server()) return Fail(std::string("a device needs a client TLS context"));
  }
  const std::uint32_t links =
      o.mode == FleetMode::kStorm ? std::min(o.devices, o.parallel + 1024) : o.devices;
  runtime::LoopOptions lo;
  lo.max_connections = links + 64;
  lo.max_timers = links + 64;
  lo.recv_buffer_count = 1024;
  lo.plain_buffer_count = 2048;
  auto loop = runtime::EventLoop::Create(lo);
  if (!loop) return Fail(fmt::format("event loop: {}", loop.error().reason));
  Fleet fleet(**loop, o, devices);
  return fleet.Run();
}

}  // namespace strait::bench
