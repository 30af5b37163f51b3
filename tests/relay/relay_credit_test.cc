// Relay credit (docs/protocol.md §8; issue 7, attack 3): a device that stops reading costs the relay at most its
// sessions' credit and stalls its own sessions only; the connector's link, which carries the tenant, keeps being
// read; a sender that goes past its credit is closed. Real TLS and io_uring, the relay in-process, fake peers that
// run tunnel::Session with relay credit on.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <vector>

#include "relay/metrics.h"
#include "tests/relay/relay_test_fixture.h"

namespace strait::relay::testing {
namespace {

using tunnel::ErrorCode;
using tunnel::FrameType;

class RelayCreditTest : public RelayTest, public ::testing::WithParamInterface<std::size_t> {};

// One device stops reading with 16 downloads of 1 MiB in flight. Before relay credit, the relay paused every link
// that fed it (the connector's) and blocked the cross-shard ring at its head, so the tenant's other devices froze,
// and the connector's link went down on its idle timeout. Now: the connector stops sending to that session when its
// credit is used, the relay holds at most that credit, and the other device's fetches go through meanwhile.
TEST_P(RelayCreditTest, ADeviceThatStopsReadingStallsOnlyItsOwnSessions) {
  Start(DefaultOptions(GetParam()));
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& slow = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "slow"));
  Peer& spacer = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "spacer"));
  Peer& other = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "other"));
  // With two shards, accepted links alternate between them: the connector and the spacer on one, both devices on the
  // other, so both devices' sessions cross the same ring.
  ASSERT_TRUE(Login(con) && Login(slow) && Login(spacer) && Login(other));
  const std::uint32_t ch = OpenSession(slow);
  const std::uint32_t ch2 = OpenSession(other);
  ASSERT_NE(ch, 0u);
  ASSERT_NE(ch2, 0u);

  constexpr int kStreams = 16;
  const std::string down = RandomBytes(1u << 20, 9);
  std::vector<tunnel::StreamId> ids;
  for (int i = 0; i < kStreams; ++i) ids.push_back(pl.Exec([&] { return slow.OpenStream(ch, "x"); }));
  ASSERT_TRUE(pl.Wait([&] { return slow.sessions.at(ch)->accepted.size() == kStreams; }));
  pl.Exec([&] { slow.link()->PauseRecv(); });
  pl.Exec([&] {
    for (tunnel::StreamId id : ids) con.Write(ch, id, down);
  });
  // The connector's session to the stalled device runs out of relay credit (16 MiB is more than the sockets
  // between the relay and the device hold); nothing else does.
  ASSERT_TRUE(pl.Wait([&] { return con.sessions.at(ch)->s->relay_credit() < static_cast<std::int64_t>(tunnel::kSessionOutSize); }))
      << RenderPrometheus(relay->Snapshot());
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.paused_links == 1; }))
      << "only the device that does not read is not read\n" << RenderPrometheus(relay->Snapshot());

  // The tenant's other device keeps fetching through the same connector link (and, with two shards, the same
  // ring), repeatedly.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) Exchange(pl, other, con, ch2, RandomBytes(20'000, 10 + i), RandomBytes(200'000, 20 + i));
  std::printf("[ credit   ] 5 fetches of 200 kB beside the stalled device: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
  const MetricsSnapshot m = relay->Snapshot();
  EXPECT_LE(m.held_bytes, tunnel::kInitialRelayCredit + tunnel::kRelayCreditSlack) << RenderPrometheus(m);
  EXPECT_EQ(m.Drops(DropReason::kCreditExceeded), 0u);
  EXPECT_TRUE(pl.Exec([&] { return con.up && !con.down && slow.up && !slow.down; }));

  // It reads again: every byte arrives, in order, and nothing stays paused or held.
  pl.Exec([&] { slow.link()->ResumeRecv(); });
  ASSERT_TRUE(pl.Wait([&] {
    for (tunnel::StreamId id : ids) {
      if (slow.sessions.at(ch)->received[id].size() < down.size()) return false;
    }
    return true;
  })) << RenderPrometheus(relay->Snapshot());
  EXPECT_TRUE(pl.Exec([&] {
    for (tunnel::StreamId id : ids) {
      if (slow.sessions.at(ch)->received[id] != down) return false;
    }
    return true;
  }));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.paused_links == 0 && s.held_bytes == 0 && s.credit_frames >= 16 * 16;
  })) << RenderPrometheus(relay->Snapshot());
}

INSTANTIATE_TEST_SUITE_P(Shards, RelayCreditTest, ::testing::Values(std::size_t{1}, std::size_t{2}),
                         [](const auto& p) { return p.param == 1 ? "OneShard" : "TwoShards"; });

// A sender that ignores its credit, towards a device that does not read, is closed with flow_control once it has
// more than kInitialRelayCredit + kRelayCreditSlack in the relay: what the relay holds for a session stays bounded
// whatever the sender does.
TEST_F(RelayTest, ASenderPastItsRelayCreditIsClosed) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  pl.Exec([&] { dev.link()->PauseRecv(); });
  const std::vector<std::uint8_t> junk(16000, 0x5a);  // sealed-looking bytes: the relay does not open them
  std::uint64_t sent = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end && sent < 8000 && !pl.Exec([&] { return con.down; })) {
    sent += pl.Exec([&] {
      std::uint64_t n = 0;
      while (n < 64 && con.link()->SendFrame(FrameType::kSealedStream, 0, ch, junk) == link::SendStatus::kOk) ++n;
      con.link()->Flush();
      return n;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(pl.Wait([&] { return con.down; })) << "sent " << sent << " frames of 16 kB";
  // The relay writes ERROR flow_control and closes. A sender still writing can meet the closed socket (EPIPE or a
  // reset) before it reads the ERROR: seen under ASan in CI. The relay's count below is the authority either way.
  const link::LinkDown down = pl.Exec([&] { return con.down_info; });
  const bool write_failed = down.code == 0 && (down.err == EPIPE || down.err == ECONNRESET);
  EXPECT_TRUE(down.code == static_cast<std::uint16_t>(ErrorCode::kFlowControl) || write_failed)
      << down.code << " " << down.message << " errno " << down.err;
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kCreditExceeded) == 1; }))
      << RenderPrometheus(relay->Snapshot());
}

// A peer may not send SESSION_CREDIT: only the relay grants credit.
TEST_F(RelayTest, SessionCreditFromAPeerIsRefused) {
  Start();
  auto [con, dev, ch] = LoggedInPair();
  ASSERT_NE(ch, 0u);
  const std::uint8_t grant[4] = {0, 0x10, 0, 0};
  pl.Exec([&] { dev.SendRaw(FrameType::kSessionCredit, ch, grant); });
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.Drops(DropReason::kBadFrameForRole) == 1; }))
      << RenderPrometheus(relay->Snapshot());
  Exchange(pl, dev, con, ch, "still", "working");
}

}  // namespace
}  // namespace strait::relay::testing
