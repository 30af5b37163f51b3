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
