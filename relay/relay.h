// Relay: the relay daemon's core (docs/relay.md). N shards (runtime::LoopGroup, one io_uring loop per thread) own
// the device and connector links; shard 0 also owns both listening sockets and deals accepted fds round-robin.
// Each shard logs its links in (TlsLink: TLS 1.3 + HELLO, bounded per port and per source by a link::LoginBudget and
// by the ClientHello and handshake timeouts), proposes connectors to devices (a per-tenant registry read once per
// SESSION_REQUEST), and forwards
// session frames between the two links of a session, byte for byte, without opening them.
//
// Threading: Start/Drain/Stop/Snapshot/Renew are [any] (not from a shard thread for Stop). Everything else runs on
// the shards. The data path (one frame from one link to its peer) takes no lock and allocates nothing: same shard,
// TlsLink::SendEncoded on the peer; other shard, a bounded SPSC byte ring per ordered pair of shards plus one
// doorbell message per batch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/tls_context.h"
#include "logging/event.h"
#include "relay/deny_list.h"
#include "relay/metrics.h"
#include "runtime/event_loop.h"
#include "runtime/loop_group.h"
#include "runtime/net.h"
#include "runtime/setup_error.h"
#include "tunnel/link/tls_link.h"

namespace strait::relay {

// Every bound, with its default (docs/relay.md "Limits").
struct RelayOptions {
  runtime::SocketAddress device_listen;     // required (port 0 allowed)
  runtime::SocketAddress connector_listen;  // required (port 0 allowed)
  std::size_t threads = 1;                  // shards; 1..64
  runtime::LoopOptions loop;                // per shard; Start raises max_connections / max_timers to
                                            // max_links_per_shard + 64 (one slot and one timer per link)
  // handshake_timeout (TLS + HELLO), keepalive, idle_timeout and the per-link send bound (max_pending_bytes).
  link::LinkOptions link;
  // Logins in flight per shard, per port (link::LoginBudget): when a port's budget is full its oldest login is
  // closed to make room (handshake_limit); one source (IPv4 address, IPv6 /64) holds at most
  // max_handshakes_per_source of them, and its next connection is refused (source_limit).
  std::uint32_t max_handshakes_per_shard = 256;
  std::uint32_t max_handshakes_per_source = 64;
  std::uint32_t max_links_per_shard = 20000;     // links per shard (in login or up); more are refused (link_limit)
  std::uint32_t max_sessions_per_device = 4;     // sessions per device link; more: ERROR too_many_sessions
  // Live links per credential subject (role, tenant, subject), relay-wide; a login beyond it closes the subject's
  // oldest link (relay/credential_links.h). 1..
  std::uint32_t max_links_per_credential = 8;
  // Relay credit (protocol.md §8): a session's sender gets its bytes back with SESSION_CREDIT once this many were
  // handed to the other link. 1..kInitialRelayCredit / 2 (a sender never waits on what is owed).
  std::uint32_t credit_return_bytes = 64u << 10;
  std::uint32_t cross_shard_queue_bytes = 1u << 20;  // per ordered pair of shards
  std::uint32_t cross_shard_batch = 256;             // records consumed per doorbell before yielding
  std::uint32_t max_violations = 16;  // dropped frames (unknown channel, wrong type) before protocol_error close
  std::chrono::milliseconds drain_period{5000};        // GOAWAY ... close
  std::chrono::milliseconds metrics_interval{1000};    // how often shards publish their counters
                                                       // (and the latest a Close* reaches a shard whose mailbox
                                                       // was full)
  // The control plane's denial set (relay/deny_list.h): max_denials (1,000,000, ~200 bytes each; beyond it the
  // denial that ends soonest goes, counted) and max_suspended_tenants (10,000, the operator's tenant bound; beyond
  // it a suspension is dropped, counted). Both 1..
  DenyListOptions deny;
  // One event per thing that matters (link up/down, session up/down, refused logins, drain; docs/relay.md
  // "Logging"). Called on shard threads: it must not block (logging::Logger's sink does not). Empty = one line
  // per event on stderr, written in place (tests and tools only; `strait relay` passes its Logger).
  logging::Sink log;
};

// Who the relay is: its TLS server context and the operator root key that credentials chain to.
struct RelayIdentity {
  const crypto::TlsContext* tls = nullptr;  // server context; must outlive the Relay
  crypto::Ed25519PublicKey root_key;
  std::string relay_id;                  // HELLO_ACK relay_id
  // The relay's credential (role relay) and its key: shown in HELLO_ACK with a proof over each session's exporter,
  // which devices and connectors check against the operator root (protocol.md §3). Empty: none shown (peers that
  // check refuse the relay).
  std::vector<std::uint8_t> credential;
  crypto::Ed25519KeyPair signing_key;
  std::function<std::uint64_t()> now_unix;  // credential clock; empty = system clock
};

// A renewed identity (docs/control-plane.md §6.5: `strait relay renew` or the daemon's renewer rewrote tls.crt and
// the credential). The keys do not change with a renewal: the credential names the relay's signing key.
struct RelayRenewal {
  crypto::TlsServerConfig tls;  // the new leaf (and chain) with its key, read during Renew only; empty cert: keep
  std::vector<std::uint8_t> credential;  // shown in new HELLO_ACKs
};

class Shard;
class Registry;
class CredentialLinks;
struct ServedIdentity;

class Relay {
 public:
  // [any] Binds both ports, starts the shards. Fails with a setup error (bind, loop creation).
  static runtime::SetupResult<std::unique_ptr<Relay>> Start(const RelayOptions& options,
                                                            const RelayIdentity& identity);
  ~Relay();  // Stop()
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // [any] The bound addresses (port 0 resolved).
  const runtime::SocketAddress& device_address() const { return device_address_; }
  const runtime::SocketAddress& connector_address() const { return connector_address_; }

  // [any] Stops accepting, sends GOAWAY <shutting_down, drain_period> to every link, and closes every link once
  // drain_period has passed. Idempotent. Drained() turns true when every shard has closed its links.
  void Drain();
  bool Drained() const;
  // [any, not from a shard] Stops every shard and joins them. Idempotent.
  void Stop();

  // [any] The counters the shards published last (at most metrics_interval old), summed over shards, and the
  // denial list's sizes and counters as of now.
  MetricsSnapshot Snapshot() const;

  // [any, not concurrently with Stop] Puts a renewed identity into service: each shard gets its own TLS context made
  // from `renewal.tls` (made here, on the caller's thread) and login settings showing the new credential, for the
  // links it accepts from then on (within a loop iteration, or by its next metrics tick if its mailbox was full).
  // Links already up, or in login, keep the ones they started with (a link holds its identity; the relay's
  // credential is not checked again once a peer accepted it). Refused, nothing changed, with the reason: a
  // credential that does not verify under the root now, is not a relay's, names another key or subject than the
  // one in service, or a certificate and key that do not load.
  Result<void, std::string> Renew(const RelayRenewal& renewal);

  // ---- denials from the control plane (docs/control-plane.md §7.3; relay/control_apply.h feeds them) ----------
  //
  // Every login is checked against deny_list() once its credential verifies: a denied subject, or one of a
  // suspended tenant, gets ERROR revoked instead of HELLO_ACK (counted in logins_refused). Links already up are
  // closed by the calls below, which the caller makes AFTER changing the list (a login racing the change is
  // checked again once it is registered, so either the check or the close sees it). All [any], not concurrently
  // with Stop(); each returns at once: the links' shards close them (ERROR revoked, their sessions end with
  // device_gone / connector_gone) within a loop iteration, or by their next metrics tick if their mailbox was full.

  // [any] The denial list (its own mutex).
  DenyList& deny_list() { return *deny_list_; }
  // [any] Closes every live link of `key` (at most max_links_per_credential). `reason` (the denial's) is logged.
  // Returns how many links were handed to their shards.
  std::size_t CloseSubject(const DenyKey& key, std::string_view reason);
  // [any] Closes every live link of `tenant` (devices and connectors). Returns how many.
  std::size_t CloseTenant(const std::string& tenant);
  // [any] Closes every live link that deny_list() refuses at `now` (after a snapshot replaced the list). O(live
  // subjects), one deny-list check each. Returns how many.
  std::size_t CloseDenied(std::uint64_t now);

 private:
  friend class Shard;
  Relay() = default;
  void Publish(std::size_t shard, const MetricsSnapshot& s);

  // A live link to close for a denial, queued for its shard (Shard::CloseDenied takes them).
  struct PendingClose {
    std::uint64_t link = 0;
    DenyVerdict why = DenyVerdict::kSubjectDenied;
    std::string reason;  // the control plane's, for the log line ("" for a tenant)
  };
  void QueueClose(PendingClose close);
  // [shard thread] The closes queued for `shard`, taken.
  std::vector<PendingClose> TakeCloses(std::size_t shard);

  // [shard thread] The identity Renew posted for `shard`, taken (nullptr: none since the last take).
  std::shared_ptr<const ServedIdentity> TakeIdentity(std::size_t shard);
  // Login settings of both ports over `tls`, showing `credential` (the rest from identity_ and options_).
  std::shared_ptr<const ServedIdentity> MakeServed(std::shared_ptr<const crypto::TlsContext> tls,
                                                   const std::vector<std::uint8_t>& credential) const;

  RelayOptions options_;
  // identity_ as started, but for its credential, and served_ (per shard: what it started with, then what the last
  // renewal posted it; a renewal that brings no certificate keeps each shard's TLS context): guarded by renew_mu_
  // once the shards run (Start wrote them before).
  std::mutex renew_mu_;
  RelayIdentity identity_;
  std::vector<std::shared_ptr<const ServedIdentity>> served_;
  runtime::SocketAddress device_address_;
  runtime::SocketAddress connector_address_;
  int device_fd_ = -1;
  int connector_fd_ = -1;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<CredentialLinks> credential_links_;
  std::unique_ptr<DenyList> deny_list_;
  // Closes queued per shard: a shard is woken (kCloseDenied) when its queue turns non-empty, and takes the queue
  // whole, so at most one wake-up is in flight per shard. Bounded by the links being closed (each is queued once
  // per Close* call that finds it; the shard takes them within a loop iteration).
  std::mutex close_mu_;
  std::vector<std::vector<PendingClose>> pending_closes_;  // guarded by close_mu_, one per shard
  // Renewed identities waiting for their shards (kIdentity wakes a shard; its metrics tick takes one whose mailbox
  // was full). One slot per shard: a newer renewal replaces one not yet taken.
  std::mutex identity_mu_;
  std::vector<std::shared_ptr<const ServedIdentity>> pending_identity_;  // guarded by identity_mu_, one per shard
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<runtime::LoopGroup> group_;
  std::atomic<std::size_t> drained_shards_{0};
  std::atomic<bool> draining_{false};
  mutable std::mutex snapshot_mu_;
  std::vector<MetricsSnapshot> snapshots_;  // guarded by snapshot_mu_, one per shard
};

}  // namespace strait::relay
