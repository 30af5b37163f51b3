#include "tunnel/device/client.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "runtime/address_text.h"
#include "tunnel/link/dialer.h"
#include "tunnel/link_messages.h"

namespace strait::device {
namespace {

using tunnel::ErrorCode;
using tunnel::FrameType;

// The IP literal of an address (without the port): the TLS name a relay is checked against by default.
std::string IpOf(const runtime::SocketAddress& a) { return runtime::IpLiteral(a.get()); }

tunnel::OpenTarget ToOpenTarget(const Target& t) {
  tunnel::OpenTarget o;
  o.port = t.port;
  switch (t.type) {
    case AddressType::kIpv4:
      o.type = tunnel::AddrType::kIPv4;
      o.addr = std::span<const std::uint8_t>(t.ip.data(), kIpv4Size);
      break;
    case AddressType::kIpv6:
      o.type = tunnel::AddrType::kIPv6;
      o.addr = std::span<const std::uint8_t>(t.ip.data(), kIpv6Size);
      break;
    case AddressType::kDomain:
      o.type = tunnel::AddrType::kDomain;
      o.addr = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(t.name.data()), t.name_size);
      break;
  }
  return o;
}

}  // namespace

std::string_view PathName(Path p) { return p == Path::kDirect ? "direct" : "relay"; }

std::optional<Target> MakeTarget(std::string_view host, std::uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::array<std::uint8_t, 16> ip{};
  if (::inet_pton(AF_INET, h.c_str(), ip.data()) == 1) {
    return Target::Ipv4({ip[0], ip[1], ip[2], ip[3]}, port);
  }
  if (::inet_pton(AF_INET6, h.c_str(), ip.data()) == 1) return Target::Ipv6(ip, port);
  return Target::Domain(host, port);
}

// ---------------------------------------------------------------------------------------------------------------
// Set-up

DeviceClient::DeviceClient(runtime::EventLoop& loop, ClientOptions options, ClientObserver* observer)
    : loop_(&loop),
      options_(std::move(options)),
      observer_(observer),
      credential_(options_.identity.credential),
      streams_(options_.max_pending_opens),
      rng_(std::random_device{}()) {
  out_.resize(tunnel::kSessionOutSize);
}

Result<std::unique_ptr<DeviceClient>, ClientSetupError> DeviceClient::Create(runtime::EventLoop& loop,
                                                                            ClientOptions options,
                                                                            ClientObserver* observer) {
  if (!options.relay && !options.direct) return Fail(ClientSetupError{"need a relay or a direct address"});
  auto cred = crypto::ParseCredential(options.identity.credential);
  if (!cred) return Fail(ClientSetupError{"device credential: " + cred.error().reason});
  if (cred->role != crypto::Role::kDevice) return Fail(ClientSetupError{"the credential is not a device's"});
  if (options.relay && options.identity.ca_pem.empty()) {
    return Fail(ClientSetupError{"a relay needs the relays' TLS CA (ca.pem in the identity bundle)"});
  }
  std::unique_ptr<DeviceClient> c(new DeviceClient(loop, std::move(options), observer));
  const ClientOptions& o = c->options_;

  link::ClientLoginConfig login;
  login.credential = o.identity.credential;
  login.key = crypto::Ed25519KeyPair::FromSeed(o.identity.signing_key.seed);
  login.role = tunnel::LinkRole::kDevice;
  login.preferred_connector = o.preferred_connector;
  // The server shows its credential in HELLO_ACK (protocol.md §3): a relay's, or on Direct Connect the connector's,
  // of our own tenant.
  login.server_root = o.identity.root_key;
  login.now_unix = o.now_unix;
  auto own = crypto::ParseCredential(o.identity.credential);

  if (o.relay) {
    const std::string name = o.relay_server_name.empty() ? IpOf(*o.relay) : o.relay_server_name;
    auto tls = crypto::TlsContext::CreateClient({o.identity.ca_pem, name});
    if (!tls) return Fail(ClientSetupError{"relay TLS: " + tls.error().reason});
    c->relay_tls_.emplace(std::move(tls).value());
    c->relay_config_.tls = &*c->relay_tls_;
    c->relay_config_.options = o.link;
    c->relay_config_.client = login;
    c->relay_config_.client.server_roles = crypto::RoleSet{crypto::Role::kRelay};
  }
  if (o.direct) {
    // Direct Connect: TLS is transport only (protocol.md §12); the Noise session authenticates the connector.
    auto tls = crypto::TlsContext::CreateTransportOnlyClient(IpOf(*o.direct));
    if (!tls) return Fail(ClientSetupError{"direct TLS: " + tls.error().reason});
    c->direct_tls_.emplace(std::move(tls).value());
    c->direct_config_.tls = &*c->direct_tls_;
    c->direct_config_.options = o.link;
    c->direct_config_.options.handshake_timeout = o.direct_handshake_timeout;
    c->direct_config_.client = login;
    c->direct_config_.client.server_roles = crypto::RoleSet{crypto::Role::kConnector};
    c->direct_config_.client.server_tenant = own ? std::string(own->tenant_id) : std::string();
  }
  c->last_connector_ = o.preferred_connector;
  return c;
}

DeviceClient::~DeviceClient() {
  Disarm(&reconnect_timer_);
  Disarm(&retry_timer_);
  Disarm(&setup_timer_);
  Disarm(&open_timer_);
  Disarm(&drain_timer_);
  Disarm(&deferred_timer_);
}

void DeviceClient::Start() {
  if (running_) return;
  running_ = true;
  Dial();
}

void DeviceClient::Stop() {
  if (!running_) return;
  running_ = false;
  Disarm(&reconnect_timer_);
  Disarm(&retry_timer_);
  Disarm(&setup_timer_);
  Disarm(&drain_timer_);
  EndSession(ErrorCode::kCancelled, "client stopped", false);
  for (StreamToken t : streams_.TakeExpired(std::numeric_limits<std::int64_t>::max())) {
    FailStream(t, ErrorCode::kCancelled, true);
  }
  if (link_ && link_->state() != link::LinkState::kDown) link_->Abort();
}

Result<void, std::string> DeviceClient::PostCredential(std::vector<std::uint8_t> credential) {
  // Against what the client started with: role, tenant, subject and keys never change with a renewal.
  auto renewed = link::CheckRenewedCredential(credential, options_.identity.credential, options_.identity.root_key,
                                              NowUnix());
  if (!renewed) return Fail(renewed.error());
  std::lock_guard<std::mutex> lock(credential_mu_);
  posted_credential_ = std::move(credential);
  return {};
}

void DeviceClient::TakePostedCredential() {
  {
    std::lock_guard<std::mutex> lock(credential_mu_);
    if (!posted_credential_) return;
    credential_ = std::move(*posted_credential_);
    posted_credential_.reset();
  }
  // The configs are read by a link only while it logs in (its HELLO), which happens on this thread.
  relay_config_.client.credential = credential_;
  direct_config_.client.credential = credential_;
}

// ---------------------------------------------------------------------------------------------------------------
// Links

void DeviceClient::Dial() {
  if (!running_ || link_) return;
  TakePostedCredential();
  const bool direct = options_.direct && (!direct_failed_ || !options_.relay);
  path_ = direct ? Path::kDirect : Path::kRelay;
  link::LinkConfig& config = direct ? direct_config_ : relay_config_;
  const runtime::SocketAddress& addr = direct ? *options_.direct : *options_.relay;
  // The HELLO carries the sticky preference too (relays may use it).
  config.client.preferred_connector = last_connector_;  // no link uses the config between dials
  ++stats_.dials;
  draining_ = false;
  link_ = std::make_unique<link::TlsLink>(*loop_, link_state_, config, static_cast<link::LinkHandler&>(*this));
  if (!link_->Connect(addr)) {
    link_.reset();
    if (direct) {
      ++stats_.direct_failures;
      direct_failed_ = true;
    }
    ++link_failures_;
    ScheduleReconnect(direct && options_.relay.has_value());
  }
}

void DeviceClient::ScheduleReconnect(bool immediately) {
  if (!running_) return;
  if (immediately) {
    ++stats_.relay_fallbacks;
    Arm(&reconnect_timer_, std::chrono::nanoseconds(0), kReconnect);
    return;
  }
  Arm(&reconnect_timer_, Backoff(link_failures_ == 0 ? 0 : link_failures_ - 1), kReconnect);
}

void DeviceClient::OnLinkUp(link::TlsLink& /*link*/, const link::LinkIdentity& /*identity*/) {
  ++stats_.links_up;
  if (path_ == Path::kRelay) direct_failed_ = false;  // the next reconnect prefers direct again
  if (observer_) observer_->OnLinkUp(path_, path_ == Path::kDirect ? *options_.direct : *options_.relay);
  RequestSession();
}

void DeviceClient::OnLinkDown(link::TlsLink& link, const link::LinkDown& down) {
  ++stats_.link_downs;
  const Path path = path_;
  EndSession(ErrorCode::kConnectorGone, fmt::format("link down: {}", link::DownReasonName(down.reason)), false);
  Disarm(&retry_timer_);
  Disarm(&setup_timer_);
  Disarm(&drain_timer_);
  if (link_.get() == &link) dead_links_.push_back(std::move(link_));
  Arm(&deferred_timer_, std::chrono::nanoseconds(0), kDeferred);  // frees the dead link outside its callback
  if (observer_) observer_->OnLinkDown(path, down);
  bool fallback = false;
  if (path == Path::kDirect && !down.was_up) {
    ++stats_.direct_failures;
    direct_failed_ = true;
    fallback = options_.relay.has_value();
  } else {
    direct_failed_ = false;
  }
  // A link that never carried a session (refused login, ERROR no_connector, set-up failures) counts as a failure,
  // so a relay without a live connector is retried with a growing delay.
  if (!down.was_up || !link_had_session_) ++link_failures_;
  link_had_session_ = false;
  ScheduleReconnect(fallback);
}

void DeviceClient::OnSendQueueLow(link::TlsLink& /*link*/) {
  FlushOutput();
  if (tunnel_sink_ != nullptr) tunnel_sink_->OnLinkWritable();
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

void DeviceClient::RequestSession() {
  if (!link_up() || session_ || draining_) return;
  tunnel::SessionRequest req;
  req.preferred_connector = std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(last_connector_.data()), std::min<std::size_t>(last_connector_.size(), 255));
  std::array<std::uint8_t, 256> payload{};
  auto n = req.Encode(payload);
  if (!n) return;
  ++stats_.session_requests;
  (void)link_->SendFrame(FrameType::kSessionRequest, 0, 0, std::span(payload).first(*n));
  link_->Flush();
  Arm(&setup_timer_, options_.session_setup_timeout, kSetupTimeout);
}

void DeviceClient::OnFrame(link::TlsLink& link, const link::Frame& f) {
  if (&link != link_.get()) return;
  const tunnel::FrameHeader& h = f.header;
  if (h.channel == 0) {
    if (h.type == FrameType::kGoAway) {
      ++stats_.goaways;
      auto g = tunnel::GoAway::Decode(f.payload);
      draining_ = true;
      const auto drain = std::chrono::milliseconds(g ? g->drain_ms : 0);
      Arm(&drain_timer_, drain, kDrain);
      return;
    }
    if (h.type == FrameType::kError && !session_) {
      // ERROR no_connector / too_many_sessions answers our SESSION_REQUEST; the link stays up (protocol.md §5):
      // ask again after a growing delay. Opens keep waiting up to open_wait_timeout.
      auto e = tunnel::ErrorMessage::Decode(f.payload);
      ++stats_.session_refusals;
      Disarm(&setup_timer_);
      ++session_failures_;
      if (observer_ && e) {
        observer_->OnSessionDown(e->code, std::string_view(reinterpret_cast<const char*>(e->reason.data()),
                                                           e->reason.size()));
      }
      Arm(&retry_timer_, Backoff(session_failures_ - 1), kSessionRetry);
      return;
    }
    ++stats_.frames_unexpected;
    return;
  }
  if (h.type == FrameType::kSessionOffer) {
    OnOffer(f);
    return;
  }
  if (!session_ || h.channel != session_->channel()) {
    ++stats_.frames_unexpected;
    return;
  }
  if (h.type == FrameType::kError) {
    auto e = tunnel::ErrorMessage::Decode(f.payload);
    const ErrorCode code = e ? e->code : ErrorCode::kProtocolError;
    const std::string reason = e ? std::string(e->reason.begin(), e->reason.end()) : "malformed ERROR";
    EndSession(code, reason, true);
    return;
  }
  in_.assign(f.payload.begin(), f.payload.end());
  ++session_depth_;
  const tunnel::SessionResult r = session_->OnFrame(h, in_, NowUnix(), out_);
  --session_depth_;
  HandleSessionResult(r);
}

void DeviceClient::OnOffer(const link::Frame& f) {
  if (session_) {
    ++stats_.frames_unexpected;  // one session per link at a time
    return;
  }
  TakePostedCredential();  // a session may show a renewed credential on a link that logged in with the old one
  tunnel::SessionConfig sc;
  sc.role = tunnel::SessionRole::kDevice;
  sc.credential = credential_;
  sc.static_key = options_.identity.noise_key;
  sc.root_key = options_.identity.root_key;
  auto cred = crypto::ParseCredential(credential_);
  sc.tenant = cred ? std::string(cred->tenant_id) : std::string();
  sc.pinned_connectors = options_.pinned_connectors;
  sc.mux = options_.mux;
  sc.relay_credit = path_ == Path::kRelay;  // through a relay, its credit bounds what we send (protocol.md §8)
  // Wall clock, not the credential clock override: the connector compares it with its own wall clock.
  sc.init_timestamp = init_clock_.Next(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()));
  auto s = tunnel::Session::Create(std::move(sc), static_cast<tunnel::SessionVisitor*>(this));
  if (!s) {
    ++stats_.frames_unexpected;
    return;
  }
  session_ = std::move(s).value();
  in_.assign(f.payload.begin(), f.payload.end());
  ++session_depth_;
  const tunnel::SessionResult r = session_->OnFrame(f.header, in_, NowUnix(), out_);
  --session_depth_;
  HandleSessionResult(r);
}

void DeviceClient::HandleSessionResult(tunnel::SessionResult r) {
  if (!session_) return;
  switch (r.action) {
    case tunnel::SessionAction::kNone:
      break;
    case tunnel::SessionAction::kDrop:
      ++stats_.session_drops;
      break;
    case tunnel::SessionAction::kSend:
      SendFrames(std::span(out_).first(r.size));
      break;
    case tunnel::SessionAction::kClose: {
      SendFrames(std::span(out_).first(r.size));
      if (link_) link_->Flush();
      EndSession(session_->close_code(), session_->close_reason(), true);
      return;
    }
  }
  if (session_ && session_->established() && !session_announced_) OnEstablished();
  FlushOutput();
}

void DeviceClient::OnEstablished() {
  Disarm(&setup_timer_);
  session_announced_ = true;
  link_had_session_ = true;
  ++stats_.sessions_up;
  last_connector_ = std::string(session_->connector_id());
  session_failures_ = 0;
  link_failures_ = 0;
  if (observer_) observer_->OnSessionUp(last_connector_, path_);
  if (options_.tunnel_mtu_max != 0) {
    // Right after SESSION_ACCEPT the outbox is empty: the request always fits.
    if (session_->mux()->RequestTunnel(options_.tunnel_mtu_max) == tunnel::CallStatus::kOk) {
      ++stats_.tunnel_requests;
      FlushOutput();
    }
  }
  SendPendingOpens();
}

void DeviceClient::EndSession(ErrorCode code, std::string_view reason, bool retry) {
  Disarm(&setup_timer_);
  if (!session_) return;
  const bool was_up = session_->established();
  if (session_->state() != tunnel::SessionState::kClosed && link_up()) {
    // Our side ends it (link still up, e.g. a set-up timeout): tell the peer.
    ++session_depth_;
    const tunnel::SessionResult r = session_->Close(code, reason, out_);
    --session_depth_;
    if (r.size > 0) SendFrames(std::span(out_).first(r.size));
    link_->Flush();
  }
  dead_sessions_.push_back(std::move(session_));
  session_announced_ = false;
  Arm(&deferred_timer_, std::chrono::nanoseconds(0), kDeferred);
  ++stats_.session_downs;
  if (!was_up) ++session_failures_;
  // Every stream of the session fails; opens still waiting for a session keep waiting.
  for (StreamToken t : streams_.Unbind()) {
    ++stats_.streams_lost;
    FailStream(t, code, true);
  }
  if (observer_ && was_up) observer_->OnSessionDown(code, reason);
  if (retry && running_ && link_up() && !draining_) {
    Arm(&retry_timer_, Backoff(session_failures_ == 0 ? 0 : session_failures_ - 1), kSessionRetry);
  }
}

void DeviceClient::SendFrames(std::span<const std::uint8_t> bytes) {
  if (!link_) return;
  while (bytes.size() >= tunnel::kHeaderSize) {
    const std::uint32_t len = (std::uint32_t{bytes[tunnel::kLengthOffset]} << 24) |
                              (std::uint32_t{bytes[tunnel::kLengthOffset + 1]} << 16) |
                              (std::uint32_t{bytes[tunnel::kLengthOffset + 2]} << 8) |
                              std::uint32_t{bytes[tunnel::kLengthOffset + 3]};
    const std::size_t n = tunnel::kHeaderSize + len;
    if (n > bytes.size()) break;
    (void)link_->SendEncoded(bytes.first(n));
    bytes = bytes.subspan(n);
  }
}

void DeviceClient::FlushOutput() {
  if (!session_ || !session_->established() || !link_up() || session_depth_ > 0) return;
  const std::size_t bound = options_.link.max_pending_bytes;
  while (!link_->send_high() && link_->backlog_bytes() + tunnel::kMaxLinkFrameSize <= bound &&
         session_->HasOutgoing()) {
    ++session_depth_;
    const tunnel::SessionResult r = session_->PollOutgoing(out_);
    --session_depth_;
    if (r.action == tunnel::SessionAction::kSend) {
      SendFrames(std::span(out_).first(r.size));
    } else if (r.action == tunnel::SessionAction::kClose) {
      SendFrames(std::span(out_).first(r.size));
      link_->Flush();
      EndSession(session_->close_code(), session_->close_reason(), true);
      return;
    } else {
      break;
    }
  }
  link_->Flush();
  if (streams_.waiting_places() != 0) SendPendingOpens();
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

StreamToken DeviceClient::Open(const Target& target, ClientStreamHandler* handler) {
  if (!running_ || handler == nullptr) return 0;
  const StreamToken token =
      streams_.Add(target, handler, NowNs() + std::chrono::nanoseconds(options_.open_wait_timeout).count());
  if (token == 0) {
    ++stats_.open_queue_full;
    return 0;
  }
  if (session_up() && session_depth_ == 0) {
    SendPendingOpens();
  } else {
    ArmOpenWait();
  }
  return token;
}

void DeviceClient::SendPendingOpens() {
  if (!session_up() || session_depth_ > 0) return;
  bool sent = false;
  for (StreamToken token = streams_.FrontWaiting(); token != 0; token = streams_.FrontWaiting()) {
    const tunnel::OpenResult r = session_->mux()->Open(ToOpenTarget(streams_.Find(token)->target));
    if (r.status == tunnel::CallStatus::kOutboxFull) break;  // retried by the next FlushOutput
    streams_.PopWaiting();
    if (r.status != tunnel::CallStatus::kOk) {
      const ErrorCode code = r.status == tunnel::CallStatus::kTooManyStreams ? ErrorCode::kTooManyStreams
                                                                            : ErrorCode::kInternal;
      deferred_.push_back({token, code, false});
      Arm(&deferred_timer_, std::chrono::nanoseconds(0), kDeferred);
      continue;
    }
    streams_.Bind(token, r.id);
    ++stats_.streams_opened;
    sent = true;
  }
  if (sent) FlushOutput();
  ArmOpenWait();
}

void DeviceClient::FailStream(StreamToken token, ErrorCode code, bool session_lost) {
  const std::optional<ClientStreams::Entry> e = streams_.Erase(token);
  if (e) e->handler->OnStreamReset(token, code, session_lost);
}

std::size_t DeviceClient::Write(StreamToken token, std::span<const std::uint8_t> bytes) {
  tunnel::StreamMux* mux = MuxOf(token);
  if (mux == nullptr) return 0;
  const std::size_t n = mux->Write(MuxStreamId(token), bytes);
  if (n > 0) FlushOutput();
  return n;
}

bool DeviceClient::CloseWrite(StreamToken token) {
  tunnel::StreamMux* mux = MuxOf(token);
  if (mux == nullptr) return false;
  const bool ok = mux->CloseWrite(MuxStreamId(token)) == tunnel::CallStatus::kOk;
  if (ok) FlushOutput();
  return ok;
}

void DeviceClient::Consume(StreamToken token, std::size_t n) {
  tunnel::StreamMux* mux = MuxOf(token);
  if (mux == nullptr) return;
  (void)mux->Consume(MuxStreamId(token), n);
  FlushOutput();
}

void DeviceClient::Reset(StreamToken token, ErrorCode code) {
  const std::optional<ClientStreams::Entry> e = streams_.Erase(token);
  if (!e || e->mux_id == 0) return;  // unknown, or still waiting (its queue place goes lazily)
  const tunnel::StreamId id = e->mux_id;
  if (session_up()) {
    tunnel::StreamInfo info{};
    if (session_->mux()->FindStream(id, &info)) (void)session_->mux()->Reset(id, code);
    FlushOutput();
  }
}

tunnel::StreamMux* DeviceClient::MuxOf(StreamToken token) {
  const ClientStreams::Entry* e = streams_.Find(token);
  if (e == nullptr || e->mux_id == 0 || !session_up()) return nullptr;
  return session_->mux();
}

tunnel::StreamId DeviceClient::MuxStreamId(StreamToken token) const {
  const ClientStreams::Entry* e = streams_.Find(token);
  return e == nullptr ? 0 : e->mux_id;
}

StreamToken DeviceClient::TokenOf(tunnel::StreamId id) const {
  return streams_.TokenOf(id);
}

// ---- SessionVisitor: the mux's events, routed by token ----

void DeviceClient::OnStreamOpen(tunnel::StreamId /*id*/, const tunnel::OpenTarget& /*target*/) {
  // Only devices open streams; the mux refuses an OPEN sent to a device before this could be called.
}

void DeviceClient::OnStreamAccepted(tunnel::StreamId id) {
  const StreamToken t = TokenOf(id);
  if (t == 0) return;
  ClientStreams::Entry* e = streams_.Find(t);
  e->opened = true;
  e->handler->OnStreamOpened(t);
}

void DeviceClient::OnStreamData(tunnel::StreamId id, std::span<const std::uint8_t> data) {
  const StreamToken t = TokenOf(id);
  if (t == 0) {
    // Nobody wants it (the owner forgot the token): return the credit so the session is not starved.
    if (session_ && session_->mux()) (void)session_->mux()->Consume(id, data.size());
    return;
  }
  streams_.Find(t)->handler->OnStreamData(t, data);
}

void DeviceClient::OnStreamFin(tunnel::StreamId id) {
  const StreamToken t = TokenOf(id);
  if (t != 0) streams_.Find(t)->handler->OnStreamFin(t);
}

void DeviceClient::OnStreamReset(tunnel::StreamId id, ErrorCode code) {
  const StreamToken t = TokenOf(id);
  if (t != 0) FailStream(t, code, false);
}

void DeviceClient::OnStreamWritable(tunnel::StreamId id) {
  const StreamToken t = TokenOf(id);
  if (t != 0) streams_.Find(t)->handler->OnStreamWritable(t);
}

void DeviceClient::OnDatagram(std::span<std::uint8_t> packet) {
  if (tunnel_sink_ == nullptr) {
    ++stats_.datagrams_ignored;
    return;
  }
  tunnel_sink_->OnTunnelPacket(packet);
}

DatagramSend DeviceClient::SendDatagramFrame(std::span<std::uint8_t> frame, std::size_t packet_size) {
  if (!session_up() || !link_up() || session_depth_ > 0) return DatagramSend::kNoSession;
  // The link's own bound only: the loop's high watermark is for the caller to pause on (HasDatagramRoom), and a
  // super-segment's packets cross it together.
  if (link_->backlog_bytes() + tunnel::kMaxLinkFrameSize > options_.link.max_pending_bytes) {
    return DatagramSend::kLinkFull;
  }
  ++session_depth_;
  const tunnel::SessionResult r = session_->SealDatagram(frame, packet_size);
  --session_depth_;
  if (r.action == tunnel::SessionAction::kSend) {
    (void)link_->SendEncoded(frame.first(r.size));
    return DatagramSend::kSent;
  }
  if (r.action == tunnel::SessionAction::kClose) {
    SendFrames(frame.first(r.size));
    link_->Flush();
    EndSession(session_->close_code(), session_->close_reason(), true);
    return DatagramSend::kSessionEnded;
  }
  return DatagramSend::kNoSession;  // kDrop: a size the session refuses (the caller bounds it; not expected)
}

bool DeviceClient::HasDatagramRoom(std::size_t bytes) const {
  return session_up() && link_up() && !link_->send_high() &&
         link_->backlog_bytes() + bytes <= options_.link.max_pending_bytes;
}

void DeviceClient::FlushLink() {
  if (link_) link_->Flush();
}

void DeviceClient::OnTunnelConfig(const tunnel::TunnelConfig& config) {
  ++stats_.tunnel_configs;
  if (observer_) observer_->OnTunnelConfig(config);
}

void DeviceClient::OnTunnelRefused(const tunnel::TunnelRefused& refused) {
  ++stats_.tunnel_refusals;
  if (observer_) observer_->OnTunnelRefused(refused);
}

// ---------------------------------------------------------------------------------------------------------------
// Timers

void DeviceClient::Arm(runtime::TimerId* slot, std::chrono::nanoseconds delay, TimerKind kind) {
  Disarm(slot);
  *slot = loop_->AddTimer(delay, static_cast<runtime::TimerHandler*>(this), kind);
}

void DeviceClient::Disarm(runtime::TimerId* slot) {
  if (slot->valid()) loop_->CancelTimer(*slot);
  *slot = {};
}

void DeviceClient::ArmOpenWait() {
  // One timer for the oldest waiting open (all wait the same time, so the queue is in deadline order).
  const StreamToken front = streams_.FrontWaiting();
  if (front == 0 || session_up()) {
    Disarm(&open_timer_);
    return;
  }
  const std::int64_t delay = std::max<std::int64_t>(0, streams_.Find(front)->deadline_ns - NowNs());
  Arm(&open_timer_, std::chrono::nanoseconds(delay), kOpenWait);
}

std::chrono::milliseconds DeviceClient::Backoff(std::uint32_t failures) {
  link::DialerOptions d;
  d.min_backoff = options_.min_backoff;
  d.max_backoff = options_.max_backoff;
  d.jitter = options_.jitter;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return link::BackoffDelay(d, failures, u(rng_));
}

void DeviceClient::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t arg) {
  // One timer per kind is armed at a time (Arm cancels the previous one), so a firing timer is the current one.
  switch (arg) {
    case kReconnect:
      reconnect_timer_ = {};
      Dial();
      break;
    case kSessionRetry:
      retry_timer_ = {};
      RequestSession();
      break;
    case kSetupTimeout:
      setup_timer_ = {};
      ++stats_.setup_timeouts;
      if (session_ && !session_->established()) {
        EndSession(ErrorCode::kTimeout, "session set-up timed out", true);
      } else if (!session_ && link_up()) {
        ++session_failures_;
        Arm(&retry_timer_, Backoff(session_failures_ - 1), kSessionRetry);
      }
      break;
    case kOpenWait: {
      open_timer_ = {};
      for (StreamToken t : streams_.TakeExpired(NowNs())) {
        ++stats_.open_wait_timeouts;
        FailStream(t, ErrorCode::kNoConnector, false);
      }
      ArmOpenWait();
      break;
    }
    case kDrain:
      drain_timer_ = {};
      if (link_ && link_->state() != link::LinkState::kDown) link_->Abort();
      break;
    case kDeferred: {
      deferred_timer_ = {};
      dead_links_.clear();
      if (session_depth_ == 0) dead_sessions_.clear();
      std::vector<Deferred> d;
      d.swap(deferred_);
      for (const Deferred& x : d) FailStream(x.token, x.code, x.session_lost);
      break;
    }
    default:
      break;
  }
}

std::uint64_t DeviceClient::NowUnix() const {
  return options_.now_unix ? options_.now_unix() : static_cast<std::uint64_t>(std::time(nullptr));
}

std::int64_t DeviceClient::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace strait::device
