// tunnel::InitReplayRecord (docs/protocol.md §6, "Replayed SESSION_INIT") with a manual clock: strictly newer
// timestamps per device, the clock window, expiry, the entry cap and the floor that keeps dropped devices'
// replays out. And the device's InitTimestampClock.
#include "tunnel/init_replay.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace strait::tunnel {
namespace {

constexpr uint64_t kS = kNsPerSecond;
constexpr uint64_t kT0 = 1'700'000'000 * kS;
constexpr uint64_t kWindow = InitReplayRecord::kWindowNs;

crypto::X25519PublicKey Key(uint8_t fill) {
  crypto::X25519PublicKey k;
  for (uint8_t& b : k.mutable_bytes()) b = fill;
  return k;
}

TEST(InitReplayRecord, StrictlyNewerPerDevice) {
  InitReplayRecord r;
  const auto a = Key(1), b = Key(2);
  EXPECT_EQ(r.Check(a, kT0, kT0), InitCheck::kAccepted);
  EXPECT_EQ(r.Check(a, kT0, kT0), InitCheck::kReplayed);          // the same message again
  EXPECT_EQ(r.Check(a, kT0 - 1, kT0), InitCheck::kReplayed);      // an older one
  EXPECT_EQ(r.Check(a, kT0 + 1, kT0), InitCheck::kAccepted);      // one nanosecond newer
  EXPECT_EQ(r.Check(a, kT0 + 1, kT0 + kS), InitCheck::kReplayed);  // later, still not newer
  EXPECT_EQ(r.newest(a), kT0 + 1);
  // Devices are independent: b may use a's timestamps, even older ones.
  EXPECT_EQ(r.Check(b, kT0, kT0), InitCheck::kAccepted);
  EXPECT_EQ(r.Check(b, kT0, kT0), InitCheck::kReplayed);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.floor(), 0u);
  EXPECT_EQ(r.stats().count(InitCheck::kAccepted), 3u);
  EXPECT_EQ(r.stats().count(InitCheck::kReplayed), 4u);
  EXPECT_TRUE(r.CheckInvariants());
}

TEST(InitReplayRecord, ClockWindowBothWays) {
  InitReplayRecord r;
  EXPECT_EQ(r.Check(Key(1), kT0 - kWindow - 1, kT0), InitCheck::kTooOld);
  EXPECT_EQ(r.Check(Key(1), kT0 + kWindow + 1, kT0), InitCheck::kTooNew);
  EXPECT_EQ(r.size(), 0u);  // refusals record nothing
  EXPECT_EQ(r.Check(Key(1), kT0 - kWindow, kT0), InitCheck::kAccepted);  // the edges are inside
  EXPECT_EQ(r.Check(Key(2), kT0 + kWindow, kT0), InitCheck::kAccepted);
  EXPECT_EQ(r.stats().count(InitCheck::kTooOld), 1u);
  EXPECT_EQ(r.stats().count(InitCheck::kTooNew), 1u);
  // A replay that is also out of the window is refused by the window, and its entry may be gone by then.
  EXPECT_EQ(r.Check(Key(1), kT0 - kWindow, kT0 + 1), InitCheck::kTooOld);
  EXPECT_EQ(r.newest(Key(1)), std::nullopt);
  EXPECT_TRUE(r.CheckInvariants());
}

TEST(InitReplayRecord, NowNearZeroAndNearTheEndDoNotWrap) {
  InitReplayRecord r;
  EXPECT_EQ(r.Check(Key(1), 0, 0), InitCheck::kBelowFloor);  // 0 is never newer than the initial floor
  EXPECT_EQ(r.Check(Key(1), 5, 0), InitCheck::kAccepted);
  EXPECT_EQ(r.Check(Key(2), UINT64_MAX, UINT64_MAX - 1), InitCheck::kAccepted);
  EXPECT_EQ(r.Check(Key(3), 1, UINT64_MAX), InitCheck::kTooOld);
  EXPECT_TRUE(r.CheckInvariants());
}

TEST(InitReplayRecord, ExpiredEntriesAreDroppedAndRaiseTheFloor) {
  InitReplayRecord r;
  ASSERT_EQ(r.Check(Key(1), kT0, kT0), InitCheck::kAccepted);
  ASSERT_EQ(r.Check(Key(2), kT0 + 10 * kS, kT0 + 10 * kS), InitCheck::kAccepted);
  // At kT0 + window + 1 ns, Key(1)'s entry fell behind the window: dropped on the next check.
  EXPECT_EQ(r.Check(Key(3), kT0 + kWindow + 1, kT0 + kWindow + 1), InitCheck::kAccepted);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.newest(Key(1)), std::nullopt);
  EXPECT_EQ(r.floor(), kT0);
  EXPECT_EQ(r.stats().dropped_expired, 1u);
  EXPECT_EQ(r.stats().dropped_full, 0u);
  // Were the connector's clock to step back, the floor still refuses Key(1)'s old message.
  EXPECT_EQ(r.Check(Key(1), kT0, kT0), InitCheck::kBelowFloor);
  EXPECT_EQ(r.Check(Key(1), kT0 + 1, kT0), InitCheck::kAccepted);
  EXPECT_TRUE(r.CheckInvariants());
}

// The documented bound: at most max_entries devices; a new device beyond that drops the oldest timestamp, and
// the dropped device's replays stay refused (below_floor) while newer messages of any device pass.
TEST(InitReplayRecord, CapDropsTheOldestAndItsReplaysStayRefused) {
  InitReplayRecord r(4);
  EXPECT_EQ(r.max_entries(), 4u);
  for (uint8_t i = 0; i < 4; ++i) ASSERT_EQ(r.Check(Key(i), kT0 + i, kT0), InitCheck::kAccepted);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.Check(Key(9), kT0 + 9, kT0), InitCheck::kAccepted);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.newest(Key(0)), std::nullopt);  // the oldest timestamp went
  EXPECT_EQ(r.floor(), kT0);
  EXPECT_EQ(r.stats().dropped_full, 1u);
  EXPECT_EQ(r.Check(Key(0), kT0, kT0), InitCheck::kBelowFloor);      // its replay
  EXPECT_EQ(r.Check(Key(0), kT0 + 20, kT0), InitCheck::kAccepted);  // its next session
  EXPECT_EQ(r.newest(Key(1)), std::nullopt);                         // which pushed out the next oldest
  EXPECT_EQ(r.floor(), kT0 + 1);
  // A new device whose timestamp is older than everything held is accepted and dropped at once: the floor alone
  // remembers it.
  InitReplayRecord q(2);
  ASSERT_EQ(q.Check(Key(1), kT0 + 50, kT0), InitCheck::kAccepted);
  ASSERT_EQ(q.Check(Key(2), kT0 + 60, kT0), InitCheck::kAccepted);
  EXPECT_EQ(q.Check(Key(3), kT0 + 10, kT0), InitCheck::kAccepted);
  EXPECT_EQ(q.newest(Key(3)), std::nullopt);
  EXPECT_EQ(q.floor(), kT0 + 10);
  EXPECT_EQ(q.Check(Key(3), kT0 + 10, kT0), InitCheck::kBelowFloor);
  EXPECT_TRUE(r.CheckInvariants());
  EXPECT_TRUE(q.CheckInvariants());
}

TEST(InitReplayRecord, ManyDevicesNeverExceedTheCap) {
  InitReplayRecord r(1000);
  for (uint32_t i = 0; i < 5000; ++i) {
    crypto::X25519PublicKey k;
    auto b = k.mutable_bytes();
    b[0] = static_cast<uint8_t>(i);
    b[1] = static_cast<uint8_t>(i >> 8);
    ASSERT_EQ(r.Check(k, kT0 + i, kT0), InitCheck::kAccepted);
    ASSERT_LE(r.size(), 1000u);
  }
  EXPECT_EQ(r.size(), 1000u);
  EXPECT_EQ(r.stats().dropped_full, 4000u);
  EXPECT_EQ(r.floor(), kT0 + 3999);
  EXPECT_TRUE(r.CheckInvariants());
  EXPECT_EQ(InitReplayRecord().max_entries(), 65'536u);
}

TEST(InitTimestampClock, StrictlyIncreasingWhateverTheClockDoes) {
  InitTimestampClock c;
  EXPECT_EQ(c.Next(kT0), kT0);
  EXPECT_EQ(c.Next(kT0), kT0 + 1);       // the clock stood still
  EXPECT_EQ(c.Next(kT0 - kS), kT0 + 2);  // the clock stepped back
  EXPECT_EQ(c.Next(kT0 + kS), kT0 + kS);
}

TEST(InitCheckName, EveryResultHasAName) {
  const std::vector<std::string_view> want = {"accepted", "replay", "below_floor", "too_old", "too_new"};
  for (size_t i = 0; i < kInitCheckCount; ++i) EXPECT_EQ(InitCheckName(static_cast<InitCheck>(i)), want[i]);
}

}  // namespace
}  // namespace strait::tunnel
