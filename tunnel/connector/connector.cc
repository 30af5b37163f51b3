#include "tunnel/connector/connector.h"

#include <netdb.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "tunnel/connector/ip_forwarding.h"
#include "tunnel/link/link_down_fields.h"

namespace strait::connector {

namespace {
constexpr std::uint64_t kTimerReap = 1;
constexpr std::uint64_t kTimerTick = 2;
constexpr std::uint64_t kTimerResolveRelay = 1ull << 32;  // | the relay's index
// Resolver tokens of relay names (stream tokens count up from 1 and never reach this bit).
constexpr std::uint64_t kRelayToken = 1ull << 63;
constexpr std::chrono::seconds kTickPeriod{1};
// Message::kind of the control queue's wake-up ("CTRL"; the resolver's is "RSLV").
constexpr std::uint32_t kControlMessageKind = 0x4354524c;

std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }
}  // namespace

Connector::Connector(runtime::EventLoop& loop, ConnectorOptions options)
    : loop_(loop),
      options_(std::move(options)),
      policies_(std::make_shared<const Policy>(std::move(options_.policy)), options_.policy_limits),
      denials_(options_.max_denials) {
  options_.policy = Policy();  // moved into the PolicySet; never read again
}

Result<std::unique_ptr<Connector>, std::string> Connector::Create(runtime::EventLoop& loop,
                                                                 ConnectorOptions options) {
  auto view = crypto::ParseCredential(options.credential);
  if (!view) return Fail(std::string("connector credential: ") + view.error().reason);
  if (view->role != crypto::Role::kConnector) return Fail(std::string("the credential is not a connector's"));
  if (!(view->key == options.signing_key.public_key)) {
    return Fail(std::string("signing key does not match the credential"));
  }
  if (!(view->noise_key == options.noise_key.public_key)) {
    return Fail(std::string("noise key does not match the credential"));
  }
  std::unique_ptr<Connector> c(new Connector(loop, std::move(options)));
  c->id_ = std::string(view->subject_id);
  c->tenant_ = std::string(view->tenant_id);
  c->credential_serial_ = view->serial;

  if (c->options_.tunnel_pool) {
    if (!ip::TunnelMtuValid(c->options_.tunnel_mtu)) {
      return Fail(fmt::format("tunnel mtu {} outside {}..{}", c->options_.tunnel_mtu, ip::kMinTunnelMtu,
                              ip::kMaxTunnelMtu));
    }
    auto pool = AddressPool::Create(*c->options_.tunnel_pool);
    if (!pool) return Fail("tunnel pool: " + pool.error());
    c->tunnel_pool_.emplace(std::move(pool).value());
  }

  // The session template.
  tunnel::SessionConfig& s = c->ctx_.session;
  s.role = tunnel::SessionRole::kConnector;
  s.credential = c->options_.credential;
  s.static_key = crypto::X25519KeyPair::FromSecret(c->options_.noise_key.secret);
  s.root_key = c->options_.root_key;
  s.tenant = c->tenant_;
  s.init_replay = &c->init_replay_;
  s.mux = c->options_.mux;
  s.mux.role = tunnel::MuxRole::kConnector;
  // Check the template once: a bad identity fails here, not on the first device.
  {
    struct NullVisitor final : tunnel::SessionVisitor {
      void OnStreamOpen(tunnel::StreamId, const tunnel::OpenTarget&) override {}
      void OnStreamAccepted(tunnel::StreamId) override {}
      void OnStreamData(tunnel::StreamId, std::span<const std::uint8_t>) override {}
      void OnStreamFin(tunnel::StreamId) override {}
      void OnStreamReset(tunnel::StreamId, tunnel::ErrorCode) override {}
      void OnStreamWritable(tunnel::StreamId) override {}
      void OnDatagram(std::span<std::uint8_t>) override {}
    } v;
    if (!tunnel::Session::Create(s, &v)) return Fail(std::string("connector identity refused by the session"));
  }
  return c;
}

Connector::~Connector() {
  for (Relay& r : relays_) {
    if (r.resolve_timer.valid()) loop_.CancelTimer(r.resolve_timer);
  }
  if (resolver_) resolver_->Stop();
  if (started_) loop_.SetMessageHandler(nullptr);
  RemoveMasquerade();  // the TUN itself goes with tunnel_port_, after the sessions that point at it
}

std::string Connector::Start() {
  if (started_) return "already started";
  ctx_.loop = &loop_;
  ctx_.policies = &policies_;
  ctx_.denials = &denials_;
  ctx_.tunnel_pool = tunnel_pool_ ? &*tunnel_pool_ : nullptr;
  ctx_.tunnel_mtu = options_.tunnel_mtu;
  if (std::string err = OpenTunnel(); !err.empty()) return err;
  ctx_.datagram_out.resize(tunnel::kMaxLinkFrameSize);
  ctx_.stats = &stats_;
  ctx_.open_timeout = options_.open_timeout;
  ctx_.link_max_pending = options_.link.max_pending_bytes;
  ctx_.in.reserve(tunnel::kMaxPayload);
  ctx_.out.resize(tunnel::kSessionOutSize);
  ctx_.reap_soon = [this] { ReapSoon(); };
  ctx_.log = [this](const logging::Event& e) { Log(e); };

  // Relay links.
  for (const RelayTarget& t : options_.relays) {
    Relay r;
    r.target = t;
    r.failures = link::LoginFailureLog(options_.login_failure_log_interval);
    auto tls = crypto::TlsContext::CreateClient({options_.relay_ca_pem, t.tls_name});
    if (!tls) {
      relays_.clear();
      CloseTunnel();
      return "relay " + t.tls_name + " TLS: " + tls.error().reason;
    }
    r.tls = std::make_unique<crypto::TlsContext>(std::move(*tls));
    relays_.push_back(std::move(r));
  }
  if (options_.direct_listen) {
    DirectListenerOptions d = options_.direct;
    d.listen = *options_.direct_listen;
    d.connector_id = id_;
    d.credential = options_.credential;
    d.signing_key = crypto::Ed25519KeyPair::FromSeed(options_.signing_key.seed);
    d.tenant = tenant_;
    d.root_key = options_.root_key;
    d.link = options_.link;
    d.log = [this](const logging::Event& e) { Log(e); };
    direct_ = std::make_unique<DirectListener>(loop_, link_state_, d, static_cast<link::LinkHandler&>(*this));
    if (std::string err = direct_->Start(); !err.empty()) {
      direct_.reset();
      relays_.clear();
      CloseTunnel();
      return err;
    }
  }
  resolver_ = std::make_unique<Resolver>(loop_, options_.resolver);
  ctx_.resolver = resolver_.get();
  loop_.SetMessageHandler(this);
  started_ = true;

  for (Relay& r : relays_) {
    r.config.tls = r.tls.get();
    r.config.options = options_.link;
    r.config.client.credential = options_.credential;
    r.config.client.key = crypto::Ed25519KeyPair::FromSeed(options_.signing_key.seed);
    r.config.client.role = tunnel::LinkRole::kConnector;
    r.config.client.server_root = options_.root_key;  // the relay shows its credential in HELLO_ACK (protocol.md §3)
    r.config.client.server_roles = crypto::RoleSet{crypto::Role::kRelay};
  }
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    if (relays_[i].target.address.len != 0) {
      StartDialer(relays_[i]);
    } else {
      ResolveRelay(i);
    }
  }
  tick_ = loop_.AddTimer(kTickPeriod, this, kTimerTick);
  DrainControl();  // changes queued before Start
  return {};
}

// The TUN, then forwarding (routed and masquerade mode both need the kernel to forward between the TUN and corp),
// then the masquerade table, which names the TUN. Any failure undoes what was done.
std::string Connector::OpenTunnel() {
  if (options_.tunnel_masquerade && (!tunnel_pool_ || options_.tunnel_device.empty())) {
    return "tunnel masquerade needs a tunnel pool and a tunnel device";
  }
  if (!tunnel_pool_ || options_.tunnel_device.empty()) return {};
  TunnelPortOptions t;
  t.device = options_.tunnel_device;
  t.filter.pool_network = tunnel_pool_->network();
  t.filter.pool_prefix = tunnel_pool_->prefix_length();
  t.filter.gateway = tunnel_pool_->gateway();
  t.filter.mtu = options_.tunnel_mtu;
  // The packet rules and device_to_device are each device's policy's, passed per packet (DeviceSession::
  // OnDatagram), so the port holds none of its own and a policy change applies to the next packet.
  auto port = TunnelPort::Open(loop_, t);
  if (!port) return port.error();
  tunnel_port_ = std::move(*port);
  ctx_.tunnel_port = tunnel_port_.get();
  auto forwarding = EnableIpForwarding();
  if (!forwarding) {
    CloseTunnel();
    return forwarding.error();
  }
  Log(logging::Event(logging::Level::kInfo, "ip_forwarding")
          .With("file", kIpForwardPath)
          .With("state", *forwarding ? "enabled" : "already_on"));  // never turned off again (ip_forwarding.h)
  if (options_.tunnel_masquerade) {
    MasqueradeSpec m;
    m.pool_network = tunnel_pool_->network();
    m.pool_prefix = tunnel_pool_->prefix_length();
    m.tun_name = tunnel_port_->name();
    bool replaced = false;
    auto table = MasqueradeTable::Install(m, options_.nft, &replaced);
    if (!table) {
      CloseTunnel();
      return table.error();
    }
    masquerade_ = std::move(*table);
    Log(logging::Event(logging::Level::kInfo, "masquerade_installed")
            .With("table", fmt::format("{} {}", kNftFamily, kNftTable))
            .With("pool", fmt::format("{}.{}.{}.{}/{}", m.pool_network >> 24, (m.pool_network >> 16) & 0xff,
                                      (m.pool_network >> 8) & 0xff, m.pool_network & 0xff, m.pool_prefix))
            .With("tun", m.tun_name)
            .With("stale_table", replaced ? "replaced" : "none"));
  }
  return {};
}

void Connector::CloseTunnel() {
  RemoveMasquerade();
  ctx_.tunnel_port = nullptr;
  tunnel_port_.reset();
}

void Connector::RemoveMasquerade() {
  if (masquerade_) {
    if (std::string err = masquerade_->Remove(); !err.empty()) {
      Log(logging::Event(logging::Level::kWarn, "masquerade_remove_failed").With("error", err));
    } else {
      Log(logging::Event(logging::Level::kInfo, "masquerade_removed")
              .With("table", fmt::format("{} {}", kNftFamily, kNftTable)));
    }
    masquerade_.reset();
  }
}

void Connector::StartDialer(Relay& r) {
  link::DialerOptions d;
  d.address = r.target.address;
  d.min_backoff = options_.min_backoff;
  d.max_backoff = options_.max_backoff;
  d.jitter = options_.jitter;
  r.dialer = std::make_unique<link::Dialer>(loop_, link_state_, r.config, d, static_cast<link::LinkHandler&>(*this));
  r.dialer->Start();
}

// A relay given by name: resolved on the resolver threads (getaddrinfo blocks), retried with the dial backoff.
void Connector::ResolveRelay(std::size_t index) {
  Relay& r = relays_[index];
  if (stopped_) return;
  if (!resolver_->Submit(kRelayToken | index, r.target.tls_name)) {
    ResolveResult refused;
    refused.token = kRelayToken | index;
    refused.error = EAI_AGAIN;
    OnRelayResolved(index, refused);
  }
}

void Connector::OnRelayResolved(std::size_t index, const ResolveResult& result) {
  if (index >= relays_.size() || stopped_) return;
  Relay& r = relays_[index];
  if (result.error == 0 && !result.addresses.empty()) {
    // The first IPv4 address, else the first: "localhost" resolves to ::1 first where IPv6 is on, and relays listen
    // on IPv4 more often than not.
    const IpAddress* pick = &result.addresses.front();
    for (const IpAddress& a : result.addresses) {
      if (a.family == IpAddress::Family::kV4) {
        pick = &a;
        break;
      }
    }
    const std::string name = RelayName(r);
    r.target.address = ToSocketAddress(*pick, r.target.port);
    r.resolve_failures = 0;
    Log(logging::Event(logging::Level::kInfo, "relay_resolved")
            .With("relay", name)
            .With("address", r.target.address.ToString()));
    StartDialer(r);
    return;
  }
  LogLoginFailure(r, [&](logging::Event& e) {
    e.With("reason", "resolve_failed").With("detail", result.error != 0 ? gai_strerror(result.error) : "no address");
  });
  link::DialerOptions d;
  d.min_backoff = options_.min_backoff;
  d.max_backoff = options_.max_backoff;
  d.jitter = options_.jitter;
  const auto delay = link::BackoffDelay(d, r.resolve_failures++, 0.5);
  r.resolve_timer = loop_.AddTimer(delay, this, kTimerResolveRelay | index);
}

std::string Connector::RelayName(const Relay& r) const {
  if (r.target.address.len != 0) return r.target.address.ToString();
  return r.target.tls_name + ":" + std::to_string(r.target.port);
}

void Connector::LogLoginFailure(Relay& r, const std::function<void(logging::Event&)>& why) {
  ++stats_.relay_login_failures;
  if (const std::uint64_t n = r.failures.OnFailure(link::LoginFailureLog::Clock::now()); n != 0) {
    logging::Event e(logging::Level::kWarn, "login_failed");
    e.With("relay", RelayName(r));
    why(e);
    e.With("failures", n);  // failed logins since the last login_failed event for this relay
    Log(e);
  }
}

void Connector::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    control_closed_ = true;
    control_queue_.clear();
  }
  for (auto& [key, s] : sessions_) s->Close(tunnel::ErrorCode::kShuttingDown, "connector stopping");
  for (Relay& r : relays_) {
    if (r.dialer) r.dialer->Stop();
    if (r.resolve_timer.valid()) loop_.CancelTimer(r.resolve_timer);
  }
  if (direct_) direct_->Stop();
  if (resolver_) resolver_->Stop();
}

std::optional<runtime::SocketAddress> Connector::direct_address() const {
  if (!direct_) return std::nullopt;
  return direct_->address();
}

std::size_t Connector::relays_up() const {
  std::size_t n = 0;
  for (const Relay& r : relays_) n += (r.dialer && r.dialer->up()) ? 1 : 0;
  return n;
}

Connector::Relay* Connector::RelayOf(const link::TlsLink& link) {
  for (Relay& r : relays_) {
    if (r.dialer && r.dialer->link() == &link) return &r;
  }
  return nullptr;
}

void Connector::Log(const logging::Event& event) const {
  if (options_.log) options_.log(event);
}

// ---- links ----

// The relay's id as its verified credential names it (what relay.revoked names), never the plain relay_id field of
// HELLO_ACK, which a revoked relay could set to anything.
static std::string VerifiedRelayId(const link::RelayLogin& server) {
  return server.server ? server.server->subject_id : std::string();
}

std::optional<link::LoginRefusal> Connector::AdmitServer(link::TlsLink& link, const link::RelayLogin& server) {
  Relay* r = RelayOf(link);
  if (r == nullptr) return std::nullopt;
  std::string id = VerifiedRelayId(server);
  if (!RelayRevoked(id)) return std::nullopt;
  // relay.revoked: refused before the link is up, so the dialer counts a failed dial and backs off (up to
  // max_backoff) instead of redialling at once; the address may reach another relay later. The line is the login
  // failure's (OnLinkDown, rate-limited); the counter counts every refusal.
  ++stats_.relay_links_refused_revoked;
  if (relogin_ && &relays_[*relogin_] == r) {  // it will not be up again: the renewal goes on without it
    relogin_.reset();
    ReloginNext();
  }
  return link::LoginRefusal{.code = tunnel::ErrorCode::kRevoked, .reason = "relay " + id + " revoked"};
}

std::optional<link::LoginRefusal> Connector::AdmitLogin(link::TlsLink& /*link*/, const link::PeerLogin& peer) {
  // A Direct Connect login (DirectListener checks the tenant once it is up): a denied device or a suspended tenant
  // gets ERROR revoked / unauthorized instead of HELLO_ACK. DirectListener logs it (rate-limited, login_failed with
  // the code); counted always.
  const bool suspended = ctx_.tenant_suspended;
  if (!suspended && !denials_.IsDenied(peer.credential.subject_id, NowUnix())) return std::nullopt;
  ++stats_.direct_logins_refused_revoked;
  if (suspended) return link::LoginRefusal{.code = tunnel::ErrorCode::kUnauthorized, .reason = "tenant suspended"};
  return link::LoginRefusal{.code = tunnel::ErrorCode::kRevoked, .reason = "device revoked"};
}

void Connector::OnLinkUp(link::TlsLink& link, const link::LinkIdentity& identity) {
  Relay* r = RelayOf(link);
  if (r == nullptr) {
    ++stats_.direct_links_up;  // admitted by AdmitLogin and by the listener's tenant check
    return;
  }
  r->relay_id = identity.relay != nullptr ? VerifiedRelayId(*identity.relay) : std::string();
  ++stats_.relay_links_up;
  r->login_serial = credential_serial_;
  if (relogin_ && &relays_[*relogin_] == r) {  // back up with the renewed credential: the next one goes
    relogin_.reset();
    ReloginNext();
  }
  if (const std::uint64_t failed = r->failures.OnLoggedIn(); failed != 0) {
    Log(logging::Event(logging::Level::kInfo, "logged_in")
            .With("relay", r->target.address.ToString())
            .With("after_failures", failed));
  }
  Log(logging::Event(logging::Level::kInfo, "link_up").With("relay", r->target.address.ToString()));
}

void Connector::OnFrame(link::TlsLink& link, const link::Frame& frame) {
  const std::uint32_t channel = frame.header.channel;
  if (channel == 0) return;  // GOAWAY and the like: the dialer's link handles what matters
  auto it = sessions_.find({&link, channel});
  if (it == sessions_.end()) {
    if (frame.header.type == tunnel::FrameType::kSessionInit) {
      NewSession(link, frame);
    } else if (frame.header.type != tunnel::FrameType::kSessionClose) {
      ++stats_.frames_unknown_channel;
    }
    return;
  }
  DeviceSession& s = *it->second;
  s.OnFrame(frame);
  if (s.closed()) {
    ended_.push_back(std::move(it->second));
    sessions_.erase(it);
    ReapSoon();
  }
}

void Connector::NewSession(link::TlsLink& link, const link::Frame& frame) {
  const bool direct = RelayOf(link) == nullptr;
  auto s = std::make_unique<DeviceSession>(ctx_, &link, frame.header.channel, direct);
  if (sessions_.size() >= options_.max_sessions || stopped_ || !s->Init()) {
    ++stats_.sessions_refused;
    tunnel::SessionClose close;
    close.code = stopped_ ? tunnel::ErrorCode::kShuttingDown : tunnel::ErrorCode::kTooManySessions;
    std::uint8_t buf[8];
    if (auto n = close.Encode(buf); n) {
      (void)link.SendFrame(tunnel::FrameType::kSessionClose, 0, frame.header.channel, std::span(buf, *n));
      link.Flush();
    }
    return;
  }
  DeviceSession* raw = s.get();
  auto [it, inserted] = sessions_.emplace(SessionKey{&link, frame.header.channel}, std::move(s));
  (void)inserted;
  raw->OnFrame(frame);
  if (raw->closed()) {
    ended_.push_back(std::move(it->second));
    sessions_.erase(it);
    ReapSoon();
  }
}

void Connector::OnLinkDown(link::TlsLink& link, const link::LinkDown& down) {
  if (Relay* r = RelayOf(link); r != nullptr) {
    r->relay_id.clear();
    if (down.was_up) {
      ++stats_.relay_links_down;
      logging::Event e(link::LinkDownLevel(down), "link_down");
      e.With("relay", r->target.address.ToString());
      Log(link::WithLinkDown(e, down));
    } else if (!stopped_) {
      // A dial that never logged in (TLS refused, connection refused, ERROR from the relay): said, rate-limited.
      LogLoginFailure(*r, [&](logging::Event& e) { link::WithLinkDown(e, down); });
    }
  }
  auto it = sessions_.lower_bound({&link, 0});
  while (it != sessions_.end() && it->first.first == &link) {
    it->second->OnLinkGone();
    ended_.push_back(std::move(it->second));
    it = sessions_.erase(it);
  }
  ReapSoon();
}

// The link has room again: its sessions share it round-robin, one sealed frame each per round, starting one
// session further on each time. (Flushing them in channel order let the first sessions take all the room, and
// the tenant's other devices waited: a fetch of 2 KiB took over 5 s beside 256 downloads.)
void Connector::OnSendQueueLow(link::TlsLink& link) {
  std::vector<DeviceSession*>& ready = flush_scratch_;
  ready.clear();
  for (auto it = sessions_.lower_bound({&link, 0}); it != sessions_.end() && it->first.first == &link; ++it) {
    ready.push_back(it->second.get());
  }
  if (ready.empty()) return;
  const std::size_t start = flush_cursor_++ % ready.size();
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < ready.size(); ++i) {
      if (ready[(start + i) % ready.size()]->Flush(1) > 0) progress = true;
    }
  }
}

// ---- resolver, reaping ----

void Connector::OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& msg) {
  if (msg.kind == options_.resolver.message_kind) DrainResolver();
  if (msg.kind == kControlMessageKind) DrainControl();
}

void Connector::DrainResolver() {
  if (!resolver_) return;
  resolved_.clear();
  resolver_->TakeDone(resolved_);
  for (const ResolveResult& r : resolved_) {
    if ((r.token & kRelayToken) != 0) {
      OnRelayResolved(static_cast<std::size_t>(r.token & ~kRelayToken), r);
      continue;
    }
    auto it = ctx_.tokens.find(r.token);
    if (it == ctx_.tokens.end()) continue;  // the stream or session is gone
    auto [session, stream] = it->second;
    ctx_.tokens.erase(it);
    session->OnResolved(stream, r);
    session->Flush();
  }
  resolved_.clear();
}

void Connector::ReapSoon() {
  if (reap_armed_) return;
  reap_armed_ = loop_.AddTimer(std::chrono::nanoseconds(0), this, kTimerReap).valid();
}

void Connector::Reap() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->closed()) {
      ended_.push_back(std::move(it->second));
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(ended_, [](const std::unique_ptr<DeviceSession>& s) { return s->dead(); });
}

void Connector::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t arg) {
  if (arg == kTimerReap) {
    reap_armed_ = false;
    Reap();
    return;
  }
  if ((arg & kTimerResolveRelay) != 0) {
    const auto index = static_cast<std::size_t>(arg & ~kTimerResolveRelay);
    if (index < relays_.size()) relays_[index].resolve_timer = {};
    ResolveRelay(index);
    return;
  }
  // Periodic: results whose wake-up message was refused (mailbox full) are picked up here.
  DrainResolver();
  DrainControl();
  (void)denials_.Expire(NowUnix());
  Reap();
  tick_ = loop_.AddTimer(kTickPeriod, this, kTimerTick);
}

// ---- renewal (docs/control-plane.md §6.5) ----

Result<void, std::string> Connector::SetCredential(std::vector<std::uint8_t> credential) {
  auto renewed = link::CheckRenewedCredential(credential, options_.credential, options_.root_key, NowUnix());
  if (!renewed) return Fail(renewed.error());
  if (!PostControl([this, c = std::move(credential), serial = renewed->serial]() mutable {
        ApplyCredential(std::move(c), serial);
      })) {
    return Fail(std::string("the connector's control queue is full or it is stopping"));
  }
  return {};
}

void Connector::ApplyCredential(std::vector<std::uint8_t> credential, std::uint64_t serial) {
  // Each copy is read on this thread only: a login's HELLO (the relay configs), a new session (the template), a
  // Direct Connect login or offer. Nothing up changes.
  for (Relay& r : relays_) r.config.client.credential = credential;
  if (direct_) direct_->SetCredential(credential);
  ctx_.session.credential = std::move(credential);
  credential_serial_ = serial;
  ReloginNext();
}

void Connector::ReloginNext() {
  if (relogin_ || stopped_) return;
  for (std::size_t i = 0; i < relays_.size(); ++i) {
    Relay& r = relays_[i];
    if (!r.dialer || !r.dialer->up() || r.login_serial == credential_serial_) continue;
    relogin_ = i;
    Log(logging::Event(logging::Level::kInfo, "relay_relogin")
            .With("relay", RelayName(r))
            .With("reason", "credential renewed"));
    // The dialer redials after its shortest backoff (the link was up), with the renewed credential.
    r.dialer->link()->Close(tunnel::ErrorCode::kShuttingDown, "logging in again with a renewed credential");
    return;
  }
}

// ---- control-plane changes (ControlTarget; docs/control-plane.md §7.3) ----

bool Connector::PostControl(std::function<void()> change) {
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    if (control_closed_ || control_queue_.size() >= options_.max_control_queue) return false;
    control_queue_.push_back(std::move(change));
  }
  if (!control_wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    // Refused (mailbox full, loop stopping): the tick drains within a second.
    if (!loop_.Post(runtime::Message{kControlMessageKind, -1, 0, 0})) {
      control_wake_pending_.store(false, std::memory_order_release);
    }
  }
  return true;
}

void Connector::DrainControl() {
  if (!started_) return;  // Start drains what came before it
  control_wake_pending_.store(false, std::memory_order_release);
  std::vector<std::function<void()>> changes;
  {
    std::lock_guard<std::mutex> lock(control_mu_);
    changes.swap(control_queue_);
  }
  for (auto& change : changes) {
    if (stopped_) break;
    change();
  }
}

bool Connector::ReplaceControlState(ControlState state) {
  auto shared = std::make_shared<ControlState>(std::move(state));  // std::function needs a copyable callable
  return PostControl([this, shared] { ApplyState(*shared); });
}

void Connector::ApplyState(ControlState& state) {
  const std::uint64_t now = NowUnix();
  const std::size_t policies = state.policies.policies.size();
  const std::size_t devices = state.policies.devices.size();
  const bool has_default = state.policies.default_id.has_value();
  policies_.Replace(std::move(state.policies));
  denials_.Replace(state.denied, now);
  revoked_relays_.clear();
  for (std::string& r : state.revoked_relays) HoldRevokedRelay(std::move(r));
  const bool was_suspended = ctx_.tenant_suspended;
  ctx_.tenant_suspended = state.tenant_suspended;
  std::size_t closed = 0;
  if (ctx_.tenant_suspended) {
    closed = CloseSessions([](const DeviceSession&) { return true; }, tunnel::ErrorCode::kUnauthorized,
                           "tenant suspended");
    stats_.sessions_closed_suspended += closed;
  } else {
    closed = CloseSessions([&](const DeviceSession& s) { return denials_.IsDenied(s.device(), now); },
                           tunnel::ErrorCode::kRevoked, "device revoked");
    stats_.sessions_closed_revoked += closed;
  }
  CloseRevokedRelays();
  Log(logging::Event(logging::Level::kInfo, "control_state")
          .With("policies", policies)
          .With("default", has_default ? "yes" : "none")
          .With("device_policies", devices)
          .With("denied", denials_.size())
          .With("revoked_relays", revoked_relays_.size())
          .With("tenant", ctx_.tenant_suspended ? "suspended" : "active")
          .With("sessions_closed", closed));
  if (was_suspended != ctx_.tenant_suspended) {
    Log(logging::Event(logging::Level::kWarn, ctx_.tenant_suspended ? "tenant_suspended" : "tenant_resumed"));
  }
}

bool Connector::PutPolicy(std::string id, PolicyPtr policy, bool is_default) {
  if (!policy) return false;
  return PostControl([this, id = std::move(id), policy = std::move(policy), is_default] {
    const bool held = policies_.Put(id, policy, is_default);
    Log(logging::Event(held ? logging::Level::kInfo : logging::Level::kWarn, "policy_updated")
            .With("policy", id)
            .With("default", is_default ? "yes" : "no")
            .With("held", held ? "yes" : "no")
            .With("epoch", policies_.epoch()));
  });
}

bool Connector::DeletePolicy(std::string id) {
  return PostControl([this, id = std::move(id)] {
    const bool held = policies_.Remove(id);
    Log(logging::Event(logging::Level::kInfo, "policy_deleted")
            .With("policy", id)
            .With("held", held ? "yes" : "no")
            .With("epoch", policies_.epoch()));
  });
}

bool Connector::SetDevicePolicy(std::string device, std::optional<std::string> policy) {
  return PostControl([this, device = std::move(device), policy = std::move(policy)] {
    const bool held = policies_.SetDevice(device, policy);
    Log(logging::Event(held ? logging::Level::kInfo : logging::Level::kWarn, "device_policy")
            .With("device", device)
            .With("policy", policy ? std::string_view(*policy) : std::string_view("default"))
            .With("held", held ? "yes" : "no")
            .With("epoch", policies_.epoch()));
  });
}

bool Connector::DenyDevice(DeviceDenial denial) {
  return PostControl([this, denial = std::move(denial)] {
    if (!denials_.Deny(denial, NowUnix())) return;  // already over, or pushed out by the bound (counted)
    const std::size_t closed = CloseSessions([&](const DeviceSession& s) { return s.device() == denial.device; },
                                             tunnel::ErrorCode::kRevoked, "device revoked");
    stats_.sessions_closed_revoked += closed;
    Log(logging::Event(logging::Level::kWarn, "device_denied")
            .With("device", denial.device)
            .With("until", denial.until)
            .With("reason", denial.reason)
            .With("sessions_closed", closed));
  });
}

bool Connector::LiftDevice(std::string device) {
  return PostControl([this, device = std::move(device)] {
    if (denials_.Lift(device)) Log(logging::Event(logging::Level::kInfo, "device_allowed").With("device", device));
  });
}

bool Connector::SuspendTenant() {
  return PostControl([this] {
    ctx_.tenant_suspended = true;
    const std::size_t closed = CloseSessions([](const DeviceSession&) { return true; },
                                             tunnel::ErrorCode::kUnauthorized, "tenant suspended");
    stats_.sessions_closed_suspended += closed;
    Log(logging::Event(logging::Level::kWarn, "tenant_suspended").With("sessions_closed", closed));
  });
}

bool Connector::ResumeTenant() {
  return PostControl([this] {
    if (!ctx_.tenant_suspended) return;
    ctx_.tenant_suspended = false;
    Log(logging::Event(logging::Level::kInfo, "tenant_resumed"));
  });
}

bool Connector::RevokeRelay(std::string relay) {
  return PostControl([this, relay = std::move(relay)] {
    const bool held = HoldRevokedRelay(relay);
    Log(logging::Event(logging::Level::kWarn, "relay_revoked")
            .With("relay_id", relay)
            .With("held", held ? "yes" : "no"));
    CloseRevokedRelays();
  });
}

bool Connector::HoldRevokedRelay(std::string relay) {
  if (RelayRevoked(relay)) return true;
  if (revoked_relays_.size() >= options_.max_revoked_relays) {
    ++stats_.revoked_relays_over_bound;  // relays are few: a full list means a hostile or broken control plane
    return false;
  }
  revoked_relays_.push_back(std::move(relay));
  return true;
}

bool Connector::RelayRevoked(std::string_view relay_id) const {
  if (relay_id.empty()) return false;
  return std::find(revoked_relays_.begin(), revoked_relays_.end(), relay_id) != revoked_relays_.end();
}

void Connector::CloseRevokedRelays() {
  for (Relay& r : relays_) {
    if (r.dialer == nullptr || r.dialer->link() == nullptr || !RelayRevoked(r.relay_id)) continue;
    ++stats_.relay_links_refused_revoked;
    r.dialer->link()->Close(tunnel::ErrorCode::kRevoked, "relay revoked");
  }
}

std::size_t Connector::CloseSessions(const std::function<bool(const DeviceSession&)>& matches, tunnel::ErrorCode code,
                                     std::string_view reason) {
  std::size_t n = 0;
  for (auto& [key, s] : sessions_) {
    if (s->closed() || !matches(*s)) continue;
    s->Close(code, reason);
    ++n;
  }
  if (n != 0) ReapSoon();
  return n;
}

}  // namespace strait::connector
