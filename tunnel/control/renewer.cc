#include "tunnel/control/renewer.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <utility>

#include <sodium.h>

#include "tunnel/control/bundle.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

// Uniform in -1..1 (libsodium's generator: no state of ours to seed or share between threads).
double DrawJitter() { return (static_cast<double>(randombytes_uniform(2001)) - 1000.0) / 1000.0; }

}  // namespace

int64_t JitteredRenewAt(const RenewTimes& t, double jitter) {
  jitter = std::clamp(jitter, -1.0, 1.0);
  // renew_after is two thirds into the life, so the time before it is twice the time after it.
  const int64_t before = 2 * std::max<int64_t>(0, t.not_after - t.renew_after);
  const auto shift = static_cast<int64_t>(std::llround(jitter * static_cast<double>(before) *
                                                       wire::kRenewJitterPercent / 100.0));
  return std::min(t.renew_after + shift, t.not_after - 1);
}

std::chrono::seconds RenewBackoff(unsigned failures) {
  if (failures == 0) return std::chrono::seconds(0);
  std::chrono::seconds d = wire::kRenewBackoffInitial;
  for (unsigned i = 1; i < failures && d < wire::kRenewBackoffMax; ++i) d *= 2;
  return std::min(d, std::chrono::duration_cast<std::chrono::seconds>(wire::kRenewBackoffMax));
}

int64_t NextRenewal(const RenewTimes& t, int64_t now, unsigned failures, double jitter) {
  if (failures == 0) return std::max(now, JitteredRenewAt(t, jitter));
  const std::chrono::seconds wait = now < t.not_after ? RenewBackoff(failures) : wire::kRenewBackoffMax;
  return now + wait.count();
}

Renewer::Renewer(RenewerOptions options, Callback callback)
    : options_(std::move(options)), callback_(std::move(callback)) {}

Renewer::~Renewer() { Stop(); }

int64_t Renewer::Now() const {
  return options_.now ? options_.now() : static_cast<int64_t>(std::time(nullptr));
}

Result<void, std::string> Renewer::Start() {
  if (thread_.joinable()) return Fail(std::string("the renewer is already started"));
  auto control = ReadControlFile(options_.dir);
  if (!control) return Fail(control.error().reason);
  if (!*control) return Fail(options_.dir + ": no control.json: not enrolled with strait-control");
  const RenewTimes times{static_cast<int64_t>((*control)->renew_after), static_cast<int64_t>((*control)->not_after)};
  thread_ = std::thread([this, times] { Run(times); });
  return {};
}

void Renewer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Renewer::SleepUntil(int64_t at) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stop_) return false;
    const int64_t now = Now();
    if (now >= at) return true;
    // In steps of at most kMaxRenewerSleep against the steady clock, re-reading the wall clock after each, so a
    // clock step or a suspend moves the deadline as it should.
    const auto step = std::min<std::chrono::seconds>(std::chrono::seconds(at - now), kMaxRenewerSleep);
    cv_.wait_for(lock, step, [this] { return stop_; });
  }
}

void Renewer::Run(RenewTimes times) {
  unsigned failures = 0;
  int64_t at = NextRenewal(times, Now(), failures, DrawJitter());
  while (SleepUntil(at)) {
    auto renewed = RenewOnce(options_.dir, static_cast<uint64_t>(Now()), options_.renew);
    RenewOutcome out;
    if (renewed) {
      failures = 0;
      times = RenewTimes{static_cast<int64_t>(renewed->renew_after), static_cast<int64_t>(renewed->not_after)};
      out.status = RenewStatus::kRenewed;
      out.renewed = std::move(*renewed);
    } else {
      out.failure = renewed.error();
      const bool fatal =
          out.failure.code == RenewError::kRevoked || out.failure.code == RenewError::kRejected;
      out.status = fatal ? RenewStatus::kFatal : RenewStatus::kFailed;
      ++failures;
    }
    if (out.status != RenewStatus::kFatal) {
      at = NextRenewal(times, Now(), failures, DrawJitter());
      out.next_attempt = at;
    }
    callback_(out);
    if (out.status == RenewStatus::kFatal) return;
  }
}

}  // namespace strait::control
