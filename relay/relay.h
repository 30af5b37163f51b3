// Relay: the relay daemon's core (docs/relay.md). N shards (runtime::LoopGroup, one io_uring loop per thread) own
// the device and connector links; shard 0 also owns both listening sockets and deals accepted fds round-robin.
// Each shard logs its links in (TlsLink: TLS 1.3 + HELLO, bounded per port and per source by a link::LoginBudget and
// by the ClientHello and handshake timeouts), proposes connectors to devices (a per-tenant registry read once per
// SESSION_REQUEST), and forwards
// session frames between the two links of a session, byte for byte, without opening them.
//
// Threading: Start/Drain/Stop/Snapshot are [any] (not from a shard thread for Stop). Everything else runs on the
// shards. The data path (one frame from one link to its peer) takes no lock and allocates nothing: same shard,
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
#include <vector>

#include "crypto/keys.h"
#include "crypto/tls_context.h"
#include "logging/event.h"
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

class Shard;
class Registry;
class CredentialLinks;

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

  // [any] The counters the shards published last (at most metrics_interval old), summed over shards.
  MetricsSnapshot Snapshot() const;

 private:
  friend class Shard;
  Relay() = default;
  void Publish(std::size_t shard, const MetricsSnapshot& s);

  RelayOptions options_;
  RelayIdentity identity_;
  link::LinkConfig device_config_;
  link::LinkConfig connector_config_;
  runtime::SocketAddress device_address_;
  runtime::SocketAddress connector_address_;
  int device_fd_ = -1;
  int connector_fd_ = -1;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<CredentialLinks> credential_links_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<runtime::LoopGroup> group_;
  std::atomic<std::size_t> drained_shards_{0};
  std::atomic<bool> draining_{false};
  mutable std::mutex snapshot_mu_;
  std::vector<MetricsSnapshot> snapshots_;  // guarded by snapshot_mu_, one per shard
};

}  // namespace strait::relay
