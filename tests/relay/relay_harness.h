// Test harness for the relay: an in-process relay::Relay on loopback (port 0) and fake peers (devices and
// connectors) built from strait_link (TlsLink) and tunnel::Session, all on one peer loop thread of their own. The
// test thread drives the peers with Exec() (runs a closure on the peer loop and waits for it) and waits for
// conditions with Wait() (re-checked on every peer event, bounded by a deadline). Credentials come from the test's
// own PKI (root -> tenants "acme" and "beta"); TLS from tests/crypto/tls_test_util.h.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "relay/relay.h"
#include "runtime/loop_group.h"
#include "tests/link/link_test_util.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/link_messages.h"
#include "tunnel/session.h"

namespace strait::relay::testing {

using link::testing::ClientTls;
using link::testing::NowUnix;
using link::testing::ServerTls;

inline std::span<const std::uint8_t> B(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// ---- PKI ---------------------------------------------------------------------------------------------------------
struct Tenant {
  std::string id;
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> cert;
};
struct PeerId {
  crypto::Role role = crypto::Role::kDevice;
  std::string tenant;
  std::string subject;
  std::vector<std::uint8_t> credential;
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
};

struct Pki {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  Tenant MakeTenant(std::string id, const crypto::Ed25519KeyPair* signer = nullptr) const {
    Tenant t;
    t.id = std::move(id);
    const std::uint64_t now = NowUnix();
    t.cert = crypto::IssueTenantCert(signer ? *signer : root, {t.id, t.key.public_key, now - 3600, now + 86400})
                 .value();
    return t;
  }
  static PeerId Issue(const Tenant& t, crypto::Role role, std::string subject, std::int64_t nb = -60,
                      std::int64_t na = 3600) {
    PeerId p;
    p.role = role;
    p.tenant = t.id;
    p.subject = std::move(subject);
    const auto now = static_cast<std::int64_t>(NowUnix());
    p.credential = crypto::IssueCredential(t.key, t.cert,
                                           {role, p.subject, p.key.public_key, p.noise.public_key, 1,
                                            static_cast<std::uint64_t>(now + nb), static_cast<std::uint64_t>(now + na)})
                       .value();
    return p;
  }
};

// ---- The peer loop -------------------------------------------------------------------------------------------------
// One loop thread for every fake peer of a test. Exec runs a closure there; Notify wakes Wait.
class PeerLoop final : public runtime::MessageHandler {
 public:
  PeerLoop() {
    runtime::LoopOptions o;
    o.recv_buffer_count = 256;
    o.plain_buffer_count = 2048;
    o.max_connections = 256;
    o.graceful_close_timeout = std::chrono::milliseconds(1000);
    auto g = runtime::LoopGroup::Start(1, o, [this](runtime::LoopGroup&, runtime::EventLoop& loop, std::size_t) {
      loop.SetMessageHandler(this);
    });
    EXPECT_TRUE(g.ok());
    group_ = std::move(g).value();
  }
  ~PeerLoop() override { Stop(); }
  runtime::EventLoop& loop() { return group_->loop(0); }
  // Stops the loop: every link on it goes down (OnLinkDown) before this returns.
  void Stop() {
    if (group_) group_->Stop();
  }

  template <class F>
  auto Exec(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::packaged_task<R()> task(std::move(fn));
    auto fut = task.get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.emplace_back([&task] { task(); });
    }
    EXPECT_TRUE(loop().Post({1, -1, 0, 0}));
    return fut.get();
  }
  // Re-evaluates `pred` on the loop thread at every peer event (and every 50 ms) until it holds or `timeout`.
  bool Wait(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::uint64_t seen;
      {
        std::lock_guard lock(mu_);
        seen = events_;
      }
      if (Exec([&pred] { return pred(); })) return true;
      std::unique_lock lock(mu_);
      if (std::chrono::steady_clock::now() > deadline) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return events_ != seen; });
    }
  }
  void Notify() {
    {
      std::lock_guard lock(mu_);
      ++events_;
    }
    cv_.notify_all();
  }
  link::LinkLoopState& link_state() { return link_state_; }

 private:
  void OnMessage(runtime::EventLoop&, const runtime::Message&) override {
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard lock(mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
  }
  std::unique_ptr<runtime::LoopGroup> group_;
  link::LinkLoopState link_state_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::uint64_t events_ = 0;
};

// ---- A fake device or connector ----------------------------------------------------------------------------------
class Peer;

// One end of one session (device or connector side), with the bytes it received per stream.
struct SessionEnd final : tunnel::SessionVisitor {
  Peer* peer = nullptr;
  std::uint32_t channel = 0;
  std::unique_ptr<tunnel::Session> s;
  std::map<tunnel::StreamId, std::string> received;
  struct Pending {
    std::string data;
    std::size_t off = 0;  // bytes the mux took
  };
  std::map<tunnel::StreamId, Pending> to_send;  // queued app bytes not yet accepted by the mux
  std::vector<tunnel::StreamId> accepted;
  std::vector<std::string> datagrams;
  std::optional<tunnel::ErrorCode> closed;  // SESSION_CLOSE code (either side)
  std::string connector_id;

  void OnStreamOpen(tunnel::StreamId id, const tunnel::OpenTarget&) override { (void)s->mux()->Accept(id); }
  void OnStreamAccepted(tunnel::StreamId id) override {
    accepted.push_back(id);
    TryWrite();
  }
  void OnStreamData(tunnel::StreamId id, std::span<const std::uint8_t> data) override {
    received[id].append(data.begin(), data.end());
    (void)s->mux()->Consume(id, data.size());
  }
  void OnStreamFin(tunnel::StreamId) override {}
  void OnStreamReset(tunnel::StreamId, tunnel::ErrorCode) override {}
  void OnStreamWritable(tunnel::StreamId) override { TryWrite(); }
  void OnDatagram(std::span<std::uint8_t> packet) override { datagrams.emplace_back(packet.begin(), packet.end()); }
  void TryWrite() {
    if (!s || !s->mux()) return;
    for (auto& [id, p] : to_send) {
      while (p.off < p.data.size()) {
        const std::size_t n = s->mux()->Write(id, B(std::string_view(p.data).substr(p.off)));
        if (n == 0) break;
        p.off += n;
      }
      if (p.off == p.data.size() && p.off > 0) p = Pending{};
    }
  }
};

class Peer final : public link::LinkHandler {
 public:
  Peer(PeerLoop& pl, const PeerId& id, std::string preferred = "") : pl_(&pl), id_(id) {
    config_.tls = &ClientTls();
    config_.client = link::ClientLoginConfig::Of(
        id.credential, crypto::Ed25519KeyPair::FromSeed(id.key.seed),
        id.role == crypto::Role::kConnector ? tunnel::LinkRole::kConnector : tunnel::LinkRole::kDevice,
        std::move(preferred));
    // This peer never holds frames back: everything a session produces goes to the link at once, and the sessions'
    // flow-control windows (1 MiB per stream, 16 MiB per session) bound it. So the link's backlog bound must be above
    // what one session may have in flight, or a refused frame would be lost and the session would stall.
    config_.options.max_pending_bytes = tunnel::kDefaultSessionWindow + (1u << 20);
  }
  // [loop]
  void Connect(const runtime::SocketAddress& addr) {
    link_ = std::make_unique<link::TlsLink>(pl_->loop(), pl_->link_state(), config_, *this);
    ASSERT_TRUE(link_->Connect(addr));
  }
  // The operator root: sessions check the other end's credential against it, and the link checks the relay's
  // credential and proof in HELLO_ACK (protocol.md §3).
  void SetRoot(const crypto::Ed25519PublicKey& root) {
    root_ = root;
    config_.client.server_root = root;
  }
  // Device: the connectors' Noise keys it accepts (protocol.md §5 step 4); others are refused with SESSION_CLOSE
  // bad_credential. nullopt: any connector of its tenant.
  std::optional<std::vector<crypto::X25519PublicKey>> pinned;

  // [loop] Device: asks for a session.
  void RequestSession(std::string_view preferred = "") {
    tunnel::SessionRequest r;
    r.preferred_connector = B(preferred);
    std::vector<std::uint8_t> payload(r.EncodedSize());
    (void)r.Encode(payload);
    EXPECT_EQ(link_->SendFrame(tunnel::FrameType::kSessionRequest, 0, 0, payload), link::SendStatus::kOk);
    link_->Flush();
  }
  // [loop] Device: opens a stream on an established session and queues `bytes` for it.
  tunnel::StreamId OpenStream(std::uint32_t channel, std::string bytes) {
    SessionEnd& e = *sessions.at(channel);
    static const std::uint8_t kAddr[4] = {10, 0, 0, 1};
    auto r = e.s->mux()->Open({tunnel::AddrType::kIPv4, kAddr, 80});
    EXPECT_EQ(r.status, tunnel::CallStatus::kOk);
    e.to_send[r.id].data = std::move(bytes);
    Pump(e);
    return r.id;
  }
  // [loop] Queues bytes on an existing stream.
  void Write(std::uint32_t channel, tunnel::StreamId id, std::string bytes) {
    SessionEnd& e = *sessions.at(channel);
    e.to_send[id].data += bytes;
    e.TryWrite();
    Pump(e);
  }
  // [loop] One datagram on an established session.
  void SendDatagram(std::uint32_t channel, std::string_view packet) {
    SessionEnd& e = *sessions.at(channel);
    Act(e, e.s->SendDatagram(B(packet), out_));
  }
  // [loop] Sends raw frame bytes as they are.
  void SendRaw(tunnel::FrameType type, std::uint32_t channel, std::span<const std::uint8_t> payload) {
    EXPECT_EQ(link_->SendFrame(type, 0, channel, payload), link::SendStatus::kOk);
    link_->Flush();
  }
  void Abort() {
    if (link_ && link_->state() != link::LinkState::kDown) link_->Abort();
  }

  // Recorded state ([loop] only).
  bool up = false;
  bool down = false;
  link::LinkDown down_info;
  std::vector<std::pair<tunnel::ErrorCode, std::string>> errors;  // ERROR on channel 0 that kept the link up
  std::vector<tunnel::GoAway> goaways;
  std::map<std::uint32_t, std::unique_ptr<SessionEnd>> sessions;
  std::vector<std::uint32_t> offers;  // channels offered, in order
  std::uint64_t frames = 0;
  std::uint64_t relay_serial = 0;  // the serial of the credential the relay showed in HELLO_ACK
  link::TlsLink* link() { return link_.get(); }
  const PeerId& id() const { return id_; }

  bool Established(std::uint32_t ch) const {
    auto it = sessions.find(ch);
    return it != sessions.end() && it->second->s && it->second->s->established();
  }

 private:
  void OnLinkUp(link::TlsLink&, const link::LinkIdentity& id) override {
    up = true;
    if (id.relay != nullptr && id.relay->server) relay_serial = id.relay->server->serial;
    pl_->Notify();
  }
  void OnLinkDown(link::TlsLink&, const link::LinkDown& d) override {
    down = true;
    down_info = d;
    pl_->Notify();
  }
  void OnFrame(link::TlsLink&, const link::Frame& f) override {
    ++frames;
    HandleFrame(f);
    pl_->Notify();
  }

  void HandleFrame(const link::Frame& f) {
    using tunnel::FrameType;
    const std::uint32_t ch = f.header.channel;
    if (f.header.type == FrameType::kError && ch == 0) {
      auto e = tunnel::ErrorMessage::Decode(f.payload);
      if (e) errors.emplace_back(e->code, std::string(e->reason.begin(), e->reason.end()));
      return;
    }
    if (f.header.type == FrameType::kGoAway) {
      auto g = tunnel::GoAway::Decode(f.payload);
      if (g) goaways.push_back(*g);
      return;
    }
    std::vector<std::uint8_t> payload(f.payload.begin(), f.payload.end());
    auto it = sessions.find(ch);
    if (it == sessions.end()) {
      if (f.header.type == FrameType::kSessionOffer && id_.role == crypto::Role::kDevice) {
        offers.push_back(ch);
        StartSession(ch, tunnel::SessionRole::kDevice);
      } else if (f.header.type == FrameType::kSessionInit && id_.role == crypto::Role::kConnector) {
        StartSession(ch, tunnel::SessionRole::kConnector);
      } else {
        return;
      }
      it = sessions.find(ch);
    }
    SessionEnd& e = *it->second;
    if (f.header.type == FrameType::kSessionClose) {
      auto c = tunnel::SessionClose::Decode(f.payload);
      if (c) e.closed = c->code;
    }
    if (!e.s) return;
    if (f.header.type == FrameType::kSessionOffer) {
      auto o = tunnel::SessionOffer::Decode(f.payload);
      if (o) e.connector_id.assign(o->connector_id.begin(), o->connector_id.end());
    }
    const tunnel::SessionResult r = e.s->OnFrame(f.header, payload, NowUnix(), out_);
    Act(e, r);
    e.TryWrite();
    Pump(e);
  }
  void StartSession(std::uint32_t ch, tunnel::SessionRole role) {
    auto e = std::make_unique<SessionEnd>();
    e->peer = this;
    e->channel = ch;
    tunnel::SessionConfig c;
    c.role = role;
    c.credential = id_.credential;
    c.static_key = id_.noise;
    c.root_key = root_;
    c.tenant = id_.tenant;
    if (role == tunnel::SessionRole::kDevice) c.pinned_connectors = pinned;
    // protocol.md §6: a device stamps SESSION_INIT with its wall clock; a connector checks it against its record.
    c.init_timestamp = init_clock_.Next(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count()));
    c.init_replay = &init_replay_;
    c.relay_credit = true;  // protocol.md §8: the relay closes a sender that goes past it
    auto s = tunnel::Session::Create(std::move(c), e.get());
    EXPECT_TRUE(s.ok());
    if (s.ok()) e->s = std::move(s).value();
    sessions[ch] = std::move(e);
  }
  void Act(SessionEnd& e, const tunnel::SessionResult& r) {
    if ((r.action == tunnel::SessionAction::kSend || r.action == tunnel::SessionAction::kClose) && r.size > 0) {
      SendFrames(std::span(out_).first(r.size));
    }
    if (r.action == tunnel::SessionAction::kClose) {
      if (!e.closed) e.closed = e.s->close_code();
      e.s.reset();
    }
  }
  void Pump(SessionEnd& e) {
    for (int i = 0; i < 10000 && e.s; ++i) {
      const tunnel::SessionResult r = e.s->PollOutgoing(out_);
      if (r.action == tunnel::SessionAction::kNone) break;
      Act(e, r);
    }
  }
  void SendFrames(std::span<const std::uint8_t> bytes) {
    tunnel::FrameReader reader;
    while (!bytes.empty()) {
      const tunnel::ReadResult rr = reader.Next(bytes);
      ASSERT_EQ(rr.kind, tunnel::ReadKind::kFrame);
      const link::SendStatus st = link_->SendEncoded(bytes.first(rr.consumed));
      EXPECT_EQ(st, link::SendStatus::kOk);
      bytes = bytes.subspan(rr.consumed);
    }
    link_->Flush();
  }

  PeerLoop* pl_;
  PeerId id_;
  link::LinkConfig config_;
  crypto::Ed25519PublicKey root_;
  tunnel::InitTimestampClock init_clock_;  // as a device
  tunnel::InitReplayRecord init_replay_;   // as a connector
  std::unique_ptr<link::TlsLink> link_;
  std::array<std::uint8_t, tunnel::kSessionOutSize> out_{};
};

// ---- The relay under test ----------------------------------------------------------------------------------------
struct RelayFixture {
  Pki pki;
  Tenant acme = pki.MakeTenant("acme");
  Tenant beta = pki.MakeTenant("beta");
  std::unique_ptr<Relay> relay;
  // What the relay shows in HELLO_ACK: a relay credential under the root, and its key.
  crypto::Ed25519KeyPair relay_key = crypto::Ed25519KeyPair::Generate();
  std::vector<std::uint8_t> relay_credential =
      crypto::IssueRelayCredential(pki.root, {crypto::Role::kRelay, "relay-test", relay_key.public_key,
                                              crypto::X25519PublicKey{}, 1, NowUnix() - 60, NowUnix() + 3600})
          .value();
  // The relay's credential clock runs this many seconds ahead of the system clock (tests of expiry move it).
  std::atomic<std::int64_t> clock_offset{0};

  static RelayOptions DefaultOptions(std::size_t threads = 1) {
    RelayOptions o;
    o.device_listen = runtime::ParseSocketAddress("127.0.0.1:0").value();
    o.connector_listen = runtime::ParseSocketAddress("127.0.0.1:0").value();
    o.threads = threads;
    o.loop.recv_buffer_count = 256;
    o.loop.plain_buffer_count = 2048;
    o.loop.max_connections = 512;
    o.loop.graceful_close_timeout = std::chrono::milliseconds(1000);
    o.metrics_interval = std::chrono::milliseconds(10);
    o.link.client_hello_timeout = std::chrono::milliseconds(1000);  // and TCP_DEFER_ACCEPT 1 s: stalled peers go sooner
    o.log = [](const logging::Event&) {};
    return o;
  }
  void Start(RelayOptions o = DefaultOptions()) {
    RelayIdentity id;
    id.tls = &ServerTls();
    id.root_key = pki.root.public_key;
    id.relay_id = "relay-test";
    id.credential = relay_credential;
    id.signing_key = relay_key;
    id.now_unix = [this] { return static_cast<std::uint64_t>(static_cast<std::int64_t>(NowUnix()) + clock_offset); };
    auto r = Relay::Start(o, id);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    relay = std::move(r).value();
  }
  // Waits (bounded) until the published snapshot satisfies `pred`.
  bool WaitMetrics(const std::function<bool(const MetricsSnapshot&)>& pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(relay->Snapshot())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the snapshot is published every 10 ms
    }
    return pred(relay->Snapshot());
  }
};

}  // namespace strait::relay::testing
