// Issue 7, attack 2: an authenticated device that sends PINGs as fast as it can and never reads. The relay answers
// at most max_pongs_per_second PONGs (tunnel/link/tls_link.h), counts the rest, and stops reading a link whose own
// replies it cannot send; so its peak RSS stays under a stated bound (this attack once took it from 27 MB to
// 3.0 GB in 25 s), and another device of the tenant keeps fetching with bounded latency.
#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "tests/adversary/adversary_harness.h"

namespace strait::e2e {
namespace {

// The flood runs this long. The stated bound: the relay's peak RSS grows by at most kMaxGrowthKiB over its peak
// before the flood (its buffers are preallocated; the PING flood may cost one link's bounded queues, 1-2 MiB).
constexpr auto kFloodTime = std::chrono::seconds(12);
constexpr std::uint64_t kMaxGrowthKiB = 64 * 1024;
// Each fetch by the other device while the flood runs: bounded for a loaded 2-core machine (normally ~5 ms).
constexpr auto kMaxFetch = std::chrono::seconds(2);

class AdversaryPingFlood : public AdversaryTest {};

TEST_F(AdversaryPingFlood, RelayMemoryStaysBoundedAndOthersKeepWorking) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  const std::string flooder_id = MakeIdentity("device", "acme", "flooder");
  HostPort relay_metrics;
  Relay relay = StartRelayWithMetrics(&relay_metrics);
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id, {relay.connector});
  WaitConnectorLinkUp(conn);
  Device dev = StartDevice(dev_id, relay.device);
  WaitSessionUp(dev);
  ASSERT_EQ(FetchHello(dev, "127.0.0.1"), "");
  const std::uint64_t before_kib = PeakRssKiB(relay.process->pid());
  ASSERT_GT(before_kib, 0u);

  ChildProcess* flooder =
      SpawnAdversary("ping-flood", {"--mode", "ping-flood", "--identity", flooder_id, "--target",
                                    fmt::format("{}:{}", relay.device.host, relay.device.port), "--duration",
                                    std::to_string(kFloodTime.count())});
  WaitReady(flooder, "ping-flood");

  int fetches = 0;
  auto slowest = std::chrono::steady_clock::duration::zero();
  const auto end = std::chrono::steady_clock::now() + kFloodTime - std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < end) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "") << "fetch " << fetches << " during the PING flood";
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    ++fetches;
  }
  Summary s = WaitSummary(flooder, "ping-flood", kFloodTime + std::chrono::seconds(30));
  const std::uint64_t after_kib = PeakRssKiB(relay.process->pid());
  const std::string m = Scrape(relay_metrics);
  const auto slowest_ms = std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count();
  std::printf("relay VmHWM %llu KiB before, %llu KiB after; %d fetches, slowest %lld ms; %s\n",
              static_cast<unsigned long long>(before_kib), static_cast<unsigned long long>(after_kib), fetches,
              static_cast<long long>(slowest_ms), s.line.c_str());

  EXPECT_GT(s.Num("sent"), 1000u) << "the flood never got going: " << s.line;
  EXPECT_LE(after_kib, before_kib + kMaxGrowthKiB) << "the relay's peak RSS grew without bound";
  EXPECT_LE(slowest, kMaxFetch) << "another device's requests slowed down";
  EXPECT_GT(fetches, 5);
  // The relay counted the PINGs it left unanswered.
  EXPECT_GT(Sample(m, "strait_relay_pings_unanswered_total").value_or(0), 0u) << "no PING went unanswered";
}

}  // namespace
}  // namespace strait::e2e
