// TlsLink: one TLS 1.3 connection carrying Strait frames (docs/protocol.md §1-3, docs/link.md), the piece the
// relay, the connector and the device all drive. It is the runtime ConnectionHandler of its connection and owns the
// TlsSession, the FrameReader, the login state and one loop timer. Its deadlines live in a LinkTimers (sans-I/O,
// tested with a manual clock); TlsLink reads the steady clock and arms the loop timer for them.
//
//   receive: OnData(ciphertext) ─▶ TlsSession::Receive ─▶ plaintext ─▶ FrameReader::Next ─▶ link frames handled here
//            (HELLO, HELLO_ACK, PING, PONG, ERROR on channel 0) · every other frame ─▶ LinkHandler::OnFrame
//            (also ERROR no_connector / too_many_sessions on channel 0: they answer a SESSION_REQUEST, link stays up)
//   send:    SendFrame / SendEncoded ─▶ pending plaintext ─▶ Flush: one TlsSession::Send, sealing straight into
//            loop send buffers ─▶ EventLoop::Send(Buffer&&). A record-sized frame given to SendEncoded while nothing
//            is pending is sealed from the caller's memory without the pending copy.
//
// Buffers (docs/link.md has the diagram). Each is empty and holds no heap while the link is idle:
//   rx_partial_  plaintext of one incomplete frame (≤ header + kMaxPayload) kept between OnData calls;
//   tx_pending_  plaintext frames appended by SendFrame, sealed by the next Flush;
//   tx_sealed_   ciphertext the loop refused (send queue full / no plain buffer), retried before anything else.
// Complete frames are decoded from the loop-wide scratch in LinkLoopState, so a link whose records end on frame
// boundaries never touches its own rx buffer.
//
// Threading: one loop thread owns a link for life. Every public function is [loop]: call it on the loop thread of
// the EventLoop given to the constructor, or from a callback on it. The LinkHandler is called on that thread.
//
// Lifetime: construct, then Accept() (server) or Connect() (client). Exactly one OnLinkDown follows (also when
// login fails or connect fails); it is the last callback, runs after the fd is closed and the timer cancelled, and
// the owner may destroy the TlsLink inside it. Destroying a started link before OnLinkDown is a bug (the loop
// still holds it as a handler); to drop a link early, Abort() it and destroy it in OnLinkDown. Links may also be
// destroyed after their loop's Run() has returned (Run closes every connection, so every link is down).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/byte_sink.h"
#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "runtime/event_loop.h"
#include "tunnel/frame.h"
#include "tunnel/frame_reader.h"
#include "tunnel/link/link_timers.h"
#include "tunnel/link/login.h"

namespace strait::link {

class TlsLink;

// The link's life, in order. A link only moves forward.
enum class LinkState : std::uint8_t {
  kIdle,     // constructed; Accept/Connect not called yet
  kTls,      // TCP (connecting or accepted), TLS handshake running
  kLogin,    // TLS done. client: HELLO sent, awaiting HELLO_ACK; server: awaiting HELLO
  kUp,       // authenticated: frames flow
  kClosing,  // closing (error, timeout, Close/Abort, peer gone); waiting for the runtime's OnClose
  kDown,     // OnLinkDown delivered
};
std::string_view LinkStateName(LinkState s);

// Why a link went down. One name and one counter (LinkLoopState::stats) per reason.
enum class DownReason : std::uint8_t {
  kLocalClose,        // the owner called Close() or Abort()
  kPeerClosed,        // TCP EOF or TLS close_notify from the peer
  kSocketError,       // reset or another socket error
  kConnectFailed,     // client: TCP connect failed
  kTlsError,          // TLS handshake or record failure (e.g. garbage bytes instead of TLS)
  kFrameError,        // the frame decoder refused the stream (bad version, frame_too_large, critical unknown)
  kProtocolError,     // a frame not allowed in this state, or a malformed link message
  kLoginRefused,      // the peer's login was refused (ERROR sent; see LinkDown::code): server, its HELLO (or
                      // LinkHandler::AdmitLogin); client, the server's credential or proof in HELLO_ACK
  kPeerError,         // the peer sent ERROR on channel 0 (client: a refused login); see LinkDown::code
  kHandshakeTimeout,  // TLS + login did not finish within LinkOptions::handshake_timeout
  kIdleTimeout,       // nothing received for the idle timeout
  kSendFailed,        // the loop refused sealed bytes for good (connection closing) or sealing failed
  kShutdown,          // the loop is stopping
  kOverloaded,        // the loop had no free timer (LoopOptions::max_timers); ERROR overloaded sent
  kCredentialExpired,  // server: the peer's credential passed its not_after while up; ERROR bad_credential sent
};
inline constexpr std::size_t kDownReasonCount = 15;
std::string_view DownReasonName(DownReason r);

// What OnLinkDown reports.
struct LinkDown {
  DownReason reason = DownReason::kLocalClose;
  std::uint16_t code = 0;      // the ERROR code sent (or, for kPeerError, received); 0 = none
  std::string message;         // the ERROR reason text, or a TLS / socket description
  bool was_up = false;         // OnLinkUp had been delivered
  runtime::CloseReason close = runtime::CloseReason::kLocal;
  int err = 0;                 // errno from the runtime, if any
};

// What OnLinkUp reports. Views valid during the callback only: copy what you keep.
struct LinkIdentity {
  std::uint8_t version = 0;
  const PeerLogin* peer = nullptr;    // server side: the verified peer credential
  const RelayLogin* relay = nullptr;  // client side: what HELLO_ACK announced
};

// One received frame, valid during OnFrame only.
struct Frame {
  tunnel::FrameHeader header;
  std::span<const std::uint8_t> payload;
  std::span<const std::uint8_t> bytes;  // header + payload as received: SendEncoded() forwards them unchanged
};

// Implemented by the owner (relay shard, connector, device). Called on the link's loop thread.
class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  // Server: the peer's HELLO verified (credential, role, proof). A refusal returned here is sent as ERROR <code,
  // reason> instead of HELLO_ACK and the link goes down with kLoginRefused; OnLinkUp never comes (the relay's
  // denial list answers `revoked` here: docs/control-plane.md §7.3). Must not destroy the link. Default: admitted.
  virtual std::optional<LoginRefusal> AdmitLogin(TlsLink& link, const PeerLogin& peer) {
    (void)link;
    (void)peer;
    return std::nullopt;
  }
  // Client: the server's HELLO_ACK verified (its credential and proof, when the config asks for them). A refusal
  // returned here takes the link down with kLoginRefused before OnLinkUp, so a dialer counts it as a failed dial
  // and backs off (a connector refuses a revoked relay here). Must not destroy the link. Default: admitted.
  virtual std::optional<LoginRefusal> AdmitServer(TlsLink& link, const RelayLogin& server) {
    (void)link;
    (void)server;
    return std::nullopt;
  }
  // Login finished; frames may be sent now.
  virtual void OnLinkUp(TlsLink& link, const LinkIdentity& identity) = 0;
  // A frame that is not link housekeeping (everything but HELLO, HELLO_ACK, PING, PONG, ERROR on channel 0).
  virtual void OnFrame(TlsLink& link, const Frame& frame) = 0;
  // Last callback; see the lifetime note at the top. The owner may destroy `link` here.
  virtual void OnLinkDown(TlsLink& link, const LinkDown& down) = 0;
  // The link's send backlog (loop queue, or sealed bytes the loop refused) rose above the loop's high watermark:
  // stop feeding it (a relay calls PauseRecv on the source link). Once per crossing.
  virtual void OnSendQueueHigh(TlsLink& link) { (void)link; }
  // The backlog drained to the low watermark after a high crossing: resume feeding.
  virtual void OnSendQueueLow(TlsLink& link) { (void)link; }
};

// Timers and bounds. Immutable while links use them.
struct LinkOptions {
  std::chrono::milliseconds handshake_timeout{10000};  // TLS + HELLO (server) / HELLO_ACK (client)
  // Server: a connection that has not sent a complete ClientHello this long after accept is closed (a real client
  // sends it at once; idle and trickling sockets must not hold a login slot for the whole handshake_timeout).
  std::chrono::milliseconds client_hello_timeout{3000};
  // Server: used and announced in HELLO_ACK. Client: used until HELLO_ACK, then the values it announced (0 = off).
  std::chrono::milliseconds keepalive{15000};     // PING after this much send silence; 0 = never
  std::chrono::milliseconds idle_timeout{60000};  // close after this much receive silence; 0 = never
  // Bound on pending plaintext + sealed bytes the loop refused. SendFrame refuses (kBackpressure) beyond it.
  std::uint32_t max_pending_bytes = 256u << 10;
  // SendFrame flushes by itself once this much plaintext is pending (one full TLS record).
  std::uint32_t auto_flush_bytes = 16u << 10;
  // Delay before retrying a flush the loop refused for lack of plain-pool buffers (kNoBuffer has no callback).
  std::chrono::milliseconds no_buffer_retry{2};
  // PINGs answered per second (a peer keeps alive with one per keepalive interval). Beyond it, and whenever a PONG
  // would take the backlog past max_pending_bytes, a PING goes unanswered (counted): what a peer makes the link
  // send counts against the same bound as everything else.
  std::uint32_t max_pongs_per_second = 10;
};

// Everything links of one kind (one port, or one dialler) share. Immutable while links use it.
struct LinkConfig {
  const crypto::TlsContext* tls = nullptr;  // its side (is_server) decides the link's role
  LinkOptions options;
  ClientLoginConfig client;  // used by client links
  ServerLoginConfig server;  // used by server links
};

// Per-loop counters, summed over every link on the loop. Loop thread only.
struct LinkStats {
  std::uint64_t links_started = 0;
  std::uint64_t links_up = 0;
  std::array<std::uint64_t, kDownReasonCount> down{};  // by DownReason
  std::uint64_t frames_in = 0;                          // delivered to OnFrame
  std::uint64_t frames_out = 0;                         // accepted by SendFrame / SendEncoded
  std::uint64_t unknown_skipped = 0;                    // non-critical unknown types skipped by length
  std::uint64_t pings_sent = 0;
  std::uint64_t pongs_received = 0;
  std::uint64_t pongs_sent = 0;
  std::uint64_t pings_unanswered = 0;                   // over max_pongs_per_second, or no room under the bound
  std::uint64_t send_backpressure = 0;                  // SendFrame refused: over max_pending_bytes
  std::uint64_t loop_send_refused = 0;                  // loop.Send refused sealed bytes (kept and retried)
  std::uint64_t frames_sealed_direct = 0;               // SendEncoded frames sealed from the caller's memory
  std::uint64_t seal_overflow = 0;                      // Flushes that ran out of plain-pool buffers mid-seal
  std::uint64_t Down(DownReason r) const { return down[static_cast<std::size_t>(r)]; }
};

// State shared by every link of one loop: scratch buffers (reused by whichever link is receiving or flushing, so
// no link keeps a buffer of its own while its data arrives in whole frames) and counters. One per EventLoop,
// created and used on its thread, outliving its links.
class LinkLoopState {
 public:
  LinkStats stats;

 private:
  friend class TlsLink;
  // A scratch is lent to one user at a time; a nested user (a callback that flushes another link while this one is
  // mid-send) gets a temporary instead.
  crypto::GrowableBytes rx_plain_;
  std::vector<runtime::Buffer> tx_bufs_;        // loop send buffers being filled by one Flush
  std::vector<std::uint8_t> tx_overflow_;       // sealed bytes when the plain pool ran dry mid-Flush
  bool rx_busy_ = false;
  bool tx_busy_ = false;
};

// Result of SendFrame / SendEncoded. The hot path's small enum: the caller must handle every value.
enum class SendStatus : std::uint8_t {
  kOk,            // appended; goes out at the next Flush (or now, if auto_flush_bytes was reached)
  kBackpressure,  // over LinkOptions::max_pending_bytes: nothing appended. Keep the frame (or drop a datagram and
                  // count it) and retry after OnSendQueueLow
  kTooLarge,      // payload above the peer's max_payload (kMaxPayload, or what HELLO_ACK announced)
  kNotUp,         // login has not finished (only the link itself sends before that)
  kClosed,        // closing or down
};
std::string_view SendStatusName(SendStatus s);

class TlsLink final : public runtime::ConnectionHandler, private runtime::TimerHandler {
 public:
  // [loop] `loop`, `shared`, `config` and `handler` must outlive the link. Nothing starts until Accept/Connect.
  TlsLink(runtime::EventLoop& loop, LinkLoopState& shared, const LinkConfig& config, LinkHandler& handler);
  // [loop] Requires state() to be kIdle or kDown (see the lifetime note).
  ~TlsLink() override;
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  // [loop] Server: adopts an accepted socket and waits for the ClientHello. Returns false, with `fd` still the
  // caller's and no callback to follow, if the loop has no free slot or the TLS session cannot be created.
  bool Accept(int fd);
  // [loop] Client: connects to `addr` (numeric; name resolution belongs to the caller) and starts the handshake.
  // Returns false, with no callback to follow, if the loop has no free slot or socket() failed. `source`: the local
  // address to connect from (EventLoop::Connect), none by default.
  bool Connect(const runtime::SocketAddress& addr, const runtime::SocketAddress* source = nullptr);

  // [loop] Appends one frame to the pending plaintext. Sent at the next Flush (auto at the end of this link's
  // OnData handling, at auto_flush_bytes, or by the owner). See SendStatus for what the caller must do.
  SendStatus SendFrame(tunnel::FrameType type, std::uint16_t flags, std::uint32_t channel,
                       std::span<const std::uint8_t> payload);
  // [loop] Appends an already encoded frame (header + payload, e.g. Frame::bytes from another link) unchanged.
  // The header must parse and its length must match `frame`'s size (asserted).
  SendStatus SendEncoded(std::span<const std::uint8_t> frame);
  // [loop] Seals all pending plaintext with one TlsSession::Send (records of ≤ 16 KiB) and hands the ciphertext
  // to the loop. Cheap when nothing is pending. Owners that batch across links call it once per batch.
  void Flush();

  // [loop] Stop / resume delivering received data (the relay's backpressure on a source link). After PauseRecv
  // returns no OnFrame arrives until ResumeRecv; the timers keep running (a paused link still pings).
  void PauseRecv();
  void ResumeRecv();

  // [loop] Sends ERROR <code, reason> (when TLS is up) and close_notify, then closes gracefully. OnLinkDown
  // follows with kLocalClose (or `down` if given). Idempotent once closing.
  void Close(tunnel::ErrorCode code, std::string_view reason);
  // [loop] Closes now, dropping anything unsent. OnLinkDown follows with kLocalClose.
  void Abort();

  // [loop] Accessors.
  LinkState state() const { return state_; }
  // The TLS session while the link has one (from Accept/Connect until it goes down), for inspection such as the
  // negotiated version and cipher; nullptr otherwise.
  const crypto::TlsSession* session() const { return tls_ ? &*tls_ : nullptr; }
  bool is_server() const { return config_->tls->is_server(); }
  runtime::ConnId conn() const { return conn_; }
  // Plaintext pending + sealed bytes the loop refused (what max_pending_bytes bounds).
  std::size_t backlog_bytes() const { return tx_pending_.size() + tx_sealed_.size(); }
  bool send_high() const { return owner_high_; }
  const tunnel::FrameReader& reader() const { return reader_; }
  // Heap capacity held by the link's own buffers (0 when idle), for memory tests and metrics.
  std::size_t buffer_capacity() const {
    return rx_partial_.capacity() + tx_pending_.capacity() + tx_sealed_.capacity();
  }

 private:
  // runtime::ConnectionHandler
  void OnConnected(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override;
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnSendQueueHigh(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnSendQueueLow(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnClose(runtime::EventLoop& loop, runtime::ConnId id, runtime::CloseReason reason, int err) override;
  // runtime::TimerHandler
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;

  bool StartTls();
  void OnHandshakeDone();
  // Decodes and dispatches every complete frame at the front of `plain`; returns bytes consumed. Stops early
  // (and returns what it consumed) once the link is closing.
  std::size_t DispatchFrames(std::span<const std::uint8_t> plain);
  void HandleFrame(const Frame& f);
  void HandleLoginFrame(const Frame& f);
  void HandleLinkFrame(const Frame& f);
  void AnswerPing(std::uint64_t opaque);
  void GoUp(const LinkIdentity& identity, std::uint32_t keepalive_ms, std::uint32_t idle_ms);
  // Appends a frame the link itself sends (login, PING/PONG, ERROR); bypasses the kNotUp and pending bounds, so
  // only frames bounded in number (one per login step, per keepalive tick, per close) may use it unchecked.
  void AppendOwnFrame(tunnel::FrameType type, std::uint32_t channel, std::span<const std::uint8_t> payload);
  // Seals `plaintext` into loop send buffers and hands them to the loop (Flush and the direct SendEncoded path).
  void Seal(std::span<const std::uint8_t> plaintext);
  // Hands ciphertext to the loop; on refusal keeps it in tx_sealed_. False when the connection is gone.
  void SendCiphertext(std::span<const std::uint8_t> bytes);
  // The two hand-offs without the owner's backpressure callback (the caller makes it once, after the last byte).
  void SendSealedBuffer(runtime::Buffer&& buffer);
  void SendSealedBytes(std::span<const std::uint8_t> bytes);
  void AfterLoopSend(runtime::SendResult r, std::span<const std::uint8_t> refused);
  void RetrySealed();
  void StartClose(runtime::CloseMode mode);
  void UpdateOwnerBackpressure();
  void ArmTimer();
  // Server: sets the credential deadline from the credential clock's `now_unix` (re-derived at each check, so a
  // wall clock that moved is followed); closes the link if the credential has expired. False once closed.
  bool CheckCredential(std::int64_t now_ns, std::uint64_t now_unix);
  void DrainPartial();
  // How Down ends the connection.
  enum class Ending : std::uint8_t {
    kAbort,      // close now, dropping anything queued
    kFlush,      // what is queued (e.g. a TLS alert) still goes out, then a graceful close
    kSendError,  // with TLS up and a code: ERROR <code, message> and close_notify first; then as kFlush
  };
  // Records why the link goes down (the first call wins) and starts the close the way `ending` says.
  void Down(DownReason reason, std::uint16_t code, std::string_view message, Ending ending);
  static void ReleaseIfEmpty(std::vector<std::uint8_t>& v);
  static void ReleaseIfEmpty(crypto::GrowableBytes& b);
  static std::int64_t NowNs();

  // Immutable after construction.
  runtime::EventLoop* const loop_;
  LinkLoopState* const shared_;
  const LinkConfig* const config_;
  LinkHandler* const handler_;

  // Loop thread only.
  runtime::ConnId conn_;
  LinkState state_ = LinkState::kIdle;
  bool loop_high_ = false;        // the loop's send queue is above its high watermark
  bool owner_high_ = false;       // OnSendQueueHigh delivered to the owner, Low not yet
  bool in_dispatch_ = false;      // dispatching frames: a nested ResumeRecv is deferred to the end
  bool in_loop_send_ = false;     // inside loop.Send: the owner hears about high only after it returns
  bool paused_ = false;           // the owner paused receiving
  bool resume_deferred_ = false;  // ResumeRecv arrived during dispatch
  std::optional<crypto::TlsSession> tls_;  // created by Accept/Connect, freed when the link goes down
  tunnel::FrameReader reader_;
  crypto::GrowableBytes rx_partial_;
  std::vector<std::uint8_t> tx_pending_;
  std::vector<std::uint8_t> tx_sealed_;
  runtime::TimerId timer_;  // the one loop timer, armed for timers_.NextDeadline()
  LinkTimers timers_;       // every deadline of the link (login, keepalive, idle, flush retry, credential)
  std::uint32_t peer_max_payload_ = static_cast<std::uint32_t>(tunnel::kMaxPayload);
  std::uint64_t ping_seq_ = 0;
  std::int64_t pong_window_ns_ = 0;  // start of the current one-second window of answered PINGs
  std::uint32_t pongs_in_window_ = 0;
  // Server: the peer credential's not_after (unix s). It is checked at login and again when it passes (the
  // LinkTimers credential deadline): an up link closes then (issue 7: not only at login).
  std::uint64_t credential_not_after_ = 0;
  LinkDown down_;                 // filled by Fail/OnClose, reported once by OnClose
};

}  // namespace strait::link
