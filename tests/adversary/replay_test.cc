// Issue 7, "Noise IK message 1 can be replayed": a real device session is set up by the hostile client (SESSION_INIT
// written with the device's own keys), then the same SESSION_INIT bytes are sent on a second link, to a new
// session the relay offered. The connector must refuse the copy (SESSION_CLOSE replayed) and count it; its log shows
// one session up for that device, not two.
#include <algorithm>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "tests/adversary/adversary_harness.h"

namespace strait::e2e {
namespace {

class AdversaryReplay : public AdversaryTest {};

TEST_F(AdversaryReplay, ReplayedSessionInitIsRefusedAndCounted) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "replayer");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  HostPort metrics;
  Connector conn = StartConnectorWithMetrics(conn_id, {relay.connector}, false, &metrics);
  WaitConnectorLinkUp(conn);

  ChildProcess* r = SpawnAdversary("replay", {"--mode", "replay", "--identity", dev_id, "--target",
                                              fmt::format("{}:{}", relay.device.host, relay.device.port),
                                              "--duration", "30"});
  Summary s = WaitSummary(r, "replay", std::chrono::seconds(45));
  std::printf("%s\n", s.line.c_str());
  EXPECT_EQ(demo::Field(s.line, "first").value_or(""), "accepted") << s.line;
  EXPECT_EQ(demo::Field(s.line, "second").value_or(""), "refused") << s.line;
  EXPECT_EQ(s.Num("code"), 27u) << "SESSION_CLOSE code is not replayed (27): " << s.line;

  // The connector's publisher refreshes every 250 ms: scrape until the refusal shows (bounded).
  std::string m;
  for (int i = 0; i < 40; ++i) {
    m = Scrape(metrics);
    if (Sample(m, R"(strait_connector_session_inits_stale_total{reason="replay"})").value_or(0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(Sample(m, R"(strait_connector_session_inits_stale_total{reason="replay"})").value_or(0), 1u) << m;
  EXPECT_GE(Sample(m, "strait_connector_sessions_refused_total").value_or(0), 1u);
  EXPECT_EQ(Sample(m, "strait_connector_sessions_opened_total").value_or(0), 1u) << "the replay opened a session";
  const std::string log = Log(conn.process);
  std::size_t ups = 0;
  for (std::size_t pos = 0; (pos = log.find("session_up device=replayer", pos)) != std::string::npos; ++pos) ++ups;
  EXPECT_EQ(ups, 1u) << log;
  // Every refusal is visible: the connector says which session it refused and why.
  const std::size_t refused = log.find("session_refused ");
  ASSERT_NE(refused, std::string::npos) << log;
  EXPECT_NE(log.find("reason=replayed", refused), std::string::npos) << log;
}

}  // namespace
}  // namespace strait::e2e
