// Connector: the on-prem daemon's wiring (design.md; docs/connector.md). Behaviour lives in the parts:
//
//   relay links     one link::Dialer per relay address: TLS 1.3 + HELLO as role connector, reconnecting with
//                   backoff and jitter (tunnel/link/dialer.h)
//   direct_listener optional Direct Connect port (direct_listener.h)
//   device sessions one DeviceSession per (link, channel), made on SESSION_INIT (device_session.h)
//   resolver        getaddrinfo on a small thread pool (resolver.h)
//   policies        a PolicySet (policy_set.h): the --policy file as the one default, or what the control plane
//                   sends through the ControlTarget calls below (control_apply.h turns snapshots and events into
//                   them); with the DeviceDenials, the tenant's suspension and the revoked relays
//   renewal        SetCredential (docs/control-plane.md §6.5): a renewed credential for new relay logins, new device
//                   sessions and the Direct Connect listener; relay links logged in with an older one log in again
//                   one at a time
//
// Everything runs on one EventLoop (the caller's; its thread is the connector's). Lifetime: construct, Start(),
// run the loop; to stop, Stop() (or just RequestStop the loop) and destroy the connector after Run() returned.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/keys.h"
#include "crypto/tls_context.h"
#include "logging/event.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/connector/connector_stats.h"
#include "tunnel/connector/control_target.h"
#include "tunnel/connector/device_denials.h"
#include "tunnel/connector/device_session.h"
#include "tunnel/connector/direct_listener.h"
#include "tunnel/connector/policy.h"
#include "tunnel/connector/policy_set.h"
#include "tunnel/connector/resolver.h"
#include "tunnel/connector/address_pool.h"
#include "tunnel/connector/nft_table.h"
#include "tunnel/connector/tunnel_port.h"
#include "tunnel/init_replay.h"
#include "tunnel/ip/tunnel_mtu.h"
#include "tunnel/link/dialer.h"
#include "tunnel/link/tls_link.h"

namespace strait::connector {

struct RelayTarget {
  runtime::SocketAddress address;  // numeric; empty (len 0): the connector resolves `tls_name` first (below)
  std::string tls_name;            // the name the relay's certificate must carry (DNS name or IP literal)
  // With an empty address: the port to dial once `tls_name` resolves. The connector resolves the name on its
  // resolver threads until it resolves (a failure is logged and retried with the dial backoff: DNS outages are
  // transient), then dials the first IPv4 address it got (else the first IPv6), as for a numeric target.
  std::uint16_t port = 0;
};

struct ConnectorOptions {
  // Identity (from crypto::LoadIdentityBundle): credential, its keys, the root key and the relays' TLS CA.
  std::vector<std::uint8_t> credential;
  crypto::Ed25519KeyPair signing_key;
  crypto::X25519KeyPair noise_key;
  crypto::Ed25519PublicKey root_key;
  std::string relay_ca_pem;

  std::vector<RelayTarget> relays;
  // The --policy file: the PolicySet's one default until the control plane replaces the set. An enrolled
  // connector passes none (an empty Policy denies everything) until its first snapshot.
  Policy policy;
  std::optional<runtime::SocketAddress> direct_listen;  // Direct Connect; nullopt = off

  ResolverOptions resolver;
  std::chrono::milliseconds open_timeout{10000};  // OPEN to OPEN_OK/RESET (resolution + connect)
  std::uint32_t max_sessions = 10000;             // sessions at once over all links; more: SESSION_CLOSE
  link::LinkOptions link;
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  double jitter = 0.2;
  tunnel::MuxOptions mux;      // our windows and max_streams (role is set here)
  DirectListenerOptions direct;  // bounds of the Direct Connect port (listen/id/credential/tenant filled in)
  // The IP tunnel (docs/ip-tunnel.md): tunnel addresses come from `tunnel_pool`; nullopt: no tunnel served
  // (TUNNEL_REQUEST refused). Routes and DNS come from policy.tunnel().
  std::optional<AddressPoolOptions> tunnel_pool;
  std::uint16_t tunnel_mtu = ip::kDefaultTunnelMtu;
  // The TUN that carries the tunnel's packets (with tunnel_pool); empty: addresses are handed out, packets dropped.
  // Opening it needs CAP_NET_ADMIN and /dev/net/tun, and turns on net.ipv4.ip_forward (tunnel/connector/
  // ip_forwarding.h; never turned off again).
  std::string tunnel_device;
  // Masquerade mode (with tunnel_device): the connector's nftables table `ip strait` rewrites the source of pool
  // packets leaving by any other interface (tunnel/connector/nft_table.h); installed at Start, removed when the
  // connector is destroyed (or a Start fails). Off: routed mode, corp routes the pool to this host.
  bool tunnel_masquerade = false;
  NftOptions nft;

  // Control-plane changes (ControlTarget calls) waiting for the loop: more are refused (the caller resyncs).
  std::size_t max_control_queue = 4096;
  std::size_t max_denials = 100'000;        // DeviceDenials' bound
  std::size_t max_revoked_relays = 1024;    // relay ids refused; more are counted, not held (relays are few)
  PolicySetLimits policy_limits;            // policies and per-device entries held (policy_set.h)

  // Failed logins to a relay (TLS, refused connection, ERROR from the relay, name not resolved) are logged at
  // most once per this interval per relay, with a count (link::LoginFailureLog).
  std::chrono::milliseconds login_failure_log_interval{60000};

  // One event per thing that matters (link up/down, failed login, session up/down, Direct Connect refusals;
  // docs/connector.md "Logging"). Never per packet, never secrets. Called on the loop thread: must not block.
  logging::Sink log;
};

class Connector final : public ControlTarget,
                        private link::LinkHandler,
                        private runtime::MessageHandler,
                        private runtime::TimerHandler {
 public:
  // Checks the identity (credential parses, is a connector's, matches the keys). `loop` must outlive it; the
  // connector sets itself as the loop's message handler.
  static Result<std::unique_ptr<Connector>, std::string> Create(runtime::EventLoop& loop, ConnectorOptions options);
  ~Connector() override;
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // Opens the TUN (with forwarding and, in masquerade mode, the nftables table), starts the dialers and the Direct
  // Connect listener. Returns an error line on failure (nothing started then: the TUN closed, the table removed).
  std::string Start();
  // Stops dialing and accepting, closes every session and link. The loop may then be stopped.
  void Stop();

  // ---- ControlTarget [any thread]: queued, applied on the loop (control_target.h) ----
  // The connector must outlive the thread that calls these (stop the subscriber before destroying it). Calls
  // before Start() apply when it starts.
  bool ReplaceControlState(ControlState state) override;
  bool PutPolicy(std::string id, PolicyPtr policy, bool is_default) override;
  bool DeletePolicy(std::string id) override;
  bool SetDevicePolicy(std::string device, std::optional<std::string> policy) override;
  bool DenyDevice(DeviceDenial denial) override;
  bool LiftDevice(std::string device) override;
  bool SuspendTenant() override;
  bool ResumeTenant() override;
  bool RevokeRelay(std::string relay) override;

  // [any] A renewed credential (docs/control-plane.md §6.5). Checked here, on the caller's thread, against the one
  // the connector started with (link::CheckRenewedCredential: it verifies under the root now and names the same
  // tenant, subject and keys), then queued like the ControlTarget calls and applied on the loop: relay logins from
  // then on show it, as do new device sessions (SESSION_ACCEPT) and the Direct Connect listener (HELLO_ACK,
  // SESSION_OFFER). The relay links that logged in with an older one log in again one at a time: one is closed, and
  // the next only once that relay's link is up again, so with two relays one always stays up (a relay that does not
  // come back holds the rest on the old credential until it expires: its relay closes them then and they redial
  // with the new one). Sessions on a link that logs in again end (connector_gone at their devices, which ask again).
  // Refused: why, nothing changed (a full control queue too: post again later).
  Result<void, std::string> SetCredential(std::vector<std::uint8_t> credential);

  // [loop] What the control plane set (tests, metrics).
  const PolicySet& policies() const { return policies_; }
  const DeviceDenials& denials() const { return denials_; }
  bool tenant_suspended() const { return ctx_.tenant_suspended; }

  const std::string& id() const { return id_; }          // our subject id
  const std::string& tenant() const { return tenant_; }
  std::optional<runtime::SocketAddress> direct_address() const;
  const ConnectorStats& stats() const { return stats_; }
  const DirectListener* direct() const { return direct_.get(); }
  std::size_t relay_count() const { return options_.relays.size(); }  // relays configured
  std::size_t relays_up() const;
  std::size_t sessions() const { return sessions_.size(); }
  // The SESSION_INIT replay record (protocol.md §6): its counters and how many devices it holds.
  const tunnel::InitReplayRecord& init_replay() const { return init_replay_; }
  const AddressPool* tunnel_pool() const { return tunnel_pool_ ? &*tunnel_pool_ : nullptr; }
  const TunnelPort* tunnel_port() const { return tunnel_port_.get(); }
  bool masquerading() const { return masquerade_ != nullptr; }

 private:
  struct Relay {
    RelayTarget target;
    std::unique_ptr<crypto::TlsContext> tls;
    link::LinkConfig config;
    std::unique_ptr<link::Dialer> dialer;  // made once the address is known
    link::LoginFailureLog failures;
    std::uint32_t resolve_failures = 0;      // consecutive, for the retry backoff
    runtime::TimerId resolve_timer;
    std::string relay_id;  // the relay's id from HELLO_ACK while its link is up (relay.revoked)
    std::uint64_t login_serial = 0;  // the serial of our credential when its link logged in (SetCredential)
  };
  using SessionKey = std::pair<link::TlsLink*, std::uint32_t>;

  Connector(runtime::EventLoop& loop, ConnectorOptions options);
  // LinkHandler: relay links (from the dialers) and admitted Direct Connect links. A revoked relay is refused in
  // AdmitServer (its dialer backs off as for any failed login), a denied device or a suspended tenant's Direct
  // Connect login in AdmitLogin (ERROR instead of HELLO_ACK).
  std::optional<link::LoginRefusal> AdmitServer(link::TlsLink& link, const link::RelayLogin& server) override;
  std::optional<link::LoginRefusal> AdmitLogin(link::TlsLink& link, const link::PeerLogin& peer) override;
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) override;
  void OnFrame(link::TlsLink& link, const link::Frame& frame) override;
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override;
  void OnSendQueueLow(link::TlsLink& link) override;
  // MessageHandler: resolver wake-ups.
  void OnMessage(runtime::EventLoop& loop, const runtime::Message& msg) override;
  // TimerHandler: reaping dead sessions, periodic resolver drain.
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;

  void NewSession(link::TlsLink& link, const link::Frame& frame);
  void StartDialer(Relay& r);
  void ResolveRelay(std::size_t index);
  void OnRelayResolved(std::size_t index, const ResolveResult& result);
  // One login_failed event (rate-limited per relay); `why` adds reason= and detail fields.
  void LogLoginFailure(Relay& r, const std::function<void(logging::Event&)>& why);
  std::string RelayName(const Relay& r) const;
  void DrainResolver();
  void ReapSoon();
  void Reap();
  Relay* RelayOf(const link::TlsLink& link);
  std::string OpenTunnel();   // Start: the TUN, forwarding, the masquerade table; an error line or empty
  void CloseTunnel();         // undoes OpenTunnel (a failed Start)
  void RemoveMasquerade();    // deletes the nftables table (CloseTunnel, the destructor) and logs it
  void Log(const logging::Event& event) const;
  // Control changes: queued under control_mu_ by the ControlTarget calls, run on the loop by DrainControl.
  bool PostControl(std::function<void()> change);
  void DrainControl();
  void ApplyState(ControlState& state);
  // Closes the up sessions whose device `matches` with `code`; returns how many.
  std::size_t CloseSessions(const std::function<bool(const DeviceSession&)>& matches, tunnel::ErrorCode code,
                            std::string_view reason);
  void CloseRevokedRelays();
  bool RelayRevoked(std::string_view relay_id) const;
  // Adds `relay` to revoked_relays_ unless max_revoked_relays are held (counted). True if it is held.
  bool HoldRevokedRelay(std::string relay);
  // Renewal: the new credential into the login configs, the session template and the Direct Connect listener; then
  // the relay links logged in with an older one, one at a time (ReloginNext, again from OnLinkUp).
  void ApplyCredential(std::vector<std::uint8_t> credential, std::uint64_t serial);
  void ReloginNext();

  // Immutable after Create/Start.
  runtime::EventLoop& loop_;
  ConnectorOptions options_;
  std::string id_;
  std::string tenant_;

  // Loop thread only.
  link::LinkLoopState link_state_;
  std::vector<Relay> relays_;
  std::unique_ptr<DirectListener> direct_;
  std::unique_ptr<Resolver> resolver_;
  tunnel::InitReplayRecord init_replay_;  // every session's SESSION_INIT timestamps (before ctx_: it points here)
  std::optional<AddressPool> tunnel_pool_;  // the IP tunnel's addresses (before ctx_: it points here)
  std::unique_ptr<TunnelPort> tunnel_port_;  // the TUN (before ctx_ and sessions_: they point here)
  std::unique_ptr<MasqueradeTable> masquerade_;  // tunnel_masquerade: removed when this goes (also on a failed Start)
  PolicySet policies_;          // which policy each device faces (before ctx_: it points here)
  DeviceDenials denials_;       // revoked or locked devices (before ctx_: it points here)
  std::vector<std::string> revoked_relays_;  // relay ids refused (at most max_revoked_relays)
  std::uint64_t credential_serial_ = 0;   // the serial of the credential in service (SetCredential)
  std::optional<std::size_t> relogin_;    // the relay whose link is logging in again with it, until it is up
  SessionContext ctx_;
  std::map<SessionKey, std::unique_ptr<DeviceSession>> sessions_;
  std::vector<std::unique_ptr<DeviceSession>> ended_;  // link gone / closed, waiting for their pumps
  std::vector<ResolveResult> resolved_;                // scratch for DrainResolver
  std::vector<DeviceSession*> flush_scratch_;          // OnSendQueueLow: the link's sessions, round-robin
  std::size_t flush_cursor_ = 0;                       // OnSendQueueLow: which session goes first
  ConnectorStats stats_;
  bool reap_armed_ = false;
  bool started_ = false;
  bool stopped_ = false;
  runtime::TimerId tick_;

  // Guarded by control_mu_: control changes waiting for the loop (ControlTarget calls from the subscriber thread).
  std::mutex control_mu_;
  std::vector<std::function<void()>> control_queue_;
  bool control_closed_ = false;  // Stop() ran: nothing more is taken
  // [any] A wake-up message is on its way (one per batch of changes; the tick drains if the mailbox was full).
  std::atomic<bool> control_wake_pending_{false};
};

}  // namespace strait::connector
