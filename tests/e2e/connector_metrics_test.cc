// `strait connector --metrics-listen` across real processes: relay, connector and device as `strait` children, the
// in-process internal HTTP server, streams through the device's SOCKS5 door; the connector's /metrics is fetched
// over loopback HTTP and its counters are checked against what was carried. Also: a non-loopback metrics address
// is a usage error (exit 2), as for the relay.
#include <sys/wait.h>

#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

class ConnectorMetrics : public E2eTest {
 protected:
  // `strait connector` with a metrics port on 127.0.0.1:0; *metrics gets the address from its ready line.
  Connector StartWithMetrics(const std::string& identity, const HostPort& relay, std::optional<HostPort>* metrics) {
    Connector c;
    c.process = Spawn("connector", {"connector", "--identity", identity, "--policy", MakePolicy(), "--relay",
                                    fmt::format("{}:{}", relay.host, relay.port), "--metrics-listen",
                                    "127.0.0.1:0"});
    if (!c.process) return c;
    auto line = c.process->WaitLine("connector ready", Deadline(kStartDeadline), &c.cursor);
    EXPECT_TRUE(line) << "connector: " << c.process->StatusText() << ": " << c.process->StderrTail(3);
    if (!line) return c;
    c.id = demo::Field(*line, "id").value_or("");
    if (auto m = demo::Field(*line, "metrics"); m && *m != "-") *metrics = demo::ParseHostPort(*m);
    EXPECT_TRUE(metrics->has_value()) << *line;
    return c;
  }
};

TEST_F(ConnectorMetrics, CountersReflectTheStreamsCarried) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  std::optional<HostPort> metrics;
  Connector conn = StartWithMetrics(conn_id, relay.connector, &metrics);
  ASSERT_TRUE(metrics);
  WaitConnectorLinkUp(conn);

  // Served before any device: the endpoint answers with every family, streams at zero.
  bool ok = false;
  std::string text = ScrapeMetrics(*metrics, &ok);
  ASSERT_TRUE(ok) << text;
  EXPECT_NE(text.find("# TYPE strait_connector_streams_opened_total counter\n"), std::string::npos) << text;
  EXPECT_EQ(SampleValue(text, "strait_connector_streams_opened_total"), 0u) << text;
  EXPECT_EQ(SampleValue(text, "strait_connector_relays"), 1u) << text;

  Device dev = StartDevice(dev_id, relay.device);
  WaitSessionUp(dev);
  ASSERT_FALSE(HasFailure());
  // Two streams carried (by IP and by name), one refused by policy (a port the policy does not allow).
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
  EXPECT_EQ(FetchHello(dev, "localhost"), "");
  {
    auto c = demo::Connection::ViaSocks5(dev.socks, "127.0.0.1", static_cast<uint16_t>(http_port() == 1 ? 2 : 1),
                                         Deadline());
    EXPECT_FALSE(c) << "a stream the policy forbids was opened";
  }
  ASSERT_FALSE(HasFailure());

  // Each scrape gets a copy the loop publishes for it, but a stream is counted (bytes, streams gauge) only once
  // both its ends have closed, which happens shortly after the fetch returns: poll the endpoint, bounded. Every
  // scrape is a real HTTP request to the connector process.
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  auto settled = [](const std::string& t) {
    return SampleValue(t, "strait_connector_streams_opened_total") == 2u &&
           SampleValue(t, "strait_connector_streams") == 0u &&
           SampleValue(t, "strait_connector_streams_refused_total{reason=\"refused_by_policy\"}") == 1u;
  };
  for (;;) {
    text = ScrapeMetrics(*metrics, &ok);
    ASSERT_TRUE(ok) << text;
    if (settled(text) || Clock::now() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // between scrapes while the streams finish
  }
  ASSERT_TRUE(settled(text)) << text;

  EXPECT_EQ(SampleValue(text, "strait_connector_relays"), 1u);
  EXPECT_EQ(SampleValue(text, "strait_connector_relay_links_up"), 1u);
  EXPECT_EQ(SampleValue(text, "strait_connector_relay_logins_total"), 1u);
  EXPECT_EQ(SampleValue(text, "strait_connector_relay_links_down_total"), 0u);
  EXPECT_EQ(SampleValue(text, "strait_connector_sessions"), 1u);
  EXPECT_EQ(SampleValue(text, "strait_connector_sessions_opened_total"), 1u);
  EXPECT_EQ(SampleValue(text, "strait_connector_sessions_refused_total"), 0u);
  for (const char* reason : {"dns_failed", "connect_failed", "timeout", "overloaded"}) {
    EXPECT_EQ(SampleValue(text, fmt::format("strait_connector_streams_refused_total{{reason=\"{}\"}}", reason)), 0u)
        << reason;
  }
  // Each fetch sends a GET request (> 30 bytes) and gets the 200 response with its 31-byte body back.
  const auto to_targets = SampleValue(text, "strait_connector_stream_bytes_to_targets_total");
  const auto from_targets = SampleValue(text, "strait_connector_stream_bytes_from_targets_total");
  ASSERT_TRUE(to_targets && from_targets) << text;
  EXPECT_GE(*to_targets, 2u * 30u) << text;
  EXPECT_GE(*from_targets, 2u * 31u) << text;
  // The loop moved at least those bytes on its sockets (plus TLS to the relay).
  const auto loop_sent = SampleValue(text, "strait_connector_loop_send_bytes_total");
  ASSERT_TRUE(loop_sent);
  EXPECT_GT(*loop_sent, *from_targets);
  EXPECT_EQ(SampleValue(text, "strait_connector_datagrams_dropped_total"), 0u);
}

TEST_F(ConnectorMetrics, NonLoopbackMetricsAddressIsAUsageError) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  ChildProcess* p = Spawn("connector", {"connector", "--identity", conn_id, "--policy", MakePolicy(), "--relay",
                                        "127.0.0.1:1", "--metrics-listen", "0.0.0.0:0"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->WaitExit(Deadline()));
  ASSERT_TRUE(p->wait_status());
  EXPECT_TRUE(WIFEXITED(*p->wait_status()) && WEXITSTATUS(*p->wait_status()) == 2) << p->StatusText();
}

}  // namespace
}  // namespace strait::e2e
