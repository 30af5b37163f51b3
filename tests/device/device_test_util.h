// Builders for device tests: an in-memory operator PKI (root → tenant "acme" → device "dev-1", connector "dc1"),
// a loop on its own thread (LoopThread), a loopback echo server, and FakeConnector: a connector-side peer built
// from strait_link (a server TlsLink per device link), tunnel::Session (connector role) and link::StreamPump
// (target sockets). To the device it looks like a relay with one connector behind it, or like a connector's
// Direct Connect listener: HELLO/HELLO_ACK, SESSION_REQUEST → SESSION_OFFER, SESSION_INIT → SESSION_ACCEPT, then
// streams dialled to real loopback targets. Not a library; no sleeps (waits are on conditions with a deadline).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/tls_context.h"
#include "crypto/x509_issue.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tests/crypto/tls_test_util.h"
#include "tunnel/device/client.h"
#include "tunnel/frame_reader.h"
#include "tunnel/link/stream_pump.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/link_messages.h"
#include "tunnel/session.h"

namespace strait::device::testing {

using namespace std::chrono_literals;

inline std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// Waits (without sleeping through a fixed time) until `pred` holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);  // polling interval only; correctness never depends on it
  }
  return true;
}

struct Pki {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> tenant_cert;
  crypto::Ed25519KeyPair device_key = crypto::Ed25519KeyPair::Generate();
  crypto::X25519KeyPair device_noise = crypto::X25519KeyPair::Generate();
  std::vector<std::uint8_t> device_cred;
  crypto::X25519KeyPair connector_noise = crypto::X25519KeyPair::Generate();
  crypto::Ed25519KeyPair connector_key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> connector_cred;
  crypto::Ed25519KeyPair relay_key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> relay_cred;  // what a relay shows in HELLO_ACK (protocol.md §3)

  Pki() {
    const std::uint64_t now = NowUnix();
    tenant_cert = crypto::IssueTenantCert(root, {"acme", tenant.public_key, now - 3600, now + 86400}).value();
    device_cred = crypto::IssueCredential(tenant, tenant_cert,
                                          {crypto::Role::kDevice, "dev-1", device_key.public_key,
                                           device_noise.public_key, 1, now - 60, now + 3600})
                      .value();
    connector_cred = crypto::IssueCredential(tenant, tenant_cert,
                                             {crypto::Role::kConnector, "dc1", connector_key.public_key,
                                              connector_noise.public_key, 2, now - 60, now + 3600})
                         .value();
    relay_cred = crypto::IssueRelayCredential(root, {crypto::Role::kRelay, "relay-1", relay_key.public_key,
                                                     crypto::X25519PublicKey{}, 3, now - 60, now + 3600})
                     .value();
  }
  DeviceIdentity Device() const {
    DeviceIdentity id;
    id.credential = device_cred;
    id.signing_key = crypto::Ed25519KeyPair::FromSeed(device_key.seed);
    id.noise_key = device_noise;
    id.root_key = root.public_key;
    id.ca_pem = crypto::testing::SharedTestPki().ca.cert_pem;
    return id;
  }
};

inline runtime::LoopOptions SmallLoopOptions() {
  runtime::LoopOptions o;
  o.recv_buffer_count = 256;
  o.plain_buffer_count = 1024;
  o.max_connections = 256;
  o.max_timers = 1024;
  o.graceful_close_timeout = 1000ms;
  return o;
}

// An EventLoop running on its own thread. Call() runs a function on the loop thread and waits for it.
class LoopThread final : private runtime::MessageHandler {
 public:
  LoopThread() {
    std::promise<void> ready;
    thread_ = std::thread([this, &ready] {
      auto loop = runtime::EventLoop::Create(SmallLoopOptions());
      if (!loop) std::abort();
      loop_ = std::move(loop).value();
      loop_->SetMessageHandler(this);
      ready.set_value();
      loop_->Run();
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopped_ = true;
      }
      // Objects created on this loop die here, on its thread, after Run() closed every connection.
      for (auto it = teardown_.rbegin(); it != teardown_.rend(); ++it) (*it)();
      teardown_.clear();
      RunQueued();
      loop_.reset();
    });
    ready.get_future().wait();
  }
  ~LoopThread() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    loop_->RequestStop();
    thread_.join();
  }
  // Runs `fn` on the loop thread and waits for it.
  void Call(std::function<void()> fn) {
    std::promise<void> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      queue_.push_back([&] {
        fn();
        done.set_value();
      });
    }
    loop_->Post({1, -1, 0, 0});
    done.get_future().wait();
  }
  // Registers a destructor to run on the loop thread after Run() (reverse order of registration).
  void AtExit(std::function<void()> fn) { teardown_.push_back(std::move(fn)); }
  runtime::EventLoop& loop() { return *loop_; }

 private:
  void OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& /*msg*/) override { RunQueued(); }
  void RunQueued() {
    std::vector<std::function<void()>> q;
    {
      std::lock_guard<std::mutex> lock(mu_);
      q.swap(queue_);
    }
    for (auto& f : q) f();
  }
  std::unique_ptr<runtime::EventLoop> loop_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  bool stopped_ = false;
  std::vector<std::function<void()>> teardown_;  // loop thread only
};

inline runtime::SocketAddress Loopback0() { return runtime::ParseSocketAddress("127.0.0.1:0").value(); }

// A loopback echo server (every byte back; EOF → shutdown after the echo). Loop thread only.
class EchoServer final : public runtime::AcceptHandler, public runtime::ConnectionHandler {
 public:
  explicit EchoServer(runtime::EventLoop& loop) {
    const int fd = runtime::ListenTcp(Loopback0(), {}).value();
    address = runtime::LocalAddress(fd).value();
    (void)loop.Listen(fd, static_cast<runtime::AcceptHandler*>(this)).value();
  }
  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    if (!loop.Adopt(fd, static_cast<runtime::ConnectionHandler*>(this)).valid()) ::close(fd);
    ++accepted;
  }
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override {
    if (loop.Send(id, std::move(data)) != runtime::SendResult::kQueued) loop.Close(id);
  }
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override { loop.ShutdownWrite(id); }
  void OnClose(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::CloseReason /*r*/, int /*e*/) override {}
  runtime::SocketAddress address;
  int accepted = 0;
};

// The connector-side peer (see the top of this file). Loop thread only, except the atomics.
class FakeConnector final : public runtime::AcceptHandler, public link::LinkHandler {
 public:
  // `tls` is the server context (its certificate is what the device sees). Names in OPEN are looked up in
  // `names` (a test "DNS"); anything else gets RESET dns_failed.
  FakeConnector(runtime::EventLoop& loop, const Pki& pki, const crypto::TlsContext& tls,
                std::map<std::string, runtime::SocketAddress> names = {})
      : loop_(&loop), pki_(&pki), names_(std::move(names)) {
    config_.tls = &tls;
    config_.server.root_key = pki.root.public_key;
    config_.server.roles = crypto::RoleSet{crypto::Role::kDevice};
    config_.server.relay_id = "fake-connector";
    ShowRelayCredential();
    const int fd = runtime::ListenTcp(Loopback0(), {}).value();
    address = runtime::LocalAddress(fd).value();
    listener_ = loop.Listen(fd, static_cast<runtime::AcceptHandler*>(this)).value();
  }

  // What it shows in HELLO_ACK (protocol.md §3): a relay's credential (the default: devices dial it as their
  // relay), or the tenant's connector credential (devices dial it as a Direct Connect connector).
  void ShowRelayCredential() {
    config_.server.credential = pki_->relay_cred;
    config_.server.key = crypto::Ed25519KeyPair::FromSeed(pki_->relay_key.seed);
  }
  void ShowConnectorCredential() {
    config_.server.credential = pki_->connector_cred;
    config_.server.key = crypto::Ed25519KeyPair::FromSeed(pki_->connector_key.seed);
  }

  // Aborts every device link (the device sees its link drop).
  void DropAll() {
    for (auto& p : peers_) {
      if (p->link->state() != link::LinkState::kDown) p->link->Abort();
    }
  }
  // Stops accepting (closes the listening socket) and drops every link.
  void Shutdown() {
    loop_->CloseListener(listener_);
    DropAll();
  }

  // Sends GOAWAY <shutting_down, drain_ms> on every device link.
  void GoAwayAll(std::uint32_t drain_ms) {
    tunnel::GoAway g;
    g.drain_ms = drain_ms;
    std::array<std::uint8_t, 6> payload{};
    (void)g.Encode(payload);
    for (auto& p : peers_) {
      if (p->link->state() != link::LinkState::kUp) continue;
      (void)p->link->SendFrame(tunnel::FrameType::kGoAway, 0, 0, payload);
      p->link->Flush();
    }
  }

  runtime::SocketAddress address;
  std::atomic<bool> refuse_sessions{false};  // answer SESSION_REQUEST with ERROR no_connector (link stays up)
  std::atomic<int> links_up{0};
  std::atomic<std::uint64_t> last_login_serial{0};  // the serial of the credential the last login showed
  std::atomic<int> refusals{0};
  std::atomic<int> sessions_up{0};
  std::atomic<int> streams_opened{0};
  std::vector<std::string> preferred_seen;  // SESSION_REQUEST preferences, in order (loop thread)
  tunnel::InitReplayRecord init_replay;     // SESSION_INIT timestamps, protocol.md §6 (loop thread)

 private:
  struct Peer final : tunnel::SessionVisitor, link::StreamPumpHost {
    FakeConnector* owner = nullptr;
    std::unique_ptr<link::TlsLink> link;
    std::unique_ptr<tunnel::Session> session;
    std::map<tunnel::StreamId, std::unique_ptr<link::StreamPump>> pumps;
    std::vector<std::unique_ptr<link::StreamPump>> dead;
    std::vector<std::uint8_t> in, out = std::vector<std::uint8_t>(tunnel::kSessionOutSize);
    int depth = 0;

    std::uint32_t credit_owed = 0;  // as the relay it plays: bytes of the device's frames taken, not yet returned

    tunnel::StreamMux* Mux() { return session && session->established() ? session->mux() : nullptr; }
    // Returns the device's relay credit (protocol.md §8) for what this fake relay took; kept owed if no room.
    void ReturnCredit() {
      if (credit_owed == 0 || !session || session->channel() == 0) return;
      std::array<std::uint8_t, 4> payload{};
      (void)tunnel::SessionCredit{credit_owed}.Encode(payload);
      if (link->SendFrame(tunnel::FrameType::kSessionCredit, 0, session->channel(), payload) ==
          link::SendStatus::kOk) {
        credit_owed = 0;
      }
    }
    void Flush() {
      if (depth > 0 || !session || link->state() != link::LinkState::kUp) return;
      ReturnCredit();
      // Poll only while the link can take a whole frame: a sealed frame must never be dropped.
      while (!link->send_high() && link->backlog_bytes() + tunnel::kMaxLinkFrameSize <= (256u << 10)) {
        ++depth;  // PollOutgoing may call OnStreamWritable -> a pump -> PumpOutput -> Flush: not re-entered
        const tunnel::SessionResult r = session->PollOutgoing(out);
        --depth;
        if (r.action != tunnel::SessionAction::kSend) break;
        Send(std::span(out).first(r.size));
      }
      link->Flush();
    }
    void Send(std::span<const std::uint8_t> bytes) {
      tunnel::FrameReader reader;
      while (!bytes.empty()) {
        const tunnel::ReadResult rr = reader.Next(bytes);
        if (rr.kind != tunnel::ReadKind::kFrame) return;
        (void)link->SendEncoded(bytes.first(rr.consumed));
        bytes = bytes.subspan(rr.consumed);
      }
    }
    link::StreamPump* Pump(tunnel::StreamId id) {
      auto it = pumps.find(id);
      return it == pumps.end() ? nullptr : it->second.get();
    }
    // SessionVisitor
    void OnStreamOpen(tunnel::StreamId id, const tunnel::OpenTarget& t) override {
      ++owner->streams_opened;
      std::optional<runtime::SocketAddress> addr;
      if (t.type == tunnel::AddrType::kIPv4) {
        runtime::SocketAddress a;
        a.u.v4.sin_family = AF_INET;
        std::memcpy(&a.u.v4.sin_addr, t.addr.data(), 4);
        a.u.v4.sin_port = htons(t.port);
        a.len = sizeof(sockaddr_in);
        addr = a;
      } else if (t.type == tunnel::AddrType::kDomain) {
        auto it = owner->names_.find(std::string(t.addr.begin(), t.addr.end()));
        if (it != owner->names_.end()) {
          addr = it->second;
          addr->u.v4.sin_port = htons(t.port);
        }
      }
      if (!addr) {
        (void)session->mux()->Reject(id, tunnel::ErrorCode::kDnsFailed);
        return;
      }
      auto pump = std::make_unique<link::StreamPump>(*owner->loop_, *this, id);
      if (!pump->Connect(*addr)) {
        (void)session->mux()->Reject(id, tunnel::ErrorCode::kConnectFailed);
        return;
      }
      pumps[id] = std::move(pump);
    }
    void OnStreamAccepted(tunnel::StreamId /*id*/) override {}
    void OnStreamData(tunnel::StreamId id, std::span<const std::uint8_t> data) override {
      if (auto* p = Pump(id)) p->OnStreamData(data);
    }
    void OnStreamFin(tunnel::StreamId id) override {
      if (auto* p = Pump(id)) p->OnStreamFin();
    }
    void OnStreamReset(tunnel::StreamId id, tunnel::ErrorCode code) override {
      if (auto* p = Pump(id)) p->OnStreamReset(code);
    }
    void OnStreamWritable(tunnel::StreamId id) override {
      if (auto* p = Pump(id)) p->OnStreamWritable();
    }
    void OnDatagram(std::span<std::uint8_t> /*packet*/) override {}
    // StreamPumpHost
    tunnel::StreamMux* PumpMux(link::StreamPump& /*pump*/) override { return Mux(); }
    void PumpOutput(link::StreamPump& /*pump*/) override { Flush(); }
    void PumpConnected(link::StreamPump& pump) override {
      if (tunnel::StreamMux* m = Mux()) {
        (void)m->Accept(pump.stream_id());
        pump.Attach(pump.conn());
        Flush();
      } else {
        pump.Abort(tunnel::ErrorCode::kCancelled);
      }
    }
    void PumpDone(link::StreamPump& pump, bool connected, runtime::CloseReason /*r*/, int /*err*/) override {
      if (!connected) {
        if (tunnel::StreamMux* m = Mux()) (void)m->Reject(pump.stream_id(), tunnel::ErrorCode::kConnectFailed);
        Flush();
      }
      auto it = pumps.find(pump.stream_id());
      if (it != pumps.end()) {
        dead.push_back(std::move(it->second));  // freed with the peer (not inside its own callback)
        pumps.erase(it);
      }
    }
  };

  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    auto p = std::make_unique<Peer>();
    p->owner = this;
    p->link = std::make_unique<link::TlsLink>(loop, shared_, config_, *this);
    if (!p->link->Accept(fd)) {
      ::close(fd);
      return;
    }
    peers_.push_back(std::move(p));
  }
  Peer* Find(link::TlsLink& l) {
    for (auto& p : peers_) {
      if (p->link.get() == &l) return p.get();
    }
    return nullptr;
  }
  void OnLinkUp(link::TlsLink& /*link*/, const link::LinkIdentity& id) override {
    if (id.peer != nullptr) last_login_serial = id.peer->credential.serial;
    ++links_up;
  }
  void OnSendQueueLow(link::TlsLink& l) override {
    if (Peer* p = Find(l)) p->Flush();
  }
  void OnFrame(link::TlsLink& l, const link::Frame& f) override {
    Peer* p = Find(l);
    if (p == nullptr) return;
    if (f.header.type == tunnel::FrameType::kSessionRequest) {
      if (refuse_sessions) {
        // As the relay does: ERROR no_connector on channel 0, and the link stays up.
        const std::string reason = "no live connector for tenant acme";
        tunnel::ErrorMessage e;
        e.code = tunnel::ErrorCode::kNoConnector;
        e.reason = {reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size()};
        std::vector<std::uint8_t> payload(e.EncodedSize());
        (void)e.Encode(payload);
        (void)l.SendFrame(tunnel::FrameType::kError, 0, 0, payload);
        ++refusals;
        return;
      }
      auto req = tunnel::SessionRequest::Decode(f.payload);
      preferred_seen.emplace_back(req ? std::string(req->preferred_connector.begin(), req->preferred_connector.end())
                                      : std::string("?"));
      const std::uint32_t channel = next_channel_++;
      tunnel::SessionOffer offer;
      const std::string id = "dc1";
      offer.connector_id = {reinterpret_cast<const std::uint8_t*>(id.data()), id.size()};
      offer.connector_credential = pki_->connector_cred;
      std::vector<std::uint8_t> payload(offer.EncodedSize());
      (void)offer.Encode(payload);
      (void)l.SendFrame(tunnel::FrameType::kSessionOffer, 0, channel, payload);
      // The session exists from the offer on; it waits for SESSION_INIT on this channel.
      tunnel::SessionConfig sc;
      sc.role = tunnel::SessionRole::kConnector;
      sc.credential = pki_->connector_cred;
      sc.static_key = pki_->connector_noise;
      sc.root_key = pki_->root.public_key;
      sc.tenant = "acme";
      sc.init_replay = &init_replay;
      sc.mux.role = tunnel::MuxRole::kConnector;
      p->pumps.clear();
      p->session = tunnel::Session::Create(std::move(sc), p).value();
      return;
    }
    if (!p->session) return;
    if (f.header.channel != 0 && f.header.type != tunnel::FrameType::kSealedDatagram) {
      p->credit_owed += static_cast<std::uint32_t>(f.bytes.size());  // delivered at once: returned on Flush
    }
    p->in.assign(f.payload.begin(), f.payload.end());
    ++p->depth;
    const tunnel::SessionResult r = p->session->OnFrame(f.header, p->in, NowUnix(), p->out);
    --p->depth;
    if (r.action == tunnel::SessionAction::kSend || r.action == tunnel::SessionAction::kClose) {
      p->Send(std::span(p->out).first(r.size));
    }
    if (r.action == tunnel::SessionAction::kClose) {
      for (auto& [sid, pump] : p->pumps) pump->OnSessionGone();
      return;
    }
    if (f.header.type == tunnel::FrameType::kSessionInit && p->session->established()) ++sessions_up;
    p->Flush();
  }
  void OnLinkDown(link::TlsLink& l, const link::LinkDown& /*down*/) override {
    Peer* p = Find(l);
    if (p == nullptr) return;
    std::vector<link::StreamPump*> live;
    for (auto& [sid, pump] : p->pumps) live.push_back(pump.get());
    p->session.reset();
    for (link::StreamPump* pump : live) pump->OnSessionGone();
    // The peer (and its link) stay until the loop ends: its pumps may still be closing their sockets.
  }

  runtime::EventLoop* loop_;
  const Pki* pki_;
  std::map<std::string, runtime::SocketAddress> names_;
  link::LinkConfig config_;
  link::LinkLoopState shared_;
  runtime::ListenerId listener_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::uint32_t next_channel_ = 100;
};

// A TLS server context whose certificate chains to a CA the device does not know (Direct Connect: not verified).
inline const crypto::TlsContext& UnknownCaServerTls() {
  static const crypto::TlsContext* ctx = [] {
    auto ca = crypto::GenerateCa({"some other CA"}).value();
    auto leaf = crypto::IssueLeafCertificate(ca, {"connector", {"connector.internal"}, {}}).value();
    return new crypto::TlsContext(crypto::TlsContext::CreateServer({leaf.cert_pem, leaf.key_pem}).value());
  }();
  return *ctx;
}
inline const crypto::TlsContext& TestServerTls() {
  static const crypto::TlsContext* ctx = new crypto::TlsContext(crypto::testing::TestServerContext());
  return *ctx;
}

// A loopback port nobody listens on (bound, then closed).
inline runtime::SocketAddress RefusingAddress() {
  const int fd = runtime::ListenTcp(Loopback0(), {}).value();
  runtime::SocketAddress a = runtime::LocalAddress(fd).value();
  ::close(fd);
  return a;
}

inline std::string Pattern(std::size_t n, std::uint32_t seed = 1) {
  std::string s(n, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// ---- A blocking loopback TCP client (the doors' tests) ----
// A connected socket to 127.0.0.1:port, receives time out after 20 s (a hang becomes a failure); -1 on failure.
inline int ConnectTo(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{20, 0};  // a hang becomes a failure
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}
inline bool SendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}
inline std::string RecvExactly(int fd, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}
inline std::string RecvToEof(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

}  // namespace strait::device::testing
