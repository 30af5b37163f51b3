// The relay over loopback: real TLS, real credentials, real sessions (tunnel::Session) between fake peers.
#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "relay/metrics.h"
#include "tests/relay/relay_test_fixture.h"

namespace strait::relay::testing {
namespace {

using tunnel::ErrorCode;
using tunnel::FrameType;

using link::testing::ClosedByPeer;
using link::testing::Fds;
using link::testing::Trickle;

TEST_F(RelayTest, LoginSessionSetupAndSealedDataBothWays) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  EXPECT_EQ(ConnectorOf(dev, ch), "conn-1");
  ASSERT_EQ(ConnectorWith(ch), &con);
  Exchange(pl, dev, con, ch, RandomBytes(300'000, 1), RandomBytes(500'000, 2));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.device_links == 1 && s.connector_links == 1 && s.sessions == 1 &&
           s.Handshakes(HandshakeResult::kOk) == 2 && s.frames_forwarded > 40;
  }));
}

TEST_F(RelayTest, DatagramsAndSessionCloseAreForwarded) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  pl.Exec([&] {
    dev.SendDatagram(ch, "packet-up");
    con.SendDatagram(ch, "packet-down");
  });
  ASSERT_TRUE(pl.Wait([&] {
    return con.sessions.at(ch)->datagrams.size() == 1 && dev.sessions.at(ch)->datagrams.size() == 1;
  }));
  EXPECT_EQ(pl.Exec([&] { return con.sessions.at(ch)->datagrams[0]; }), "packet-up");
  EXPECT_EQ(pl.Exec([&] { return dev.sessions.at(ch)->datagrams[0]; }), "packet-down");
  // The device ends the session: the connector hears it, and the relay frees the channel (a frame on it is dropped).
  pl.Exec([&] {
    SessionEnd& e = *dev.sessions.at(ch);
    std::array<std::uint8_t, tunnel::kSessionOutSize> out{};
    const tunnel::SessionResult r = e.s->Close(ErrorCode::kCancelled, "done", out);
    dev.SendRaw(FrameType::kSessionClose, ch, std::span(out).subspan(tunnel::kHeaderSize, r.size - tunnel::kHeaderSize));
    e.s.reset();
  });
  ASSERT_TRUE(pl.Wait([&] { return con.sessions.at(ch)->closed.has_value(); }));
  EXPECT_EQ(pl.Exec([&] { return *con.sessions.at(ch)->closed; }), ErrorCode::kCancelled);
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.sessions == 0 && s.sessions_closed == 1; }));
  const std::uint8_t junk[40] = {};
  pl.Exec([&] { dev.SendRaw(FrameType::kSealedStream, ch, junk); });
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kUnknownChannel) == 1; }));
}

TEST_F(RelayTest, StickyChoiceAndLeastLoadedSpread) {
  Start();
  Peer& c1 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& c2 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-2"));
  ASSERT_TRUE(Login(c1));
  ASSERT_TRUE(Login(c2));
  // Sticky: a device preferring conn-2 gets conn-2 every time, even when conn-2 is busier.
  Peer& sticky = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-sticky"), "conn-2");
  ASSERT_TRUE(Login(sticky));
  for (int i = 0; i < 3; ++i) {
    const std::uint32_t ch = OpenSession(sticky, i == 0 ? "" : "conn-2");  // first: HELLO's preference
    ASSERT_NE(ch, 0u);
    EXPECT_EQ(ConnectorOf(sticky, ch), "conn-2");
  }
  // No preference: least loaded first (conn-1 has 0, conn-2 has 3), then they alternate.
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-spread"));
  ASSERT_TRUE(Login(dev));
  std::map<std::string, int> count;
  for (int i = 0; i < 4; ++i) {
    const std::uint32_t ch = OpenSession(dev);
    ASSERT_NE(ch, 0u);
    ++count[ConnectorOf(dev, ch)];
  }
  // conn-1 takes three to catch up (0,1,2 < 3); at 3 vs 3 the first registered wins.
  EXPECT_EQ(count["conn-1"], 4);
  // Now 4 vs 3: the next goes to conn-2, then (4 vs 4) conn-1 again.
  Peer& dev2 = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-spread-2"));
  ASSERT_TRUE(Login(dev2));
  const std::uint32_t a = OpenSession(dev2);
  const std::uint32_t b = OpenSession(dev2);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_EQ(ConnectorOf(dev2, a), "conn-2");
  EXPECT_EQ(ConnectorOf(dev2, b), "conn-1");
}

TEST_F(RelayTest, ConnectorGoneClosesItsSessionsAndNewOnesGoElsewhere) {
  Start();
  Peer& c1 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  ASSERT_TRUE(Login(c1));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(dev));
  const std::uint32_t ch = OpenSession(dev);
  ASSERT_NE(ch, 0u);
  Peer& c2 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-2"));
  ASSERT_TRUE(Login(c2));
  pl.Exec([&] { c1.Abort(); });
  ASSERT_TRUE(pl.Wait([&] { return dev.sessions.at(ch)->closed.has_value(); }));
  EXPECT_EQ(pl.Exec([&] { return *dev.sessions.at(ch)->closed; }), ErrorCode::kConnectorGone);
  // The sticky preference names conn-1, which is gone: the relay picks conn-2.
  const std::uint32_t ch2 = OpenSession(dev, "conn-1");
  ASSERT_NE(ch2, 0u);
  EXPECT_EQ(ConnectorOf(dev, ch2), "conn-2");
  Exchange(pl, dev, c2, ch2, "ping", "pong");
  EXPECT_TRUE(pl.Exec([&] { return dev.up && !dev.down; }));
}

TEST_F(RelayTest, DeviceGoneClosesSessionsAtTheConnector) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  pl.Exec([&] { dev.Abort(); });
  ASSERT_TRUE(pl.Wait([&] { return con.sessions.at(ch)->closed.has_value(); }));
  EXPECT_EQ(pl.Exec([&] { return *con.sessions.at(ch)->closed; }), ErrorCode::kDeviceGone);
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.sessions == 0 && s.device_links == 0; }));
}

TEST_F(RelayTest, TenantIsolationNoConnectorKeepsTheLinkUp) {
  Start();
  Peer& beta_con = AddPeer(Pki::Issue(beta, crypto::Role::kConnector, "conn-b"));
  ASSERT_TRUE(Login(beta_con));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-a"), "conn-b");
  ASSERT_TRUE(Login(dev));
  pl.Exec([&] { dev.RequestSession("conn-b"); });
  ASSERT_TRUE(pl.Wait([&] { return !dev.errors.empty(); }));
  EXPECT_EQ(pl.Exec([&] { return dev.errors[0].first; }), ErrorCode::kNoConnector);
  EXPECT_TRUE(pl.Exec([&] { return dev.offers.empty() && dev.up && !dev.down; }));
  // The link stays up: once an acme connector is there, the same device gets a session.
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-a"));
  ASSERT_TRUE(Login(con));
  const std::uint32_t ch = OpenSession(dev, "conn-b");
  ASSERT_NE(ch, 0u);
  EXPECT_EQ(ConnectorOf(dev, ch), "conn-a");
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kNoConnector) == 1; }));
}

TEST_F(RelayTest, SessionLimitPerDeviceLink) {
  RelayOptions o = DefaultOptions();
  o.max_sessions_per_device = 2;
  Start(o);
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(con));
  ASSERT_TRUE(Login(dev));
  ASSERT_NE(OpenSession(dev), 0u);
  ASSERT_NE(OpenSession(dev), 0u);
  pl.Exec([&] { dev.RequestSession(); });
  ASSERT_TRUE(pl.Wait([&] { return !dev.errors.empty(); }));
  EXPECT_EQ(pl.Exec([&] { return dev.errors[0].first; }), ErrorCode::kTooManySessions);
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kTooManySessions) == 1; }));
}

TEST_F(RelayTest, RefusedCredentialsWithTheirReasons) {
  Start();
  Pki other;
  Tenant forged_tenant = other.MakeTenant("acme");  // same name, another root
  struct Case {
    const char* name;
    PeerId id;
    ErrorCode want;
    bool connector_port;
  };
  std::vector<Case> cases = {
      {"expired", Pki::Issue(acme, crypto::Role::kDevice, "dev-old", -3000, -60), ErrorCode::kBadCredential, false},
      {"forged", Pki::Issue(forged_tenant, crypto::Role::kDevice, "dev-forged"), ErrorCode::kBadCredential, false},
      {"wrong-role", Pki::Issue(acme, crypto::Role::kConnector, "conn-on-device-port"), ErrorCode::kWrongRole,
       false},
      {"wrong-role-connector-port", Pki::Issue(acme, crypto::Role::kDevice, "dev-on-conn-port"),
       ErrorCode::kWrongRole, true},
  };
  // A valid acme credential with one signature byte changed (a device editing its tenant or subject looks the same
  // to the relay: the tenant key's signature no longer holds).
  {
    PeerId p = Pki::Issue(acme, crypto::Role::kDevice, "dev-x");
    p.credential.back() ^= 0x01;
    cases.push_back({"tampered", p, ErrorCode::kBadCredential, false});
  }
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    Peer& p = AddPeer(c.id);
    const runtime::SocketAddress addr = c.connector_port ? relay->connector_address() : relay->device_address();
    pl.Exec([&] { p.Connect(addr); });
    ASSERT_TRUE(pl.Wait([&] { return p.down; }));
    EXPECT_FALSE(pl.Exec([&] { return p.up; }));
    const link::LinkDown d = pl.Exec([&] { return p.down_info; });
    EXPECT_EQ(d.reason, link::DownReason::kPeerError) << d.message;
    EXPECT_EQ(d.code, static_cast<std::uint16_t>(c.want)) << d.message;
  }
  const std::size_t n_bad_cred = cases.size() - 2;
  EXPECT_TRUE(WaitMetrics([&](const MetricsSnapshot& s) {
    return s.Handshakes(HandshakeResult::kBadCredential) == n_bad_cred &&
           s.Handshakes(HandshakeResult::kWrongRole) == 2 && s.Handshakes(HandshakeResult::kOk) == 0;
  }));
}

TEST_F(RelayTest, GarbageOversizedAndStalledPeersAreCountedWhileAPairKeepsWorking) {
  RelayOptions o = DefaultOptions();
  o.link.handshake_timeout = std::chrono::milliseconds(300);
  Start(o);
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);

  std::vector<std::unique_ptr<link::testing::RawPeer>> raws;
  for (const auto& addr : {relay->device_address(), relay->connector_address()}) {
    // Garbage instead of TLS.
    raws.push_back(std::make_unique<link::testing::RawPeer>(pl.loop(), nullptr));
    // Stalled: TCP only, nothing sent.
    raws.push_back(std::make_unique<link::testing::RawPeer>(pl.loop(), nullptr));
    // Oversized frame header right after the TLS handshake.
    raws.push_back(std::make_unique<link::testing::RawPeer>(pl.loop(), &ClientTls()));
    link::testing::RawPeer* garbage = raws[raws.size() - 3].get();
    link::testing::RawPeer* stalled = raws[raws.size() - 2].get();
    link::testing::RawPeer* big = raws[raws.size() - 1].get();
    pl.Exec([&] {
      garbage->Connect(addr);
      const std::string junk(600, 'x');
      garbage->SendRaw(B(junk));
      stalled->Connect(addr);
      big->on_handshake = [](link::testing::RawPeer& p) {
        std::array<std::uint8_t, tunnel::kHeaderSize> h{};
        tunnel::FrameHeader fh;
        fh.type = FrameType::kHello;
        fh.length = tunnel::kMaxPayload + 1;
        (void)tunnel::EncodeFrameHeader(fh, h);
        p.SendPlain(h);
      };
      big->Connect(addr);
    });
  }
  ASSERT_TRUE(pl.Wait([&] {
    for (auto& r : raws) {
      if (!r->closed) return false;
    }
    return true;
  }));
  // Meanwhile and afterwards the well-behaved pair works.
  Exchange(pl, dev, con, ch, RandomBytes(100'000, 3), RandomBytes(100'000, 4));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.Handshakes(HandshakeResult::kTlsError) == 2 && s.Handshakes(HandshakeResult::kTimeout) == 2 &&
           s.Handshakes(HandshakeResult::kProtocolError) == 2 && s.handshakes_in_flight == 0;
  })) << RenderPrometheus(relay->Snapshot());
  EXPECT_TRUE(pl.Exec([&] { return dev.up && !dev.down && con.up && !con.down; }));
  pl.Stop();
}

// What the relay logs, kept past the test body (the relay logs until it stops, in the fixture's destructor).
struct LogLines {
  std::mutex mu;
  std::vector<std::string> lines;
  std::size_t Count(std::string_view part) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != l.npos; }));
  }
};

bool WaitForLine(LogLines& log, std::string_view part) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log.Count(part) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return log.Count(part) > 0;
}

// Issue 7: every refused login is logged with where it came from and why, at most 10 lines a second per shard; the
// rest are summed up in one line.
TEST_F(RelayTest, RefusedLoginsAreLoggedWithTheirReasonAtABoundedRate) {
  auto log = std::make_shared<LogLines>();
  RelayOptions o = DefaultOptions();
  o.max_handshakes_per_source = 1;
  o.link.handshake_timeout = std::chrono::seconds(30);
  o.link.client_hello_timeout = std::chrono::seconds(30);
  o.log = [log](const logging::Event& e) {
    std::lock_guard lock(log->mu);
    log->lines.push_back(logging::Describe(e));
  };
  Start(o);
  PeerId tampered = Pki::Issue(acme, crypto::Role::kDevice, "dev-x");
  tampered.credential.back() ^= 0x01;
  Peer& bad = AddPeer(tampered);
  pl.Exec([&] { bad.Connect(relay->device_address()); });
  ASSERT_TRUE(pl.Wait([&] { return bad.down; }));
  EXPECT_TRUE(WaitForLine(*log, "login_refused port=device from=127.0.0.1:"));
  EXPECT_TRUE(WaitForLine(*log, "result=bad_credential"));

  Fds t;
  for (int i = 0; i < 30; ++i) t.fds.push_back(Trickle(relay->device_address(), "127.0.0.2"));
  ASSERT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kSourceLimit) == 29; }));
  const std::size_t logged = log->Count("from=127.0.0.2:");
  EXPECT_GE(logged, 1u);
  EXPECT_LE(logged, 10u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  t.fds.push_back(Trickle(relay->device_address(), "127.0.0.2"));  // the next second's first refusal
  EXPECT_TRUE(WaitForLine(*log, "login_refusals_not_logged count="));
  pl.Stop();
}

// Issue 7, attack 1: when a port's login budget is full, its oldest login is closed, not the newest refused; and the
// other port's budget is its own.
TEST_F(RelayTest, AFullPortClosesItsOldestLoginNotTheNewest) {
  RelayOptions o = DefaultOptions();
  o.max_handshakes_per_shard = 2;
  o.link.handshake_timeout = std::chrono::seconds(30);
  o.link.client_hello_timeout = std::chrono::seconds(30);  // only the budget acts here
  Start(o);
  Fds t;
  t.fds.push_back(Trickle(relay->device_address(), "127.0.0.1"));
  ASSERT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.handshakes_in_flight == 1; }));
  t.fds.push_back(Trickle(relay->device_address(), "127.0.0.1"));
  ASSERT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.handshakes_in_flight == 2; }));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(dev));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.Drops(DropReason::kHandshakeLimit) == 1 && s.handshakes_in_flight == 1;
  })) << RenderPrometheus(relay->Snapshot());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ClosedByPeer(t.fds[0]) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(ClosedByPeer(t.fds[0])) << "the oldest login was not closed";
  EXPECT_FALSE(ClosedByPeer(t.fds[1])) << "the newer login was closed";
  // The connector port has its own budget: nothing there is full, nothing is closed.
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  ASSERT_TRUE(Login(con));
  EXPECT_EQ(relay->Snapshot().Drops(DropReason::kHandshakeLimit), 1u);
  pl.Stop();
}

// Issue 7, attack 1: floods of idle and trickling connections on both ports, from one source and from many, while
// devices and connectors log in. Idle sockets are not even accepted (TCP_DEFER_ACCEPT); one source holds at most its
// cap; the many-source flood churns itself out of the budget; every real login succeeds.
TEST_F(RelayTest, IdleAndTricklingFloodsDoNotLockOutLogins) {
  RelayOptions o = DefaultOptions();
  o.max_handshakes_per_shard = 16;
  o.max_handshakes_per_source = 8;
  o.link.handshake_timeout = std::chrono::seconds(30);
  o.link.client_hello_timeout = std::chrono::seconds(30);  // no deadline rescues the logins: the budget must
  Start(o);
  constexpr int kFlood = 40;
  Fds t;
  const runtime::SocketAddress ports[] = {relay->device_address(), relay->connector_address()};
  for (const auto& port : ports) {
    for (int i = 0; i < kFlood; ++i) {  // idle: connected, nothing sent
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_EQ(::connect(fd, port.get(), port.len), 0);
      t.fds.push_back(fd);
    }
    for (int i = 0; i < kFlood; ++i) t.fds.push_back(Trickle(port, "127.0.0.2"));
  }
  // One source: 8 per port admitted, the other 32 per port refused; the idle sockets were never handed over.
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.Drops(DropReason::kSourceLimit) == 2 * (kFlood - 8) && s.handshakes_in_flight == 16;
  })) << RenderPrometheus(relay->Snapshot());
  for (const auto& port : ports) {
    for (int i = 0; i < kFlood; ++i) t.fds.push_back(Trickle(port, fmt::format("127.0.1.{}", i + 1).c_str()));
  }
  // Many sources: each port's budget of 16 stays full, its oldest closed to make room.
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.Drops(DropReason::kHandshakeLimit) == 2 * (kFlood - 8) && s.handshakes_in_flight == 32;
  })) << RenderPrometheus(relay->Snapshot());
  // Real logins on both ports, with both budgets full of trickling connections.
  for (int i = 0; i < 2; ++i) {
    Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, fmt::format("conn-{}", i)));
    EXPECT_TRUE(Login(con)) << "connector " << i;
  }
  for (int i = 0; i < 5; ++i) {
    Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, fmt::format("dev-{}", i)));
    EXPECT_TRUE(Login(dev)) << "device " << i;
  }
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Handshakes(HandshakeResult::kOk) == 7; }))
      << RenderPrometheus(relay->Snapshot());
  pl.Stop();
}

// Every link holds a loop connection slot and a loop timer: Relay::Start sizes the shard loops for
// max_links_per_shard, so loop options smaller than that (the runtime defaults are 4096 each) do not quietly close
// links during login (the bench's 10,000 idle devices stopped at 4095).
TEST_F(RelayTest, LoopIsSizedForMaxLinksPerShard) {
  RelayOptions o = DefaultOptions();
  o.loop.max_connections = 8;
  o.loop.max_timers = 8;
  o.max_links_per_shard = 40;
  Start(o);
  constexpr int kDevices = 24;
  for (int i = 0; i < kDevices; ++i) {
    Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-" + std::to_string(i)));
    ASSERT_TRUE(Login(dev)) << "device " << i;
  }
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.device_links == kDevices; }));

  RelayIdentity id;
  id.tls = &ServerTls();
  id.root_key = pki.root.public_key;
  for (const std::uint32_t bad : {0u, 1u << 24}) {
    RelayOptions b = DefaultOptions();
    b.max_links_per_shard = bad;
    auto r = Relay::Start(b, id);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().reason.find("max_links_per_shard"), std::string::npos);
  }
}

TEST_F(RelayTest, ChannelsNotGivenToAPeerAreDropped) {
  RelayOptions o = DefaultOptions();
  o.max_violations = 3;
  Start(o);
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  Peer& dev2 = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-2"));
  ASSERT_TRUE(Login(dev2));
  const std::uint8_t junk[40] = {};
  // dev2 uses dev's channel and an invented one; the connector an invented one; a device sends SESSION_ACCEPT.
  pl.Exec([&] {
    dev2.SendRaw(FrameType::kSealedStream, ch, junk);
    dev2.SendRaw(FrameType::kSealedStream, 0x7777, junk);
    con.SendRaw(FrameType::kSealedStream, 0x7777, junk);
    dev.SendRaw(FrameType::kSessionAccept, ch, junk);
  });
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.Drops(DropReason::kUnknownChannel) == 3 && s.Drops(DropReason::kBadFrameForRole) == 1;
  })) << RenderPrometheus(relay->Snapshot());
  // The session still works; dev2's third violation closes it with protocol_error.
  Exchange(pl, dev, con, ch, "abc", "def");
  pl.Exec([&] { dev2.SendRaw(FrameType::kSealedStream, 0x7778, junk); });
  ASSERT_TRUE(pl.Wait([&] { return dev2.down; }));
  EXPECT_EQ(pl.Exec([&] { return dev2.down_info.code; }), static_cast<std::uint16_t>(ErrorCode::kProtocolError));
}

TEST_F(RelayTest, MetricsEndpointServesTheCounters) {
  Start();
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  ASSERT_TRUE(Login(con));
  ASSERT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.connector_links == 1; }));
  auto server = MetricsServer::Start(runtime::ParseSocketAddress("127.0.0.1:0").value(),
                                     [this] { return relay->Snapshot(); });
  ASSERT_TRUE(server.ok()) << server.error().reason;
  const runtime::SocketAddress addr = (*server)->address();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::connect(fd, addr.get(), addr.len), 0);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_NE(resp.find("HTTP/1.1 200"), std::string::npos) << resp;
  EXPECT_NE(resp.find("strait_relay_links{role=\"connector\"} 1\n"), std::string::npos) << resp;
  EXPECT_NE(resp.find("strait_relay_handshakes_total{result=\"ok\"} 1\n"), std::string::npos) << resp;
  EXPECT_NE(resp.find("strait_relay_drops_total{reason=\"unknown_channel\"} 0\n"), std::string::npos) << resp;
}

TEST_F(RelayTest, DrainSendsGoAwayAndClosesAfterThePeriod) {
  RelayOptions o = DefaultOptions();
  o.drain_period = std::chrono::milliseconds(300);
  Start(o);
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(con));
  ASSERT_TRUE(Login(dev));
  relay->Drain();
  ASSERT_TRUE(pl.Wait([&] { return !dev.goaways.empty() && !con.goaways.empty(); }));
  EXPECT_EQ(pl.Exec([&] { return dev.goaways[0].code; }), ErrorCode::kShuttingDown);
  EXPECT_EQ(pl.Exec([&] { return dev.goaways[0].drain_ms; }), 300u);
  ASSERT_TRUE(pl.Wait([&] { return dev.down && con.down; }));
  EXPECT_EQ(pl.Exec([&] { return dev.down_info.code; }), static_cast<std::uint16_t>(ErrorCode::kShuttingDown));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!relay->Drained() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(relay->Drained());
}

// Issue 7, attack 2: a device that sends PINGs and never reads. The relay used to answer every one into an unbounded
// buffer (3 GB in 25 s). Now PONGs are rate-limited and bounded like any other output, so what waits to go out to
// links stays small, the unanswered PINGs are counted, and the tenant's other device keeps working.
TEST_F(RelayTest, PingFloodFromADeviceThatNeverReadsStaysBounded) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  Peer& flood = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "flood"));
  ASSERT_TRUE(Login(flood));
  pl.Exec([&] { flood.link()->PauseRecv(); });

  constexpr std::uint64_t kBacklogBound = 2u << 20;  // max_pending_bytes + the loop's send queue limit, rounded up
  std::uint64_t sent = 0;
  std::uint64_t max_backlog = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < end && sent < 4'000'000) {
    sent += pl.Exec([&] {
      std::uint64_t n = 0;
      const std::array<std::uint8_t, 8> opaque{};
      while (n < 4096 && flood.link()->SendFrame(FrameType::kPing, 0, 0, opaque) == link::SendStatus::kOk) ++n;
      flood.link()->Flush();
      return n;
    });
    max_backlog = std::max(max_backlog, relay->Snapshot().link_send_backlog_bytes);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("[ flood    ] %llu PINGs in 2 s; most waiting to go out to links at once: %llu bytes\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(max_backlog));
  ASSERT_GT(sent, 50'000u) << "the flood did not get going";
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.pings_unanswered >= 40'000; }))
      << RenderPrometheus(relay->Snapshot());
  EXPECT_LE(max_backlog, kBacklogBound) << "sent " << sent << " PINGs";
  // The flooder's bytes are counted at the socket, though none of them is forwarded.
  const MetricsSnapshot m = relay->Snapshot();
  EXPECT_GT(m.socket_bytes_in, sent * 16) << RenderPrometheus(m);
  EXPECT_LE(m.link_send_backlog_bytes, kBacklogBound);
  Exchange(pl, dev, con, ch, RandomBytes(100'000, 7), RandomBytes(100'000, 8));
  EXPECT_TRUE(pl.Exec([&] { return dev.up && !dev.down && con.up && !con.down; }));
}

// Two shards: accepted fds alternate between them, so the connector and the device land on different shards and
// every frame crosses through the SPSC rings (with backpressure on a transfer far above one ring's size).
TEST_F(RelayTest, CrossShardForwardingWithBackpressure) {
  RelayOptions o = DefaultOptions(2);
  o.cross_shard_queue_bytes = 4 * (tunnel::kMaxLinkFrameSize + 32);  // the smallest allowed: the ring fills
  Start(o);
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  Exchange(pl, dev, con, ch, RandomBytes(2'000'000, 5), RandomBytes(3'000'000, 6));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.frames_cross_shard > 200; }))
      << RenderPrometheus(relay->Snapshot());
  // The connector goes away: the device on the other shard hears connector_gone.
  pl.Exec([&] { con.Abort(); });
  ASSERT_TRUE(pl.Wait([&] { return dev.sessions.at(ch)->closed.has_value(); }));
  EXPECT_EQ(pl.Exec([&] { return *dev.sessions.at(ch)->closed; }), ErrorCode::kConnectorGone);
}

}  // namespace
}  // namespace strait::relay::testing
