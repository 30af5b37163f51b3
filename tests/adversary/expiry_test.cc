// Issue 7, attack 4: credentials that expire while in use. A connector and a device whose credentials expire a few
// seconds after they log in must have their links closed by the relay with the reason (its log and
// strait_relay_links_expired_total; the peers log it too), and a device that starts afterwards must be given the
// tenant's connector that is still valid, and work through it.
#include <chrono>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "tests/adversary/adversary_harness.h"

namespace strait::e2e {
namespace {

// Validity left when the short-lived credentials are issued: long enough for every process to start on a loaded
// machine, short enough for a quick test.
constexpr std::uint64_t kLifetimeSeconds = 12;

class AdversaryExpiry : public AdversaryTest {};

TEST_F(AdversaryExpiry, ExpiredLinksCloseWithTheReasonAndNewDevicesGetAValidConnector) {
  MakeOperator();
  const std::string valid_conn = MakeIdentity("connector", "acme", "conn-valid");
  const std::string dev_new = MakeIdentity("device", "acme", "dev-new");
  const std::string short_conn = MakeShortLivedIdentity("connector", "acme", "conn-short", kLifetimeSeconds);
  const std::string short_dev = MakeShortLivedIdentity("device", "acme", "dev-short", kLifetimeSeconds);
  const auto expiry = std::chrono::steady_clock::now() + std::chrono::seconds(kLifetimeSeconds);

  HostPort relay_metrics;
  Relay relay = StartRelayWithMetrics(&relay_metrics);
  ASSERT_NE(relay.process, nullptr);
  // The short-lived connector first: before it expires, it is the one a device gets (the older login wins ties).
  Connector cs = StartConnector(short_conn, {relay.connector});
  WaitConnectorLinkUp(cs);
  Connector cv = StartConnector(valid_conn, {relay.connector});
  WaitConnectorLinkUp(cv);
  Device ds = StartDevice(short_dev, relay.device);
  WaitSessionUp(ds);
  ASSERT_LT(std::chrono::steady_clock::now(), expiry) << "too slow to start before the credentials expired";

  // Both expired links are closed, counted, and logged with the reason.
  std::string m;
  const auto deadline = expiry + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    m = Scrape(relay_metrics);
    if (Sample(m, "strait_relay_links_expired_total").value_or(0) >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_GE(Sample(m, "strait_relay_links_expired_total").value_or(0), 2u) << m;
  const std::string relay_log = Log(relay.process);
  EXPECT_NE(relay_log.find("subject=conn-short reason=credential_expired"), std::string::npos) << relay_log;
  EXPECT_NE(relay_log.find("subject=dev-short reason=credential_expired"), std::string::npos) << relay_log;
  EXPECT_NE(Log(cs.process).find("expired"), std::string::npos) << "the connector did not log why: " << Log(cs.process);
  EXPECT_NE(Log(ds.process).find("expired"), std::string::npos) << "the device did not log why: " << Log(ds.process);
  EXPECT_EQ(Sample(m, R"(strait_relay_links{role="connector"})").value_or(0), 1u) << "only the valid connector";

  // A new device is offered the valid connector, the first time, and fetches through it.
  Device dn = StartDevice(dev_new, relay.device);
  const std::string up = WaitSessionUp(dn);
  EXPECT_EQ(demo::Field(up, "connector").value_or(""), "conn-valid") << up;
  EXPECT_EQ(FetchHello(dn, "127.0.0.1"), "");
  EXPECT_EQ(Sample(Scrape(relay_metrics), "strait_relay_offers_refused_total").value_or(0), 0u)
      << "the relay offered an expired connector";
}

}  // namespace
}  // namespace strait::e2e
