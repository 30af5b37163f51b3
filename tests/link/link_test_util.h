// Shared builders for link tests: a throwaway PKI for TLS (tests/crypto/tls_test_util.h), a credential tree
// (root → tenant → device / connector), link configs, a recording LinkHandler, a server that accepts links, and a
// raw peer that speaks TLS (or not) by hand so tests can send what a real link never would. No sleeps: tests run
// the loop until an event stops it; GuardTimer only turns a hang into a failure.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/proof.h"
#include "crypto/tls_session.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tests/crypto/tls_test_util.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/link_messages.h"

namespace strait::link::testing {

inline std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// root → tenant "acme" → device "phone" and connector "dc1"; root → relay "relay-test" (shown in HELLO_ACK).
struct Identities {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> tenant_cert;
  crypto::Ed25519KeyPair device_key = crypto::Ed25519KeyPair::Generate();
  crypto::Ed25519KeyPair connector_key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> device_cred;
  std::vector<std::uint8_t> connector_cred;
  crypto::Ed25519KeyPair relay_key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> relay_cred;

  Identities() {
    const std::uint64_t now = NowUnix();
    tenant_cert = crypto::IssueTenantCert(root, {"acme", tenant.public_key, now - 3600, now + 86400}).value();
    device_cred = Issue(crypto::Role::kDevice, "phone", device_key);
    connector_cred = Issue(crypto::Role::kConnector, "dc1", connector_key);
    relay_cred = crypto::IssueRelayCredential(root, {crypto::Role::kRelay, "relay-test", relay_key.public_key,
                                                     crypto::X25519PublicKey{}, 1, now - 60, now + 3600})
                     .value();
  }
  std::vector<std::uint8_t> Issue(crypto::Role role, std::string_view subject, const crypto::Ed25519KeyPair& key,
                                  std::int64_t not_after_offset = 3600) const {
    const std::uint64_t now = NowUnix();
    return crypto::IssueCredential(tenant, tenant_cert,
                                   {role, subject, key.public_key, crypto::X25519KeyPair::Generate().public_key, 1,
                                    now - 60, static_cast<std::uint64_t>(static_cast<std::int64_t>(now) +
                                                                         not_after_offset)})
        .value();
  }
  ClientLoginConfig Device() const {
    return ClientLoginConfig::Of(device_cred, crypto::Ed25519KeyPair::FromSeed(device_key.seed),
                                 tunnel::LinkRole::kDevice, "dc1");
  }
  ClientLoginConfig Connector() const {
    return ClientLoginConfig::Of(connector_cred, crypto::Ed25519KeyPair::FromSeed(connector_key.seed),
                                 tunnel::LinkRole::kConnector);
  }
  ServerLoginConfig Port(crypto::RoleSet roles) const {
    ServerLoginConfig s;
    s.root_key = root.public_key;
    s.roles = roles;
    s.relay_id = "relay-test";
    s.credential = relay_cred;
    s.key = relay_key;
    return s;
  }
};

// Process-wide TLS contexts from the shared throwaway PKI (client verifies 127.0.0.1).
// A connection from `source` that sent one byte of a TLS record and stops (a trickling login). Non-blocking.
inline int Trickle(const runtime::SocketAddress& to, const char* source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  EXPECT_EQ(::inet_pton(AF_INET, source, &from.sin_addr), 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from), 0) << std::strerror(errno);
  EXPECT_EQ(::connect(fd, to.get(), to.len), 0) << std::strerror(errno);
  const std::uint8_t handshake_record = 0x16;
  EXPECT_EQ(::send(fd, &handshake_record, 1, MSG_NOSIGNAL), 1);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// True once the relay has closed `fd` (EOF or reset); false while it is still open.
inline bool ClosedByPeer(int fd) {
  std::uint8_t b;
  const ssize_t n = ::recv(fd, &b, 1, 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Closes the fds a test opened, however it ends.
struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) ::close(fd);
  }
};

inline const crypto::TlsContext& ServerTls() {
  static const crypto::TlsContext* ctx = new crypto::TlsContext(crypto::testing::TestServerContext());
  return *ctx;
}
inline const crypto::TlsContext& ClientTls() {
  static const crypto::TlsContext* ctx = new crypto::TlsContext(crypto::testing::TestClientContext("127.0.0.1"));
  return *ctx;
}

inline LinkConfig ServerConfig(const Identities& ids, crypto::RoleSet roles = {crypto::Role::kDevice}) {
  LinkConfig c;
  c.tls = &ServerTls();
  c.server = ids.Port(roles);
  return c;
}
inline LinkConfig ClientConfig(ClientLoginConfig login) {
  LinkConfig c;
  c.tls = &ClientTls();
  c.client = std::move(login);
  return c;
}

// Stops the loop after `timeout`; `fired` says the test hung.
class GuardTimer final : public runtime::TimerHandler {
 public:
  GuardTimer(runtime::EventLoop& loop, std::chrono::milliseconds timeout) : loop_(&loop) {
    id_ = loop.AddTimer(timeout, this);
  }
  ~GuardTimer() override {
    if (!fired) loop_->CancelTimer(id_);
  }
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    fired = true;
    loop.RequestStop();
  }
  bool fired = false;

 private:
  runtime::EventLoop* loop_;
  runtime::TimerId id_;
};

// Calls `fn` once after `delay` (a loop event, not a sleep).
class After final : public runtime::TimerHandler {
 public:
  After(runtime::EventLoop& loop, std::chrono::milliseconds delay, std::function<void()> fn) : fn_(std::move(fn)) {
    loop.AddTimer(delay, this);
  }
  void OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override { fn_(); }

 private:
  std::function<void()> fn_;
};

inline std::unique_ptr<runtime::EventLoop> MakeLoop(runtime::LoopOptions o = {}) {
  o.recv_buffer_count = 256;
  o.plain_buffer_count = 1024;
  o.max_connections = 1024;
  o.graceful_close_timeout = std::chrono::milliseconds(1000);
  auto loop = runtime::EventLoop::Create(o);
  EXPECT_TRUE(loop.ok()) << (loop.ok() ? "" : loop.error().reason);
  return std::move(loop).value();
}

// A LinkHandler that records everything and runs optional hooks.
struct Recorder : LinkHandler {
  int ups = 0;
  int downs = 0;
  int highs = 0;
  int lows = 0;
  std::vector<LinkDown> down_events;
  std::optional<PeerLogin> peer;
  std::optional<RelayLogin> relay;
  std::vector<std::vector<std::uint8_t>> payloads;  // OnFrame payloads, in order (when keep_payloads)
  bool keep_payloads = true;
  std::uint64_t frames = 0;
  std::function<void(TlsLink&)> on_up;
  std::function<std::optional<LoginRefusal>(TlsLink&, const PeerLogin&)> on_admit;  // server: AdmitLogin
  std::function<void(TlsLink&, const Frame&)> on_frame;
  std::function<void(TlsLink&, const LinkDown&)> on_down;
  std::function<void(TlsLink&)> on_high;
  std::function<void(TlsLink&)> on_low;

  std::optional<LoginRefusal> AdmitLogin(TlsLink& link, const PeerLogin& p) override {
    return on_admit ? on_admit(link, p) : std::nullopt;
  }
  void OnLinkUp(TlsLink& link, const LinkIdentity& id) override {
    ++ups;
    if (id.peer) peer = *id.peer;
    if (id.relay) relay = *id.relay;
    if (on_up) on_up(link);
  }
  void OnFrame(TlsLink& link, const Frame& f) override {
    ++frames;
    if (keep_payloads) payloads.emplace_back(f.payload.begin(), f.payload.end());
    if (on_frame) on_frame(link, f);
  }
  void OnLinkDown(TlsLink& link, const LinkDown& d) override {
    ++downs;
    down_events.push_back(d);
    if (on_down) on_down(link, d);
  }
  void OnSendQueueHigh(TlsLink& link) override {
    ++highs;
    if (on_high) on_high(link);
  }
  void OnSendQueueLow(TlsLink& link) override {
    ++lows;
    if (on_low) on_low(link);
  }
};

// Listens on 127.0.0.1:0 and runs every accepted connection as a server TlsLink reporting to `owner`.
class Server final : public runtime::AcceptHandler {
 public:
  Server(runtime::EventLoop& loop, LinkLoopState& shared, const LinkConfig& config, LinkHandler& owner)
      : loop_(&loop), shared_(&shared), config_(&config), owner_(&owner) {
    auto addr = runtime::ParseSocketAddress("127.0.0.1:0");
    auto fd = runtime::ListenTcp(*addr, {});
    EXPECT_TRUE(fd.ok());
    auto local = runtime::LocalAddress(*fd);
    address = *local;
    auto id = loop.Listen(*fd, this);
    EXPECT_TRUE(id.ok());
  }
  void OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId /*id*/, int fd) override {
    if (on_accept_fd) on_accept_fd(fd);
    links.push_back(std::make_unique<TlsLink>(*loop_, *shared_, *config_, *owner_));
    if (!links.back()->Accept(fd)) {
      ::close(fd);
      links.pop_back();
    }
  }
  runtime::SocketAddress address;
  std::vector<std::unique_ptr<TlsLink>> links;  // destroyed after the loop's Run() returned (all down then)
  std::function<void(int)> on_accept_fd;

 private:
  runtime::EventLoop* loop_;
  LinkLoopState* shared_;
  const LinkConfig* config_;
  LinkHandler* owner_;
};

inline std::vector<std::uint8_t> EncodeFrameBytes(tunnel::FrameType type, std::uint16_t flags, std::uint32_t channel,
                                                  std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out(tunnel::kHeaderSize + payload.size());
  EXPECT_EQ(tunnel::EncodeFrame(type, flags, channel, payload, out), out.size());
  return out;
}

// A hand-driven peer: plain TCP (garbage, silence) or TLS with frames chosen by the test. Records the frames it
// receives and when its connection closes.
class RawPeer final : public runtime::ConnectionHandler {
 public:
  RawPeer(runtime::EventLoop& loop, const crypto::TlsContext* tls) : loop_(&loop) {
    if (tls != nullptr) tls_.emplace(crypto::TlsSession::Create(*tls).value());
  }
  void Connect(const runtime::SocketAddress& addr) {
    conn = loop_->Connect(addr, this);
    ASSERT_TRUE(conn.valid());
    if (tls_) {
      std::vector<std::uint8_t> out;
      ASSERT_TRUE(tls_->Start(out).ok());
      SendRaw(out);
    }
  }
  void SendRaw(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty()) {
      EXPECT_EQ(loop_->Send(conn, bytes), runtime::SendResult::kQueued);
    }
  }
  void SendPlain(std::span<const std::uint8_t> plaintext) {
    std::vector<std::uint8_t> out;
    ASSERT_TRUE(tls_->Send(plaintext, out).ok());
    SendRaw(out);
  }
  crypto::TlsSession& tls() { return *tls_; }

  void OnData(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::Buffer data) override {
    bytes_in += data.size();
    if (!tls_) return;
    std::vector<std::uint8_t> out;
    if (!tls_->Receive(data.data(), plain_, out).ok()) tls_failed = true;
    SendRaw(out);
    if (tls_->handshake_complete() && !handshake_done) {
      handshake_done = true;
      if (on_handshake) on_handshake(*this);
    }
    std::size_t off = 0;
    for (;;) {
      const tunnel::ReadResult rr = reader_.Next(std::span(plain_).subspan(off));
      if (rr.kind != tunnel::ReadKind::kFrame) break;
      frames.push_back({rr.header, std::vector<std::uint8_t>(rr.payload.begin(), rr.payload.end())});
      off += rr.consumed;
      if (on_frame) on_frame(*this, frames.back().first, frames.back().second);
    }
    plain_.erase(plain_.begin(), plain_.begin() + static_cast<std::ptrdiff_t>(off));
  }
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override {
    read_closed = true;
    loop.Close(id);
  }
  void OnClose(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::CloseReason /*r*/,
               int /*err*/) override {
    closed = true;
    conn = {};
    if (on_close) on_close(*this);
  }
  // The first ERROR frame received on channel 0, if any.
  std::optional<std::pair<tunnel::ErrorCode, std::string>> FirstError() const {
    for (const auto& [h, p] : frames) {
      if (h.type != tunnel::FrameType::kError || h.channel != 0) continue;
      auto e = tunnel::ErrorMessage::Decode(p);
      if (!e) continue;
      return std::make_pair(e->code, std::string(e->reason.begin(), e->reason.end()));
    }
    return std::nullopt;
  }

  runtime::ConnId conn;
  bool handshake_done = false;
  bool tls_failed = false;
  bool read_closed = false;
  bool closed = false;
  std::size_t bytes_in = 0;
  std::vector<std::pair<tunnel::FrameHeader, std::vector<std::uint8_t>>> frames;
  std::function<void(RawPeer&)> on_handshake;
  std::function<void(RawPeer&, const tunnel::FrameHeader&, const std::vector<std::uint8_t>&)> on_frame;
  std::function<void(RawPeer&)> on_close;

 private:
  runtime::EventLoop* loop_;
  std::optional<crypto::TlsSession> tls_;
  std::vector<std::uint8_t> plain_;
  tunnel::FrameReader reader_;
};

// A HELLO for `login` over the given exporter, as frame bytes.
inline std::vector<std::uint8_t> HelloFrame(const ClientLoginConfig& login, const crypto::HelloExporter& exporter) {
  auto payload = BuildHello(login, exporter);
  EXPECT_TRUE(payload.ok());
  return EncodeFrameBytes(tunnel::FrameType::kHello, 0, 0, *payload);
}

}  // namespace strait::link::testing
