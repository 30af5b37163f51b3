// LinkTimers: the deadlines of one link (docs/link.md "Timers"), without I/O and without a clock of its own: every
// call that needs the time takes `now`, nanoseconds on one monotonic clock. TlsLink tells it what happened (start,
// ClientHello seen, up, bytes received and sent, a refused flush, the peer credential's deadline), arms its one loop
// timer for NextDeadline(), and when the timer fires asks Due(now) what to do, does it, and asks again until kNone.
// Tests drive it with a manual clock (tests/link/link_timers_test.cc).
//
//   Start ─▶ login: client_hello (server, until HelloSeen) · handshake ─▶ Up ─▶ up: flush retry · credential ·
//   idle · keepalive ─▶ Stop (no deadline)
//
// Thread-safety: none; one link's loop thread.
#pragma once

#include <cstdint>
#include <limits>

namespace strait::link {

class LinkTimers {
 public:
  // What is due, most urgent first when several are (the order Due() checks them in).
  enum class Action : std::uint8_t {
    kNone,
    kHelloTimeout,      // server: no complete ClientHello within client_hello: close without a word
    kHandshakeTimeout,  // TLS + login not done within handshake: ERROR handshake_timeout
    kFlushRetry,        // a flush the loop refused for lack of buffers: retry (then FlushRetried)
    kCredentialCheck,   // the peer credential's deadline: check it on the credential clock (then
                        // SetCredentialDeadline again, or close)
    kIdleTimeout,       // nothing received for the idle timeout: ERROR idle_timeout
    kPing,              // nothing sent for the keepalive interval: send PING (then Sent)
  };
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  // Limits in nanoseconds; 0 turns one off (flush_retry: retry at once).
  struct Limits {
    std::int64_t handshake = 0;
    std::int64_t client_hello = 0;
    std::int64_t flush_retry = 0;
  };
  explicit LinkTimers(const Limits& limits) : limits_(limits) {}

  // Accept (server: hello_seen false) or Connect (client: true). The login deadlines run from `now`.
  void Start(std::int64_t now, bool hello_seen) {
    phase_ = Phase::kLogin;
    started_ = last_rx_ = last_tx_ = now;
    hello_seen_ = hello_seen;
  }
  // The server answered a complete ClientHello: only the handshake deadline is left.
  void HelloSeen() { hello_seen_ = true; }
  bool hello_seen() const { return hello_seen_; }
  // Logged in. keepalive_ms / idle_ms: 0 = off.
  void Up(std::uint32_t keepalive_ms, std::uint32_t idle_ms) {
    phase_ = Phase::kUp;
    keepalive_ = std::int64_t{keepalive_ms} * kMs;
    idle_ = std::int64_t{idle_ms} * kMs;
  }
  // Closing or down: nothing is due any more.
  void Stop() { phase_ = Phase::kStopped; }

  void Received(std::int64_t now) { last_rx_ = now; }
  // Also for a PING the loop refused: it counts as activity, so the timer does not spin while the queue drains.
  void Sent(std::int64_t now) {
    if (now > last_tx_) last_tx_ = now;
  }
  // The loop refused a flush for lack of buffers and no callback will come: retry flush_retry from `now` (once up).
  void FlushRefused(std::int64_t now) { flush_retry_at_ = now + limits_.flush_retry; }
  void FlushRetried() { flush_retry_at_ = kNever; }
  // Up: when the peer credential must be checked again; kNever = no credential deadline.
  void SetCredentialDeadline(std::int64_t at) { credential_at_ = at; }

  // The earliest deadline; kNever if none.
  std::int64_t NextDeadline() const;
  // What is due at `now` (kNone if nothing yet).
  Action Due(std::int64_t now) const;

 private:
  enum class Phase : std::uint8_t { kIdle, kLogin, kUp, kStopped };
  static constexpr std::int64_t kMs = 1'000'000;

  const Limits limits_;
  Phase phase_ = Phase::kIdle;
  bool hello_seen_ = false;
  std::int64_t started_ = 0;
  std::int64_t last_rx_ = 0;
  std::int64_t last_tx_ = 0;
  std::int64_t keepalive_ = 0;
  std::int64_t idle_ = 0;
  std::int64_t flush_retry_at_ = kNever;
  std::int64_t credential_at_ = kNever;
};

}  // namespace strait::link
