// Relay metrics: the counters the shards publish (once per RelayOptions::metrics_interval, never per frame), their
// Prometheus text, and the endpoint that serves the latest snapshot (metrics::HttpEndpoint: Boost.Beast, plain
// HTTP/1.1, its own thread).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "metrics/http_endpoint.h"
#include "relay/drop_reason.h"
#include "runtime/net.h"
#include "runtime/setup_error.h"

namespace strait::relay {

// How a login ended.
enum class HandshakeResult : std::uint8_t {
  kOk,
  kBadCredential,  // ERROR bad_credential (expired, forged, wrong tenant chain, ...)
  kBadProof,
  kWrongRole,
  kUnsupportedVersion,
  kProtocolError,  // bad HELLO, garbage frames
  kTimeout,        // handshake_timeout
  kTlsError,       // not TLS, or a failed TLS handshake
  kClosed,         // the peer went away mid-login
  kOverloaded,     // refused for lack of a loop timer slot (ERROR overloaded; LoopOptions::max_timers)
  kOther,
  kRevoked,        // the credential verified but the denial list refused it (ERROR revoked; LoginDenial below)
};
inline constexpr std::size_t kHandshakeResultCount = 12;
inline constexpr std::array<std::string_view, kHandshakeResultCount> kHandshakeResultNames = {
    "ok", "bad_credential", "bad_proof", "wrong_role", "unsupported_version", "protocol_error", "timeout",
    "tls_error", "closed", "overloaded", "other", "revoked"};

// Why a login whose credential verified was refused (strait_relay_logins_refused_total{reason}): the control
// plane's denial list (relay/deny_list.h, docs/control-plane.md §7.3). Both answer ERROR revoked.
enum class LoginDenial : std::uint8_t {
  kRevoked,          // the subject (device or connector) was revoked or locked
  kTenantSuspended,  // its tenant is suspended or deleted
};
inline constexpr std::size_t kLoginDenialCount = 2;
inline constexpr std::array<std::string_view, kLoginDenialCount> kLoginDenialNames = {"revoked",
                                                                                       "tenant_suspended"};

// Counters (monotonic) and gauges, per shard or summed.
struct MetricsSnapshot {
  // gauges
  std::uint64_t device_links = 0;     // logged-in device links
  std::uint64_t connector_links = 0;  // logged-in connector links
  std::uint64_t handshakes_in_flight = 0;
  std::uint64_t sessions = 0;            // sessions whose device leg is live
  std::uint64_t cross_queue_bytes = 0;   // bytes waiting in this shard's outgoing cross-shard rings + stashes
  std::uint64_t paused_links = 0;        // links whose reads are paused by backpressure
  std::uint64_t link_send_backlog_bytes = 0;  // bytes waiting to go out to links: loop queues, sealed, pending, held
  std::uint64_t held_bytes = 0;          // of which frames held for links whose send side is full
  // counters
  std::uint64_t bytes_in = 0;            // frame bytes received from links for forwarding (header + payload)
  std::uint64_t bytes_out = 0;           // frame bytes written to links (forwarded and relay-made)
  std::uint64_t frames_forwarded = 0;    // frames handed to the peer link
  std::uint64_t frames_cross_shard = 0;  // of which through a cross-shard ring
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_closed = 0;
  std::uint64_t goaway_sent = 0;
  std::uint64_t link_stalls = 0;         // watchdog: links with bytes to move that moved none for a second
  std::uint64_t recv_starved = 0;        // receives that found the shard's receive ring empty (ENOBUFS)
  std::uint64_t socket_bytes_in = 0;     // every byte read from link sockets (TLS records, logins, PINGs included)
  std::uint64_t socket_bytes_out = 0;    // every byte written to link sockets
  std::uint64_t pings_unanswered = 0;    // PINGs over the PONG rate, or with no room under the send bound
  std::uint64_t links_expired = 0;       // links closed when their credential expired (ERROR bad_credential)
  std::uint64_t links_replaced = 0;      // links closed for a newer login of the same subject (ERROR unauthorized)
  std::uint64_t offers_refused = 0;      // SESSION_OFFERs a device refused (SESSION_CLOSE bad_credential)
  std::uint64_t credit_frames = 0;       // SESSION_CREDIT frames sent (relay credit returned to senders)
  std::uint64_t links_revoked = 0;       // live links closed by a denial (ERROR revoked; Relay::CloseSubject ...)
  std::array<std::uint64_t, kLoginDenialCount> logins_refused{};  // by LoginDenial
  // The denial list (relay-wide, not per shard): filled in by Relay::Snapshot, not by the shards (Add() leaves
  // them alone).
  std::uint64_t denials = 0;             // gauge: subjects denied
  std::uint64_t suspended_tenants = 0;   // gauge
  std::uint64_t denials_evicted = 0;     // denials pushed out by DenyListOptions::max_denials
  std::uint64_t suspensions_dropped = 0;  // suspensions beyond DenyListOptions::max_suspended_tenants
  // Log lines dropped because the log queue was full (logging::Logger::dropped()); filled in by `strait relay`,
  // not by the shards (Add() leaves it alone).
  std::uint64_t log_dropped = 0;
  std::array<std::uint64_t, kHandshakeResultCount> handshakes{};
  std::array<std::uint64_t, kDropReasonCount> drops{};

  std::uint64_t Drops(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t Handshakes(HandshakeResult r) const { return handshakes[static_cast<std::size_t>(r)]; }
  std::uint64_t LoginsRefused(LoginDenial r) const { return logins_refused[static_cast<std::size_t>(r)]; }
  void Add(const MetricsSnapshot& o);
};

// The Prometheus text exposition of `s` (version 0.0.4).
std::string RenderPrometheus(const MetricsSnapshot& s);

// Serves GET /metrics (any path) on a loopback address from its own thread. Each request calls `source` for the
// current snapshot (the relay's published copy: a mutex-protected read, never shard state) and renders it.
class MetricsServer {
 public:
  static runtime::SetupResult<std::unique_ptr<MetricsServer>> Start(const runtime::SocketAddress& address,
                                                                     std::function<MetricsSnapshot()> source);
  ~MetricsServer() = default;  // the endpoint stops and joins its thread
  const runtime::SocketAddress& address() const { return endpoint_->address(); }

 private:
  explicit MetricsServer(std::unique_ptr<metrics::HttpEndpoint> endpoint) : endpoint_(std::move(endpoint)) {}
  std::unique_ptr<metrics::HttpEndpoint> endpoint_;
};

}  // namespace strait::relay
