// Dialer: keeps one client link to one address up, for daemons that dial out (a connector to its relays, a device
// to a relay or to a connector's Direct Connect listener). It connects, runs the TlsLink as client (TLS + HELLO),
// and when the link drops (or never comes up) dials again after an exponential backoff with jitter:
//
//   delay(n) = clamp(min_backoff · 2^n, min_backoff, max_backoff) · (1 − jitter · u),  u uniform in [0, 1),
//   n = consecutive failures since the link was last up (a link that was up redials after delay(0)).
//
// Addresses are numeric IP literals (runtime::ParseSocketAddress); name resolution is the caller's job for now
// (a resolver would feed a fresh address to SetAddress before each dial).
//
// The owner's LinkHandler sees every link the dialer makes: OnLinkUp, OnFrame, OnLinkDown (after which the
// dialer destroys that link and schedules the next dial), OnSendQueueHigh/Low. The owner must not destroy links
// it gets from a dialer. Threading: [loop] for every function, like TlsLink. Lifetime: destroy the Dialer after
// its loop's Run() returned, or after Stop() and the final OnLinkDown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "runtime/event_loop.h"
#include "tunnel/link/tls_link.h"

namespace strait::link {

struct DialerOptions {
  runtime::SocketAddress address;  // numeric; see above
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  double jitter = 0.2;  // in [0, 1]: each delay is cut by up to this fraction, spreading reconnect storms
};

// The backoff formula above, sans-I/O (u in [0, 1)). Never below min_backoff · (1 − jitter), never above
// max_backoff.
std::chrono::milliseconds BackoffDelay(const DialerOptions& options, std::uint32_t failures, double u);

// What a dialing daemon (connector, device) logs about one target's failed logins, rate-limited so that a long
// outage cannot fill a disk. Sans-I/O: the caller passes the time and writes the lines.
//   - the first failure after a success (or start) is logged at once;
//   - later ones at most one line per `interval`, each line saying how many failed since the last line;
//   - the first success after failures is one line with how many failed in all.
// A daemon logging every failure of a relay that is down for a day at max_backoff 30 s writes ~2,900 lines; with
// this, at interval 60 s, ~1,440 (and never more than one a minute, whatever the backoff).
class LoginFailureLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginFailureLog(std::chrono::milliseconds interval = std::chrono::seconds(60)) : interval_(interval) {}

  // A dial ended before the login succeeded. Returns how many failures the line due now reports (this one and the
  // ones not logged since the last line), or 0 if no line is due.
  std::uint64_t OnFailure(Clock::time_point now);
  // The link logged in. Returns how many dials failed since the last success (0: nothing to log).
  std::uint64_t OnLoggedIn();

  std::uint64_t failures() const { return failures_; }  // since the last success

 private:
  std::chrono::milliseconds interval_;
  std::uint64_t failures_ = 0;
  std::uint64_t unlogged_ = 0;
  std::optional<Clock::time_point> last_line_;
};

// One line's worth of a LinkDown: "tls_error (CERTIFICATE_VERIFY_FAILED)", "peer_error code=unauthorized (...)",
// "connect_failed (Connection refused)". Bytes outside printable ASCII in the message become '?'.
std::string DescribeLinkDown(const LinkDown& down);

class Dialer final : private LinkHandler, private runtime::TimerHandler {
 public:
  // [loop] Nothing happens until Start(). All references must outlive the dialer.
  Dialer(runtime::EventLoop& loop, LinkLoopState& shared, const LinkConfig& config, DialerOptions options,
         LinkHandler& owner);
  ~Dialer() override;
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  // [loop] Dials now (no-op if a link exists or a dial is scheduled).
  void Start();
  // [loop] No more dials; aborts the current link (its OnLinkDown still reaches the owner).
  void Stop();
  // [loop] The address for the next dial.
  void SetAddress(const runtime::SocketAddress& address) { options_.address = address; }

  // [loop] The current link (connecting, logging in or up), or nullptr between dials.
  TlsLink* link() { return link_.get(); }
  bool up() const { return link_ && link_->state() == LinkState::kUp; }
  std::uint64_t dials() const { return dials_; }
  std::uint32_t failures() const { return failures_; }
  std::chrono::milliseconds last_delay() const { return last_delay_; }

 private:
  void Dial();
  void ScheduleDial();
  // LinkHandler (forwarded to the owner)
  std::optional<LoginRefusal> AdmitServer(TlsLink& link, const RelayLogin& server) override;
  void OnLinkUp(TlsLink& link, const LinkIdentity& identity) override;
  void OnFrame(TlsLink& link, const Frame& frame) override;
  void OnLinkDown(TlsLink& link, const LinkDown& down) override;
  void OnSendQueueHigh(TlsLink& link) override;
  void OnSendQueueLow(TlsLink& link) override;
  // TimerHandler
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;

  // Immutable after construction.
  runtime::EventLoop* const loop_;
  LinkLoopState* const shared_;
  const LinkConfig* const config_;
  LinkHandler* const owner_;

  // Loop thread only.
  DialerOptions options_;
  std::unique_ptr<TlsLink> link_;
  runtime::TimerId timer_;
  bool running_ = false;
  std::uint32_t failures_ = 0;
  std::uint64_t dials_ = 0;
  std::chrono::milliseconds last_delay_{0};
  std::minstd_rand rng_;
};

}  // namespace strait::link
