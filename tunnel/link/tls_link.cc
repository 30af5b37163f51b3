#include "tunnel/link/tls_link.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "crypto/proof.h"
#include "runtime/net.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link_messages.h"

namespace strait::link {

using tunnel::ErrorCode;
using tunnel::FrameType;

std::string_view LinkStateName(LinkState s) {
  switch (s) {
    case LinkState::kIdle: return "idle";
    case LinkState::kTls: return "tls";
    case LinkState::kLogin: return "login";
    case LinkState::kUp: return "up";
    case LinkState::kClosing: return "closing";
    case LinkState::kDown: return "down";
  }
  return "unknown";
}

std::string_view DownReasonName(DownReason r) {
  switch (r) {
    case DownReason::kLocalClose: return "local_close";
    case DownReason::kPeerClosed: return "peer_closed";
    case DownReason::kSocketError: return "socket_error";
    case DownReason::kConnectFailed: return "connect_failed";
    case DownReason::kTlsError: return "tls_error";
    case DownReason::kFrameError: return "frame_error";
    case DownReason::kProtocolError: return "protocol_error";
    case DownReason::kLoginRefused: return "login_refused";
    case DownReason::kPeerError: return "peer_error";
    case DownReason::kHandshakeTimeout: return "handshake_timeout";
    case DownReason::kIdleTimeout: return "idle_timeout";
    case DownReason::kSendFailed: return "send_failed";
    case DownReason::kShutdown: return "shutdown";
    case DownReason::kOverloaded: return "overloaded";
    case DownReason::kCredentialExpired: return "credential_expired";
  }
  return "unknown";
}

std::string_view SendStatusName(SendStatus s) {
  switch (s) {
    case SendStatus::kOk: return "ok";
    case SendStatus::kBackpressure: return "backpressure";
    case SendStatus::kTooLarge: return "too_large";
    case SendStatus::kNotUp: return "not_up";
    case SendStatus::kClosed: return "closed";
  }
  return "unknown";
}

namespace {

constexpr std::uint16_t Code(ErrorCode c) { return static_cast<std::uint16_t>(c); }

DownReason DownReasonFor(runtime::CloseReason r) {
  switch (r) {
    case runtime::CloseReason::kLocal: return DownReason::kLocalClose;
    case runtime::CloseReason::kPeerReset:
    case runtime::CloseReason::kError:
    case runtime::CloseReason::kTimeout: return DownReason::kSocketError;
    case runtime::CloseReason::kConnectFailed: return DownReason::kConnectFailed;
    case runtime::CloseReason::kShutdown: return DownReason::kShutdown;
  }
  return DownReason::kSocketError;
}

}  // namespace

namespace {
LinkTimers::Limits TimerLimits(const LinkOptions& o) {
  using std::chrono::nanoseconds;
  return {nanoseconds(o.handshake_timeout).count(), nanoseconds(o.client_hello_timeout).count(),
          nanoseconds(o.no_buffer_retry).count()};
}
}  // namespace

TlsLink::TlsLink(runtime::EventLoop& loop, LinkLoopState& shared, const LinkConfig& config, LinkHandler& handler)
    : loop_(&loop), shared_(&shared), config_(&config), handler_(&handler), timers_(TimerLimits(config.options)) {
  assert(config.tls != nullptr);
}

TlsLink::~TlsLink() {
  // A started link is the loop's handler until OnClose; destroying it earlier would leave a dangling handler.
  assert(state_ == LinkState::kIdle || state_ == LinkState::kDown);
}

std::int64_t TlsLink::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TlsLink::ReleaseIfEmpty(std::vector<std::uint8_t>& v) {
  if (v.empty() && v.capacity() != 0) std::vector<std::uint8_t>().swap(v);
}

void TlsLink::ReleaseIfEmpty(crypto::GrowableBytes& b) {
  if (b.empty() && b.capacity() != 0) b.Release();
}

// ---------------------------------------------------------------------------------------------------------------
// Start

bool TlsLink::StartTls() {
  assert(state_ == LinkState::kIdle);
  auto session = crypto::TlsSession::Create(*config_->tls);
  if (!session) return false;
  tls_.emplace(std::move(*session));
  return true;
}

bool TlsLink::Accept(int fd) {
  assert(config_->tls->is_server());
  if (!StartTls()) return false;
  (void)runtime::SetTcpNoDelay(fd);  // frames are small and latency-bound: no Nagle on links
  conn_ = loop_->Adopt(fd, this);
  if (!conn_.valid()) {
    tls_.reset();
    return false;
  }
  loop_->Watch(conn_);  // LoopStats::stalls: a link with bytes to move that moves none for a watchdog interval
  state_ = LinkState::kTls;
  timers_.Start(NowNs(), /*hello_seen=*/false);
  ++shared_->stats.links_started;
  ArmTimer();
  return true;
}

bool TlsLink::Connect(const runtime::SocketAddress& addr, const runtime::SocketAddress* source) {
  assert(!config_->tls->is_server());
  if (!StartTls()) return false;
  conn_ = loop_->Connect(addr, this, 0, nullptr, source);
  if (!conn_.valid()) {
    tls_.reset();
    return false;
  }
  loop_->Watch(conn_);
  state_ = LinkState::kTls;
  timers_.Start(NowNs(), /*hello_seen=*/true);  // the ClientHello deadline is the server's
  ++shared_->stats.links_started;
  std::vector<std::uint8_t> hello;  // the ClientHello; the loop queues it until the connect completes
  if (auto r = tls_->Start(hello); !r) {
    Down(DownReason::kTlsError, 0, r.error().reason, Ending::kAbort);
    return true;  // OnLinkDown follows
  }
  SendCiphertext(hello);
  ArmTimer();
  return true;
}

void TlsLink::OnConnected(runtime::EventLoop& loop, runtime::ConnId id) {
  (void)runtime::SetTcpNoDelay(loop.Fd(id));  // frames are small and latency-bound: no Nagle on links
}

// ---------------------------------------------------------------------------------------------------------------
// Receive path

void TlsLink::OnData(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::Buffer data) {
  if (state_ != LinkState::kTls && state_ != LinkState::kLogin && state_ != LinkState::kUp) return;
  timers_.Received(NowNs());
  const bool was_complete = tls_->handshake_complete();

  // Plaintext goes to the loop-wide scratch unless a partial frame is waiting (then it is appended to that).
  const bool use_scratch = rx_partial_.empty() && !shared_->rx_busy_;
  if (use_scratch) {
    shared_->rx_busy_ = true;
    shared_->rx_plain_.clear();
  }
  crypto::GrowableBytes& plain = use_scratch ? shared_->rx_plain_ : rx_partial_;
  std::vector<std::uint8_t> handshake_out;  // allocates only when TLS has something to say (handshake, alert)
  auto received = tls_->Receive(data.data(), plain, handshake_out);
  data.reset();  // the recv buffer goes back to the ring now
  if (!handshake_out.empty()) {
    timers_.HelloSeen();  // the server only speaks once it has a whole ClientHello
    SendCiphertext(handshake_out);
  }
  if (!received) {
    if (use_scratch) shared_->rx_busy_ = false;
    rx_partial_.clear();
    Down(DownReason::kTlsError, 0, received.error().reason, Ending::kFlush);  // the alert goes out
    return;
  }
  if (!was_complete && tls_->handshake_complete()) OnHandshakeDone();

  in_dispatch_ = true;
  const std::size_t consumed = state_ == LinkState::kClosing ? plain.size() : DispatchFrames(plain.view());
  in_dispatch_ = false;
  if (use_scratch) {
    if (state_ != LinkState::kClosing && consumed < plain.size()) rx_partial_.Append(plain.view().subspan(consumed));
    plain.clear();
    shared_->rx_busy_ = false;
  } else {
    if (state_ == LinkState::kClosing) {
      rx_partial_.clear();
    } else {
      rx_partial_.Consume(consumed);
    }
    ReleaseIfEmpty(rx_partial_);
  }
  if (tls_->peer_closed()) Down(DownReason::kPeerClosed, 0, "peer sent close_notify", Ending::kFlush);
  Flush();
  if (resume_deferred_) {
    resume_deferred_ = false;
    if (!paused_ && state_ != LinkState::kClosing) {
      loop_->ResumeRecv(conn_);
      DrainPartial();
    }
  }
}

void TlsLink::DrainPartial() {
  if (paused_ || rx_partial_.empty() || (state_ != LinkState::kLogin && state_ != LinkState::kUp)) return;
  // Frames left behind by a pause. The owner cannot make OnData run on this link while we iterate: a nested
  // ResumeRecv is deferred (in_dispatch_).
  in_dispatch_ = true;
  const std::size_t consumed = DispatchFrames(rx_partial_.view());
  in_dispatch_ = false;
  if (state_ == LinkState::kClosing) {
    rx_partial_.clear();
  } else {
    rx_partial_.Consume(consumed);
  }
  ReleaseIfEmpty(rx_partial_);
  Flush();
  if (resume_deferred_) {
    resume_deferred_ = false;
    if (!paused_ && state_ != LinkState::kClosing) {
      loop_->ResumeRecv(conn_);
      DrainPartial();
    }
  }
}

std::size_t TlsLink::DispatchFrames(std::span<const std::uint8_t> plain) {
  std::size_t off = 0;
  while (off < plain.size() && !paused_ && (state_ == LinkState::kLogin || state_ == LinkState::kUp)) {
    const tunnel::ReadResult rr = reader_.Next(plain.subspan(off));
    switch (rr.kind) {
      case tunnel::ReadKind::kNeedMore:
        return off;
      case tunnel::ReadKind::kSkip:
        off += rr.consumed;
        ++shared_->stats.unknown_skipped;
        break;
      case tunnel::ReadKind::kError:
        Down(DownReason::kFrameError, Code(tunnel::ErrorCodeFor(rr.error)), tunnel::FrameErrorName(rr.error),
             Ending::kSendError);
        return off;
      case tunnel::ReadKind::kFrame: {
        const Frame f{rr.header, rr.payload, plain.subspan(off, rr.consumed)};
        off += rr.consumed;
        HandleFrame(f);
        break;
      }
    }
  }
  return off;
}

namespace {
bool IsSessionRequestRefusal(std::span<const std::uint8_t> payload) {
  auto err = tunnel::ErrorMessage::Decode(payload);
  return err && (err->code == ErrorCode::kNoConnector || err->code == ErrorCode::kTooManySessions);
}
}  // namespace

void TlsLink::HandleFrame(const Frame& f) {
  if (state_ == LinkState::kLogin) {
    HandleLoginFrame(f);
    return;
  }
  switch (f.header.type) {
    case FrameType::kHello:
    case FrameType::kHelloAck:
    case FrameType::kPing:
    case FrameType::kPong:
      HandleLinkFrame(f);
      return;
    case FrameType::kError:
      // ERROR no_connector / too_many_sessions on channel 0 answer a SESSION_REQUEST and leave the link up
      // (docs/protocol.md §5): the owner gets them; every other ERROR on channel 0 ends the link.
      if (f.header.channel == 0 && !IsSessionRequestRefusal(f.payload)) {
        HandleLinkFrame(f);
        return;
      }
      break;
    default:
      break;
  }
  ++shared_->stats.frames_in;
  handler_->OnFrame(*this, f);
}

// A PONG is owed only within the rate and under the send bound: a peer that sends PINGs and never reads gets no
// more of our memory than one that sends data (issue 7).
void TlsLink::AnswerPing(std::uint64_t opaque) {
  constexpr std::int64_t kSecondNs = 1'000'000'000;
  std::array<std::uint8_t, 8> payload{};
  const std::int64_t now = NowNs();
  if (now - pong_window_ns_ >= kSecondNs) {
    pong_window_ns_ = now;
    pongs_in_window_ = 0;
  }
  if (pongs_in_window_ >= config_->options.max_pongs_per_second ||
      backlog_bytes() + tunnel::kHeaderSize + payload.size() > config_->options.max_pending_bytes) {
    ++shared_->stats.pings_unanswered;
    return;
  }
  ++pongs_in_window_;
  ++shared_->stats.pongs_sent;
  (void)tunnel::Pong{opaque}.Encode(payload);
  AppendOwnFrame(FrameType::kPong, 0, payload);
}

void TlsLink::HandleLinkFrame(const Frame& f) {
  switch (f.header.type) {
    case FrameType::kPing: {
      auto ping = tunnel::Ping::Decode(f.payload);
      if (!ping) break;
      AnswerPing(ping->opaque);
      return;
    }
    case FrameType::kPong:
      if (!tunnel::Pong::Decode(f.payload)) break;
      ++shared_->stats.pongs_received;
      return;
    case FrameType::kError: {
      auto err = tunnel::ErrorMessage::Decode(f.payload);
      if (!err) break;
      const std::string_view reason(reinterpret_cast<const char*>(err->reason.data()), err->reason.size());
      Down(DownReason::kPeerError, Code(err->code), reason, Ending::kFlush);
      return;
    }
    default:
      break;  // HELLO / HELLO_ACK after login
  }
  Down(DownReason::kProtocolError, Code(ErrorCode::kProtocolError),
       std::string("unexpected or malformed ") + std::string(tunnel::FrameTypeName(f.header.type)),
       Ending::kSendError);
}

// ---------------------------------------------------------------------------------------------------------------
// Login

void TlsLink::OnHandshakeDone() {
  state_ = LinkState::kLogin;
  if (is_server()) return;  // the peer speaks first
  auto exporter = crypto::HelloExporterValue(*tls_);
  if (!exporter) {
    Down(DownReason::kTlsError, 0, exporter.error().reason, Ending::kAbort);
    return;
  }
  auto hello = BuildHello(config_->client, *exporter);
  if (!hello) {
    Down(DownReason::kProtocolError, 0, hello.error().reason, Ending::kFlush);
    return;
  }
  AppendOwnFrame(FrameType::kHello, 0, *hello);
}

void TlsLink::HandleLoginFrame(const Frame& f) {
  if (f.header.type == FrameType::kError && f.header.channel == 0) {
    HandleLinkFrame(f);  // a refusal (client) or a peer giving up (server)
    return;
  }
  if (is_server()) {
    if (f.header.type != FrameType::kHello || f.header.channel != 0) {
      Down(DownReason::kProtocolError, Code(ErrorCode::kProtocolError), "expected HELLO", Ending::kSendError);
      return;
    }
    auto exporter = crypto::HelloExporterValue(*tls_);
    if (!exporter) {
      Down(DownReason::kTlsError, Code(ErrorCode::kInternal), exporter.error().reason, Ending::kSendError);
      return;
    }
    auto peer = VerifyHello(config_->server, *exporter, f.payload);
    if (!peer) {
      Down(DownReason::kLoginRefused, Code(peer.error().code), peer.error().reason, Ending::kSendError);
      return;
    }
    if (std::optional<LoginRefusal> refused = handler_->AdmitLogin(*this, *peer)) {
      Down(DownReason::kLoginRefused, Code(refused->code), refused->reason, Ending::kSendError);
      return;
    }
    const LinkOptions& o = config_->options;
    const auto keepalive_ms = static_cast<std::uint32_t>(o.keepalive.count());
    const auto idle_ms = static_cast<std::uint32_t>(o.idle_timeout.count());
    AppendOwnFrame(FrameType::kHelloAck, 0,
                   BuildHelloAck(config_->server, peer->version, keepalive_ms, idle_ms, *exporter));
    credential_not_after_ = peer->credential.not_after;
    (void)CheckCredential(NowNs(), peer->verified_at_unix);  // valid at verification: only sets the deadline
    LinkIdentity id;
    id.version = peer->version;
    id.peer = &*peer;
    GoUp(id, keepalive_ms, idle_ms);
    return;
  }
  if (f.header.type != FrameType::kHelloAck || f.header.channel != 0) {
    Down(DownReason::kProtocolError, Code(ErrorCode::kProtocolError), "expected HELLO_ACK", Ending::kSendError);
    return;
  }
  auto exporter = crypto::HelloExporterValue(*tls_);
  if (!exporter) {
    Down(DownReason::kTlsError, Code(ErrorCode::kInternal), exporter.error().reason, Ending::kSendError);
    return;
  }
  auto relay = CheckHelloAck(config_->client, *exporter, f.payload);
  if (!relay) {
    // A server that shows no valid credential is refused like a peer whose HELLO fails (protocol.md §3).
    const bool identity = relay.error().code != ErrorCode::kProtocolError &&
                          relay.error().code != ErrorCode::kUnsupportedVersion;
    Down(identity ? DownReason::kLoginRefused : DownReason::kProtocolError, Code(relay.error().code),
         relay.error().reason, Ending::kSendError);
    return;
  }
  if (std::optional<LoginRefusal> refused = handler_->AdmitServer(*this, *relay)) {
    Down(DownReason::kLoginRefused, Code(refused->code), refused->reason, Ending::kSendError);
    return;
  }
  peer_max_payload_ = relay->max_payload;
  LinkIdentity id;
  id.version = relay->version;
  id.relay = &*relay;
  GoUp(id, relay->keepalive_ms, relay->idle_timeout_ms);
}

void TlsLink::GoUp(const LinkIdentity& identity, std::uint32_t keepalive_ms, std::uint32_t idle_ms) {
  state_ = LinkState::kUp;
  timers_.Up(keepalive_ms, idle_ms);
  ++shared_->stats.links_up;
  ArmTimer();
  if (state_ != LinkState::kUp) return;
  handler_->OnLinkUp(*this, identity);
}

// ---------------------------------------------------------------------------------------------------------------
// Flow control toward the owner

void TlsLink::PauseRecv() {
  if (paused_) return;
  paused_ = true;
  resume_deferred_ = false;
  loop_->PauseRecv(conn_);
}

void TlsLink::ResumeRecv() {
  if (!paused_) return;
  paused_ = false;
  if (in_dispatch_) {
    resume_deferred_ = true;
    return;
  }
  loop_->ResumeRecv(conn_);  // may deliver held data (OnData) before it returns
  DrainPartial();
}

// ---------------------------------------------------------------------------------------------------------------
// Timers

void TlsLink::ArmTimer() {
  if (timer_.valid()) {
    loop_->CancelTimer(timer_);
    timer_ = {};
  }
  if (state_ != LinkState::kTls && state_ != LinkState::kLogin && state_ != LinkState::kUp) return;
  const std::int64_t deadline = timers_.NextDeadline();
  if (deadline == LinkTimers::kNever) return;
  timer_ = loop_->AddTimer(std::chrono::nanoseconds(std::max<std::int64_t>(0, deadline - NowNs())), this);
  if (!timer_.valid()) {
    Down(DownReason::kOverloaded, Code(ErrorCode::kOverloaded), "no free timer", Ending::kSendError);
  }
}

void TlsLink::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  timer_ = {};
  for (;;) {
    const std::int64_t now = NowNs();
    switch (timers_.Due(now)) {
      case LinkTimers::Action::kNone:
        ArmTimer();
        return;
      case LinkTimers::Action::kHelloTimeout:
        Down(DownReason::kHandshakeTimeout, 0, "no complete ClientHello in time", Ending::kAbort);
        return;
      case LinkTimers::Action::kHandshakeTimeout:
        Down(DownReason::kHandshakeTimeout, Code(ErrorCode::kHandshakeTimeout), "TLS and login did not finish in time",
             Ending::kSendError);
        return;
      case LinkTimers::Action::kFlushRetry:
        timers_.FlushRetried();
        RetrySealed();
        Flush();
        break;
      case LinkTimers::Action::kCredentialCheck:
        (void)CheckCredential(now, CredentialNow(config_->server));
        break;
      case LinkTimers::Action::kIdleTimeout:
        Down(DownReason::kIdleTimeout, Code(ErrorCode::kIdleTimeout), "nothing received within the idle timeout",
             Ending::kSendError);
        return;
      case LinkTimers::Action::kPing: {
        std::array<std::uint8_t, 8> payload{};
        (void)tunnel::Ping{++ping_seq_}.Encode(payload);
        AppendOwnFrame(FrameType::kPing, 0, payload);
        ++shared_->stats.pings_sent;
        Flush();
        timers_.Sent(now);  // a refused PING counts too, so the timer does not spin while the queue drains
        break;
      }
    }
    if (state_ != LinkState::kUp) return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Credential expiry

bool TlsLink::CheckCredential(std::int64_t now_ns, std::uint64_t now_unix) {
  if (now_unix > credential_not_after_) {  // valid through not_after inclusive (crypto/credential.h)
    Down(DownReason::kCredentialExpired, Code(ErrorCode::kBadCredential),
         fmt::format("credential expired at {} (now {}): renew it and log in again", credential_not_after_, now_unix),
         Ending::kSendError);
    return false;
  }
  // Seconds until it expires, capped so the nanosecond deadline cannot overflow (a year: re-derived then).
  constexpr std::uint64_t kMaxWaitSeconds = 365ull * 24 * 3600;
  const std::uint64_t left = std::min(credential_not_after_ - now_unix + 1, kMaxWaitSeconds);
  timers_.SetCredentialDeadline(now_ns + static_cast<std::int64_t>(left) * 1'000'000'000);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Close

void TlsLink::Close(ErrorCode code, std::string_view reason) {
  Down(DownReason::kLocalClose, Code(code), reason, Ending::kSendError);
}

void TlsLink::Abort() { Down(DownReason::kLocalClose, 0, "aborted", Ending::kAbort); }

void TlsLink::Down(DownReason reason, std::uint16_t code, std::string_view message, Ending ending) {
  bool graceful = ending != Ending::kAbort;
  if (state_ != LinkState::kTls && state_ != LinkState::kLogin && state_ != LinkState::kUp) return;
  down_.reason = reason;
  down_.code = code;
  down_.message.assign(message.substr(0, tunnel::kMaxErrorReasonBytes));
  down_.was_up = state_ == LinkState::kUp;
  if (ending == Ending::kSendError && code != 0 && tls_ && tls_->handshake_complete()) {
    tunnel::ErrorMessage err;
    err.code = static_cast<ErrorCode>(code);
    err.reason = {reinterpret_cast<const std::uint8_t*>(down_.message.data()), down_.message.size()};
    std::array<std::uint8_t, 4 + tunnel::kMaxErrorReasonBytes> payload{};
    auto n = err.Encode(payload);
    if (n) AppendOwnFrame(FrameType::kError, 0, std::span(payload).first(*n));
    Flush();
    if (state_ == LinkState::kClosing) return;  // sealing failed: Flush already closed the link
    std::vector<std::uint8_t> close_notify;
    if (tls_->Close(close_notify)) SendCiphertext(close_notify);
    graceful = true;
  }
  StartClose(graceful ? runtime::CloseMode::kGraceful : runtime::CloseMode::kAbort);
}

void TlsLink::StartClose(runtime::CloseMode mode) {
  state_ = LinkState::kClosing;
  timers_.Stop();
  if (timer_.valid()) {
    loop_->CancelTimer(timer_);
    timer_ = {};
  }
  RetrySealed();
  loop_->Close(conn_, mode);
}

void TlsLink::OnReadClosed(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/) {
  Down(DownReason::kPeerClosed, 0, "peer closed the connection", Ending::kFlush);
}

void TlsLink::OnClose(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::CloseReason reason, int err) {
  if (timer_.valid()) {
    loop_->CancelTimer(timer_);
    timer_ = {};
  }
  if (state_ != LinkState::kClosing) {  // the runtime closed it: socket error, connect failure, shutdown
    down_.reason = DownReasonFor(reason);
    down_.was_up = state_ == LinkState::kUp;
    down_.message = err != 0 ? std::string(std::strerror(err)) : std::string(runtime::ToString(reason));
  }
  down_.close = reason;
  down_.err = err;
  state_ = LinkState::kDown;
  conn_ = {};
  ++shared_->stats.down[static_cast<std::size_t>(down_.reason)];
  // Everything but the object itself goes now: an unreferenced down link costs sizeof(TlsLink).
  tls_.reset();
  rx_partial_.Release();
  tx_pending_ = {};
  tx_sealed_ = {};
  const LinkDown down = std::move(down_);
  down_ = {};
  handler_->OnLinkDown(*this, down);  // may destroy *this: nothing after this line
}

}  // namespace strait::link
