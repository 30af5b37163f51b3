// DeviceClient: the device side of Strait on one event loop (docs/device.md). It keeps one link up — to a relay
// (TLS verified against the operator CA) or straight to a connector's Direct Connect listener (docs/protocol.md
// §12: TLS for transport only, the Noise session authenticates both ends) — and one end-to-end session on it:
//
//   dial (direct first when configured, else relay) ─▶ TLS + HELLO/HELLO_ACK ─▶ SESSION_REQUEST(preferred =
//   connector of the last session: sticky) ─▶ SESSION_OFFER ─▶ tunnel::Session (device) sends SESSION_INIT ─▶
//   SESSION_ACCEPT ─▶ established: queued stream opens go out
//
// Failure handling:
//   - direct link fails before it is up ─▶ dial the relay at once (fallback); the next reconnect tries direct again
//   - link down ─▶ reconnect after BackoffDelay(failures) (link/dialer.h: exponential, jitter); failures reset
//     once a session is established
//   - session closed (SESSION_CLOSE, ERROR on its channel, set-up timeout) ─▶ new SESSION_REQUEST after a backoff
//   - a lost session fails every stream it carried with a reset (no resumption: protocol.md §5); streams opened
//     while no session is up wait up to open_wait_timeout for one (at most max_pending_opens), then fail with
//     no_connector
//
// Streams are named by a StreamToken (unique for the client's life; the mux's stream id changes per session).
// The owner's ClientStreamHandler hears the mux events of its stream. Bytes are written with Write() (or, for the
// stream pump, with the mux itself via MuxOf/MuxStreamId, then FlushOutput()).
//
// Renewal (docs/control-plane.md §6.5): PostCredential hands the client a renewed credential from any thread; the
// next login (and the next session's SESSION_INIT) shows it. The link that is up stays up with the one it logged in
// with: nothing is redialled for a renewal (a relay closes a link when the credential it logged in with expires, and
// the client then logs in again with the new one).
//
// Threading: every function is [loop] unless marked [any]: call it on the loop thread, or from a callback. Handlers
// are called on that thread. Callbacks may call back into the client (Open, Write, Forget, ...).
// Lifetime: create on the loop thread; destroy after Stop() (or after the loop's Run() returned).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/tls_context.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/device/client_streams.h"
#include "tunnel/device/target.h"
#include "tunnel/frame.h"
#include "tunnel/init_replay.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/session.h"
#include "tunnel/stream_mux.h"

namespace strait::device {

using StreamToken = std::uint64_t;  // 0 = none

// Which kind of link carries the session.
enum class Path : std::uint8_t { kRelay, kDirect };
std::string_view PathName(Path p);  // "relay" / "direct"

// The device's identity (an identity bundle, crypto/keystore.h).
struct DeviceIdentity {
  std::vector<std::uint8_t> credential;
  crypto::Ed25519KeyPair signing_key;
  crypto::X25519KeyPair noise_key;
  crypto::Ed25519PublicKey root_key;
  std::string ca_pem;  // the relays' TLS CA; required when a relay is configured
};

struct ClientOptions {
  DeviceIdentity identity;
  std::optional<runtime::SocketAddress> relay;   // at least one of relay / direct
  std::string relay_server_name;                 // TLS name the relay's certificate must carry; empty = its IP
  std::optional<runtime::SocketAddress> direct;  // a connector's Direct Connect listener; preferred when set
  // Enrollment pinning (protocol.md §5): the connector's Noise key must be one of these.
  std::optional<std::vector<crypto::X25519PublicKey>> pinned_connectors;
  std::string preferred_connector;  // initial sticky preference (then: the last session's connector)
  link::LinkOptions link;           // link timers and bounds (relay link)
  std::chrono::milliseconds direct_handshake_timeout{3000};  // TCP + TLS + login bound on a direct attempt
  std::chrono::milliseconds min_backoff{200};   // reconnect and session-retry backoff (link::BackoffDelay)
  std::chrono::milliseconds max_backoff{30000};
  double jitter = 0.2;
  std::chrono::milliseconds session_setup_timeout{10000};  // SESSION_REQUEST -> established
  std::chrono::milliseconds open_wait_timeout{10000};      // a stream opened with no session waits this long
  std::uint32_t max_pending_opens = 1024;                  // opens waiting for a session; more fail at once
  tunnel::MuxOptions mux;                                  // our windows (role is set by the session)
  // The IP tunnel (docs/ip-tunnel.md §1): 0 = none; else each session asks for one with this mtu_max, and the
  // answer goes to ClientObserver::OnTunnelConfig / OnTunnelRefused.
  std::uint16_t tunnel_mtu_max = 0;
  std::function<std::uint64_t()> now_unix;                 // credential clock; empty = system clock
};

// Per-stream events (loop thread). After OnStreamReset the token is dead.
class ClientStreamHandler {
 public:
  virtual ~ClientStreamHandler() = default;
  // OPEN_OK: the stream may be written.
  virtual void OnStreamOpened(StreamToken token) = 0;
  // In-order bytes, valid during the call. Return credit with Consume(token, n) (now or later).
  virtual void OnStreamData(StreamToken token, std::span<const std::uint8_t> data) = 0;
  // The connector closed its half.
  virtual void OnStreamFin(StreamToken token) = 0;
  // A Write that was cut short can make progress again.
  virtual void OnStreamWritable(StreamToken token) = 0;
  // Last event: the stream is gone. `code` is the RESET code, or (session_lost) the session's close code
  // (connector_gone when the link dropped), or no_connector when no session came up within open_wait_timeout,
  // or overloaded when max_pending_opens were waiting.
  virtual void OnStreamReset(StreamToken token, tunnel::ErrorCode code, bool session_lost) = 0;
};

// Session / link events for the owner (e.g. the CLI prints "device session up ...").
class ClientObserver {
 public:
  virtual ~ClientObserver() = default;
  virtual void OnLinkUp(Path path, const runtime::SocketAddress& addr) { (void)path, (void)addr; }
  virtual void OnLinkDown(Path path, const link::LinkDown& down) { (void)path, (void)down; }
  virtual void OnSessionUp(std::string_view connector_id, Path path) { (void)connector_id, (void)path; }
  virtual void OnSessionDown(tunnel::ErrorCode code, std::string_view reason) { (void)code, (void)reason; }
  // The session's IP tunnel (ClientOptions::tunnel_mtu_max): its configuration, or why there is none.
  virtual void OnTunnelConfig(const tunnel::TunnelConfig& config) { (void)config; }
  virtual void OnTunnelRefused(const tunnel::TunnelRefused& refused) { (void)refused; }
};

struct ClientStats {
  std::uint64_t dials = 0;
  std::uint64_t links_up = 0;
  std::uint64_t link_downs = 0;
  std::uint64_t direct_failures = 0;   // direct attempts that never came up
  std::uint64_t relay_fallbacks = 0;   // relay dials made at once after a direct failure
  std::uint64_t session_requests = 0;
  std::uint64_t session_refusals = 0;  // ERROR no_connector / too_many_sessions on channel 0
  std::uint64_t sessions_up = 0;
  std::uint64_t session_downs = 0;
  std::uint64_t setup_timeouts = 0;
  std::uint64_t streams_opened = 0;          // OPEN sent
  std::uint64_t streams_lost = 0;            // failed because their session went away
  std::uint64_t open_wait_timeouts = 0;      // no session within open_wait_timeout
  std::uint64_t open_queue_full = 0;         // refused: max_pending_opens waiting
  std::uint64_t frames_unexpected = 0;       // frames for no session / unknown channel / wrong state
  std::uint64_t session_drops = 0;           // frames the session dropped (by reason in its counters)
  std::uint64_t datagrams_ignored = 0;       // datagrams received with no tunnel sink (no TUN)
  std::uint64_t goaways = 0;
  std::uint64_t tunnel_requests = 0;         // TUNNEL_REQUEST sent (one per session with tunnel_mtu_max)
  std::uint64_t tunnel_configs = 0;          // TUNNEL_CONFIG received and usable
  std::uint64_t tunnel_refusals = 0;         // TUNNEL_REFUSED, or a config this client could not use
};

// Where the IP tunnel's received packets go (docs/ip-tunnel.md §5; DeviceTun).
class TunnelPacketSink {
 public:
  virtual ~TunnelPacketSink() = default;
  // [loop] One authenticated packet from the connector, opened in place: valid during the call, and the sink may
  // edit it there.
  virtual void OnTunnelPacket(std::span<std::uint8_t> packet) = 0;
  // [loop] The link's send queue drained (after it was high): datagrams fit again (HasDatagramRoom).
  virtual void OnLinkWritable() {}
};

// What became of a datagram handed to DeviceClient::SendDatagramFrame.
enum class DatagramSend : std::uint8_t {
  kSent,          // sealed and queued on the link
  kNoSession,     // no established session (or called from inside one of its callbacks)
  kLinkFull,      // the link is above its pending bound: dropped, never queued (protocol.md §9)
  kSessionEnded,  // sealing ended the session (its send counter ran out)
};

struct ClientSetupError {
  std::string reason;
};

class DeviceClient final : private link::LinkHandler,
                           private tunnel::SessionVisitor,
                           private runtime::TimerHandler {
 public:
  // [loop] Checks the options and builds the TLS contexts. Nothing is dialled until Start().
  static Result<std::unique_ptr<DeviceClient>, ClientSetupError> Create(runtime::EventLoop& loop,
                                                                       ClientOptions options,
                                                                       ClientObserver* observer = nullptr);
  ~DeviceClient() override;
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  // [loop] Starts dialling. Stop(): no more dials; aborts the link; every stream fails (session_lost).
  void Start();
  void Stop();

  // [any] A renewed credential. It is checked here, on the caller's thread, against what the client started with:
  // it must verify under the root key now, be a device's of the same tenant and subject, and name the identity's
  // signing and Noise keys (a renewal never changes keys). Accepted, it is used from the next dial or session
  // offer on (the loop takes it there: no wake-up, no forced reconnect); a later post replaces one not yet taken.
  // Refused: why, and nothing changed.
  Result<void, std::string> PostCredential(std::vector<std::uint8_t> credential);

  // [loop] Opens a stream to `target` (names go to the connector unresolved). Returns its token, or 0 when the
  // client is stopped or max_pending_opens are waiting (counted). With a session up the OPEN goes out now;
  // otherwise it waits for one. `handler` must stay valid until OnStreamReset or Forget().
  StreamToken Open(const Target& target, ClientStreamHandler* handler);
  // [loop] Queues bytes (after OnStreamOpened); returns how many the mux accepted (credit, outbox room).
  std::size_t Write(StreamToken token, std::span<const std::uint8_t> bytes);
  // [loop] FIN after what was written. False if the stream is not open or the outbox is full (retry on writable).
  bool CloseWrite(StreamToken token);
  // [loop] Returns stream credit for n delivered bytes.
  void Consume(StreamToken token, std::size_t n);
  // [loop] Resets the stream (if live) and forgets the token; no callback follows.
  void Reset(StreamToken token, tunnel::ErrorCode code);
  // [loop] The owner is done with the token: a stream still live is reset (cancelled); no callback follows.
  void Forget(StreamToken token) { Reset(token, tunnel::ErrorCode::kCancelled); }

  // [loop] For the stream pump: the mux and the mux stream id of an opened stream (nullptr / 0 otherwise).
  tunnel::StreamMux* MuxOf(StreamToken token);
  tunnel::StreamId MuxStreamId(StreamToken token) const;
  // [loop] Seals and sends what the mux queued. Write/CloseWrite/Consume/Reset call it themselves.
  void FlushOutput();

  // [loop] The IP tunnel. Received datagrams go to `sink` (nullptr: dropped, counted in datagrams_ignored).
  void SetTunnelSink(TunnelPacketSink* sink) { tunnel_sink_ = sink; }
  // [loop] Seals the packet at frame[kSealedPlaintextOffset, +packet_size) in place (frame needs 16 bytes of room
  // after it) and queues it on the link; FlushLink sends what was queued (once per batch of packets).
  DatagramSend SendDatagramFrame(std::span<std::uint8_t> frame, std::size_t packet_size);
  void FlushLink();
  // [loop] The link takes `bytes` more of datagram frames now without dropping them (a session is up, the link
  // is below its pending bound and the loop's high watermark). When not, TunnelPacketSink::OnLinkWritable follows
  // once the loop's send queue drains.
  bool HasDatagramRoom(std::size_t bytes) const;

  // [loop] Inspection.
  bool session_up() const { return session_ && session_->established(); }
  bool link_up() const { return link_ && link_->state() == link::LinkState::kUp; }
  Path path() const { return path_; }
  const std::string& connector_id() const { return last_connector_; }
  const ClientStats& stats() const { return stats_; }
  std::size_t pending_opens() const { return streams_.waiting_places(); }
  std::size_t live_streams() const { return streams_.live(); }
  const tunnel::Session* session() const { return session_.get(); }
  const link::LinkStats& link_stats() const { return link_state_.stats; }

 private:
  enum TimerKind : std::uint64_t { kReconnect = 1, kSessionRetry, kSetupTimeout, kOpenWait, kDrain, kDeferred };

  DeviceClient(runtime::EventLoop& loop, ClientOptions options, ClientObserver* observer);

  // Links.
  // The credential PostCredential left, if any, into credential_ and both login configs.
  void TakePostedCredential();
  void Dial();
  void ScheduleReconnect(bool immediately);
  // link::LinkHandler
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) override;
  void OnFrame(link::TlsLink& link, const link::Frame& frame) override;
  void OnLinkDown(link::TlsLink& link, const link::LinkDown& down) override;
  void OnSendQueueLow(link::TlsLink& link) override;

  // Sessions.
  void RequestSession();
  void OnOffer(const link::Frame& frame);
  void HandleSessionResult(tunnel::SessionResult r);
  void OnEstablished();
  void EndSession(tunnel::ErrorCode code, std::string_view reason, bool retry);
  void SendFrames(std::span<const std::uint8_t> bytes);
  void SendPendingOpens();
  void FailStream(StreamToken token, tunnel::ErrorCode code, bool session_lost);

  // tunnel::SessionVisitor
  void OnStreamOpen(tunnel::StreamId id, const tunnel::OpenTarget& target) override;
  void OnStreamAccepted(tunnel::StreamId id) override;
  void OnStreamData(tunnel::StreamId id, std::span<const std::uint8_t> data) override;
  void OnStreamFin(tunnel::StreamId id) override;
  void OnStreamReset(tunnel::StreamId id, tunnel::ErrorCode code) override;
  void OnStreamWritable(tunnel::StreamId id) override;
  void OnDatagram(std::span<std::uint8_t> packet) override;
  void OnTunnelConfig(const tunnel::TunnelConfig& config) override;
  void OnTunnelRefused(const tunnel::TunnelRefused& refused) override;

  // Timers.
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;
  void Arm(runtime::TimerId* slot, std::chrono::nanoseconds delay, TimerKind kind);
  void Disarm(runtime::TimerId* slot);
  void ArmOpenWait();
  std::chrono::milliseconds Backoff(std::uint32_t failures);
  std::uint64_t NowUnix() const;
  static std::int64_t NowNs();
  StreamToken TokenOf(tunnel::StreamId id) const;

  // Immutable after Create.
  runtime::EventLoop* const loop_;
  const ClientOptions options_;
  ClientObserver* const observer_;
  std::optional<crypto::TlsContext> relay_tls_;
  std::optional<crypto::TlsContext> direct_tls_;
  link::LinkConfig relay_config_;
  link::LinkConfig direct_config_;

  // Guarded by credential_mu_: a renewed credential, checked, waiting for the loop (PostCredential).
  std::mutex credential_mu_;
  std::optional<std::vector<std::uint8_t>> posted_credential_;

  // Loop thread only.
  std::vector<std::uint8_t> credential_;  // what logins and sessions show (options_.identity's until a renewal)
  link::LinkLoopState link_state_;
  tunnel::InitTimestampClock init_clock_;  // SESSION_INIT timestamps (protocol.md §6)
  std::unique_ptr<link::TlsLink> link_;
  std::vector<std::unique_ptr<link::TlsLink>> dead_links_;  // destroyed at the next safe point
  std::unique_ptr<tunnel::Session> session_;
  std::vector<std::unique_ptr<tunnel::Session>> dead_sessions_;
  int session_depth_ = 0;      // inside a Session call: do not destroy it
  Path path_ = Path::kRelay;
  bool running_ = false;
  bool direct_failed_ = false;  // this round's direct attempt failed: the next dial goes to the relay
  bool draining_ = false;       // GOAWAY received on this link
  bool session_announced_ = false;  // OnEstablished ran for the current session
  bool link_had_session_ = false;   // the current link carried an established session
  std::uint32_t link_failures_ = 0;
  std::uint32_t session_failures_ = 0;
  std::string last_connector_;
  runtime::TimerId reconnect_timer_, retry_timer_, setup_timer_, open_timer_, drain_timer_, deferred_timer_;
  ClientStreams streams_;  // app streams by token: waiting for a session, or bound to a mux id
  struct Deferred {
    StreamToken token;
    tunnel::ErrorCode code;
    bool session_lost;
  };
  std::vector<Deferred> deferred_;  // failures reported from a timer, not from inside the caller's call
  std::vector<std::uint8_t> in_;   // a received session frame's payload (decrypted in place)
  std::vector<std::uint8_t> out_;  // kSessionOutSize: what the session writes
  std::minstd_rand rng_;
  TunnelPacketSink* tunnel_sink_ = nullptr;
  ClientStats stats_;
};

// Builds a Target from "host" (an IPv4/IPv6 literal becomes an IP target, anything else a name) and a port.
std::optional<Target> MakeTarget(std::string_view host, std::uint16_t port);

}  // namespace strait::device
