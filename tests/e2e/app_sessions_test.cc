// App sessions end to end across real processes (issue 4): relay, connectors and devices as `strait` children,
// an in-process internal HTTP server, SOCKS5 clients. Quick cases; the heavy ones are in load_test.cc (LABEL e2e).
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

class AppSessions : public E2eTest {};

TEST_F(AppSessions, CurlThroughSocks5ReachesInternalServerByIpAndHostname) {
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "curl missing (scripts/setup.sh installs it)";
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id, {relay.connector});
  WaitConnectorLinkUp(conn);
  Device dev = StartDevice(dev_id, relay.device);
  WaitSessionUp(dev);
  ASSERT_FALSE(HasFailure());

  const uint64_t requests_before = http_->stats().requests.load();
  for (const auto& [flag, host] : {std::pair{"--socks5", "127.0.0.1"}, std::pair{"--socks5-hostname", "localhost"}}) {
    std::string error;
    auto curl = ChildProcess::Start(
        "curl", "/usr/bin/curl",
        {"--silent", "--show-error", "--max-time", "30", flag, fmt::format("{}:{}", dev.socks.host, dev.socks.port),
         fmt::format("http://{}:{}/hello", host, http_port())},
        dir_ + "/curl.stderr", &error);
    ASSERT_TRUE(curl) << error;
    ASSERT_TRUE(curl->WaitExit(Deadline(std::chrono::seconds(60))));
    EXPECT_TRUE(curl->ExitedCleanly()) << flag << " " << host << ": " << curl->StatusText() << ": "
                                       << curl->StderrTail(2);
    const auto lines = curl->Lines();
    ASSERT_EQ(lines.size(), 1u) << flag << " " << host;
    EXPECT_EQ(lines[0], "hello from the internal server") << flag << " " << host;
  }
  EXPECT_EQ(http_->stats().requests.load(), requests_before + 2);
}

TEST_F(AppSessions, DeviceOfTenantACannotReachTenantBConnector) {
  MakeOperator();
  const std::string conn_b = MakeIdentity("connector", "tenant-b", "conn-b");
  const std::string dev_a = MakeIdentity("device", "tenant-a", "dev-a");
  const std::string dev_b = MakeIdentity("device", "tenant-b", "dev-b");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_b, {relay.connector});
  WaitConnectorLinkUp(conn);

  // Control: tenant B's own device reaches the server through this very relay and connector.
  Device b = StartDevice(dev_b, relay.device);
  WaitSessionUp(b);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(FetchHello(b, "127.0.0.1"), "");

  // Tenant A's device: the relay has no connector of tenant A, so no session and no stream reaches the server.
  Device a = StartDevice(dev_a, relay.device);
  ASSERT_NE(a.process, nullptr);
  const uint64_t requests_before = http_->stats().requests.load();
  const uint64_t conns_before = http_->stats().connections.load();
  auto c = demo::Connection::ViaSocks5(a.socks, "127.0.0.1", http_port(), Deadline(std::chrono::seconds(10)));
  if (c) {
    // The door may accept before the stream is refused; then nothing may come back from the server.
    auto r = demo::HttpGet(*c, "127.0.0.1", "/hello", Deadline(std::chrono::seconds(5)));
    EXPECT_FALSE(r.ok()) << "tenant A's device got a response: " << r->status;
  }
  EXPECT_EQ(http_->stats().connections.load(), conns_before);
  EXPECT_EQ(http_->stats().requests.load(), requests_before);
  for (const auto& l : a.process->Lines()) EXPECT_FALSE(l.starts_with("device session up")) << l;
  EXPECT_FALSE(a.process->exited()) << "the device should keep running (and retrying): " << a.process->StatusText();
}

TEST_F(AppSessions, KillingConnectorFailsItsStreamsAndNewStreamsUseTheSecond) {
  MakeOperator();
  const std::string c1_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string c2_id = MakeIdentity("connector", "acme", "conn-2");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector c1 = StartConnector(c1_id, {relay.connector});
  Connector c2 = StartConnector(c2_id, {relay.connector});
  WaitConnectorLinkUp(c1);
  WaitConnectorLinkUp(c2);
  Device dev = StartDevice(dev_id, relay.device);
  const std::string up = WaitSessionUp(dev);
  ASSERT_FALSE(HasFailure());
  const std::string first = demo::Field(up, "connector").value_or("");
  ASSERT_TRUE(first == c1.id || first == c2.id) << up << " (connectors " << c1.id << ", " << c2.id << ")";
  Connector& victim = first == c1.id ? c1 : c2;
  const std::string survivor = first == c1.id ? c2.id : c1.id;

  // A live stream through the first connector.
  auto s = demo::Connection::ViaSocks5(dev.socks, "127.0.0.1", http_port(), Deadline());
  ASSERT_TRUE(s) << s.error();
  auto r = demo::HttpGet(*s, "127.0.0.1", "/hello", Deadline());
  ASSERT_TRUE(r) << r.error();

  victim.process->Signal(SIGKILL);
  ASSERT_TRUE(victim.process->WaitExit(Deadline()));

  // The stream fails cleanly: a reset/EOF, within the deadline (not a hang).
  auto again = demo::HttpGet(*s, "127.0.0.1", "/hello", Deadline());
  EXPECT_FALSE(again.ok()) << "a stream through the killed connector still answered";
  if (!again.ok()) {
    EXPECT_EQ(again.error().find("timed out"), std::string::npos) << again.error();
  }

  // A new session comes up on the second connector, and new streams work.
  const std::string up2 = WaitSessionUp(dev);
  EXPECT_EQ(demo::Field(up2, "connector").value_or(""), survivor) << up2;
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
  EXPECT_EQ(FetchHello(dev, "localhost"), "");
}

TEST_F(AppSessions, DirectConnectWorksWithTheRelayStopped) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id, {relay.connector}, /*direct_listen=*/true);
  ASSERT_TRUE(conn.direct) << "connector printed no direct= address";
  WaitConnectorLinkUp(conn);

  relay.process->Signal(SIGTERM);
  ASSERT_TRUE(relay.process->WaitExit(Deadline()));
  EXPECT_TRUE(relay.process->ExitedCleanly()) << relay.process->StatusText();

  Device dev = StartDevice(dev_id, relay.device, conn.direct);
  const std::string up = WaitSessionUp(dev);
  EXPECT_EQ(demo::Field(up, "via").value_or(""), "direct") << up;
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
  EXPECT_EQ(FetchHello(dev, "localhost"), "");
}

}  // namespace
}  // namespace strait::e2e
