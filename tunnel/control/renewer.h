// The renewer (docs/control-plane.md §6.5): a thread per daemon that renews its credential before it expires.
//
//   schedule   renew_after (control.json) +- kRenewJitterPercent of the time from not_before to renew_after
//              (two thirds of the life: 2 x (not_after - renew_after)), so a fleet enrolled together spreads out
//   renew      RenewOnce(dir) (renew.h): files replaced atomically, then the callback with the new credential
//   retry      after a failure: kRenewBackoffInitial doubling up to kRenewBackoffMax, while the credential is
//              valid; past not_after (a machine that slept through its expiry) every kRenewBackoffMax, for the
//              control plane to accept within its grace period or refuse
//   final      403 *-revoked, or 401 (not accepted: expired past the grace period, superseded, unknown): the
//              callback with a fatal outcome, and the thread ends. The daemon logs it and exits 1.
//
// The schedule is a pure function (NextRenewal: times in, time out) so it is tested without sleeping; the thread
// only sleeps, calls RenewOnce and the callback.
//
// What a daemon does: construct a Renewer with its identity directory and a callback, Start() it after the
// identity loaded, Stop() (or destroy it) before exiting. The callback runs on the renewer's thread: it posts the
// new credential to the daemon's loop (the device and the connector log in with it on their next link; the relay
// uses it for new HELLO_ACKs and reloads tls.crt), and on a fatal outcome asks the daemon to stop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "crypto/result.h"
#include "tunnel/control/renew.h"

namespace strait::control {

// --- The schedule (pure) ---

struct RenewTimes {
  int64_t renew_after = 0;  // unix seconds, from control.json
  int64_t not_after = 0;
};

// When the first attempt for `times` is due: renew_after moved by `jitter` (-1..1) times kRenewJitterPercent of
// 2 x (not_after - renew_after), never past not_after - 1 s.
int64_t JitteredRenewAt(const RenewTimes& times, double jitter);

// The wait after `failures` (>= 1) failed attempts in a row: kRenewBackoffInitial x 2^(failures-1), at most
// kRenewBackoffMax.
std::chrono::seconds RenewBackoff(unsigned failures);

// When to try next: with no failure yet, JitteredRenewAt (at once if that has passed); after failures, `now` plus
// the backoff while before not_after, else `now` plus kRenewBackoffMax.
int64_t NextRenewal(const RenewTimes& times, int64_t now, unsigned failures, double jitter);

// --- The thread ---

enum class RenewStatus : uint8_t {
  kRenewed,  // the files hold a new credential: `renewed`
  kFailed,   // this attempt failed; the renewer tries again (`failure` says why, for the log)
  kFatal,    // revoked, or the credential is no longer accepted: the renewer has stopped (`failure`)
};

struct RenewOutcome {
  RenewStatus status = RenewStatus::kRenewed;
  Renewed renewed;       // kRenewed
  RenewFailure failure;  // kFailed, kFatal
  int64_t next_attempt = 0;  // kRenewed, kFailed: unix seconds of the next attempt
};

struct RenewerOptions {
  std::string dir;  // the identity directory (with control.json)
  RenewOptions renew;
  // The wall clock (unix seconds); tests pass their own. Sleeps are bounded by kMaxRenewerSleep, so a clock that
  // jumps (or a machine that was suspended) is noticed within that.
  std::function<int64_t()> now;
};
inline constexpr std::chrono::seconds kMaxRenewerSleep{60};

class Renewer {
 public:
  // `callback` runs on the renewer's thread, never concurrently with itself.
  using Callback = std::function<void(const RenewOutcome&)>;
  Renewer(RenewerOptions options, Callback callback);
  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;
  ~Renewer();  // Stop()

  // Reads control.json for the first schedule and starts the thread. Fails (the reason) when the directory has no
  // control.json or it does not decode. Once.
  Result<void, std::string> Start();
  // Wakes the thread and joins it: returns within a moment when it sleeps, or after the exchange in progress
  // (bounded by options.renew.timeout). Idempotent.
  void Stop();

 private:
  void Run(RenewTimes times);
  // Sleeps until `at` (wall clock) or Stop(); false when stopped.
  bool SleepUntil(int64_t at);
  int64_t Now() const;

  // Immutable after construction.
  const RenewerOptions options_;
  const Callback callback_;

  // Guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;

  std::thread thread_;  // Start() and Stop() only (the owner's thread)
};

}  // namespace strait::control
