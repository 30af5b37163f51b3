// Port forwards end to end over loopback: a plain TCP client (no SOCKS) → ForwardDoor → DeviceClient → TLS link →
// FakeConnector → loopback targets. The cross-process cases (real relay, connector and policy) are in
// tests/e2e/forwards_test.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/device/device_test_util.h"
#include "tunnel/device/forward_door.h"
#include "tunnel/device/forward_spec.h"

namespace strait::device {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

// An echo server and a FakeConnector ("echo.internal" → the echo server) on a loop thread, a client, and one
// forward per spec ("LOCAL=HOST:PORT", parsed as `strait device --forward` does) with `max_connections` each.
struct ForwardWorld {
  Pki pki;
  LoopThread loop;
  EchoServer* echo = nullptr;
  FakeConnector* connector = nullptr;
  std::unique_ptr<DeviceClient> client;
  std::vector<std::unique_ptr<ForwardDoor>> doors;
  std::vector<std::uint16_t> ports;

  // `specs` may use {echo} for the echo server's port.
  ForwardWorld(const std::vector<std::string>& specs, std::uint32_t max_connections = 256) {
    loop.Call([&] {
      echo = new EchoServer(loop.loop());
      connector = new FakeConnector(loop.loop(), pki, TestServerTls(), {{"echo.internal", echo->address}});
      ClientOptions o;
      o.identity = pki.Device();
      o.relay = connector->address;
      o.min_backoff = 20ms;
      client = DeviceClient::Create(loop.loop(), std::move(o)).value();
      client->Start();
      const std::string echo_port = std::to_string(ntohs(echo->address.u.v4.sin_port));
      for (std::string spec : specs) {
        if (auto at = spec.find("{echo}"); at != std::string::npos) spec.replace(at, 6, echo_port);
        auto parsed = ParseForwardSpec(spec);
        ASSERT_TRUE(parsed) << spec << ": " << parsed.error();
        ForwardDoorOptions f;
        f.listen = parsed->local;
        f.target = parsed->target;
        f.max_connections = max_connections;
        doors.push_back(ForwardDoor::Create(loop.loop(), *client, f).value());
        ports.push_back(ntohs(doors.back()->address().u.v4.sin_port));
      }
      loop.AtExit([this] {
        doors.clear();
        client.reset();
        delete connector;
        delete echo;
      });
    });
  }
  ~ForwardWorld() {
    loop.Call([this] {
      for (auto& d : doors) d->Close();
      client->Stop();
    });
    loop.Stop();
  }
  ForwardDoorStats Stats(std::size_t i) {
    ForwardDoorStats s;
    loop.Call([&] { s = doors[i]->stats(); });
    return s;
  }
};

// True when the peer closed `fd` (EOF or reset) before the socket's 20 s receive timeout, with no byte first.
bool ClosedByPeer(int fd) {
  char b = 0;
  const ssize_t r = ::recv(fd, &b, 1, 0);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

TEST(ForwardDoor, PlainTcpClientEchoesBothWaysWithHalfClose) {
  ForwardWorld w({"0=127.0.0.1:{echo}", "0=echo.internal:{echo}"});
  for (std::size_t i = 0; i < 2; ++i) {
    const int fd = ConnectTo(w.ports[i]);
    ASSERT_GE(fd, 0);
    // Sent at once, while the stream is still opening: held, then sent first.
    ASSERT_TRUE(SendAll(fd, "early-"));
    const std::string payload = Pattern(200000, 7 + static_cast<std::uint32_t>(i));
    ASSERT_TRUE(SendAll(fd, payload));
    ::shutdown(fd, SHUT_WR);  // half-close: the echo ends with EOF
    const std::string echoed = RecvToEof(fd);
    ::close(fd);
    EXPECT_EQ(echoed.size(), payload.size() + 6) << i;
    EXPECT_TRUE(echoed == "early-" + payload) << i;
  }
  const ForwardDoorStats s = w.Stats(1);
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.opens, 1u);
  EXPECT_EQ(s.open_ok, 1u);
  EXPECT_EQ(s.open_failed_total(), 0u);
}

TEST(ForwardDoor, FailedOpenClosesTheClientAndCountsTheReason) {
  const std::uint16_t refusing = ntohs(RefusingAddress().u.v4.sin_port);
  ForwardWorld w({"0=nowhere.internal:80", "0=127.0.0.1:" + std::to_string(refusing)});
  for (std::size_t i = 0; i < 2; ++i) {
    const int fd = ConnectTo(w.ports[i]);
    ASSERT_GE(fd, 0);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(ClosedByPeer(fd)) << i << ": errno " << errno;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << i;
    ::close(fd);
  }
  const ForwardDoorStats dns = w.Stats(0);
  EXPECT_EQ(dns.open_failed[static_cast<std::size_t>(tunnel::ErrorCode::kDnsFailed)], 1u);
  EXPECT_EQ(dns.open_failed_total(), 1u);
  EXPECT_EQ(dns.open_ok, 0u);
  const ForwardDoorStats refused = w.Stats(1);
  EXPECT_EQ(refused.open_failed[static_cast<std::size_t>(tunnel::ErrorCode::kConnectFailed)], 1u);
  EXPECT_EQ(refused.open_failed_total(), 1u);
}

TEST(ForwardDoor, ConnectionBoundRefusesTheExtraOneAndTheOthersKeepWorking) {
  ForwardWorld w({"0=127.0.0.1:{echo}"}, /*max_connections=*/2);
  const int a = ConnectTo(w.ports[0]);
  const int b = ConnectTo(w.ports[0]);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Both are pumping (an echo came back) before the third arrives.
  ASSERT_TRUE(SendAll(a, "a1"));
  ASSERT_TRUE(SendAll(b, "b1"));
  EXPECT_EQ(RecvExactly(a, 2), "a1");
  EXPECT_EQ(RecvExactly(b, 2), "b1");

  const int c = ConnectTo(w.ports[0]);  // the kernel completes it; the door closes it at accept
  ASSERT_GE(c, 0);
  EXPECT_TRUE(ClosedByPeer(c)) << "errno " << errno;
  ::close(c);

  ASSERT_TRUE(SendAll(a, "a2"));
  ASSERT_TRUE(SendAll(b, "b2"));
  EXPECT_EQ(RecvExactly(a, 2), "a2");
  EXPECT_EQ(RecvExactly(b, 2), "b2");
  ForwardDoorStats s = w.Stats(0);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.refused_full, 1u);

  // A finished connection frees its place (bounded wait: the door frees it on the loop turn after the close).
  ::shutdown(a, SHUT_WR);
  EXPECT_EQ(RecvToEof(a), "");
  ::close(a);
  std::size_t live = 2;
  for (int i = 0; i < 500 && live >= 2; ++i) {
    w.loop.Call([&] { live = w.doors[0]->connections(); });
    if (live >= 2) std::this_thread::sleep_for(10ms);
  }
  ASSERT_LT(live, 2u);
  const int d = ConnectTo(w.ports[0]);
  ASSERT_GE(d, 0);
  ASSERT_TRUE(SendAll(d, "d1"));
  EXPECT_EQ(RecvExactly(d, 2), "d1");
  ::close(d);
  ::close(b);
  EXPECT_EQ(w.Stats(0).accepted, 3u);
}

TEST(ForwardDoor, ClientGoneWhileOpeningCancelsTheOpen) {
  ForwardWorld w({"0=127.0.0.1:{echo}"});
  // A connection that is reset at once: whether the door saw it before or after the stream opened, it ends, the
  // door holds nothing, and the forward keeps serving.
  {
    const int fd = ConnectTo(w.ports[0]);
    ASSERT_GE(fd, 0);
    linger l{1, 0};  // close() sends RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }
  std::size_t live = 1;
  for (int i = 0; i < 500 && live != 0; ++i) {
    w.loop.Call([&] { live = w.doors[0]->connections(); });
    if (live != 0) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(live, 0u);
  const int fd = ConnectTo(w.ports[0]);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "still here"));
  EXPECT_EQ(RecvExactly(fd, 10), "still here");
  ::close(fd);
}

TEST(ForwardDoor, RefusesANonLoopbackAddress) {
  LoopThread loop;
  Pki pki;
  loop.Call([&] {
    ClientOptions o;
    o.identity = pki.Device();
    o.relay = RefusingAddress();
    auto client = DeviceClient::Create(loop.loop(), std::move(o)).value();
    ForwardDoorOptions f;
    f.listen = runtime::ParseSocketAddress("0.0.0.0:0").value();
    f.target = *Target::Domain("db", 5432);
    auto door = ForwardDoor::Create(loop.loop(), *client, f);
    ASSERT_FALSE(door.ok());
    EXPECT_NE(door.error().find("loopback only"), std::string::npos) << door.error();
  });
}

}  // namespace
}  // namespace strait::device
