#include "tunnel/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <utility>

#include "tunnel/e2e_handshake.h"
#include "tunnel/frame_writer.h"

namespace strait::tunnel {
namespace {

// The associated data of a sealed message is its one-byte outer frame type (§7).

// OnFrame writes at most one SESSION_INIT / SESSION_ACCEPT / SESSION_CLOSE.
constexpr size_t kMinFrameOut = kHeaderSize + kMaxNoiseMessageBytes;
// Via a relay, HasOutgoing waits until the credit covers a whole frame: the mux sends DATA in whole chunks.
constexpr int64_t kMinCreditToSend = kSessionOutSize;
static_assert(kMinCreditToSend + kRelayCreditSlack < kInitialRelayCredit);
static_assert(kMaxCloseFrameSize <= kMinFrameOut);

SessionDrop DropFor(crypto::OpenStatus s) {
  switch (s) {
    case crypto::OpenStatus::kTooShort:
    case crypto::OpenStatus::kTooLarge: return SessionDrop::kMalformedSealed;
    case crypto::OpenStatus::kCounterExhausted: return SessionDrop::kBadCounter;
    case crypto::OpenStatus::kReplayed: return SessionDrop::kReplayed;
    case crypto::OpenStatus::kTooOld: return SessionDrop::kTooOld;
    case crypto::OpenStatus::kAuthFailed:
    case crypto::OpenStatus::kOk: break;
  }
  return SessionDrop::kAuthFailed;
}

}  // namespace

// A deleted, reordered or retyped SEALED_STREAM changes the sequence number its receiver expects, so it fails
// authentication: counters alone may leave gaps (dropped datagrams) and could not tell.
SealedAd SealedAssociatedData(FrameType type, uint64_t stream_sequence) {
  SealedAd ad;
  ad.bytes[0] = static_cast<uint8_t>(type);
  ad.size = 1;
  if (type == FrameType::kSealedStream) {
    for (size_t i = 0; i < 8; ++i) ad.bytes[1 + i] = static_cast<uint8_t>(stream_sequence >> (8 * (7 - i)));
    ad.size = 9;
  }
  return ad;
}

std::string_view SessionStateName(SessionState s) {
  switch (s) {
    case SessionState::kAwaitOffer: return "await_offer";
    case SessionState::kAwaitAccept: return "await_accept";
    case SessionState::kAwaitInit: return "await_init";
    case SessionState::kEstablished: return "established";
    case SessionState::kClosed: return "closed";
  }
  return "unknown";
}

std::string_view SessionDropName(SessionDrop d) {
  switch (d) {
    case SessionDrop::kAuthFailed: return "auth_failed";
    case SessionDrop::kReplayed: return "replayed";
    case SessionDrop::kTooOld: return "too_old";
    case SessionDrop::kMalformedSealed: return "malformed_sealed";
    case SessionDrop::kBadCounter: return "bad_counter";
    case SessionDrop::kUnexpectedFrame: return "unexpected_frame";
    case SessionDrop::kWrongChannel: return "wrong_channel";
    case SessionDrop::kAfterClose: return "after_close";
    case SessionDrop::kBadDatagramSize: return "bad_datagram_size";
    case SessionDrop::kNotEstablished: return "not_established";
    case SessionDrop::kBufferTooSmall: return "buffer_too_small";
  }
  return "unknown";
}

// Every public entry point that can run visitor callbacks or close holds one. Closing only flips state_; the
// objects of the old state (mux, transports, handshake) are destroyed when the outermost call returns, so a
// callback that closes never pulls the mux out from under its caller.
class Session::CallScope {
 public:
  explicit CallScope(Session& s) : s_(s) { ++s_.depth_; }
  ~CallScope() {
    if (--s_.depth_ == 0 && s_.state_ == SessionState::kClosed && !std::holds_alternative<Gone>(s_.held_)) {
      s_.held_.emplace<Gone>();
    }
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  Session& s_;
};

Result<std::unique_ptr<Session>, Error<SessionSetupError>> Session::Create(SessionConfig config,
                                                                         SessionVisitor* visitor) {
  using E = Error<SessionSetupError>;
  if (visitor == nullptr) return Fail(E{SessionSetupError::kBadConfig, "no visitor"});
  if (config.role == SessionRole::kConnector && config.pinned_connectors) {
    return Fail(E{SessionSetupError::kBadConfig, "a pinned connector set is for devices"});
  }
  auto own = crypto::ParseCredential(config.credential);
  if (!own) {
    return Fail(E{SessionSetupError::kBadCredential,
                  fmt::format("own credential: {}: {}", crypto::CredentialErrorName(own.error().code),
                              own.error().reason)});
  }
  const crypto::Role want = config.role == SessionRole::kDevice ? crypto::Role::kDevice : crypto::Role::kConnector;
  if (own->role != want) {
    return Fail(E{SessionSetupError::kBadCredential,
                  fmt::format("own credential is a {} credential", crypto::RoleName(own->role))});
  }
  if (own->tenant_id != config.tenant) {
    return Fail(E{SessionSetupError::kBadCredential,
                  fmt::format("own credential belongs to tenant {}, not {}", own->tenant_id, config.tenant)});
  }
  if (!(own->noise_key == config.static_key.public_key)) {
    return Fail(E{SessionSetupError::kKeyMismatch, "static key is not the own credential's noise key"});
  }
  if (config.role == SessionRole::kDevice && config.init_timestamp == 0) {
    return Fail(E{SessionSetupError::kBadConfig, "a device session needs an init_timestamp"});
  }
  if (config.role == SessionRole::kConnector && config.init_replay == nullptr) {
    return Fail(E{SessionSetupError::kBadConfig, "a connector session needs an init_replay record"});
  }
  crypto::X25519KeyPair key = std::move(config.static_key);  // wipes config.static_key.secret
  return std::unique_ptr<Session>(new Session(std::move(config), std::move(key), visitor));
}

Session::Session(SessionConfig config, crypto::X25519KeyPair static_key, SessionVisitor* visitor)
    : config_(std::move(config)),
      visitor_(visitor),
      state_(config_.role == SessionRole::kDevice ? SessionState::kAwaitOffer : SessionState::kAwaitInit),
      held_(std::in_place_type<AwaitingPeer>, AwaitingPeer{std::move(static_key)}) {}

Session::~Session() { assert(depth_ == 0); }

StreamMux* Session::mux() { return established() ? &std::get<Live>(held_).mux : nullptr; }
const StreamMux* Session::mux() const { return established() ? &std::get<Live>(held_).mux : nullptr; }

void Session::SetSendCounterForTest(uint64_t n) {
  if (established()) std::get<Live>(held_).transport.SetSendCounterForTest(n);
}

// ---- Inbound: the driver ---------------------------------------------------------------------------------------

SessionResult Session::OnFrame(const FrameHeader& h, std::span<uint8_t> payload, uint64_t now_unix,
                               std::span<uint8_t> out) {
  if (state_ == SessionState::kClosed) return Drop(SessionDrop::kAfterClose);
  if (h.channel == 0 || (channel_ != 0 && h.channel != channel_)) return Drop(SessionDrop::kWrongChannel);
  if (out.size() < kMinFrameOut) {
    assert(false && "OnFrame: out below kHeaderSize + kMaxNoiseMessageBytes");
    return Drop(SessionDrop::kBufferTooSmall);
  }
  CallScope scope(*this);
  if (h.type == FrameType::kSessionClose) return OnPeerClose(payload);
  if (h.type == FrameType::kSessionCredit) return OnCredit(payload, out);
  switch (state_) {
    case SessionState::kAwaitOffer: return OnFrameAwaitOffer(h, payload, now_unix, out);
    case SessionState::kAwaitAccept: return OnFrameAwaitAccept(h, payload, out);
    case SessionState::kAwaitInit: return OnFrameAwaitInit(h, payload, now_unix, out);
    case SessionState::kEstablished: return OnFrameEstablished(h, payload, out);
    case SessionState::kClosed: break;
  }
  return Drop(SessionDrop::kAfterClose);
}

SessionResult Session::OnPeerClose(std::span<const uint8_t> payload) {
  auto msg = SessionClose::Decode(payload);
  if (!msg) {
    // The sender meant to close; a malformed reason does not keep the session alive.
    EnterClosed(ErrorCode::kProtocolError,
                fmt::format("malformed session_close: {}", MessageErrorName(msg.error())), /*by_peer=*/true);
  } else {
    EnterClosed(msg->code, std::string(msg->reason.begin(), msg->reason.end()), /*by_peer=*/true);
  }
  return {SessionAction::kClose, 0};
}

// SESSION_CREDIT: the relay handed `increment` more of our bytes to the other link (protocol.md §8).
SessionResult Session::OnCredit(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  if (!config_.relay_credit) return Drop(SessionDrop::kUnexpectedFrame);  // Direct Connect: no relay
  auto msg = SessionCredit::Decode(payload);
  if (!msg) {
    return CloseWith(ErrorCode::kProtocolError, fmt::format("session_credit: {}", MessageErrorName(msg.error())),
                     out);
  }
  // A relay returns at most what it was sent; more is harmless to us, but keep the sum far from overflow.
  constexpr int64_t kMaxCredit = int64_t{1} << 40;
  credit_ = std::min(credit_ + int64_t{msg->increment}, kMaxCredit);
  return {SessionAction::kNone, 0};
}

// ---- Device: kAwaitOffer ---------------------------------------------------------------------------------------

SessionResult Session::OnFrameAwaitOffer(const FrameHeader& h, std::span<uint8_t> payload, uint64_t now_unix,
                                         std::span<uint8_t> out) {
  if (h.type != FrameType::kSessionOffer) return Drop(SessionDrop::kUnexpectedFrame);
  auto offer = SessionOffer::Decode(payload);
  if (!offer) {
    channel_ = h.channel;  // so the close reaches the relay on the offered channel
    return CloseWith(ErrorCode::kProtocolError, fmt::format("session_offer: {}", MessageErrorName(offer.error())), out);
  }
  return OnOffer(h.channel, *offer, now_unix, out);
}

SessionResult Session::OnOffer(uint32_t channel, const SessionOffer& offer, uint64_t now_unix,
                               std::span<uint8_t> out) {
  if (state_ != SessionState::kAwaitOffer) return Drop(SessionDrop::kUnexpectedFrame);
  if (channel == 0) return Drop(SessionDrop::kWrongChannel);
  if (out.size() < kMinFrameOut) return Drop(SessionDrop::kBufferTooSmall);
  CallScope scope(*this);
  channel_ = channel;
  connector_id_.assign(offer.connector_id.begin(), offer.connector_id.end());

  const AwaitingPeer& held = std::get<AwaitingPeer>(held_);
  const E2eIdentity self{&held.static_key, &config_.root_key, config_.tenant, now_unix, &config_.ephemeral_for_test};
  auto connector = VerifyOfferedConnector(offer.connector_credential, self, config_.pinned_connectors);
  if (!connector) return CloseWith(connector.error().code, connector.error().reason, out);

  DeviceHandshake mine;
  mine.credential = config_.credential;
  mine.initial_session_window = config_.mux.session_window;
  mine.max_streams = config_.mux.max_streams;
  mine.timestamp = config_.init_timestamp;
  auto started = WriteSessionInit(self, connector->noise_key, mine, out.subspan(kHeaderSize));
  if (!started) return CloseWith(started.error().code, started.error().reason, out);

  const size_t n = started->message_size;
  const bool ok = EncodeFrameHeader({kFramingVersion, FrameType::kSessionInit, 0, static_cast<uint32_t>(n), channel_},
                                    out);
  assert(ok);
  (void)ok;
  peer_ = std::move(connector).value();
  held_.emplace<AwaitingAccept>(AwaitingAccept{std::move(started->handshake)});  // wipes the static key copy
  state_ = SessionState::kAwaitAccept;
  Spend(kHeaderSize + n);
  return {SessionAction::kSend, kHeaderSize + n};
}

// ---- Device: kAwaitAccept --------------------------------------------------------------------------------------

SessionResult Session::OnFrameAwaitAccept(const FrameHeader& h, std::span<uint8_t> payload, std::span<uint8_t> out) {
  if (h.type != FrameType::kSessionAccept) return Drop(SessionDrop::kUnexpectedFrame);
  auto done = ReadSessionAccept(std::get<AwaitingAccept>(held_).handshake, payload);
  if (!done) return CloseWith(done.error().code, done.error().reason, out);
  EnterEstablished(done->keys, done->peer.initial_session_window, done->peer.max_streams);
  return {SessionAction::kNone, 0};
}

// ---- Connector: kAwaitInit -------------------------------------------------------------------------------------

SessionResult Session::OnFrameAwaitInit(const FrameHeader& h, std::span<uint8_t> payload, uint64_t now_unix,
                                        std::span<uint8_t> out) {
  if (h.type != FrameType::kSessionInit) return Drop(SessionDrop::kUnexpectedFrame);
  channel_ = h.channel;
  const AwaitingPeer& held = std::get<AwaitingPeer>(held_);
  const E2eIdentity self{&held.static_key, &config_.root_key, config_.tenant, now_unix, &config_.ephemeral_for_test};
  ConnectorHandshake mine;
  mine.initial_session_window = config_.mux.session_window;
  mine.max_streams = config_.mux.max_streams;
  auto done = AnswerSessionInit(self, payload, *config_.init_replay, mine, out.subspan(kHeaderSize));
  if (!done) return CloseWith(done.error().code, done.error().reason, out);
  const size_t n = done->message_size;
  const bool ok = EncodeFrameHeader(
      {kFramingVersion, FrameType::kSessionAccept, 0, static_cast<uint32_t>(n), channel_}, out);
  assert(ok);
  (void)ok;
  peer_ = std::move(done->device);
  // The device's max_streams is reserved in version 1 (only devices open streams).
  EnterEstablished(done->keys, done->peer_session_window, config_.mux.max_streams);
  Spend(kHeaderSize + n);
  return {SessionAction::kSend, kHeaderSize + n};
}

void Session::EnterEstablished(const crypto::TransportKeys& keys, uint32_t peer_session_window,
                               uint16_t peer_max_streams) {
  MuxOptions o = config_.mux;
  o.role = config_.role == SessionRole::kDevice ? MuxRole::kDevice : MuxRole::kConnector;
  o.peer_session_window = peer_session_window;
  o.peer_max_streams = peer_max_streams;
  held_.emplace<Live>(keys, o, visitor_);  // destroys the handshake state / static key
  state_ = SessionState::kEstablished;
}

// ---- Both: kEstablished ----------------------------------------------------------------------------------------

SessionResult Session::OnFrameEstablished(const FrameHeader& h, std::span<uint8_t> payload, std::span<uint8_t> out) {
  Live& live = std::get<Live>(held_);
  switch (h.type) {
    case FrameType::kSealedStream: return OnSealedStream(live, payload, out);
    case FrameType::kSealedDatagram: return OnSealedDatagram(live, payload, out);
    default: return Drop(SessionDrop::kUnexpectedFrame);
  }
}

SessionResult Session::OnSealedStream(Live& live, std::span<uint8_t> payload, std::span<uint8_t> out) {
  const crypto::Opened o = live.transport.Open(SealedAssociatedData(FrameType::kSealedStream, counters_.stream_frames_in).view(), payload);
  switch (o.status) {
    case crypto::OpenStatus::kOk: break;
    case crypto::OpenStatus::kReplayed:
    case crypto::OpenStatus::kTooOld:
      return Drop(DropFor(o.status));  // a duplicate of a frame already processed: harmless
    default: {
      // Lost stream bytes cannot be recovered on the reliable path: end the session. An authentication failure
      // here also means a stream frame was deleted or reordered (the sequence number in the AD did not match).
      const SessionDrop d = DropFor(o.status);
      ++counters_.drops[static_cast<size_t>(d)];
      return CloseWith(ErrorCode::kProtocolError, fmt::format("sealed_stream: {}", SessionDropName(d)), out);
    }
  }
  ++counters_.stream_frames_in;
  const MuxReason r = live.mux.OnPlaintext(o.plaintext);
  if (state_ == SessionState::kClosed) return {SessionAction::kClose, 0};  // a callback closed it (and sent that)
  if (IsSessionFatal(r)) {
    return CloseWith(ErrorCodeFor(r), fmt::format("stream mux: {}", MuxReasonName(r)), out);
  }
  return {SessionAction::kNone, 0};
}

SessionResult Session::OnSealedDatagram(Live& live, std::span<uint8_t> payload, std::span<uint8_t> out) {
  const crypto::Opened o = live.transport.Open(SealedAssociatedData(FrameType::kSealedDatagram, 0).view(), payload);
  if (o.status == crypto::OpenStatus::kAuthFailed) {
    if (++live.datagram_auth_failures >= kMaxDatagramAuthFailures) {
      ++counters_.drops[static_cast<size_t>(SessionDrop::kAuthFailed)];
      return CloseWith(ErrorCode::kProtocolError,
                  fmt::format("{} consecutive sealed_datagrams failed authentication", kMaxDatagramAuthFailures),
                  out);
    }
    return Drop(SessionDrop::kAuthFailed);
  }
  if (o.status != crypto::OpenStatus::kOk) return Drop(DropFor(o.status));
  live.datagram_auth_failures = 0;
  if (o.plaintext.empty() || o.plaintext.size() > kMaxDatagramSize) return Drop(SessionDrop::kBadDatagramSize);
  ++counters_.datagrams_in;
  visitor_->OnDatagram(o.plaintext);
  if (state_ == SessionState::kClosed) return {SessionAction::kClose, 0};
  return {SessionAction::kNone, 0};
}

// ---- Outbound --------------------------------------------------------------------------------------------------

// PollOutgoing packs whole SEALED_STREAM frames back to back into `out`, each sealed in place:
//
//   out:   | frame 0                                                    | frame 1 ...  | unused (< one frame) |
//   frame: [ link header (12) | counter (8) | inner frames (n)          | tag (16) ]
//            ^ EncodeFrameHeader ^ Seal       ^ mux.PollOutgoing writes  ^ Seal
//            |<-- kSealedPlaintextOffset -->|   n <= kMaxSealedPlaintext
//
// The mux writes plaintext straight where the ciphertext goes; nothing is copied.
SessionResult Session::PollOutgoing(std::span<uint8_t> out) {
  if (state_ != SessionState::kEstablished) return {SessionAction::kNone, 0};
  CallScope scope(*this);
  Live& live = std::get<Live>(held_);
  // Via a relay, the frames sealed here also fit the relay credit left (protocol.md §8).
  const size_t limit = !config_.relay_credit ? out.size()
                       : credit_ <= 0        ? 0
                                             : std::min(out.size(), static_cast<size_t>(credit_));
  size_t used = 0;
  while (state_ == SessionState::kEstablished && used <= limit) {
    const size_t room = limit - used;
    if (room < kSealedPlaintextOffset + kInnerHeaderSize + crypto::kTransportTagSize) break;
    if (live.transport.next_send_counter() >= crypto::kRejectAfterMessages) {
      if (!live.mux.HasOutgoing()) break;
      if (room < kMaxCloseFrameSize) break;  // the next call closes
      return CloseWith(ErrorCode::kRekeyRequired, "send counter exhausted", out, used);
    }
    // One TLS record per message when the mux's DATA frames fit one (the default); else the largest message.
    const size_t cap = live.mux.options().max_data_chunk + kInnerHeaderSize <= kRecordSealedPlaintext
                           ? kRecordSealedPlaintext
                           : kMaxSealedPlaintext;
    const size_t max_plain = std::min(room - kSealedPlaintextOffset - crypto::kTransportTagSize, cap);
    const size_t n = live.mux.PollOutgoing(out.subspan(used + kSealedPlaintextOffset, max_plain));
    if (n == 0) break;
    const crypto::Sealed s =
        live.transport.Seal(SealedAssociatedData(FrameType::kSealedStream, counters_.stream_frames_out).view(),
                            out.subspan(used + kHeaderSize), n);
    if (s.status != crypto::SealStatus::kOk) {  // sizes and the counter were checked above
      assert(false && "PollOutgoing: seal failed");
      return CloseWith(ErrorCode::kInternal, "seal failed", out, used);
    }
    const bool ok = EncodeFrameHeader(
        {kFramingVersion, FrameType::kSealedStream, 0, static_cast<uint32_t>(s.wire.size()), channel_},
        out.subspan(used));
    assert(ok);
    (void)ok;
    used += kHeaderSize + s.wire.size();
    Spend(kHeaderSize + s.wire.size());
    ++counters_.stream_frames_out;
  }
  if (state_ == SessionState::kClosed) return {SessionAction::kClose, used};  // closed from a callback
  return {used != 0 ? SessionAction::kSend : SessionAction::kNone, used};
}

bool Session::HasOutgoing() const {
  const StreamMux* m = mux();
  return m != nullptr && m->HasOutgoing() && (!config_.relay_credit || credit_ >= kMinCreditToSend);
}

SessionResult Session::SendDatagram(std::span<const uint8_t> packet, std::span<uint8_t> out) {
  if (state_ != SessionState::kEstablished) return Drop(SessionDrop::kNotEstablished);
  if (packet.empty() || packet.size() > kMaxDatagramSize) return Drop(SessionDrop::kBadDatagramSize);
  if (out.size() < kSealedPlaintextOffset + packet.size() + crypto::kTransportTagSize) {
    return Drop(SessionDrop::kBufferTooSmall);
  }
  std::memmove(out.data() + kSealedPlaintextOffset, packet.data(), packet.size());  // may overlap: in place
  return SealDatagram(out, packet.size());
}

//   frame: [ link header (12) | counter (8) | IPv4 packet (n) | tag (16) ]
SessionResult Session::SealDatagram(std::span<uint8_t> frame, size_t packet_size) {
  if (state_ != SessionState::kEstablished) return Drop(SessionDrop::kNotEstablished);
  if (packet_size == 0 || packet_size > kMaxDatagramSize) return Drop(SessionDrop::kBadDatagramSize);
  if (frame.size() < kSealedPlaintextOffset + packet_size + crypto::kTransportTagSize) {
    return Drop(SessionDrop::kBufferTooSmall);
  }
  CallScope scope(*this);
  Live& live = std::get<Live>(held_);
  const crypto::Sealed s = live.transport.Seal(SealedAssociatedData(FrameType::kSealedDatagram, 0).view(), frame.subspan(kHeaderSize), packet_size);
  if (s.status == crypto::SealStatus::kCounterExhausted) {
    return CloseWith(ErrorCode::kRekeyRequired, "send counter exhausted", frame);
  }
  if (s.status != crypto::SealStatus::kOk) {
    assert(false && "SealDatagram: seal failed");
    return CloseWith(ErrorCode::kInternal, "seal failed", frame);
  }
  const bool ok = EncodeFrameHeader(
      {kFramingVersion, FrameType::kSealedDatagram, 0, static_cast<uint32_t>(s.wire.size()), channel_}, frame);
  assert(ok);
  (void)ok;
  ++counters_.datagrams_out;
  return {SessionAction::kSend, kHeaderSize + s.wire.size()};
}

SessionResult Session::Close(ErrorCode code, std::string_view reason, std::span<uint8_t> out) {
  if (state_ == SessionState::kClosed) return {SessionAction::kNone, 0};
  CallScope scope(*this);
  return CloseWith(code, std::string(reason), out);
}

// ---- Closing and counting --------------------------------------------------------------------------------------

SessionResult Session::Drop(SessionDrop d) {
  ++counters_.drops[static_cast<size_t>(d)];
  return {SessionAction::kDrop, 0, d};
}

SessionResult Session::CloseWith(ErrorCode code, std::string reason, std::span<uint8_t> out, size_t already) {
  size_t n = 0;
  if (channel_ != 0 && already <= out.size()) n = WriteCloseFrame(code, reason, out.subspan(already));
  Spend(n);
  EnterClosed(code, std::move(reason), /*by_peer=*/false);
  return {SessionAction::kClose, already + n};
}

void Session::EnterClosed(ErrorCode code, std::string reason, bool by_peer) {
  assert(depth_ > 0);  // the CallScope destroys the old state's objects on the way out
  if (reason.size() > 255) reason.resize(255);
  state_ = SessionState::kClosed;
  close_code_ = code;
  close_reason_ = std::move(reason);
  closed_by_peer_ = by_peer;
}

size_t Session::WriteCloseFrame(ErrorCode code, std::string_view reason, std::span<uint8_t> out) const {
  if (reason.size() > 255) reason = reason.substr(0, 255);
  SessionClose msg;
  msg.code = code;
  msg.reason = {reinterpret_cast<const uint8_t*>(reason.data()), reason.size()};
  if (out.size() < kHeaderSize + msg.EncodedSize()) return 0;
  auto n = msg.Encode(out.subspan(kHeaderSize));
  if (!n) return 0;
  if (!EncodeFrameHeader({kFramingVersion, FrameType::kSessionClose, 0, static_cast<uint32_t>(*n), channel_}, out)) {
    return 0;
  }
  return kHeaderSize + *n;
}

bool Session::CheckInvariants() const {
  // Only set-up and close frames go past the credit, by less than the slack the relay allows.
  if (config_.relay_credit && credit_ < -int64_t{kRelayCreditSlack}) return false;
  switch (state_) {
    case SessionState::kAwaitOffer:
    case SessionState::kAwaitInit:
      return std::holds_alternative<AwaitingPeer>(held_) && !peer_ &&
             (state_ == SessionState::kAwaitInit) == (config_.role == SessionRole::kConnector);
    case SessionState::kAwaitAccept:
      return std::holds_alternative<AwaitingAccept>(held_) && config_.role == SessionRole::kDevice && peer_ &&
             channel_ != 0;
    case SessionState::kEstablished: {
      if (!std::holds_alternative<Live>(held_) || !peer_ || channel_ == 0) return false;
      const Live& live = std::get<Live>(held_);
      return live.mux.CheckInvariants() && live.datagram_auth_failures < kMaxDatagramAuthFailures;
    }
    case SessionState::kClosed:
      return depth_ > 0 || std::holds_alternative<Gone>(held_);
  }
  return false;
}

}  // namespace strait::tunnel
