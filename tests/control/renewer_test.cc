// The renewer (tunnel/control/renewer.h): its schedule as a pure function (jitter bounds, backoff doubling to its
// cap, retries past not_after), and the thread: Start needs control.json, Stop is prompt while it sleeps, and a
// failed attempt is reported and retried. RenewOnce against a real control plane is tests/cli/renew_cli_test.sh.
#include "tunnel/control/renewer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <vector>

#include "crypto/keystore.h"
#include "tests/testing/temp_dir.h"
#include "tunnel/control/bundle.h"
#include "tunnel/control/control_wire.h"

namespace strait::control {
namespace {

using std::chrono::seconds;
constexpr int64_t kHour = 3600;
constexpr int64_t kNow = 1'750'000'000;

// A device credential of 24 h issued an hour early: not_before kNow - 1 h, renew_after two thirds in.
constexpr RenewTimes kDay{kNow - kHour + 2 * 25 * kHour / 3, kNow + 24 * kHour};

TEST(RenewSchedule, WithoutJitterItIsRenewAfter) { EXPECT_EQ(JitteredRenewAt(kDay, 0.0), kDay.renew_after); }

TEST(RenewSchedule, JitterIsFivePercentOfTheTimeBeforeRenewAfter) {
  const int64_t before = 2 * (kDay.not_after - kDay.renew_after);  // not_before .. renew_after
  const int64_t five = before * 5 / 100;
  EXPECT_NEAR(JitteredRenewAt(kDay, 1.0), kDay.renew_after + five, 1);
  EXPECT_NEAR(JitteredRenewAt(kDay, -1.0), kDay.renew_after - five, 1);
  EXPECT_NEAR(JitteredRenewAt(kDay, 0.5), kDay.renew_after + five / 2, 1);
  // Out-of-range draws are clamped; the result is always before not_after.
  EXPECT_EQ(JitteredRenewAt(kDay, 7.0), JitteredRenewAt(kDay, 1.0));
  for (double j : {-1.0, -0.3, 0.0, 0.4, 1.0}) EXPECT_LT(JitteredRenewAt(kDay, j), kDay.not_after);
  // A degenerate file (renew_after at not_after) still renews before the end.
  EXPECT_EQ(JitteredRenewAt(RenewTimes{kNow, kNow}, 1.0), kNow - 1);
}

TEST(RenewSchedule, BackoffDoublesFromThirtySecondsToTenMinutes) {
  const std::vector<int64_t> want = {0, 30, 60, 120, 240, 480, 600, 600};
  for (unsigned f = 0; f < want.size(); ++f) EXPECT_EQ(RenewBackoff(f).count(), want[f]) << f;
  EXPECT_EQ(RenewBackoff(1000).count(), 600);
}

TEST(RenewSchedule, NextRenewal) {
  // First attempt: at the jittered time, or at once if it has passed (a daemon started late).
  EXPECT_EQ(NextRenewal(kDay, kNow, 0, 0.0), kDay.renew_after);
  EXPECT_EQ(NextRenewal(kDay, kDay.renew_after + 100, 0, 0.0), kDay.renew_after + 100);
  EXPECT_EQ(NextRenewal(kDay, kDay.not_after + 5 * kHour, 0, 0.0), kDay.not_after + 5 * kHour);
  // Failures: backoff while the credential is valid...
  EXPECT_EQ(NextRenewal(kDay, kDay.renew_after, 1, 0.9), kDay.renew_after + 30);
  EXPECT_EQ(NextRenewal(kDay, kDay.renew_after, 3, 0.9), kDay.renew_after + 120);
  EXPECT_EQ(NextRenewal(kDay, kDay.renew_after, 12, 0.9), kDay.renew_after + 600);
  // ... and past not_after, every ten minutes (the control plane's grace period decides).
  EXPECT_EQ(NextRenewal(kDay, kDay.not_after, 1, 0.0), kDay.not_after + 600);
}

Bundle ControlOnly(int64_t renew_after, int64_t not_after) {
  Bundle b;
  b.kind = crypto::Role::kDevice;
  b.tenant = "acme";
  b.subject = "d-aaaaaaaaaaaaaaaa";
  b.url = "https://127.0.0.1:1";
  b.renew_after = static_cast<uint64_t>(renew_after);
  b.not_after = static_cast<uint64_t>(not_after);
  return b;
}

void WriteControl(const std::string& dir, const Bundle& b) {
  ASSERT_TRUE(crypto::WritePublicFile(dir + "/control.json", EncodeControlFile(b), crypto::Overwrite::kReplace).ok());
}

TEST(Renewer, StartNeedsControlJson) {
  strait::testing::TempDir tmp{"strait-renewer"};
  Renewer r({tmp.path(), {}, [] { return kNow; }}, [](const RenewOutcome&) {});
  auto started = r.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("control.json"), std::string::npos);
}

TEST(Renewer, StopIsPromptWhileItSleeps) {
  strait::testing::TempDir tmp{"strait-renewer"};
  WriteControl(tmp.path(), ControlOnly(kNow + 16 * kHour, kNow + 24 * kHour));
  std::atomic<int> calls{0};
  Renewer r({tmp.path(), {}, [] { return kNow; }}, [&](const RenewOutcome&) { calls++; });
  ASSERT_TRUE(r.Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it reach its wait
  const auto t0 = std::chrono::steady_clock::now();
  r.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(1));
  EXPECT_EQ(calls.load(), 0);
  r.Stop();  // idempotent
}

TEST(Renewer, AFailedAttemptIsReportedWithItsRetry) {
  // Due (renew_after two hours ago, beyond any jitter: 5 % of 2 x 3 h), but the directory has no credential:
  // the attempt fails on the files, is reported, and is retried 30 s later (the callback sees the time); Stop then
  // ends the wait.
  strait::testing::TempDir tmp{"strait-renewer"};
  WriteControl(tmp.path(), ControlOnly(kNow - 2 * kHour, kNow + kHour));
  std::promise<RenewOutcome> first;
  std::atomic<int> calls{0};
  Renewer r({tmp.path(), {}, [] { return kNow; }}, [&](const RenewOutcome& o) {
    if (calls++ == 0) first.set_value(o);
  });
  ASSERT_TRUE(r.Start().ok());
  auto got = first.get_future();
  ASSERT_EQ(got.wait_for(seconds(10)), std::future_status::ready);
  const RenewOutcome o = got.get();
  EXPECT_EQ(o.status, RenewStatus::kFailed);
  EXPECT_EQ(o.failure.code, RenewError::kFiles);
  EXPECT_EQ(o.next_attempt, kNow + 30);
  r.Stop();
  EXPECT_EQ(calls.load(), 1);
}

TEST(RenewPath, OnePerKind) {
  EXPECT_EQ(RenewPath(crypto::Role::kDevice, "acme", "d-x"), "/v1/tenants/acme/devices/d-x/renew");
  EXPECT_EQ(RenewPath(crypto::Role::kConnector, "acme", "dc"), "/v1/tenants/acme/connectors/dc/renew");
  EXPECT_EQ(RenewPath(crypto::Role::kRelay, "", "relay-1"), "/v1/relays/relay-1/renew");
}

}  // namespace
}  // namespace strait::control
