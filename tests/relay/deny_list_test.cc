// DenyList (relay/deny_list.h): the relay's denial set, without links or a clock: denials until their end
// (inclusive), lifting, tenant suspension, expiry, snapshot replacement, and what happens at each bound.
#include "relay/deny_list.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace strait::relay {
namespace {

using crypto::Role;
constexpr uint64_t kNow = 1'750'000'000;

DenyKey Dev(std::string subject, std::string tenant = "acme") {
  return {Role::kDevice, std::move(tenant), std::move(subject)};
}

TEST(DenyList, DeniesUntilItsEndInclusive) {
  DenyList l;
  EXPECT_TRUE(l.Deny({Dev("d-1"), kNow + 100, "lost"}, kNow));
  EXPECT_EQ(l.Check(Dev("d-1"), kNow), DenyVerdict::kSubjectDenied);
  EXPECT_EQ(l.Check(Dev("d-1"), kNow + 100), DenyVerdict::kSubjectDenied);  // like a credential's not_after
  EXPECT_EQ(l.Check(Dev("d-1"), kNow + 101), DenyVerdict::kAllowed);        // over, even before Expire runs
  EXPECT_EQ(l.Find(Dev("d-1"), kNow)->reason, "lost");
  EXPECT_FALSE(l.Find(Dev("d-1"), kNow + 101).has_value());
}

TEST(DenyList, KeyIsRoleTenantAndSubject) {
  DenyList l;
  ASSERT_TRUE(l.Deny({Dev("dc-east"), kNow + 100, ""}, kNow));
  EXPECT_TRUE(l.IsDenied(Dev("dc-east"), kNow));
  EXPECT_FALSE(l.IsDenied({Role::kConnector, "acme", "dc-east"}, kNow));  // same name, other role
  EXPECT_FALSE(l.IsDenied(Dev("dc-east", "globex"), kNow));              // same name, other tenant
  EXPECT_FALSE(l.IsDenied(Dev("dc-west"), kNow));
}

TEST(DenyList, LiftAndRedeny) {
  DenyList l;
  ASSERT_TRUE(l.Deny({Dev("d-1"), kNow + 100, "locked"}, kNow));
  EXPECT_TRUE(l.Lift(Dev("d-1")));
  EXPECT_FALSE(l.Lift(Dev("d-1")));
  EXPECT_FALSE(l.IsDenied(Dev("d-1"), kNow));
  ASSERT_TRUE(l.Deny({Dev("d-1"), kNow + 10, "locked"}, kNow));
  ASSERT_TRUE(l.Deny({Dev("d-1"), kNow + 500, "revoked"}, kNow));  // a later event replaces the denial
  EXPECT_EQ(l.denials(), 1u);
  EXPECT_TRUE(l.IsDenied(Dev("d-1"), kNow + 400));
  EXPECT_EQ(l.Find(Dev("d-1"), kNow)->reason, "revoked");
}

TEST(DenyList, IgnoresADenialAlreadyOver) {
  DenyList l;
  EXPECT_FALSE(l.Deny({Dev("d-1"), kNow - 1, ""}, kNow));
  EXPECT_EQ(l.denials(), 0u);
  EXPECT_TRUE(l.Deny({Dev("d-1"), kNow, ""}, kNow));  // ends this second: still denies now
}

TEST(DenyList, ExpireDropsOnlyWhatIsOver) {
  DenyList l;
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(l.Deny({Dev("d-" + std::to_string(i)), kNow + i, ""}, kNow));
  EXPECT_EQ(l.Expire(kNow + 5), 5u);  // until kNow+0 .. kNow+4
  EXPECT_EQ(l.denials(), 5u);
  EXPECT_TRUE(l.IsDenied(Dev("d-5"), kNow + 5));
  EXPECT_EQ(l.Expire(kNow + 5), 0u);
  EXPECT_EQ(l.Expire(kNow + 100), 5u);
  EXPECT_EQ(l.denials(), 0u);
}

TEST(DenyList, SuspendedTenantRefusesEveryoneOfIt) {
  DenyList l;
  l.SuspendTenant("acme");
  EXPECT_EQ(l.Check(Dev("d-1"), kNow), DenyVerdict::kTenantSuspended);
  EXPECT_EQ(l.Check({Role::kConnector, "acme", "dc-east"}, kNow), DenyVerdict::kTenantSuspended);
  EXPECT_EQ(l.Check(Dev("d-1", "globex"), kNow), DenyVerdict::kAllowed);
  ASSERT_TRUE(l.Deny({Dev("d-1"), kNow + 1, ""}, kNow));
  EXPECT_EQ(l.Check(Dev("d-1"), kNow), DenyVerdict::kSubjectDenied);  // the subject's own denial first
  l.ResumeTenant("acme");
  EXPECT_EQ(l.Check(Dev("d-2"), kNow), DenyVerdict::kAllowed);
  EXPECT_EQ(l.Check(Dev("d-1"), kNow), DenyVerdict::kSubjectDenied);
  EXPECT_EQ(DenyVerdictName(DenyVerdict::kTenantSuspended), "tenant_suspended");
}

TEST(DenyList, RelayCredentialsAreNotDeniedHere) {
  DenyList l;
  l.SuspendTenant("");
  ASSERT_TRUE(l.Deny({{Role::kRelay, "", "relay-1"}, kNow + 1, ""}, kNow));
  EXPECT_FALSE(l.IsDenied({Role::kRelay, "", "relay-1"}, kNow));
}

TEST(DenyList, SnapshotReplacesEverything) {
  DenyList l;
  ASSERT_TRUE(l.Deny({Dev("d-old"), kNow + 100, ""}, kNow));
  l.SuspendTenant("old-tenant");
  l.Replace({{Dev("d-1"), kNow + 100, "lost"}, {Dev("d-gone"), kNow - 5, ""}, {Dev("d-2"), kNow + 50, ""}},
            {"globex"}, kNow);
  EXPECT_FALSE(l.IsDenied(Dev("d-old"), kNow));
  EXPECT_FALSE(l.IsDenied(Dev("x", "old-tenant"), kNow));
  EXPECT_TRUE(l.IsDenied(Dev("d-1"), kNow));
  EXPECT_TRUE(l.IsDenied(Dev("d-2"), kNow));
  EXPECT_FALSE(l.IsDenied(Dev("d-gone"), kNow - 10));  // over at Replace time: never stored
  EXPECT_EQ(l.denials(), 2u);
  EXPECT_EQ(l.Check(Dev("x", "globex"), kNow), DenyVerdict::kTenantSuspended);
  EXPECT_EQ(l.suspended_tenants(), 1u);
}

TEST(DenyList, AtTheBoundTheDenialEndingSoonestGoes) {
  DenyList l({.max_denials = 3, .max_suspended_tenants = 10});
  ASSERT_TRUE(l.Deny({Dev("a"), kNow + 30, ""}, kNow));
  ASSERT_TRUE(l.Deny({Dev("b"), kNow + 10, ""}, kNow));
  ASSERT_TRUE(l.Deny({Dev("c"), kNow + 20, ""}, kNow));
  ASSERT_TRUE(l.Deny({Dev("d"), kNow + 40, ""}, kNow));  // full: b (ends soonest) goes
  EXPECT_EQ(l.denials(), 3u);
  EXPECT_EQ(l.evicted(), 1u);
  EXPECT_FALSE(l.IsDenied(Dev("b"), kNow));
  EXPECT_TRUE(l.IsDenied(Dev("a"), kNow) && l.IsDenied(Dev("c"), kNow) && l.IsDenied(Dev("d"), kNow));
  // A newcomer that ends sooner than all of them is the one left out.
  EXPECT_FALSE(l.Deny({Dev("e"), kNow + 5, ""}, kNow));
  EXPECT_EQ(l.evicted(), 2u);
  EXPECT_FALSE(l.IsDenied(Dev("e"), kNow));
  // Over denials make room before anything live is evicted.
  ASSERT_TRUE(l.Deny({Dev("f"), kNow + 100, ""}, kNow + 25));  // c (until +20) is over by then
  EXPECT_EQ(l.evicted(), 2u);
  EXPECT_TRUE(l.IsDenied(Dev("a"), kNow + 25));
  // Re-denying a present subject at the bound replaces it without evicting anyone.
  ASSERT_TRUE(l.Deny({Dev("a"), kNow + 200, ""}, kNow));
  EXPECT_EQ(l.evicted(), 2u);
  EXPECT_EQ(l.denials(), 3u);
}

TEST(DenyList, SuspensionsBeyondTheBoundAreCounted) {
  DenyList l({.max_denials = 10, .max_suspended_tenants = 2});
  l.SuspendTenant("t1");
  l.SuspendTenant("t2");
  l.SuspendTenant("t2");  // already there: no change
  l.SuspendTenant("t3");
  EXPECT_EQ(l.suspended_tenants(), 2u);
  EXPECT_EQ(l.overflow(), 1u);
  l.Replace({}, {"a", "b", "c", "a"}, kNow);
  EXPECT_EQ(l.suspended_tenants(), 2u);
  EXPECT_EQ(l.overflow(), 2u);
}

// Against a reference model: random denials, lifts and expiries; every verdict matches.
TEST(DenyList, MatchesAReferenceModel) {
  DenyList l({.max_denials = 1'000, .max_suspended_tenants = 10});
  std::map<std::string, uint64_t> model;
  uint64_t seed = 7;
  auto next = [&seed] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull; };
  uint64_t now = kNow;
  for (int step = 0; step < 20'000; ++step) {
    const std::string s = "d-" + std::to_string(next() % 64);
    switch (next() % 4) {
      case 0:
      case 1: {
        const uint64_t until = now + next() % 50;
        ASSERT_TRUE(l.Deny({Dev(s), until, ""}, now));
        model[s] = until;
        break;
      }
      case 2:
        EXPECT_EQ(l.Lift(Dev(s)), model.erase(s) == 1) << step;
        break;
      default:
        now += next() % 5;
        l.Expire(now);
        std::erase_if(model, [now](const auto& kv) { return kv.second < now; });
        break;
    }
    const std::string probe = "d-" + std::to_string(next() % 64);
    const auto it = model.find(probe);
    EXPECT_EQ(l.IsDenied(Dev(probe), now), it != model.end() && now <= it->second) << step;
  }
}

TEST(DenyList, CallsFromManyThreads) {
  DenyList l;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&l, t] {
      for (int i = 0; i < 2'000; ++i) {
        const DenyKey k = Dev("d-" + std::to_string(t) + "-" + std::to_string(i % 100));
        (void)l.Deny({k, kNow + 10, ""}, kNow);
        (void)l.IsDenied(k, kNow);
        if (i % 3 == 0) (void)l.Lift(k);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(l.denials(), 400u);
}

}  // namespace
}  // namespace strait::relay
