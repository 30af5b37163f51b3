// The connector end to end on one loop: a real Connector (Direct Connect listener, policy, resolver, dialer) and
// an in-process device built from strait_link + tunnel::Session (TLS transport-only to the Direct Connect port,
// HELLO, SESSION_REQUEST -> SESSION_OFFER -> Noise IK), streams to loopback TCP servers. Real sockets, port 0,
// real credentials; no sleeps (the loop runs until the test's steps are done; a guard turns a hang into a failure).
#include "tunnel/connector/connector.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tests/link/link_test_util.h"
#include "tunnel/connector/policy_file.h"
#include "tunnel/frame_reader.h"
#include "tunnel/link_messages.h"
#include "tunnel/session.h"

namespace strait::connector {
namespace {

using runtime::Buffer;
using runtime::ConnId;
using runtime::EventLoop;
using tunnel::ErrorCode;
using tunnel::StreamId;

std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

std::vector<std::uint8_t> Pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return v;
}

// root -> tenant -> connector "dc1" and devices; a second tenant for the refusal test.
struct Pki {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  struct Tenant {
    crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
    std::vector<std::uint8_t> cert;
  };
  struct Member {
    std::vector<std::uint8_t> credential;
    crypto::Ed25519KeyPair signing = crypto::Ed25519KeyPair::Generate();
    crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
  };
  Tenant acme, other;
  Pki() {
    const std::uint64_t now = NowUnix();
    acme.cert = crypto::IssueTenantCert(root, {"acme", acme.key.public_key, now - 3600, now + 86400}).value();
    other.cert = crypto::IssueTenantCert(root, {"other", other.key.public_key, now - 3600, now + 86400}).value();
  }
  Member Issue(const Tenant& t, crypto::Role role, std::string_view subject) const {
    Member m;
    const std::uint64_t now = NowUnix();
    m.credential = crypto::IssueCredential(t.key, t.cert,
                                           {role, subject, m.signing.public_key, m.noise.public_key, 1, now - 60,
                                            now + 3600})
                       .value();
    return m;
  }
};

// A loopback TCP server: echo (send back; close after EOF), sink (never reads), greet (send a line, shut the
// write side, collect until EOF).
class TargetServer final : public runtime::AcceptHandler, public runtime::ConnectionHandler {
 public:
  enum class Mode { kEcho, kSink, kGreet };
  TargetServer(EventLoop& loop, Mode mode, const char* bind = "127.0.0.1:0") : mode_(mode) {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress(bind).value(), {});
    EXPECT_TRUE(fd.ok());
    address = runtime::LocalAddress(*fd).value();
    EXPECT_TRUE(loop.Listen(*fd, this).ok());
  }
  std::uint16_t port() const { return ntohs(address.u.v4.sin_port); }
  void OnAccept(EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    if (mode_ == Mode::kSink) {
      int small = 4096;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    ConnId id = loop.Adopt(fd, this);
    ASSERT_TRUE(id.valid());
    ++accepted;
    if (mode_ == Mode::kSink) loop.PauseRecv(id);
    if (mode_ == Mode::kGreet) {
      static const char kHello[] = "hello from target";
      EXPECT_EQ(loop.Send(id, std::span(reinterpret_cast<const std::uint8_t*>(kHello), sizeof kHello - 1)),
                runtime::SendResult::kQueued);
      loop.ShutdownWrite(id);
    }
  }
  void OnData(EventLoop& loop, ConnId id, Buffer data) override {
    received += data.size();
    if (mode_ == Mode::kGreet) greet_received.insert(greet_received.end(), data.data().begin(), data.data().end());
    if (mode_ == Mode::kEcho) {
      EXPECT_EQ(loop.Send(id, std::move(data)), runtime::SendResult::kQueued);
    }
  }
  void OnReadClosed(EventLoop& loop, ConnId id) override {
    ++eofs;
    loop.Close(id, runtime::CloseMode::kGraceful);
    if (notify) notify();
  }
  void OnClose(EventLoop& /*loop*/, ConnId /*id*/, runtime::CloseReason /*reason*/, int /*err*/) override {
    ++closed;
    if (notify) notify();
  }

  runtime::SocketAddress address;
  std::size_t received = 0;
  std::vector<std::uint8_t> greet_received;
  int accepted = 0;
  int eofs = 0;
  int closed = 0;
  std::function<void()> notify;

 private:
  Mode mode_;
};

// The device: a client TlsLink to the Direct Connect port and a device-role tunnel::Session, with streams the
// test drives. Output is flushed from a zero-delay timer, never from inside a session callback.
class Device final : public link::LinkHandler, public tunnel::SessionVisitor, public runtime::TimerHandler {
 public:
  struct Stream {
    bool accepted = false;
    bool fin = false;
    std::optional<ErrorCode> reset;
    std::vector<std::uint8_t> received;
    std::vector<std::uint8_t> to_send;
    std::size_t sent = 0;
    bool close_after_send = false;
    bool fin_sent = false;
  };

  Device(EventLoop& loop, const Pki& pki, const Pki::Member& me, const std::string& tenant)
      : loop_(loop), tls_(crypto::TlsContext::CreateTransportOnlyClient("127.0.0.1").value()) {
    config_.tls = &tls_;
    config_.client = link::ClientLoginConfig::Of(me.credential, crypto::Ed25519KeyPair::FromSeed(me.signing.seed),
                                                 tunnel::LinkRole::kDevice);
    session_config_.role = tunnel::SessionRole::kDevice;
    session_config_.credential = me.credential;
    session_config_.static_key = crypto::X25519KeyPair::FromSecret(me.noise.secret);
    session_config_.root_key = pki.root.public_key;
    session_config_.tenant = tenant;
    out_.resize(tunnel::kSessionOutSize);
  }
  ~Device() override {
    if (flush_armed_) loop_.CancelTimer(flush_timer_);
  }

  void Connect(const runtime::SocketAddress& to) {
    link_ = std::make_unique<link::TlsLink>(loop_, shared_, config_, *this);
    ASSERT_TRUE(link_->Connect(to));
  }
  void Abort() { link_->Abort(); }  // the link is lost: no SESSION_CLOSE, no ERROR
  bool established() const { return session_ && session_->established(); }
  tunnel::StreamMux* mux() { return established() ? session_->mux() : nullptr; }

  StreamId Open(tunnel::AddrType type, std::span<const std::uint8_t> addr, std::uint16_t port) {
    auto r = mux()->Open({type, addr, port});
    EXPECT_EQ(r.status, tunnel::CallStatus::kOk) << tunnel::CallStatusName(r.status);
    streams[r.id];
    Kick();
    return r.id;
  }
  StreamId OpenIp(const runtime::SocketAddress& a) {
    return Open(tunnel::AddrType::kIPv4, std::span(reinterpret_cast<const std::uint8_t*>(&a.u.v4.sin_addr), 4),
                ntohs(a.u.v4.sin_port));
  }
  StreamId OpenName(std::string_view name, std::uint16_t port) {
    return Open(tunnel::AddrType::kDomain, std::span(reinterpret_cast<const std::uint8_t*>(name.data()), name.size()),
                port);
  }
  void Send(StreamId id, std::vector<std::uint8_t> bytes, bool close_after) {
    auto& s = streams[id];
    s.to_send = std::move(bytes);
    s.sent = 0;
    s.close_after_send = close_after;
    Write(id);
  }
  void Write(StreamId id) {
    auto& s = streams[id];
    tunnel::StreamMux* m = mux();
    if (m == nullptr || !s.accepted || s.reset) return;
    while (s.sent < s.to_send.size()) {
      std::size_t n = m->Write(id, std::span(s.to_send).subspan(s.sent));
      if (n == 0) break;
      s.sent += n;
    }
    if (s.sent == s.to_send.size() && s.close_after_send && !s.fin_sent) {
      if (m->CloseWrite(id) == tunnel::CallStatus::kOk) s.fin_sent = true;
    }
    Kick();
  }

  void Kick() {
    if (!flush_armed_) {
      flush_timer_ = loop_.AddTimer(std::chrono::nanoseconds(0), this);
      flush_armed_ = flush_timer_.valid();
    }
  }
  void OnTimer(EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    flush_armed_ = false;
    Flush();
    if (on_change) on_change();
  }
  void Flush() {
    if (!session_ || !link_ || link_->state() != link::LinkState::kUp) return;
    while (session_->HasOutgoing() && link_->backlog_bytes() + tunnel::kSessionOutSize <= (256u << 10)) {
      auto r = session_->PollOutgoing(out_);
      if (r.action != tunnel::SessionAction::kSend) break;
      SendFrames(std::span(out_).first(r.size));
    }
    link_->Flush();
  }
  void SendFrames(std::span<const std::uint8_t> bytes) {
    while (bytes.size() >= tunnel::kHeaderSize) {
      tunnel::FrameHeader h;
      ASSERT_TRUE(tunnel::ParseFrameHeader(bytes, &h));
      const std::size_t n = tunnel::kHeaderSize + h.length;
      if (h.type == tunnel::FrameType::kSessionInit) {
        sent_init.assign(bytes.begin() + tunnel::kHeaderSize, bytes.begin() + static_cast<std::ptrdiff_t>(n));
      }
      EXPECT_EQ(link_->SendEncoded(bytes.first(n)), link::SendStatus::kOk);
      bytes = bytes.subspan(n);
    }
  }

  // ---- LinkHandler ----
  void OnLinkUp(link::TlsLink& link, const link::LinkIdentity& /*identity*/) override {
    link_up = true;
    const std::uint8_t request[1] = {0};  // SESSION_REQUEST, no preferred connector
    EXPECT_EQ(link.SendFrame(tunnel::FrameType::kSessionRequest, 0, 0, request), link::SendStatus::kOk);
    link.Flush();
    Kick();
  }
  void OnFrame(link::TlsLink& /*link*/, const link::Frame& f) override {
    std::vector<std::uint8_t> payload(f.payload.begin(), f.payload.end());
    tunnel::SessionResult r;
    if (f.header.type == tunnel::FrameType::kSessionOffer) {
      auto offer = tunnel::SessionOffer::Decode(payload);
      ASSERT_TRUE(offer.ok());
      offered_id.assign(offer->connector_id.begin(), offer->connector_id.end());
      if (!replay_init.empty()) {
        // A replayer: the recorded SESSION_INIT bytes on the offered channel, no session of its own.
        EXPECT_EQ(link_->SendFrame(tunnel::FrameType::kSessionInit, 0, f.header.channel, replay_init),
                  link::SendStatus::kOk);
        link_->Flush();
        return;
      }
      session_config_.init_timestamp = init_clock_.Next(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count()));
      session_ = tunnel::Session::Create(session_config_, this).value();
      r = session_->OnOffer(f.header.channel, *offer, NowUnix(), out_);
    } else if (!replay_init.empty()) {
      if (f.header.type == tunnel::FrameType::kSessionAccept) replay_accepted = true;
      if (f.header.type == tunnel::FrameType::kSessionClose) {
        auto close = tunnel::SessionClose::Decode(payload);
        ASSERT_TRUE(close.ok());
        replay_closed = close->code;
      }
      Kick();
      return;
    } else if (session_) {
      r = session_->OnFrame(f.header, payload, NowUnix(), out_);
    } else {
      return;
    }
    if (r.action == tunnel::SessionAction::kSend || r.action == tunnel::SessionAction::kClose) {
      SendFrames(std::span(out_).first(r.size));
    }
    if (r.action == tunnel::SessionAction::kClose) session_closed = true;
    Kick();
  }
  void OnLinkDown(link::TlsLink& /*link*/, const link::LinkDown& down) override {
    link_down = down;
    Kick();
  }
  void OnSendQueueLow(link::TlsLink& /*link*/) override { Kick(); }

  // ---- SessionVisitor ----
  void OnStreamOpen(StreamId, const tunnel::OpenTarget&) override { ADD_FAILURE() << "OPEN to a device"; }
  void OnStreamAccepted(StreamId id) override {
    streams[id].accepted = true;
    Write(id);
  }
  void OnStreamData(StreamId id, std::span<const std::uint8_t> data) override {
    auto& s = streams[id];
    s.received.insert(s.received.end(), data.begin(), data.end());
    (void)mux()->Consume(id, data.size());
    Kick();
  }
  void OnStreamFin(StreamId id) override {
    streams[id].fin = true;
    Kick();
  }
  void OnStreamReset(StreamId id, ErrorCode code) override {
    streams[id].reset = code;
    Kick();
  }
  void OnStreamWritable(StreamId id) override { Write(id); }
  void OnDatagram(std::span<const std::uint8_t>) override {}

  std::map<StreamId, Stream> streams;
  bool link_up = false;
  std::optional<link::LinkDown> link_down;
  bool session_closed = false;
  std::string offered_id;
  std::function<void()> on_change;
  std::vector<std::uint8_t> sent_init;      // the payload of the last SESSION_INIT this device sent
  std::vector<std::uint8_t> replay_init;    // if set: send these bytes as SESSION_INIT instead of a session's
  std::optional<ErrorCode> replay_closed;   // the SESSION_CLOSE code the replayed SESSION_INIT got
  bool replay_accepted = false;             // ... or whether it got a SESSION_ACCEPT

 private:
  EventLoop& loop_;
  crypto::TlsContext tls_;
  link::LinkConfig config_;
  link::LinkLoopState shared_;
  tunnel::SessionConfig session_config_;
  tunnel::InitTimestampClock init_clock_;
  std::unique_ptr<link::TlsLink> link_;
  std::unique_ptr<tunnel::Session> session_;
  std::vector<std::uint8_t> out_;
  runtime::TimerId flush_timer_;
  bool flush_armed_ = false;
};

using Step = std::pair<std::function<bool()>, std::function<void()>>;

// Runs the loop once through `steps` (Run() is once per loop): each condition is checked whenever something
// happened (device, servers, a 1 ms-granularity re-check timer would be polling: the hooks call Check()).
class Stepper final : public runtime::TimerHandler {
 public:
  Stepper(EventLoop& loop, std::vector<Step> steps) : loop_(loop), steps_(std::move(steps)) {}
  void Check() {
    if (!armed_) armed_ = loop_.AddTimer(std::chrono::nanoseconds(0), this).valid();
  }
  void OnTimer(EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    armed_ = false;
    while (step < steps_.size() && steps_[step].first()) {
      if (steps_[step].second) steps_[step].second();
      ++step;
    }
    if (step == steps_.size()) loop_.RequestStop();
  }
  std::size_t step = 0;

 private:
  EventLoop& loop_;
  std::vector<Step> steps_;
  bool armed_ = false;
};

constexpr char kPolicy[] = R"(
version = 1
[[allow]]
cidrs = ["127.0.0.0/8", "::1"]
ports = ["*"]
[[allow]]
hosts = ["localhost"]
ports = ["*"]
[[deny]]
cidrs = ["127.0.0.2"]
)";

struct ConnectorTest : ::testing::Test {
  std::unique_ptr<EventLoop> loop = [] {
    runtime::LoopOptions o;
    o.max_connections = 8192;
    o.recv_buffer_count = 2048;
    o.plain_buffer_count = 8192;
    o.max_timers = 16384;
    o.graceful_close_timeout = std::chrono::milliseconds(2000);
    return runtime::EventLoop::Create(o).value();
  }();
  Pki pki;
  Pki::Member conn = pki.Issue(pki.acme, crypto::Role::kConnector, "dc1");
  Pki::Member dev = pki.Issue(pki.acme, crypto::Role::kDevice, "phone");
  std::vector<std::string> log;
  std::unique_ptr<Connector> connector;
  std::function<void()> on_log;  // re-check the steps when the connector logs an event

  ConnectorOptions Options() {
    ConnectorOptions o;
    o.credential = conn.credential;
    o.signing_key = crypto::Ed25519KeyPair::FromSeed(conn.signing.seed);
    o.noise_key = crypto::X25519KeyPair::FromSecret(conn.noise.secret);
    o.root_key = pki.root.public_key;
    o.relay_ca_pem = crypto::testing::SharedTestPki().ca.cert_pem;
    o.policy = ParsePolicy(kPolicy, "test-policy").value();
    o.direct_listen = runtime::ParseSocketAddress("127.0.0.1:0").value();
    o.open_timeout = std::chrono::milliseconds(20000);
    o.min_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(50);
    o.log = [this](const logging::Event& e) {
      log.push_back(logging::Describe(e));
      if (on_log) on_log();
    };
    return o;
  }
  void StartConnector(ConnectorOptions o) {
    auto c = Connector::Create(*loop, std::move(o));
    ASSERT_TRUE(c.ok()) << c.error();
    connector = std::move(*c);
    ASSERT_EQ(connector->Start(), "");
  }
  bool Run(Stepper& s, std::chrono::seconds limit = std::chrono::seconds(60)) {
    link::testing::GuardTimer guard(*loop, limit);
    s.Check();
    loop->Run();
    if (guard.fired) ADD_FAILURE() << "stuck before step " << s.step;
    return !guard.fired;
  }
};

TEST_F(ConnectorTest, StreamByIpAndByNameEchoBytesExactly) {
  StartConnector(Options());
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  const auto a = Pattern(1 << 20, 1);
  const auto b = Pattern(300000, 2);
  StreamId by_ip = 0, by_name = 0;
  Stepper s(*loop, {{[&] { return d.established(); },
                     [&] {
                       EXPECT_EQ(d.offered_id, "dc1");
                       by_ip = d.OpenIp(echo.address);
                       d.Send(by_ip, a, true);
                       by_name = d.OpenName("localhost", echo.port());
                       d.Send(by_name, b, true);
                     }},
                    {[&] { return d.streams[by_ip].fin && d.streams[by_name].fin; }, {}},
                    {[&] { return connector->stats().streams_open == 0 && echo.closed == 2; }, {}}});
  d.on_change = echo.notify = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(d.streams[by_ip].received, a);
  EXPECT_EQ(d.streams[by_name].received, b);
  EXPECT_FALSE(d.streams[by_ip].reset.has_value());
  EXPECT_EQ(connector->stats().streams_opened, 2u);
  EXPECT_EQ(connector->stats().sessions_up, 1u);
  EXPECT_EQ(connector->stats().bytes_to_targets, a.size() + b.size());
  EXPECT_EQ(connector->stats().bytes_from_targets, a.size() + b.size());
}

// Issue 7, attack 1 on Direct Connect: sockets that never log in used to fill max_links (1,100 of them let 0 of 20
// logins through). Now one source holds at most its cap of logins, a full budget closes its oldest, and sockets
// that send nothing are not even accepted (TCP_DEFER_ACCEPT): a real device still gets its session.
TEST_F(ConnectorTest, DirectConnectFloodDoesNotLockOutADevice) {
  ConnectorOptions o = Options();
  o.direct.max_links = 64;
  o.direct.max_logins = 8;
  o.direct.max_logins_per_source = 4;
  o.direct.link.handshake_timeout = std::chrono::seconds(30);
  o.direct.link.client_hello_timeout = std::chrono::seconds(30);  // no deadline rescues the device: the budget must
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  link::testing::Fds flood;
  for (int i = 0; i < 100; ++i) {  // idle: connected, nothing sent
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(fd, port.get(), port.len), 0);
    flood.fds.push_back(fd);
  }
  for (int i = 0; i < 100; ++i) flood.fds.push_back(link::testing::Trickle(port, "127.0.0.2"));
  for (int i = 0; i < 100; ++i) {
    flood.fds.push_back(link::testing::Trickle(port, ("127.0.2." + std::to_string(i + 1)).c_str()));
  }
  // The kernel holds every one of them in the listen backlog; the loop accepts them before the device's.
  Device d(*loop, pki, dev, "acme");
  Stepper s(*loop, {{[&] { return d.established(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(port);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  const DirectListenerStats& st = connector->direct()->stats();
  EXPECT_EQ(st.refused_source, 96u);  // 100 from one source, 4 admitted
  EXPECT_GE(st.logins_evicted, 96u);  // 4 + 100 from many sources + the device through a budget of 8
  EXPECT_EQ(st.refused_full, 0u);
  EXPECT_LE(connector->direct()->links(), 9u);
}

TEST_F(ConnectorTest, HalfCloseTargetFirstThenDevice) {
  StartConnector(Options());
  TargetServer greet(*loop, TargetServer::Mode::kGreet);
  Device d(*loop, pki, dev, "acme");
  const auto data = Pattern(70000, 3);
  StreamId id = 0;
  Stepper s(*loop, {{[&] { return d.established(); }, [&] { id = d.OpenIp(greet.address); }},
                    {[&] { return d.streams[id].fin; },
                     [&] {
                       EXPECT_EQ(std::string(d.streams[id].received.begin(), d.streams[id].received.end()),
                                 "hello from target");
                       d.Send(id, data, true);  // the device half still works after the target's FIN
                     }},
                    {[&] { return greet.eofs == 1 && greet.closed == 1; }, {}}});
  d.on_change = greet.notify = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(greet.greet_received, data);
}

TEST_F(ConnectorTest, HalfCloseDeviceFirstThenTarget) {
  StartConnector(Options());
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  const auto data = Pattern(500000, 4);
  StreamId id = 0;
  // The device sends everything with FIN at once; the echo target keeps sending after that FIN, then closes.
  Stepper s(*loop, {{[&] { return d.established(); },
                     [&] {
                       id = d.OpenIp(echo.address);
                       d.Send(id, data, true);
                     }},
                    {[&] { return echo.eofs == 1 && d.streams[id].fin; }, {}}});
  d.on_change = echo.notify = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(d.streams[id].received, data);
}

TEST_F(ConnectorTest, ThousandConcurrentStreamsOnOneSession) {
  StartConnector(Options());
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  constexpr int kStreams = 1000;
  std::vector<StreamId> ids;
  auto all_done = [&] {
    for (StreamId id : ids) {
      if (!d.streams[id].fin && !d.streams[id].reset) return false;
    }
    return true;
  };
  Stepper s(*loop, {{[&] { return d.established(); },
                     [&] {
                       for (int i = 0; i < kStreams; ++i) {
                         StreamId id = d.OpenIp(echo.address);
                         d.Send(id, Pattern(1000 + i, 10 + i), true);
                         ids.push_back(id);
                       }
                     }},
                    {all_done, {}}});
  d.on_change = echo.notify = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s, std::chrono::seconds(120)));
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_FALSE(d.streams[ids[i]].reset.has_value()) << i;
    ASSERT_EQ(d.streams[ids[i]].received, Pattern(1000 + i, 10 + i)) << i;
  }
  EXPECT_EQ(connector->stats().streams_opened, static_cast<std::uint64_t>(kStreams));
  EXPECT_EQ(echo.accepted, kStreams);  // one target connection per stream
}

TEST_F(ConnectorTest, RefusalsCarryTheirReason) {
  StartConnector(Options());
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  runtime::SocketAddress dead;
  {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress("127.0.0.1:0").value(), {});
    ASSERT_TRUE(fd.ok());
    dead = runtime::LocalAddress(*fd).value();
    ::close(*fd);
  }
  Device d(*loop, pki, dev, "acme");
  StreamId denied = 0, denied_name = 0, unreachable = 0, unknown = 0;
  auto answered = [&](StreamId id) { return d.streams[id].reset.has_value(); };
  Stepper s(*loop, {{[&] { return d.established(); },
                     [&] {
                       runtime::SocketAddress deny = echo.address;
                       inet_pton(AF_INET, "127.0.0.2", &deny.u.v4.sin_addr);
                       denied = d.OpenIp(deny);                                   // deny CIDR
                       denied_name = d.OpenName("intranet.example", echo.port()); // no host rule: resolve-then-check
                       unreachable = d.OpenIp(dead);
                       unknown = d.OpenName("nonexistent.invalid", echo.port());
                     }},
                    {[&] {
                       return answered(denied) && answered(denied_name) && answered(unreachable) && answered(unknown);
                     },
                     {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(*d.streams[denied].reset, ErrorCode::kRefusedByPolicy);
  EXPECT_EQ(*d.streams[unreachable].reset, ErrorCode::kConnectFailed);
  EXPECT_EQ(*d.streams[unknown].reset, ErrorCode::kDnsFailed);
  // A name that does not resolve is dns_failed; one that resolves outside the allow CIDRs is refused_by_policy.
  EXPECT_TRUE(*d.streams[denied_name].reset == ErrorCode::kDnsFailed ||
              *d.streams[denied_name].reset == ErrorCode::kRefusedByPolicy);
  EXPECT_EQ(echo.accepted, 0);
  EXPECT_GE(connector->stats().refused(RefuseReason::kPolicy), 1u);
  EXPECT_EQ(connector->stats().refused(RefuseReason::kConnectFailed), 1u);
  EXPECT_GE(connector->stats().refused(RefuseReason::kDnsFailed), 1u);
}

TEST_F(ConnectorTest, OpenTimeoutIsTimeout) {
  auto o = Options();
  o.open_timeout = std::chrono::milliseconds(1);  // shorter than any connect: the timer answers first
  o.resolver.threads = 1;
  StartConnector(std::move(o));
  Device d(*loop, pki, dev, "acme");
  StreamId id = 0;
  Stepper s(*loop, {{[&] { return d.established(); }, [&] { id = d.OpenName("localhost", 9); }},
                    {[&] { return d.streams[id].reset.has_value(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  // The 1 ms timer normally wins against resolution + connect; a very fast path may still fail the connect.
  EXPECT_TRUE(*d.streams[id].reset == ErrorCode::kTimeout || *d.streams[id].reset == ErrorCode::kConnectFailed)
      << tunnel::ErrorCodeName(*d.streams[id].reset);
}

TEST_F(ConnectorTest, SlowTargetReaderHoldsBackOnlyItsOwnStream) {
  StartConnector(Options());
  TargetServer sink(*loop, TargetServer::Mode::kSink);
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  Device d(*loop, pki, dev, "acme");
  const std::size_t big = 64u << 20;
  const auto data = Pattern(2 << 20, 5);
  StreamId slow = 0, fast = 0;
  std::size_t stalled_at = 0;
  Stepper s(*loop,
            {{[&] { return d.established(); },
              [&] {
                slow = d.OpenIp(sink.address);
                d.Send(slow, std::vector<std::uint8_t>(big, 0x42), false);
              }},
             // The slow stream stops: its send credit is used up and its bytes sit unconsumed at the connector.
             {[&] {
                tunnel::StreamInfo info;
                tunnel::StreamMux* m = d.mux();
                return m != nullptr && d.streams[slow].accepted && d.streams[slow].sent > 0 &&
                       m->FindStream(slow, &info) && info.send_credit == 0 && !m->HasOutgoing();
              },
              [&] {
                stalled_at = d.streams[slow].sent;
                fast = d.OpenIp(echo.address);
                d.Send(fast, data, true);
              }},
             {[&] { return d.streams[fast].fin; }, {}}});
  d.on_change = echo.notify = sink.notify = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_LT(stalled_at, big);
  EXPECT_LT(d.streams[slow].sent, big);
  EXPECT_EQ(d.streams[fast].received, data);
  // The whole session window was not taken by the stalled stream: at most its stream window is in flight.
  tunnel::StreamMux* m = d.mux();
  ASSERT_NE(m, nullptr);
  EXPECT_GT(m->session_send_credit(), 0u);
}

TEST_F(ConnectorTest, DeviceOfAnotherTenantIsRefusedAtLogin) {
  StartConnector(Options());
  Pki::Member stranger = pki.Issue(pki.other, crypto::Role::kDevice, "stranger");
  Device d(*loop, pki, stranger, "other");
  Stepper s(*loop, {{[&] { return d.link_down.has_value(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(d.link_down->reason, link::DownReason::kPeerError);
  EXPECT_EQ(d.link_down->code, static_cast<std::uint16_t>(ErrorCode::kUnauthorized));
  EXPECT_FALSE(d.established());
  EXPECT_EQ(connector->direct()->stats().refused_tenant, 1u);
  EXPECT_EQ(connector->stats().sessions_up, 0u);
}

// Issue 7 (protocol.md §6): a replayer records a device's SESSION_INIT and sends the exact bytes again on a
// channel of its own. The connector refuses it with SESSION_CLOSE replayed before any SESSION_ACCEPT, counts it,
// logs no session up for it, and the device's own session is untouched.
TEST_F(ConnectorTest, ReplayedSessionInitIsRefusedAndCounted) {
  StartConnector(Options());
  Device d(*loop, pki, dev, "acme");
  Device replayer(*loop, pki, dev, "acme");  // the credential only logs the link in; the bytes are d's
  Stepper s(*loop, {{[&] { return d.established(); },
                     [&] {
                       ASSERT_FALSE(d.sent_init.empty());
                       replayer.replay_init = d.sent_init;
                       replayer.Connect(*connector->direct_address());
                     }},
                    {[&] { return replayer.replay_closed.has_value() || replayer.replay_accepted; }, {}}});
  d.on_change = replayer.on_change = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_FALSE(replayer.replay_accepted);
  ASSERT_TRUE(replayer.replay_closed.has_value());
  EXPECT_EQ(*replayer.replay_closed, ErrorCode::kReplayed);
  EXPECT_TRUE(d.established());
  EXPECT_EQ(connector->stats().sessions_up, 1u);
  EXPECT_EQ(connector->stats().sessions_refused, 1u);
  EXPECT_EQ(connector->init_replay().stats().count(tunnel::InitCheck::kReplayed), 1u);
  EXPECT_EQ(connector->init_replay().stats().count(tunnel::InitCheck::kAccepted), 1u);
  EXPECT_EQ(connector->init_replay().size(), 1u);
  std::size_t ups = 0;
  for (const std::string& line : log) ups += line.find("session_up ") != std::string::npos;
  EXPECT_EQ(ups, 1u);
}

// A minimal relay: a TLS server port taking connector logins. "Restart" = close the listener and every link,
// then listen again on the same port.
class FakeRelay final : public runtime::AcceptHandler, public link::LinkHandler {
 public:
  FakeRelay(EventLoop& loop, const Pki& pki) : loop_(loop) {
    config_.tls = &link::testing::ServerTls();
    config_.server.root_key = pki.root.public_key;
    config_.server.roles = crypto::RoleSet{crypto::Role::kConnector};
    config_.server.relay_id = "relay-test";
    // What a relay shows in HELLO_ACK (protocol.md §3): a relay credential under the same root, and its key.
    const std::uint64_t now = NowUnix();
    config_.server.key = crypto::Ed25519KeyPair::Generate();
    config_.server.credential = crypto::IssueRelayCredential(pki.root, {crypto::Role::kRelay, "relay-test",
                                                                        config_.server.key.public_key,
                                                                        crypto::X25519PublicKey{}, 9, now - 60,
                                                                        now + 3600})
                                    .value();
  }
  // The root the next logins are checked against (a relay of another deployment refuses our connector).
  void SetRoot(const crypto::Ed25519PublicKey& root) { config_.server.root_key = root; }
  void Listen(const char* at) {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress(at).value(), {});
    ASSERT_TRUE(fd.ok()) << fd.error().reason;
    address = runtime::LocalAddress(*fd).value();
    listener_ = loop_.Listen(*fd, this).value();
  }
  void Restart() {
    loop_.CloseListener(listener_);
    for (auto& l : links_) {
      if (l->state() != link::LinkState::kDown) l->Abort();
    }
    restart_pending = true;
  }
  void OnAccept(EventLoop& /*loop*/, runtime::ListenerId /*id*/, int fd) override {
    links_.push_back(std::make_unique<link::TlsLink>(loop_, shared_, config_, *this));
    if (!links_.back()->Accept(fd)) {
      ::close(fd);
      links_.pop_back();
    }
  }
  void OnLinkUp(link::TlsLink&, const link::LinkIdentity& id) override {
    ++ups;
    if (id.peer) subjects.push_back(id.peer->credential.subject_id);
    if (notify) notify();
  }
  void OnFrame(link::TlsLink&, const link::Frame&) override {}
  void OnLinkDown(link::TlsLink&, const link::LinkDown&) override {
    ++downs;
    if (restart_pending && downs == ups) {
      restart_pending = false;
      Listen(("127.0.0.1:" + std::to_string(ntohs(address.u.v4.sin_port))).c_str());  // same port again
    }
    if (notify) notify();
  }

  runtime::SocketAddress address;
  int ups = 0;
  int downs = 0;
  bool restart_pending = false;
  std::vector<std::string> subjects;
  std::function<void()> notify;

 private:
  EventLoop& loop_;
  link::LinkConfig config_;
  link::LinkLoopState shared_;
  runtime::ListenerId listener_;
  std::vector<std::unique_ptr<link::TlsLink>> links_;  // destroyed after Run() returned (all down then)
};

TEST_F(ConnectorTest, ReconnectsToARelayThatRestarts) {
  FakeRelay relay(*loop, pki);
  relay.Listen("127.0.0.1:0");
  auto o = Options();
  o.direct_listen.reset();
  o.relays.push_back({relay.address, "127.0.0.1"});
  StartConnector(std::move(o));
  Stepper s(*loop, {{[&] { return relay.ups == 1 && connector->relays_up() == 1; }, [&] { relay.Restart(); }},
                    {[&] { return relay.ups == 2 && connector->relays_up() == 1; }, {}}});
  relay.notify = on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(relay.subjects, (std::vector<std::string>{"dc1", "dc1"}));
  EXPECT_EQ(connector->stats().relay_links_up, 2u);
  int up_lines = 0;
  for (const auto& l : log) up_lines += l == "link_up relay=" + relay.address.ToString();
  EXPECT_EQ(up_lines, 2);
  EXPECT_FALSE(connector->direct_address().has_value());
}

int Count(const std::vector<std::string>& log, std::string_view prefix) {
  int n = 0;
  for (const auto& l : log) n += l.starts_with(prefix);
  return n;
}

// Issue 8: a connector whose session lost its link logged reason=protocol_error (the session's default close
// code); it says link_lost.
TEST_F(ConnectorTest, SessionWhoseLinkIsLostSaysLinkLost) {
  StartConnector(Options());
  Device d(*loop, pki, dev, "acme");
  Stepper s(*loop, {{[&] { return d.established() && connector->stats().sessions_up == 1; }, [&] { d.Abort(); }},
                    {[&] { return Count(log, "session_down ") == 1; }, {}}});
  d.on_change = on_log = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  for (const auto& l : log) {
    if (l.starts_with("session_down ")) {
      EXPECT_TRUE(l.ends_with(" reason=link_lost")) << l;
    }
  }
}

// Issue 8: a connector that could not log in printed "connector ready" and then nothing. A relay port where nothing
// listens: the first failure is logged at once with its reason, later ones at most once per interval with a count.
TEST_F(ConnectorTest, RefusedConnectionsAreLoggedFirstAtOnceThenCounted) {
  runtime::SocketAddress closed;
  {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress("127.0.0.1:0").value(), {});
    ASSERT_TRUE(fd.ok());
    closed = runtime::LocalAddress(*fd).value();
    ::close(*fd);  // nothing listens there now: connect() is refused
  }
  auto o = Options();
  o.direct_listen.reset();
  o.relays.push_back({closed, "127.0.0.1"});
  o.login_failure_log_interval = std::chrono::milliseconds(300);
  StartConnector(std::move(o));
  const std::string prefix = "login_failed relay=" + closed.ToString() + " ";
  Stepper s(*loop, {{[&] { return Count(log, prefix) == 2; }, {}}});
  on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  std::vector<std::string> lines;
  for (const auto& l : log) {
    if (l.starts_with(prefix)) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].ends_with(" reason=connect_failed detail=\"Connection refused\" failures=1")) << lines[0];
  // 300 ms at a 10..50 ms backoff: several failures folded into the second line.
  const auto at = lines[1].find(" failures=");
  ASSERT_NE(at, std::string::npos) << lines[1];
  const int folded = std::stoi(lines[1].substr(at + 10));
  EXPECT_GE(folded, 2) << lines[1];
  EXPECT_EQ(connector->stats().relay_login_failures, static_cast<std::uint64_t>(1 + folded));
  EXPECT_EQ(connector->stats().relay_links_up, 0u);
}

// A relay of another deployment (another root) refuses our credential with ERROR bad_credential: each failure says
// so (interval 0: every one logged), and the login that finally works says how many failed before it.
TEST_F(ConnectorTest, RefusedLoginsSayTheRelaysErrorAndTheLoginAfterThemCountsThem) {
  FakeRelay relay(*loop, pki);
  relay.SetRoot(crypto::Ed25519KeyPair::Generate().public_key);
  relay.Listen("127.0.0.1:0");
  auto o = Options();
  o.direct_listen.reset();
  o.relays.push_back({relay.address, "127.0.0.1"});
  o.login_failure_log_interval = std::chrono::milliseconds(0);
  StartConnector(std::move(o));
  const std::string prefix = "login_failed relay=" + relay.address.ToString() + " ";
  Stepper s(*loop, {{[&] { return Count(log, prefix) == 3; }, [&] { relay.SetRoot(pki.root.public_key); }},
                    {[&] { return connector->relays_up() == 1; }, {}}});
  relay.notify = on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  const auto failed = connector->stats().relay_login_failures;
  EXPECT_GE(failed, 3u);
  EXPECT_EQ(Count(log, prefix), static_cast<int>(failed));
  for (const auto& l : log) {
    if (l.starts_with(prefix)) {
      EXPECT_NE(l.find(" reason=peer_error code=bad_credential"), std::string::npos) << l;
    }
  }
  EXPECT_EQ(Count(log, "logged_in relay=" + relay.address.ToString() + " after_failures=" + std::to_string(failed)),
            1);
}

// Issue 8: a relay name that does not resolve at start made the connector exit. It is logged and retried with the
// dial backoff; a name that resolves is dialed (here "localhost", which the test certificate carries).
TEST_F(ConnectorTest, RelayNamesAreResolvedAndRetriedNotFatal) {
  FakeRelay relay(*loop, pki);
  relay.Listen("127.0.0.1:0");
  auto o = Options();
  o.direct_listen.reset();
  RelayTarget bad;
  bad.tls_name = "no-such-relay.invalid";
  bad.port = 4443;
  RelayTarget good;
  good.tls_name = "localhost";
  good.port = ntohs(relay.address.u.v4.sin_port);
  o.relays = {bad, good};
  o.login_failure_log_interval = std::chrono::milliseconds(0);
  StartConnector(std::move(o));
  const std::string prefix = "login_failed relay=no-such-relay.invalid:4443 reason=resolve_failed ";
  Stepper s(*loop, {{[&] { return Count(log, prefix) >= 3 && connector->relays_up() == 1; }, {}}});
  relay.notify = on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(relay.subjects, std::vector<std::string>{"dc1"});
  EXPECT_EQ(Count(log, "relay_resolved relay=localhost:" + std::to_string(good.port) + " address="), 1);
}

// Issue 7 (every refusal is visible): the Direct Connect listener logs each refusal with the peer and the reason,
// at most 10 lines a second, and counts a failed login.
TEST_F(ConnectorTest, DirectConnectRefusalsAreLoggedWithTheirReason) {
  ConnectorOptions o = Options();
  o.direct.max_logins_per_source = 4;
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  auto has = [&](std::string_view what) {
    return std::any_of(log.begin(), log.end(), [&](const std::string& l) {
      return l.starts_with("direct_refused from=127.0.0.") && l.find(what) != std::string::npos;
    });
  };
  // Another tenant's device; a client that speaks HTTP instead of TLS; six idle sockets from one source.
  Pki::Member stranger = pki.Issue(pki.other, crypto::Role::kDevice, "stranger");
  Device d(*loop, pki, stranger, "other");
  link::testing::Fds fds;
  const int garbage = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(garbage, port.get(), port.len), 0);
  ASSERT_EQ(::send(garbage, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), 18);
  fds.fds.push_back(garbage);
  for (int i = 0; i < 6; ++i) fds.fds.push_back(link::testing::Trickle(port, "127.0.0.3"));
  Stepper s(*loop, {{[&] {
                       return has("reason=other_tenant subject=stranger tenant=other") &&
                              has("reason=login_failed down=tls_error") && has("reason=source_limit");
                     },
                     {}}});
  d.on_change = on_log = [&] { s.Check(); };
  d.Connect(port);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  const DirectListenerStats& st = connector->direct()->stats();
  EXPECT_EQ(st.refused_tenant, 1u);
  EXPECT_EQ(st.refused_source, 2u);  // 6 from 127.0.0.3, 4 admitted
  EXPECT_GE(st.logins_failed, 1u);
}

// ...and a flood is summed up, not logged line by line.
TEST_F(ConnectorTest, DirectConnectRefusalLogsAreRateLimited) {
  ConnectorOptions o = Options();
  o.direct.max_logins_per_source = 1;
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  link::testing::Fds fds;
  for (int i = 0; i < 200; ++i) fds.fds.push_back(link::testing::Trickle(port, "127.0.0.4"));
  Stepper s(*loop, {{[&] { return connector->direct()->stats().refused_source == 199; }, {}}});
  // Most refusals log nothing, so the step is also checked every 20 ms.
  struct Every final : runtime::TimerHandler {
    Every(EventLoop& l, Stepper& st) : loop(l), s(st) { id = loop.AddTimer(std::chrono::milliseconds(20), this); }
    ~Every() override { loop.CancelTimer(id); }
    void OnTimer(EventLoop& /*l*/, runtime::TimerId /*t*/, std::uint64_t /*arg*/) override {
      s.Check();
      id = loop.AddTimer(std::chrono::milliseconds(20), this);
    }
    EventLoop& loop;
    Stepper& s;
    runtime::TimerId id;
  } every(*loop, s);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  // 199 refusals, nearly all within a second: at most 10 lines a second of them.
  const int lines = Count(log, "direct_refused ");
  EXPECT_GE(lines, 1);
  EXPECT_LE(lines, 40) << "rate limit: at most 10 a second";
}

}  // namespace
}  // namespace strait::connector
