// The connector test fixture shared by connector_test.cc and connector_direct_connect_test.cc: a real Connector
// (Direct Connect listener, policy, resolver, dialer) on one loop, an in-process device built from strait_link +
// tunnel::Session (TLS transport-only to the Direct Connect port, HELLO, SESSION_REQUEST -> SESSION_OFFER -> Noise
// IK), loopback TCP servers, and the Stepper that runs the loop through a test's steps. Real sockets, port 0, real
// credentials; no sleeps (a guard turns a hang into a failure).
#pragma once

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
#include <string_view>
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
#include "tunnel/connector/connector.h"

namespace strait::connector::testing {

using runtime::Buffer;
using runtime::ConnId;
using runtime::EventLoop;
using tunnel::ErrorCode;
using tunnel::StreamId;

inline std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

inline std::vector<std::uint8_t> Pattern(std::size_t n, std::uint32_t seed) {
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
  // Another SESSION_REQUEST on the same link (after the session closed): the next offer starts a new session.
  void RequestSession() {
    session_closed = false;
    close_code.reset();
    const std::uint8_t request[1] = {0};
    EXPECT_EQ(link_->SendFrame(tunnel::FrameType::kSessionRequest, 0, 0, request), link::SendStatus::kOk);
    link_->Flush();
  }
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
    if (r.action == tunnel::SessionAction::kClose) {
      session_closed = true;
      close_code = session_->close_code();
    }
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
  void OnDatagram(std::span<std::uint8_t> packet) override {
    datagrams.emplace_back(packet.begin(), packet.end());
    if (on_change) on_change();
  }
  // One IPv4 packet to the connector as a SEALED_DATAGRAM.
  void SendPacket(std::span<const std::uint8_t> packet) {
    const tunnel::SessionResult r = session_->SendDatagram(packet, out_);
    ASSERT_EQ(r.action, tunnel::SessionAction::kSend);
    SendFrames(std::span(out_).first(r.size));
  }
  void OnTunnelConfig(const tunnel::TunnelConfig& c) override {
    tunnel_config = c;
    if (on_change) on_change();
  }
  void OnTunnelRefused(const tunnel::TunnelRefused& r) override {
    tunnel_refused = r;
    if (on_change) on_change();
  }
  // Asks the connector for an IP tunnel (docs/ip-tunnel.md §1).
  void RequestTunnel(std::uint16_t mtu_max) {
    ASSERT_EQ(mux()->RequestTunnel(mtu_max), tunnel::CallStatus::kOk);
    Kick();
  }

  std::map<StreamId, Stream> streams;
  std::optional<tunnel::TunnelConfig> tunnel_config;
  std::optional<tunnel::TunnelRefused> tunnel_refused;
  std::vector<std::vector<std::uint8_t>> datagrams;  // packets the connector sent, in order
  bool link_up = false;
  std::optional<link::LinkDown> link_down;
  bool session_closed = false;
  std::optional<ErrorCode> close_code;  // the session's close code once it closed (sent or received)
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

// The options every connector test starts from: connector `conn`'s identity under `pki`, a Direct Connect listener
// on 127.0.0.1:0 and the given policy.
inline ConnectorOptions BaseOptions(const Pki& pki, const Pki::Member& conn, const char* policy) {
  ConnectorOptions o;
  o.credential = conn.credential;
  o.signing_key = crypto::Ed25519KeyPair::FromSeed(conn.signing.seed);
  o.noise_key = crypto::X25519KeyPair::FromSecret(conn.noise.secret);
  o.root_key = pki.root.public_key;
  o.relay_ca_pem = crypto::testing::SharedTestPki().ca.cert_pem;
  o.policy = ParsePolicy(policy, "test-policy").value();
  o.direct_listen = runtime::ParseSocketAddress("127.0.0.1:0").value();
  return o;
}

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
    ConnectorOptions o = BaseOptions(pki, conn, kPolicy);
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


// Lines of `log` that start with `prefix`.
inline int Count(const std::vector<std::string>& log, std::string_view prefix) {
  int n = 0;
  for (const auto& l : log) n += l.starts_with(prefix);
  return n;
}

}  // namespace strait::connector::testing
