// Subscriber: a relay's or a connector's link to the control plane's snapshot and event stream
// (docs/control-plane.md §7.2). One thread per daemon, off the io_uring loops:
//
//   ┌──────────── connect (TLS 1.3, the bundle's CA) + Strait-Credential proof for this connection ───────────┐
//   │ no resume point: GET <snapshot>  → Handler::OnSnapshot(body) → as_of = the resume point                 │
//   │ GET <events>?after=<resume point> → 200 chunked NDJSON → EventReader → Handler::OnEvent, in id order     │
//   └──── the stream ends, breaks, goes silent for kReadTimeout, or a line is bad: backoff, then again ────────┘
//
// Answers and what follows (every one logged by the handler's OnStatus):
//   410 events-expired        forget the resume point: snapshot again, at once
//   401, 5xx, 429, I/O errors backoff (200 ms doubling to 30 s, +-20 %), then retry; the resume point is kept
//   403 <subject>-revoked     terminal: the subscriber stops, OnStatus(kRevoked); the daemon exits 1
//   403 other, 404            backoff (an operator may fix it: a suspended tenant, a relay not yet created)
// The handler may also ask for a fresh snapshot (kResync) or stop (kStop: relay.revoked of this relay).
//
// Credentials: the current credential is read under a mutex at each connect, so a renewal (SetCredential) applies
// from the next connection on; the live stream is not cut for it.
//
// Threads: Start() runs the loop on its own thread; Stop() [any] wakes it through an eventfd (poll in every wait)
// and joins. Handler callbacks run on the subscriber thread, one at a time, in order.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/event_line.h"
#include "tunnel/control/http_client.h"

namespace strait::control {

enum class SubscriberState : uint8_t {
  kFollowing,     // a snapshot is applied and the stream is open
  kDisconnected,  // a connection, snapshot or stream failed; retrying after `retry_in`
  kRevoked,       // 403 *-revoked: stopped for good
  kStopped,       // the handler said kStop
};
std::string_view SubscriberStateName(SubscriberState s);

struct SubscriberStatus {
  SubscriberState state = SubscriberState::kDisconnected;
  std::string reason;                  // why (the error or problem), for the log line
  std::chrono::milliseconds retry_in{0};
  uint64_t resume_point = 0;
};

class SubscriberHandler {
 public:
  virtual ~SubscriberHandler() = default;
  // The snapshot's body (at most wire::kMaxSnapshotBytes): decode it, apply it whole, and return its as_of, or a
  // reason it was refused (the subscriber backs off and fetches it again).
  virtual Result<uint64_t, std::string> OnSnapshot(std::string_view body) = 0;
  // One event, heartbeats included, in id order.
  virtual SubscriberVerdict OnEvent(const Event& event) = 0;
  // A state change (log it; the subscriber itself writes nothing).
  virtual void OnStatus(const SubscriberStatus& status) = 0;
};

struct SubscriberOptions {
  std::string url;              // the control plane's https://HOST[:PORT] (control.json)
  std::string ca_pem;           // trust anchors for its certificate
  std::string snapshot_target;  // "/v1/relays/relay-1/snapshot"
  std::string events_target;    // "/v1/relays/relay-1/events" (the subscriber adds ?after=ID)
  crypto::Role role = crypto::Role::kRelay;
  std::chrono::milliseconds connect_timeout{30'000};  // connect + handshake + one answer's header
  std::chrono::milliseconds read_timeout = wire::kReadTimeout;  // silence on the stream before reconnecting
  std::chrono::milliseconds backoff_initial = wire::kBackoffInitial;
  std::chrono::milliseconds backoff_max = wire::kBackoffMax;
};

// Counters (any thread; for metrics and tests).
struct SubscriberCounters {
  uint64_t connects = 0;    // TLS connections made
  uint64_t snapshots = 0;   // snapshots applied
  uint64_t events = 0;      // events applied (heartbeats excluded)
  uint64_t heartbeats = 0;
  uint64_t failures = 0;    // connections, snapshots or streams that failed (each followed by a backoff)
  uint64_t bad_lines = 0;   // lines that did not decode or were too long or out of order
  uint64_t resume_point = 0;
};

class Subscriber {
 public:
  // `credential` is the raw credential (crypto::IdentityBundle::credential), `key` its signing key.
  static Result<std::unique_ptr<Subscriber>, std::string> Create(SubscriberOptions options,
                                                                 std::vector<uint8_t> credential,
                                                                 crypto::Ed25519KeyPair key,
                                                                 SubscriberHandler* handler);
  ~Subscriber();  // Stop()s
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void Start();
  // [any] Wakes and joins the thread (a blocked connect or read returns at once). Idempotent.
  void Stop();
  // [any] A renewed credential, used from the next connection on.
  void SetCredential(std::vector<uint8_t> credential, crypto::Ed25519KeyPair key);
  // [any] Counters so far.
  SubscriberCounters counters() const;
  // True once the loop ended for good (revoked or kStop), not by Stop().
  bool finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  Subscriber(SubscriberOptions options, HttpsUrl url, std::vector<uint8_t> credential, crypto::Ed25519KeyPair key,
             SubscriberHandler* handler, int wake_fd);
  enum class Outcome : uint8_t {
    kOk,             // a snapshot was applied
    kRetry,          // after a backoff (reset when the attempt made progress)
    kSnapshotAgain,  // forget the resume point
    kEnd,            // stopped, revoked or kStop
  };
  void Run();
  // One connection that answers `target`; the Authorization header is made for that connection.
  Result<HttpsConnection, HttpResultError> Connect();
  Result<HttpResponse, HttpResultError> Send(HttpsConnection& conn, const std::string& target, bool stream);
  Outcome TakeSnapshot(std::string* why);
  Outcome Follow(std::string* why);
  // A non-200 answer: what to do next, and why (the problem's name and detail).
  Outcome OnProblem(const HttpResponse& resp, std::string* why);
  bool Sleep(std::chrono::milliseconds d);  // false when stopped
  void Status(SubscriberState s, std::string reason, std::chrono::milliseconds retry_in = {});

  // Immutable after construction.
  const SubscriberOptions options_;
  const HttpsUrl url_;
  SubscriberHandler* const handler_;
  const int wake_fd_;  // eventfd: Stop() writes it
  // Guarded by mu_.
  mutable std::mutex mu_;
  std::vector<uint8_t> credential_;
  crypto::Ed25519KeyPair key_;
  SubscriberCounters counters_;
  // Subscriber thread only.
  EventReader reader_;
  bool have_snapshot_ = false;
  bool progressed_ = false;  // this attempt read something from an open stream
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
};

// The Authorization header value for a machine credential on `conn` (docs/control-plane.md §3):
// "Strait-Credential cred=<base64>, proof=<base64 Ed25519 over wire::ControlProofMessage(role, exporter)>".
Result<std::string, HttpResultError> MachineAuthorization(const HttpsConnection& conn, crypto::Role role,
                                                          std::span<const uint8_t> credential,
                                                          const crypto::Ed25519KeyPair& key);

}  // namespace strait::control
