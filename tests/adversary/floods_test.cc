// Issue 7, attack 1: idle and half-open floods on the relay's device port, its connector port and a connector's
// Direct Connect listener, from several loopback source addresses (so the per-source cap alone does not stop them),
// while legitimate devices and connectors keep logging in. Nearly all of those logins must succeed (this exact
// attack, with 520 idle sockets, once let 0 of 100 device and 0 of 40 connector logins through), and the daemons'
// metrics must show the flood was met (logins closed or refused).
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/adversary/adversary_harness.h"

namespace strait::e2e {
namespace {

// Per flooding process: connections over kSources source addresses (127.0.0.2..). 2 x 1,200 is well above every
// budget the flood meets: 256 logins in flight per port and shard, 64 per source, 1,024 Direct Connect links.
constexpr int kFloodCount = 1200;
constexpr int kSources = 8;
// Legitimate logins per case and the share that must succeed. Bounds for a loaded 2-core machine: a login that
// takes longer than the link's 10 s login deadline fails and counts against the share. Measured on a loaded
// 2-core machine: 39-40 of 40 on the relay's ports, 32-36 of 40 on Direct Connect, whose one loop thread does the
// flood's TLS handshakes beside everything else, so more real logins are still in flight when the budget evicts the
// oldest (the limit docs/relay.md and docs/connector.md state). Without the login budget this attack let 0 through.
constexpr int kLogins = 40;
// CI measured as low as 24 of 40 on the connector port while the machine built and tested beside the flood: the
// bound asks half, which the attack before the login budget (0 of 40) fails by far.
constexpr double kMinSuccess = 0.5;
constexpr double kMinSuccessDirect = 0.5;

class AdversaryFloods : public AdversaryTest {
 protected:
  void SetUp() override {
    AdversaryTest::SetUp();
    MakeOperator();
    conn_id_ = MakeIdentity("connector", "acme", "conn-1");
    dev_id_ = MakeIdentity("device", "acme", "dev-1");
    probe_dev_id_ = MakeIdentity("device", "acme", "probe-dev");
    // A prober connector of its own tenant: logging in and out, it is never offered to acme's devices.
    probe_conn_id_ = MakeIdentity("connector", "probe", "probe-conn");
  }

  // Starts the idle and the half-open flood against `target` and waits until both hold their connections.
  void Flood(const HostPort& target) {
    const std::string t = fmt::format("{}:{}", target.host, target.port);
    for (const char* mode : {"idle", "half-open"}) {
      ChildProcess* c = SpawnAdversary(mode, {"--mode", mode, "--target", t, "--count", std::to_string(kFloodCount),
                                              "--sources", std::to_string(kSources), "--duration", "60"});
      ASSERT_NE(c, nullptr);
      floods_.push_back(c);
    }
    for (std::size_t i = 0; i < floods_.size(); ++i) WaitReady(floods_[i], i == 0 ? "idle" : "half-open");
  }
  // Stops the floods (their sockets go with them).
  void StopFloods() {
    for (ChildProcess* c : floods_) c->Signal(SIGKILL);
    for (ChildProcess* c : floods_) (void)c->WaitExit(Deadline());
    floods_.clear();
  }
  // Runs the login prober to the end; checks the share of logins that succeeded.
  void Probe(const std::string& identity, const HostPort& target, bool direct) {
    std::vector<std::string> args = {"--mode", "probe", "--identity", identity, "--target",
                                     fmt::format("{}:{}", target.host, target.port), "--count",
                                     std::to_string(kLogins), "--parallel", "4", "--duration", "50"};
    if (direct) args.push_back("--direct");
    ChildProcess* p = SpawnAdversary("probe", args);
    Summary s = WaitSummary(p, "probe", std::chrono::seconds(60));
    ASSERT_FALSE(s.line.empty());
    RecordProperty("probe", s.line);
    std::printf("%s\n", s.line.c_str());
    EXPECT_GE(static_cast<double>(s.Num("ok")), (direct ? kMinSuccessDirect : kMinSuccess) * kLogins) << s.line;
  }

  // Scrapes `at` until `evidence` of the scrape is above 0 or 10 s passed (the daemons publish their shards'
  // counters a little after the fact); returns the last evidence.
  std::uint64_t AwaitEvidence(const HostPort& at, std::uint64_t (*evidence)(const std::string&)) {
    std::uint64_t v = 0;
    for (int i = 0; i < 40 && v == 0; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      v = evidence(Scrape(at));
    }
    return v;
  }

  // The relay's evidence that it met a flood: logins closed to make room, refused per source, or timed out.
  static std::uint64_t RelayFloodEvidence(const std::string& m) {
    return Sample(m, R"(strait_relay_drops_total{reason="handshake_limit"})").value_or(0) +
           Sample(m, R"(strait_relay_drops_total{reason="source_limit"})").value_or(0) +
           Sample(m, R"(strait_relay_handshakes_total{result="timeout"})").value_or(0) +
           Sample(m, R"(strait_relay_handshakes_total{result="closed"})").value_or(0);
  }

  std::string conn_id_, dev_id_, probe_dev_id_, probe_conn_id_;
  std::vector<ChildProcess*> floods_;
};

TEST_F(AdversaryFloods, DevicePortFloodLetsDeviceLoginsThrough) {
  HostPort relay_metrics;
  Relay relay = StartRelayWithMetrics(&relay_metrics);
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id_, {relay.connector});
  WaitConnectorLinkUp(conn);
  Device dev = StartDevice(dev_id_, relay.device);
  WaitSessionUp(dev);

  Flood(relay.device);
  Probe(probe_dev_id_, relay.device, false);
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "") << "a device that was up before the flood";
  EXPECT_GT(AwaitEvidence(relay_metrics, RelayFloodEvidence), 0u) << "the flood never reached the login budget";
  StopFloods();
}

TEST_F(AdversaryFloods, ConnectorPortFloodLetsConnectorLoginsThrough) {
  HostPort relay_metrics;
  Relay relay = StartRelayWithMetrics(&relay_metrics);
  ASSERT_NE(relay.process, nullptr);
  Flood(relay.connector);
  Probe(probe_conn_id_, relay.connector, false);
  // A real connector logs in through the flood, and a device reaches the internal server through it.
  Connector conn = StartConnector(conn_id_, {relay.connector});
  WaitConnectorLinkUp(conn);
  Device dev = StartDevice(dev_id_, relay.device);
  WaitSessionUp(dev);
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
  EXPECT_GT(AwaitEvidence(relay_metrics, RelayFloodEvidence), 0u) << "the flood never reached the login budget";
  StopFloods();
}

TEST_F(AdversaryFloods, DirectConnectFloodLetsDeviceLoginsThrough) {
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  HostPort conn_metrics;
  Connector conn = StartConnectorWithMetrics(conn_id_, {relay.connector}, /*direct_listen=*/true, &conn_metrics);
  ASSERT_TRUE(conn.direct);
  WaitConnectorLinkUp(conn);

  Flood(*conn.direct);
  Probe(probe_dev_id_, *conn.direct, /*direct=*/true);
  // A real device over Direct Connect only (no relay) gets a session and fetches.
  Device dev = StartDevice(dev_id_, std::nullopt, conn.direct);
  WaitSessionUp(dev);
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
  auto refused = [](const std::string& m) -> std::uint64_t {
    return Sample(m, R"(strait_connector_direct_refused_total{reason="listener_full"})").value_or(0) +
           Sample(m, R"(strait_connector_direct_refused_total{reason="source_limit"})").value_or(0) +
           Sample(m, R"(strait_connector_direct_refused_total{reason="login_evicted"})").value_or(0) +
           Sample(m, R"(strait_connector_direct_logins_total{result="failed"})").value_or(0);
  };
  EXPECT_GT(AwaitEvidence(conn_metrics, refused), 0u) << "the flood never reached Direct Connect's budgets";
  StopFloods();
}

}  // namespace
}  // namespace strait::e2e
