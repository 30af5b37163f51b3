// TlsLink over real loopback sockets (port 0) with real TLS (throwaway PKI) and real credentials. Each test runs
// event loops until an event says it is done; GuardTimer turns a hang into a failure.
#include "tunnel/link/tls_link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "tests/link/link_test_util.h"

namespace strait::link {
namespace {

using namespace std::chrono_literals;
using testing::After;
using testing::ClientConfig;
using testing::GuardTimer;
using testing::Identities;
using testing::RawPeer;
using testing::Recorder;
using testing::Server;
using testing::ServerConfig;
using tunnel::ErrorCode;
using tunnel::FrameType;

constexpr auto kGuard = 20s;

std::uint16_t Code(ErrorCode c) { return static_cast<std::uint16_t>(c); }

// One loop on the test thread with a server port and room for clients.
struct OneLoop {
  explicit OneLoop(runtime::LoopOptions o = {}) : loop(testing::MakeLoop(o)) {}
  Identities ids;
  std::unique_ptr<runtime::EventLoop> loop;
  LinkLoopState server_state;
  LinkLoopState client_state;
  LinkConfig server_cfg = ServerConfig(ids);
  LinkConfig client_cfg = ClientConfig(ids.Device());
  Recorder server_owner;
  Recorder client_owner;
  std::optional<Server> server;
  std::vector<std::unique_ptr<TlsLink>> clients;
  std::vector<std::unique_ptr<RawPeer>> raws;

  void Listen() { server.emplace(*loop, server_state, server_cfg, server_owner); }
  TlsLink& Dial(const LinkConfig& cfg, LinkHandler& owner) {
    clients.push_back(std::make_unique<TlsLink>(*loop, client_state, cfg, owner));
    EXPECT_TRUE(clients.back()->Connect(server->address));
    return *clients.back();
  }
  RawPeer& Raw(bool tls) {
    raws.push_back(std::make_unique<RawPeer>(*loop, tls ? &testing::ClientTls() : nullptr));
    raws.back()->Connect(server->address);
    return *raws.back();
  }
  // Runs until RequestStop; false if the guard fired.
  bool Run() {
    GuardTimer guard(*loop, kGuard);
    loop->Run();
    return !guard.fired;
  }
};

// Payload sizes for the flow tests: the edges and a spread up to kMaxPayload.
std::vector<std::vector<std::uint8_t>> MakePayloads(int n) {
  std::mt19937 rng(1234);
  std::vector<std::vector<std::uint8_t>> out;
  const std::size_t edges[] = {0, 1, tunnel::kMaxPayload, tunnel::kMaxPayload - 1, 16384, 12};
  for (int i = 0; i < n; ++i) {
    const std::size_t size = static_cast<std::size_t>(i) < std::size(edges)
                                 ? edges[i]
                                 : std::uniform_int_distribution<std::size_t>(0, tunnel::kMaxPayload)(rng);
    std::vector<std::uint8_t> p(size);
    for (auto& b : p) b = static_cast<std::uint8_t>(rng());
    out.push_back(std::move(p));
  }
  return out;
}

// Client side of an echo exchange: keeps `window` frames in flight, checks each echo byte for byte.
struct EchoClient {
  explicit EchoClient(std::vector<std::vector<std::uint8_t>> p) : payloads(std::move(p)) {}
  std::vector<std::vector<std::uint8_t>> payloads;
  std::size_t next = 0;
  std::size_t received = 0;
  std::size_t mismatches = 0;
  std::function<void()> done;

  void Pump(TlsLink& link, std::size_t window) {
    while (next < payloads.size() && next - received < window) {
      const SendStatus s = link.SendFrame(FrameType::kSealedStream, 0, static_cast<std::uint32_t>(next + 1),
                                          payloads[next]);
      if (s != SendStatus::kOk) break;
      ++next;
    }
  }
  void Attach(Recorder& r, std::size_t window) {
    r.keep_payloads = false;
    r.on_up = [this, window](TlsLink& link) { Pump(link, window); };
    r.on_frame = [this, window](TlsLink& link, const Frame& f) {
      const std::size_t i = f.header.channel - 1;
      if (i != received || f.header.type != FrameType::kSealedStream ||
          !std::equal(f.payload.begin(), f.payload.end(), payloads[i].begin(), payloads[i].end())) {
        ++mismatches;
      }
      ++received;
      if (received == payloads.size()) {
        done();
        return;
      }
      Pump(link, window);
    };
  }
};

void EchoBack(Recorder& r) {
  r.keep_payloads = false;
  r.on_frame = [](TlsLink& link, const Frame& f) { EXPECT_EQ(link.SendEncoded(f.bytes), SendStatus::kOk); };
}

TEST(TlsLink, LoginSucceedsAndFramesFlowBothWaysByteExact) {
  OneLoop t;
  t.Listen();
  EchoBack(t.server_owner);
  EchoClient echo{MakePayloads(400)};
  echo.done = [&] { t.loop->RequestStop(); };
  echo.Attach(t.client_owner, 24);
  TlsLink& client = t.Dial(t.client_cfg, t.client_owner);
  ASSERT_TRUE(t.Run());

  EXPECT_EQ(echo.received, echo.payloads.size());
  EXPECT_EQ(echo.mismatches, 0u);
  EXPECT_EQ(client.state(), LinkState::kDown);  // Run() closed it on the way out
  ASSERT_TRUE(t.server_owner.peer.has_value());
  EXPECT_EQ(t.server_owner.peer->credential.subject_id, "phone");
  EXPECT_EQ(t.server_owner.peer->credential.role, crypto::Role::kDevice);
  EXPECT_EQ(t.server_owner.peer->preferred_connector, "dc1");
  ASSERT_TRUE(t.client_owner.relay.has_value());
  EXPECT_EQ(t.client_owner.relay->relay_id, "relay-test");
  EXPECT_EQ(t.server_state.stats.frames_in, echo.payloads.size());
  EXPECT_EQ(t.client_state.stats.frames_in, echo.payloads.size());
  EXPECT_EQ(t.server_state.stats.links_up, 1u);
}

// The same exchange with the server and the client on two loops on two threads (the relay's shape).
TEST(TlsLink, FramesFlowBetweenLoopsOnTwoThreads) {
  Identities ids;
  std::promise<runtime::SocketAddress> address;
  std::atomic<runtime::EventLoop*> server_loop{nullptr};
  std::atomic<std::uint64_t> server_frames{0};
  std::thread server_thread([&] {
    auto loop = testing::MakeLoop();
    LinkLoopState state;
    LinkConfig cfg = ServerConfig(ids);
    Recorder owner;
    EchoBack(owner);
    Server server(*loop, state, cfg, owner);
    server_loop = loop.get();
    address.set_value(server.address);
    GuardTimer guard(*loop, kGuard);
    loop->Run();
    server_frames = state.stats.frames_in;
  });
  const runtime::SocketAddress addr = address.get_future().get();

  auto loop = testing::MakeLoop();
  LinkLoopState state;
  LinkConfig cfg = ClientConfig(ids.Device());
  Recorder owner;
  EchoClient echo{MakePayloads(300)};
  echo.done = [&] { loop->RequestStop(); };
  echo.Attach(owner, 32);
  TlsLink link(*loop, state, cfg, owner);
  ASSERT_TRUE(link.Connect(addr));
  {
    GuardTimer guard(*loop, kGuard);
    loop->Run();
    EXPECT_FALSE(guard.fired);
  }
  server_loop.load()->RequestStop();
  server_thread.join();
  EXPECT_EQ(echo.received, echo.payloads.size());
  EXPECT_EQ(echo.mismatches, 0u);
  EXPECT_EQ(server_frames.load(), echo.payloads.size());
}

// Runs a client with `login` against a device port and returns the client's LinkDown.
LinkDown RefusedLogin(OneLoop& t, const ClientLoginConfig& login) {
  t.Listen();
  LinkConfig cfg = ClientConfig(login);
  auto stop_when_both_down = [&](TlsLink&, const LinkDown&) {
    if (t.client_owner.downs == 1 && t.server_owner.downs == 1) t.loop->RequestStop();
  };
  t.client_owner.on_down = stop_when_both_down;
  t.server_owner.on_down = stop_when_both_down;
  t.Dial(cfg, t.client_owner);
  EXPECT_TRUE(t.Run());
  EXPECT_EQ(t.client_owner.ups, 0);
  EXPECT_EQ(t.server_owner.ups, 0);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kLoginRefused), 1u);
  EXPECT_EQ(t.client_owner.down_events.size(), 1u);
  return t.client_owner.down_events.empty() ? LinkDown{} : t.client_owner.down_events[0];
}

TEST(TlsLink, CredentialFromAnotherRootIsRefusedWithBadCredential) {
  OneLoop t;
  Identities stranger;
  const LinkDown d = RefusedLogin(t, stranger.Device());
  EXPECT_EQ(d.reason, DownReason::kPeerError);
  EXPECT_EQ(d.code, Code(ErrorCode::kBadCredential));
  EXPECT_EQ(d.message.rfind("tenant_cert_bad_signature", 0), 0u) << d.message;
  EXPECT_FALSE(d.was_up);
}

TEST(TlsLink, ExpiredCredentialIsRefusedWithBadCredential) {
  OneLoop t;
  ClientLoginConfig login = t.ids.Device();
  login.credential = t.ids.Issue(crypto::Role::kDevice, "phone", t.ids.device_key, -30);
  const LinkDown d = RefusedLogin(t, login);
  EXPECT_EQ(d.code, Code(ErrorCode::kBadCredential));
  EXPECT_EQ(d.message.rfind("expired", 0), 0u) << d.message;
}

// Issue 7, attack 4: a credential is checked again when it expires, on the server's credential clock. The clock here
// is the test's: at the first deadline it has not moved (a wall clock set back), so the link stays up and the
// deadline is derived again; once the clock passes not_after, the link closes with ERROR bad_credential.
TEST(TlsLink, AnUpLinkIsClosedWhenThePeerCredentialExpiresOnTheServerClock) {
  OneLoop t;
  const std::uint64_t now = testing::NowUnix();
  std::uint64_t clock = now;
  t.server_cfg.server.now_unix = [&clock] { return clock; };
  t.server_cfg.options.keepalive = 0ms;
  t.server_cfg.options.idle_timeout = 0ms;
  ClientLoginConfig login = t.ids.Device();
  login.credential = t.ids.Issue(crypto::Role::kDevice, "phone", t.ids.device_key, 0);  // valid through `now`
  t.client_cfg = ClientConfig(login);
  t.Listen();
  t.client_owner.on_down = [&](TlsLink&, const LinkDown&) { t.loop->RequestStop(); };
  t.Dial(t.client_cfg, t.client_owner);
  bool up_at_first_deadline = false;
  After check(*t.loop, 1500ms, [&] {
    up_at_first_deadline = t.client_owner.ups == 1 && t.client_owner.downs == 0;
    clock = now + 1;  // now it has expired: the next deadline (a second after the first) closes the link
  });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.Run());
  EXPECT_TRUE(up_at_first_deadline);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  ASSERT_EQ(t.client_owner.down_events.size(), 1u);
  const LinkDown& d = t.client_owner.down_events[0];
  EXPECT_TRUE(d.was_up);
  EXPECT_EQ(d.reason, DownReason::kPeerError);
  EXPECT_EQ(d.code, Code(ErrorCode::kBadCredential));
  EXPECT_EQ(d.message.rfind("credential expired at " + std::to_string(now), 0), 0u) << d.message;
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kCredentialExpired), 1u);
}

// LinkHandler::AdmitLogin: the owner refuses a login whose HELLO verified (the relay's denial list); the refusal goes
// out instead of HELLO_ACK, so neither side ever comes up.
TEST(TlsLink, AnOwnersRefusalAfterHelloVerifiesIsSentInsteadOfHelloAck) {
  OneLoop t;
  std::optional<PeerLogin> asked;
  t.server_owner.on_admit = [&](TlsLink&, const PeerLogin& p) -> std::optional<LoginRefusal> {
    asked = p;
    return LoginRefusal{ErrorCode::kRevoked, "credential revoked"};
  };
  const LinkDown d = RefusedLogin(t, t.ids.Device());
  ASSERT_TRUE(asked.has_value());  // asked with the verified credential
  EXPECT_EQ(asked->credential.role, crypto::Role::kDevice);
  EXPECT_FALSE(asked->credential.subject_id.empty());
  EXPECT_EQ(d.reason, DownReason::kPeerError);
  EXPECT_EQ(d.code, Code(ErrorCode::kRevoked));
  EXPECT_EQ(d.message, "credential revoked");
  EXPECT_FALSE(d.was_up);
  ASSERT_EQ(t.server_owner.down_events.size(), 1u);
  EXPECT_EQ(t.server_owner.down_events[0].code, Code(ErrorCode::kRevoked));
}

TEST(TlsLink, ConnectorOnDevicePortIsRefusedWithWrongRole) {
  OneLoop t;
  const LinkDown d = RefusedLogin(t, t.ids.Connector());
  EXPECT_EQ(d.reason, DownReason::kPeerError);
  EXPECT_EQ(d.code, Code(ErrorCode::kWrongRole));
  EXPECT_FALSE(d.message.empty());
}

TEST(TlsLink, ProofFromAnotherSessionIsRefusedWithBadProof) {
  OneLoop t;
  t.Listen();
  // A proof made over a different, genuine TLS session (what a replayed HELLO carries).
  crypto::testing::TlsPair other;
  ASSERT_TRUE(crypto::testing::Handshake(other.client, other.server).ok());
  const crypto::HelloExporter foreign = crypto::HelloExporterValue(other.client).value();
  RawPeer& raw = t.Raw(/*tls=*/true);
  raw.on_handshake = [&](RawPeer& p) { p.SendPlain(testing::HelloFrame(t.ids.Device(), foreign)); };
  raw.on_close = [&](RawPeer&) { t.loop->RequestStop(); };
  ASSERT_TRUE(t.Run());
  const auto err = raw.FirstError();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->first, ErrorCode::kBadProof);
  EXPECT_FALSE(err->second.empty());
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kLoginRefused), 1u);
}

// A healthy link on the same loop as a misbehaving peer: it must log in and echo a frame after the bad one is gone.
struct HealthyNeighbour {
  Recorder owner;
  EchoClient echo{MakePayloads(20)};
  bool done = false;
};

void RunWithNeighbour(OneLoop& t, RawPeer& raw, HealthyNeighbour& n) {
  EchoBack(t.server_owner);
  n.echo.done = [&] {
    n.done = true;
    if (raw.closed) t.loop->RequestStop();
  };
  n.echo.Attach(n.owner, 4);
  raw.on_close = [&](RawPeer&) {
    if (n.done) t.loop->RequestStop();
  };
  t.Dial(t.client_cfg, n.owner);
  EXPECT_TRUE(t.Run());
  EXPECT_TRUE(raw.closed);
  EXPECT_EQ(n.echo.received, n.echo.payloads.size());
  EXPECT_EQ(n.echo.mismatches, 0u);
}

TEST(TlsLink, GarbageInsteadOfTlsIsClosedAndCountedWhileAnotherLinkWorks) {
  OneLoop t;
  t.Listen();
  RawPeer& raw = t.Raw(/*tls=*/false);
  const std::string garbage = "GET / HTTP/1.1\r\nHost: relay\r\n\r\n" + std::string(300, '\x17');
  raw.SendRaw({reinterpret_cast<const std::uint8_t*>(garbage.data()), garbage.size()});
  HealthyNeighbour n;
  RunWithNeighbour(t, raw, n);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kTlsError), 1u);
  EXPECT_EQ(t.server_state.stats.links_up, 1u);
}

// Logs a RawPeer in by hand, then calls `after_login`.
void LoginRaw(OneLoop& t, RawPeer& raw, std::function<void(RawPeer&)> after_login) {
  raw.on_handshake = [&t](RawPeer& p) {
    p.SendPlain(testing::HelloFrame(t.ids.Device(), crypto::HelloExporterValue(p.tls()).value()));
  };
  raw.on_frame = [after_login = std::move(after_login)](RawPeer& p, const tunnel::FrameHeader& h,
                                                        const std::vector<std::uint8_t>&) {
    if (h.type == FrameType::kHelloAck && after_login) after_login(p);
  };
}

TEST(TlsLink, GarbageFramesAfterLoginAreRefusedWithProtocolErrorWhileAnotherLinkWorks) {
  OneLoop t;
  t.Listen();
  RawPeer& raw = t.Raw(/*tls=*/true);
  LoginRaw(t, raw, [](RawPeer& p) {
    std::vector<std::uint8_t> junk(64, 0xab);  // framing version 0xab
    p.SendPlain(junk);
  });
  HealthyNeighbour n;
  RunWithNeighbour(t, raw, n);
  const auto err = raw.FirstError();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->first, ErrorCode::kProtocolError);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kFrameError), 1u);
  EXPECT_EQ(t.server_state.stats.links_up, 2u);  // the raw peer did log in first
}

TEST(TlsLink, OversizedLengthIsRefusedWithFrameTooLargeBeforeAnyPayload) {
  OneLoop t;
  t.Listen();
  RawPeer& raw = t.Raw(/*tls=*/true);
  raw.on_handshake = [](RawPeer& p) {
    std::array<std::uint8_t, tunnel::kHeaderSize> header{};
    ASSERT_TRUE(tunnel::EncodeFrameHeader({1, FrameType::kSealedStream, 0, 0, 1}, header));
    header[tunnel::kLengthOffset + 2] = 0x41;  // length 16,641 = kMaxPayload + 1, big-endian
    header[tunnel::kLengthOffset + 3] = 0x01;
    p.SendPlain(header);  // no payload follows: the link must refuse on the header alone
  };
  raw.on_close = [&](RawPeer&) { t.loop->RequestStop(); };
  ASSERT_TRUE(t.Run());
  const auto err = raw.FirstError();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->first, ErrorCode::kFrameTooLarge);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kFrameError), 1u);
}

TEST(TlsLink, UnknownTypeIsSkippedAndCriticalUnknownIsRefused) {
  OneLoop t;
  t.Listen();
  const std::vector<std::uint8_t> blob(100, 5), data(10, 6);
  t.client_owner.on_up = [&](TlsLink& link) {
    EXPECT_EQ(link.SendFrame(static_cast<FrameType>(0x90), 0, 0, blob), SendStatus::kOk);
    EXPECT_EQ(link.SendFrame(FrameType::kSealedStream, 0, 9, data), SendStatus::kOk);
  };
  t.server_owner.on_frame = [&](TlsLink& link, const Frame& f) {
    EXPECT_EQ(f.header.type, FrameType::kSealedStream);
    EXPECT_EQ(link.reader().skipped(), 1u);
    // Now a critical unknown type from the client.
    t.clients[0]->SendFrame(static_cast<FrameType>(0x91), tunnel::kFlagCritical, 0, blob);
    t.clients[0]->Flush();
  };
  t.client_owner.on_down = [&](TlsLink&, const LinkDown&) { t.loop->RequestStop(); };
  t.Dial(t.client_cfg, t.client_owner);
  ASSERT_TRUE(t.Run());
  EXPECT_EQ(t.server_owner.frames, 1u);
  EXPECT_EQ(t.server_state.stats.unknown_skipped, 1u);
  ASSERT_EQ(t.client_owner.down_events.size(), 1u);
  EXPECT_EQ(t.client_owner.down_events[0].reason, DownReason::kPeerError);
  EXPECT_EQ(t.client_owner.down_events[0].code, Code(ErrorCode::kUnsupportedFrame));
  EXPECT_TRUE(t.client_owner.down_events[0].was_up);
}

TEST(TlsLink, StalledHandshakeAndStalledLoginAreClosedAfterTheTimeout) {
  OneLoop t;
  t.server_cfg.options.handshake_timeout = 150ms;
  t.Listen();
  const auto start = std::chrono::steady_clock::now();
  RawPeer& silent_tcp = t.Raw(/*tls=*/false);  // never starts TLS
  RawPeer& silent_tls = t.Raw(/*tls=*/true);   // finishes TLS, never sends HELLO
  auto stop = [&](RawPeer&) {
    if (silent_tcp.closed && silent_tls.closed) t.loop->RequestStop();
  };
  silent_tcp.on_close = stop;
  silent_tls.on_close = stop;
  ASSERT_TRUE(t.Run());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_TRUE(silent_tls.handshake_done);
  const auto err = silent_tls.FirstError();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->first, ErrorCode::kHandshakeTimeout);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kHandshakeTimeout), 2u);
}

// Issue 7, attack 1: a connection that has not sent a complete ClientHello is closed at client_hello_timeout, well
// before the handshake deadline; one that did send it keeps the whole handshake deadline.
TEST(TlsLink, NoClientHelloIsClosedAtItsOwnShorterDeadline) {
  OneLoop t;
  t.server_cfg.options.client_hello_timeout = 100ms;
  t.server_cfg.options.handshake_timeout = 1500ms;
  t.Listen();
  const auto start = std::chrono::steady_clock::now();
  RawPeer& trickle = t.Raw(/*tls=*/false);  // the first bytes of a TLS record, then nothing
  const std::uint8_t record_start[] = {0x16, 0x03, 0x01};
  trickle.SendRaw(record_start);
  RawPeer& silent_tls = t.Raw(/*tls=*/true);  // a whole ClientHello, TLS finished, never sends HELLO
  std::chrono::steady_clock::duration trickle_closed{}, tls_closed{};
  auto stop = [&](RawPeer&) {
    if (trickle.closed && trickle_closed == std::chrono::steady_clock::duration{}) {
      trickle_closed = std::chrono::steady_clock::now() - start;
    }
    if (silent_tls.closed && tls_closed == std::chrono::steady_clock::duration{}) {
      tls_closed = std::chrono::steady_clock::now() - start;
    }
    if (trickle.closed && silent_tls.closed) t.loop->RequestStop();
  };
  trickle.on_close = stop;
  silent_tls.on_close = stop;
  ASSERT_TRUE(t.Run());
  EXPECT_GE(trickle_closed, 100ms);
  EXPECT_LT(trickle_closed, 1000ms);
  EXPECT_GE(tls_closed, 1500ms);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kHandshakeTimeout), 2u);
}

TEST(TlsLink, KeepalivePingPongKeepsAnIdleLinkUp) {
  OneLoop t;
  t.server_cfg.options.keepalive = 20ms;  // announced to the client in HELLO_ACK
  t.server_cfg.options.idle_timeout = 100ms;
  t.Listen();
  // Done once 30 PONGs came back: at most two per 20 ms, so at least 300 ms (three idle timeouts) of silence.
  auto check = [&] {
    if (t.server_state.stats.pongs_received + t.client_state.stats.pongs_received >= 30) t.loop->RequestStop();
  };
  std::function<void()> poll;
  std::vector<std::unique_ptr<After>> polls;
  poll = [&] {
    check();
    polls.push_back(std::make_unique<After>(*t.loop, 10ms, poll));
  };
  poll();
  t.Dial(t.client_cfg, t.client_owner);
  ASSERT_TRUE(t.Run());
  EXPECT_EQ(t.client_owner.ups, 1);
  EXPECT_EQ(t.server_owner.ups, 1);
  EXPECT_EQ(t.client_owner.down_events.size(), 1u);  // only the one Run() caused on the way out
  EXPECT_EQ(t.client_owner.down_events[0].reason, DownReason::kShutdown);
  EXPECT_EQ(t.client_owner.relay->keepalive_ms, 20u);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kIdleTimeout), 0u);
  EXPECT_GT(t.server_state.stats.pings_sent + t.client_state.stats.pings_sent, 0u);
}

// A burst of PINGs gets max_pongs_per_second PONGs; the rest are read, counted and not answered (issue 7: a peer
// must not make the link send more than the bound allows). The link stays up.
TEST(TlsLink, PingsBeyondThePongRateAreCountedNotAnswered) {
  OneLoop t;
  t.Listen();
  RawPeer& raw = t.Raw(/*tls=*/true);
  constexpr int kPings = 100;
  LoginRaw(t, raw, [](RawPeer& p) {
    std::vector<std::uint8_t> burst;
    for (int i = 0; i < kPings; ++i) {
      std::array<std::uint8_t, tunnel::kHeaderSize> header{};
      ASSERT_TRUE(tunnel::EncodeFrameHeader({1, FrameType::kPing, 0, 8, 0}, header));
      burst.insert(burst.end(), header.begin(), header.end());
      burst.insert(burst.end(), 8, static_cast<std::uint8_t>(i));
    }
    p.SendPlain(burst);  // one TLS record: every PING lands in the same one-second window
  });
  After stop(*t.loop, 300ms, [&] { t.loop->RequestStop(); });
  ASSERT_TRUE(t.Run());
  int pongs = 0;
  for (const auto& [h, p] : raw.frames) pongs += h.type == FrameType::kPong ? 1 : 0;
  const std::uint32_t rate = LinkOptions{}.max_pongs_per_second;
  EXPECT_EQ(pongs, static_cast<int>(rate));
  EXPECT_EQ(t.server_state.stats.pongs_sent, rate);
  EXPECT_EQ(t.server_state.stats.pings_unanswered, kPings - rate);
  EXPECT_FALSE(raw.FirstError().has_value());
}

TEST(TlsLink, SilentPeerIsClosedAfterTheIdleTimeout) {
  OneLoop t;
  t.server_cfg.options.keepalive = 20ms;
  t.server_cfg.options.idle_timeout = 100ms;
  t.Listen();
  RawPeer& raw = t.Raw(/*tls=*/true);  // logs in, then never answers a PING
  LoginRaw(t, raw, nullptr);
  raw.on_close = [&](RawPeer&) { t.loop->RequestStop(); };
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.Run());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
  int pings = 0;
  for (const auto& [h, p] : raw.frames) pings += h.type == FrameType::kPing ? 1 : 0;
  EXPECT_GT(pings, 0);
  const auto err = raw.FirstError();
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->first, ErrorCode::kIdleTimeout);
  EXPECT_EQ(t.server_state.stats.Down(DownReason::kIdleTimeout), 1u);
}

// The receiver stops reading; the sender's backlog rises to high, SendFrame refuses beyond max_pending_bytes, and
// once the receiver resumes, low follows and every accepted frame arrives.
TEST(TlsLink, SendQueueBackpressureSurfacesHighThenLow) {
  runtime::LoopOptions lo;
  lo.send_queue_limit = 256u << 10;
  lo.send_high_watermark = 64u << 10;
  lo.send_low_watermark = 16u << 10;
  OneLoop t(lo);
  t.client_cfg.options.max_pending_bytes = 128u << 10;
  t.Listen();
  t.server->on_accept_fd = [](int fd) {
    const int small = 16 << 10;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  };
  TlsLink* server_link = nullptr;
  const std::vector<std::uint8_t> chunk(16000, 0x5a);
  std::size_t accepted = 0;
  bool refused = false;
  t.server_owner.keep_payloads = false;
  t.server_owner.on_up = [&](TlsLink& link) {
    server_link = &link;
    link.PauseRecv();  // a reader that stopped
  };
  t.client_owner.on_up = [&](TlsLink& link) {
    // Pump until the link refuses: the loop queue goes high, then sealed bytes back up, then kBackpressure.
    for (int i = 0; i < 10000; ++i) {
      const SendStatus s = link.SendFrame(FrameType::kSealedStream, 0, 1, chunk);
      if (s == SendStatus::kBackpressure) {
        refused = true;
        break;
      }
      ASSERT_EQ(s, SendStatus::kOk);
      ++accepted;
    }
    link.Flush();
    EXPECT_LE(link.backlog_bytes(), 128u << 10);
    EXPECT_LE(t.loop->SendQueueBytes(link.conn()), lo.send_queue_limit);
    ASSERT_NE(server_link, nullptr);
    server_link->ResumeRecv();
  };
  t.server_owner.on_frame = [&](TlsLink&, const Frame&) {
    if (t.server_owner.frames == accepted && t.client_owner.lows > 0) t.loop->RequestStop();
  };
  t.client_owner.on_low = [&](TlsLink&) {
    if (t.server_owner.frames == accepted) t.loop->RequestStop();
  };
  TlsLink& client = t.Dial(t.client_cfg, t.client_owner);
  const int small = 16 << 10;
  setsockopt(t.loop->Fd(client.conn()), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ASSERT_TRUE(t.Run());
  EXPECT_TRUE(refused);
  EXPECT_EQ(t.client_owner.highs, 1);
  EXPECT_EQ(t.client_owner.lows, 1);
  EXPECT_GE(t.client_state.stats.send_backpressure, 1u);
  EXPECT_EQ(t.server_owner.frames, accepted);
}

}  // namespace
}  // namespace strait::link
