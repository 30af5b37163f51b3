// Dialer: backoff formula (sans-I/O) and reconnects over real loopback sockets.
#include "tunnel/link/dialer.h"

#include <gtest/gtest.h>

#include "tests/link/link_test_util.h"

namespace strait::link {
namespace {

using namespace std::chrono_literals;
using testing::ClientConfig;
using testing::GuardTimer;
using testing::Identities;
using testing::Recorder;
using testing::Server;
using testing::ServerConfig;

TEST(DialerBackoff, DoublesFromMinAndStopsAtMax) {
  DialerOptions o;
  o.min_backoff = 100ms;
  o.max_backoff = 1000ms;
  o.jitter = 0;
  const std::pair<std::uint32_t, std::chrono::milliseconds> table[] = {
      {0, 100ms}, {1, 200ms}, {2, 400ms}, {3, 800ms}, {4, 1000ms}, {30, 1000ms}, {4000000000u, 1000ms}};
  for (const auto& [failures, want] : table) EXPECT_EQ(BackoffDelay(o, failures, 0.5), want) << failures;
}

TEST(DialerBackoff, JitterOnlyShortensWithinItsFraction) {
  DialerOptions o;
  o.min_backoff = 100ms;
  o.max_backoff = 1000ms;
  o.jitter = 0.25;
  EXPECT_EQ(BackoffDelay(o, 2, 0.0), 400ms);
  EXPECT_EQ(BackoffDelay(o, 2, 0.999999), 300ms);
  EXPECT_EQ(BackoffDelay(o, 9, 0.5), 875ms);
  for (double u = 0; u < 1; u += 0.01) {
    const auto d = BackoffDelay(o, 0, u);
    EXPECT_GE(d, 75ms);
    EXPECT_LE(d, 100ms);
  }
}

// Issue 8: a connector that could not log in said nothing. Every failure counts; lines are the first at once, then
// one per interval with the count since the last line, and the success after failures reports them all.
TEST(LoginFailureLog, FirstAtOnceThenOnePerIntervalWithACount) {
  LoginFailureLog log(60s);
  const LoginFailureLog::Clock::time_point t0{};
  EXPECT_EQ(log.OnFailure(t0), 1u);  // the first: a line at once
  std::uint64_t lines = 0, reported = 1;
  // A day of failures every 30 s (max_backoff): one line a minute at most, and the counts add up.
  for (int i = 1; i < 2880; ++i) {
    if (const std::uint64_t n = log.OnFailure(t0 + std::chrono::seconds(30 * i)); n != 0) {
      ++lines;
      reported += n;
    }
  }
  EXPECT_EQ(lines, 1439u);
  EXPECT_EQ(log.failures(), 2880u);
  EXPECT_EQ(reported, 2879u);  // the last failure (30 s after a line) waits for the next line
  EXPECT_EQ(log.OnLoggedIn(), 2880u);
  EXPECT_EQ(log.OnLoggedIn(), 0u);  // nothing failed since: no second line
  // After a success the next failure is logged at once again, however soon.
  EXPECT_EQ(log.OnFailure(t0 + std::chrono::seconds(30 * 2880)), 1u);
  EXPECT_EQ(log.OnFailure(t0 + std::chrono::seconds(30 * 2880) + 1ms), 0u);
}

TEST(LoginFailureLog, DescribeSaysReasonCodeAndMessageOnOneLine) {
  LinkDown d;
  d.reason = DownReason::kConnectFailed;
  d.message = "Connection refused";
  EXPECT_EQ(DescribeLinkDown(d), "connect_failed (Connection refused)");
  d.reason = DownReason::kPeerError;
  d.code = static_cast<std::uint16_t>(tunnel::ErrorCode::kUnauthorized);
  d.message = "bad\nline";
  EXPECT_EQ(DescribeLinkDown(d), "peer_error code=unauthorized (bad?line)");
  d = {};
  d.reason = DownReason::kTlsError;
  EXPECT_EQ(DescribeLinkDown(d), "tls_error");
}

struct DialEnv {
  Identities ids;
  std::unique_ptr<runtime::EventLoop> loop = testing::MakeLoop();
  LinkLoopState server_state;
  LinkLoopState client_state;
  LinkConfig server_cfg = ServerConfig(ids);
  LinkConfig client_cfg = ClientConfig(ids.Device());
  Recorder server_owner;
  Recorder client_owner;
};

TEST(Dialer, ReconnectsAfterTheServerClosesTheLink) {
  DialEnv e;
  Server server(*e.loop, e.server_state, e.server_cfg, e.server_owner);
  e.server_owner.on_up = [&](TlsLink& link) {
    if (e.server_owner.ups == 1) link.Close(tunnel::ErrorCode::kShuttingDown, "draining");
  };
  DialerOptions o;
  o.address = server.address;
  o.min_backoff = 10ms;
  o.max_backoff = 100ms;
  Dialer dialer(*e.loop, e.client_state, e.client_cfg, o, e.client_owner);
  e.client_owner.on_up = [&](TlsLink&) {
    if (e.client_owner.ups == 2) e.loop->RequestStop();
  };
  dialer.Start();
  GuardTimer guard(*e.loop, 20s);
  e.loop->Run();
  ASSERT_FALSE(guard.fired);
  EXPECT_EQ(e.client_owner.ups, 2);
  ASSERT_GE(e.client_owner.down_events.size(), 1u);
  const LinkDown& first = e.client_owner.down_events[0];
  EXPECT_EQ(first.reason, DownReason::kPeerError);
  EXPECT_EQ(first.code, static_cast<std::uint16_t>(tunnel::ErrorCode::kShuttingDown));
  EXPECT_EQ(first.message, "draining");
  EXPECT_TRUE(first.was_up);
  EXPECT_EQ(dialer.dials(), 2u);
  EXPECT_EQ(dialer.failures(), 0u);
}

TEST(Dialer, BacksOffWhileNothingListensThenConnects) {
  DialEnv e;
  // A port with nothing behind it: bind, learn the port, close.
  runtime::SocketAddress dead;
  {
    auto any = runtime::ParseSocketAddress("127.0.0.1:0");
    auto fd = runtime::ListenTcp(*any, {});
    ASSERT_TRUE(fd.ok());
    auto local = runtime::LocalAddress(*fd);
    dead = *local;
    ::close(*fd);
  }
  DialerOptions o;
  o.address = dead;
  o.min_backoff = 5ms;
  o.max_backoff = 20ms;
  o.jitter = 0;
  Dialer dialer(*e.loop, e.client_state, e.client_cfg, o, e.client_owner);
  std::optional<Server> server;
  e.client_owner.on_down = [&](TlsLink&, const LinkDown& d) {
    if (d.was_up) return;  // the final close by Run() on the way out
    EXPECT_EQ(d.reason, DownReason::kConnectFailed);
    if (dialer.failures() == 5) {  // delays so far: 5, 10, 20, 20 ms; now point it at a live server
      server.emplace(*e.loop, e.server_state, e.server_cfg, e.server_owner);
      dialer.SetAddress(server->address);
    }
  };
  e.client_owner.on_up = [&](TlsLink&) { e.loop->RequestStop(); };
  dialer.Start();
  GuardTimer guard(*e.loop, 20s);
  e.loop->Run();
  ASSERT_FALSE(guard.fired);
  EXPECT_EQ(e.client_state.stats.Down(DownReason::kConnectFailed), 5u);
  EXPECT_EQ(dialer.dials(), 6u);
  EXPECT_EQ(dialer.last_delay(), 20ms);  // capped at max_backoff
  EXPECT_EQ(e.client_owner.ups, 1);
  EXPECT_EQ(dialer.failures(), 0u);
}

}  // namespace
}  // namespace strait::link
