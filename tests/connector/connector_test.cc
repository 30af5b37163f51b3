// The connector end to end on one loop (the fixture, connector_test_fixture.h, says how): streams by address and
// by name, half-closes, many streams, refusals, timeouts, per-stream backpressure, replays, and the connector's
// links to relays (restarts, lost links, failed logins, names that do not resolve). Direct Connect's defences are
// in connector_direct_connect_test.cc.
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
#include "tests/connector/connector_test_fixture.h"

namespace strait::connector {
namespace {

using runtime::Buffer;
using runtime::ConnId;
using runtime::EventLoop;
using tunnel::ErrorCode;
using tunnel::StreamId;
using testing::ConnectorTest;
using testing::Count;
using testing::Device;
using testing::NowUnix;
using testing::Pattern;
using testing::Pki;
using testing::Stepper;
using testing::TargetServer;

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
    if (id.peer) {
      subjects.push_back(id.peer->credential.subject_id);
      serials.push_back(id.peer->credential.serial);
    }
    if (journal) journal->push_back(name + " up");
    if (notify) notify();
  }
  void OnFrame(link::TlsLink&, const link::Frame&) override {}
  void OnLinkDown(link::TlsLink&, const link::LinkDown&) override {
    ++downs;
    if (journal) journal->push_back(name + " down");
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
  std::vector<std::uint64_t> serials;  // of the credentials its logins showed, in order
  std::string name;
  std::vector<std::string>* journal = nullptr;  // "<name> up" / "<name> down", shared between relays
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

// relay.revoked (control-plane.md §7.3): the link to that relay is closed with ERROR revoked, and the relay's next
// logins are refused at its HELLO_ACK (LinkHandler::AdmitServer). Each refusal is a failed dial, so the dialer backs
// off (200 ms, 400 ms, ...) instead of redialling every 200 ms as it does after a link that was up.
TEST_F(ConnectorTest, RevokedRelayIsClosedAndItsLoginsRefusedWithBackoff) {
  FakeRelay relay(*loop, pki);
  relay.Listen("127.0.0.1:0");
  auto o = Options();
  o.direct_listen.reset();
  o.relays.push_back({relay.address, "127.0.0.1"});
  o.min_backoff = std::chrono::milliseconds(100);
  o.max_backoff = std::chrono::milliseconds(1000);
  StartConnector(std::move(o));
  std::vector<std::chrono::steady_clock::time_point> refused_at;  // when each refusal was first seen
  Stepper s(*loop, {{[&] { return relay.ups == 1 && connector->relays_up() == 1; },
                     [&] { EXPECT_TRUE(connector->RevokeRelay("relay-test")); }},
                    {[&] { return refused_at.size() >= 4 && relay.downs == relay.ups; }, {}}});
  relay.notify = on_log = [&] {
    while (refused_at.size() < connector->stats().relay_links_refused_revoked) {
      refused_at.push_back(std::chrono::steady_clock::now());
    }
    s.Check();
  };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(connector->stats().relay_links_up, 1u);  // the refused logins never counted as up
  EXPECT_EQ(connector->relays_up(), 0u);
  // Refusal 0 closed the live link; refusals 1, 2 and 3 are failed dials 1, 2 and 3. The dial after failure 2 waits
  // delay(1) >= 200 ms x (1 - jitter 0.2); had the refused links counted as up, every dial would wait delay(0), at
  // most 100 ms.
  EXPECT_GE(refused_at[3] - refused_at[2], std::chrono::milliseconds(160));
  bool said = false;
  for (const auto& l : log) said = said || (l.starts_with("login_failed ") && l.find("revoked") != std::string::npos);
  EXPECT_TRUE(said) << "no login_failed line naming the revocation";
}

// A control plane that revokes more relays than max_revoked_relays: the ones beyond are counted, not held.
TEST_F(ConnectorTest, RevokedRelaysBeyondTheBoundAreCounted) {
  auto o = Options();
  o.max_revoked_relays = 2;
  StartConnector(std::move(o));
  for (const char* r : {"relay-a", "relay-b", "relay-c", "relay-a"}) EXPECT_TRUE(connector->RevokeRelay(r));
  Stepper s(*loop, {{[&] { return Count(log, "relay_revoked ") == 4; }, {}}});
  on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(connector->stats().revoked_relays_over_bound, 1u);
  EXPECT_EQ(Count(log, "relay_revoked relay_id=relay-c held=no"), 1);
  EXPECT_EQ(Count(log, "relay_revoked relay_id=relay-a held=yes"), 2);
}

// Control-plane changes wait in a bounded queue for the loop: beyond max_control_queue the call is refused (the
// subscriber then takes a fresh snapshot), and what was queued still applies, in order.
TEST_F(ConnectorTest, ControlChangesBeyondTheQueueAreRefused) {
  auto o = Options();
  o.max_control_queue = 3;
  StartConnector(std::move(o));
  EXPECT_TRUE(connector->RevokeRelay("relay-a"));
  EXPECT_TRUE(connector->RevokeRelay("relay-b"));
  EXPECT_TRUE(connector->RevokeRelay("relay-c"));
  EXPECT_FALSE(connector->RevokeRelay("relay-d"));
  EXPECT_FALSE(connector->SuspendTenant());
  Stepper s(*loop, {{[&] { return Count(log, "relay_revoked ") == 3; },
                     [&] { EXPECT_TRUE(connector->RevokeRelay("relay-e")); }},  // drained: room again
                    {[&] { return Count(log, "relay_revoked ") == 4; }, {}}});
  on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(Count(log, "relay_revoked relay_id=relay-d"), 0);
  EXPECT_EQ(Count(log, "relay_revoked relay_id=relay-e"), 1);
  EXPECT_EQ(Count(log, "tenant_suspended"), 0);
}

// docs/control-plane.md §6.5: a renewed credential is used by the relay logins from then on, and the links that
// logged in with the old one log in again one at a time: the second relay's link goes only once the first is back
// up, so one relay link is up throughout.
TEST_F(ConnectorTest, ARenewedCredentialLogsTheRelayLinksInAgainOneAtATime) {
  FakeRelay a(*loop, pki), b(*loop, pki);
  std::vector<std::string> journal, seen;
  a.name = "a";
  b.name = "b";
  a.journal = b.journal = &journal;
  a.Listen("127.0.0.1:0");
  b.Listen("127.0.0.1:0");
  auto o = Options();
  o.direct_listen.reset();
  o.relays.push_back({a.address, "127.0.0.1"});
  o.relays.push_back({b.address, "127.0.0.1"});
  StartConnector(std::move(o));
  const std::uint64_t now = NowUnix();
  const std::vector<std::uint8_t> renewed =
      crypto::IssueCredential(pki.acme.key, pki.acme.cert, {crypto::Role::kConnector, "dc1", conn.signing.public_key,
                                                            conn.noise.public_key, 5, now - 60, now + 7200})
          .value();
  const std::vector<std::uint8_t> another = pki.Issue(pki.acme, crypto::Role::kConnector, "dc2").credential;
  Stepper s(*loop, {{[&] { return connector->relays_up() == 2; },
                     [&] {
                       journal.clear();
                       auto refused = connector->SetCredential(another);
                       ASSERT_FALSE(refused);
                       EXPECT_NE(refused.error().find("dc2"), std::string::npos) << refused.error();
                       EXPECT_TRUE(connector->SetCredential(renewed));
                     }},
                    {[&] { return a.ups == 2 && b.ups == 2 && connector->relays_up() == 2; },
                     [&] { seen = journal; }}});  // before the links close with the loop
  a.notify = b.notify = on_log = [&] { s.Check(); };
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(a.serials, (std::vector<std::uint64_t>{1, 5}));
  EXPECT_EQ(b.serials, (std::vector<std::uint64_t>{1, 5}));
  EXPECT_EQ(seen, (std::vector<std::string>{"a down", "a up", "b down", "b up"}));
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

}  // namespace
}  // namespace strait::connector
