// PolicySet (which policy each device faces; the epoch sessions cache against) and DeviceDenials (the bounded
// set of revoked or locked devices) of tunnel/connector/.
#include "tunnel/connector/policy_set.h"

#include <gtest/gtest.h>

#include "tunnel/connector/device_denials.h"
#include "tunnel/connector/policy_file.h"

namespace strait::connector {
namespace {

PolicyPtr Allowing(const char* cidr) {
  const std::string toml = std::string("version = 1\n[[allow]]\ncidrs = [\"") + cidr + "\"]\nports = [\"*\"]\n";
  return std::make_shared<const Policy>(ParsePolicy(toml, "test").value());
}

bool Allows(const PolicyPtr& p, const char* address) {
  return p->Decide(*IpAddress::Parse(address), 443).allowed();
}

TEST(PolicySet, EmptyDeniesEveryDevice) {
  PolicySet set;
  EXPECT_FALSE(set.has_default());
  EXPECT_EQ(set.For("phone"), PolicySet::DenyAll());
  EXPECT_FALSE(Allows(set.For("phone"), "10.1.2.3"));
}

TEST(PolicySet, ASinglePolicyFileIsEveryonesDefault) {
  PolicyPtr p = Allowing("10.0.0.0/8");
  PolicySet set(p);
  EXPECT_TRUE(set.has_default());
  EXPECT_EQ(set.For("phone"), p);
  EXPECT_EQ(set.For("laptop"), p);
}

TEST(PolicySet, DevicesFaceTheirPolicyOrTheDefault) {
  PolicyPtr a = Allowing("10.0.0.0/8"), b = Allowing("192.168.0.0/16");
  PolicySet set;
  PolicySetState st;
  st.policies = {{"a", a}, {"b", b}};
  st.default_id = "a";
  st.devices = {{"phone", "b"}, {"ghost", "missing"}};
  set.Replace(st);
  EXPECT_EQ(set.For("phone"), b);
  EXPECT_EQ(set.For("laptop"), a);
  EXPECT_EQ(set.For("ghost"), a);  // names a policy the set does not hold: the default
  set.SetDevice("phone", std::nullopt);
  EXPECT_EQ(set.For("phone"), a);
  set.SetDevice("laptop", "b");
  EXPECT_EQ(set.For("laptop"), b);
}

TEST(PolicySet, EveryChangeBumpsTheEpoch) {
  PolicySet set;
  std::uint64_t e = set.epoch();
  auto changed = [&] {
    const bool c = set.epoch() != e;
    e = set.epoch();
    return c;
  };
  set.Put("a", Allowing("10.0.0.0/8"), true);
  EXPECT_TRUE(changed());
  set.SetDevice("phone", "a");
  EXPECT_TRUE(changed());
  EXPECT_TRUE(set.Remove("a"));
  EXPECT_TRUE(changed());
  EXPECT_FALSE(set.Remove("a"));
  set.Replace({});
  EXPECT_TRUE(changed());
}

TEST(PolicySet, UpdatesAndDeletesMoveTheDefault) {
  PolicyPtr a1 = Allowing("10.0.0.0/8"), a2 = Allowing("172.16.0.0/12"), b = Allowing("192.168.0.0/16");
  PolicySet set;
  set.Put("a", a1, true);
  set.Put("b", b, false);
  set.SetDevice("phone", "b");
  EXPECT_EQ(set.For("laptop"), a1);
  set.Put("a", a2, true);  // a new version of the default applies at once
  EXPECT_EQ(set.For("laptop"), a2);
  set.Put("b", b, true);  // b becomes the default
  EXPECT_EQ(set.For("laptop"), b);
  set.Put("b", b, false);  // no longer the default, and no other was named: none
  EXPECT_FALSE(set.has_default());
  EXPECT_EQ(set.For("laptop"), PolicySet::DenyAll());
  EXPECT_EQ(set.For("phone"), b);
  set.Put("a", a2, true);
  EXPECT_TRUE(set.Remove("b"));  // its devices fall to the default
  EXPECT_EQ(set.For("phone"), a2);
  EXPECT_TRUE(set.Remove("a"));
  EXPECT_EQ(set.For("phone"), PolicySet::DenyAll());
}

// A control plane that sends more than the limits: new policies and device entries beyond them are refused and
// counted, replacing or removing held ones still works, and a snapshot beyond them keeps the default.
TEST(PolicySet, NewEntriesBeyondTheLimitsAreRefusedAndCounted) {
  PolicyPtr a = Allowing("10.0.0.0/8"), b = Allowing("192.168.0.0/16"), c = Allowing("172.16.0.0/12");
  PolicySet set(nullptr, PolicySetLimits{.max_policies = 2, .max_devices = 2});
  EXPECT_TRUE(set.Put("a", a, true));
  EXPECT_TRUE(set.Put("b", b, false));
  const std::uint64_t epoch = set.epoch();
  EXPECT_FALSE(set.Put("c", c, true));  // a third policy: refused, the default stays a
  EXPECT_EQ(set.epoch(), epoch);
  EXPECT_EQ(set.For("laptop"), a);
  EXPECT_TRUE(set.Put("b", c, false));  // a new version of a held one is not a new entry
  EXPECT_EQ(set.policies(), 2u);
  EXPECT_TRUE(set.SetDevice("phone", "b"));
  EXPECT_TRUE(set.SetDevice("tablet", "b"));
  EXPECT_FALSE(set.SetDevice("watch", "b"));  // refused: the watch stays on the default
  EXPECT_EQ(set.For("watch"), a);
  EXPECT_TRUE(set.SetDevice("phone", "a"));  // a held device may move
  EXPECT_TRUE(set.SetDevice("phone", std::nullopt));
  EXPECT_TRUE(set.SetDevice("watch", "b"));  // room again
  EXPECT_EQ(set.over_bound(), 2u);

  PolicySetState st;
  st.policies = {{"p1", a}, {"p2", b}, {"p3", c}, {"p4", a}};
  st.default_id = "p3";
  st.devices = {{"d1", "p1"}, {"d2", "p1"}, {"d3", "p1"}};
  set.Replace(st);
  EXPECT_EQ(set.policies(), 2u);
  EXPECT_EQ(set.devices(), 2u);
  EXPECT_EQ(set.For("laptop"), c) << "the default is never the one dropped";
  EXPECT_EQ(set.over_bound(), 5u);
}

TEST(DeviceDenials, DeniedUntilInclusiveThenLifted) {
  DeviceDenials d;
  EXPECT_TRUE(d.Deny({"phone", 100, "lost"}, 50));
  EXPECT_TRUE(d.IsDenied("phone", 100));
  EXPECT_FALSE(d.IsDenied("phone", 101));
  EXPECT_FALSE(d.IsDenied("laptop", 50));
  EXPECT_TRUE(d.Lift("phone"));
  EXPECT_FALSE(d.Lift("phone"));
  EXPECT_FALSE(d.IsDenied("phone", 50));
}

TEST(DeviceDenials, AnOverDenialIsIgnoredAndExpiryDropsThem) {
  DeviceDenials d;
  EXPECT_FALSE(d.Deny({"phone", 49, ""}, 50));
  EXPECT_EQ(d.size(), 0u);
  EXPECT_TRUE(d.Deny({"a", 60, ""}, 50));
  EXPECT_TRUE(d.Deny({"b", 70, ""}, 50));
  EXPECT_TRUE(d.Deny({"a", 80, ""}, 50));  // replaced: now ends at 80
  EXPECT_EQ(d.Expire(71), 1u);               // b
  EXPECT_TRUE(d.IsDenied("a", 75));
  EXPECT_EQ(d.size(), 1u);
}

TEST(DeviceDenials, AtTheBoundTheOneEndingSoonestGoes) {
  DeviceDenials d(2);
  EXPECT_TRUE(d.Deny({"a", 100, ""}, 0));
  EXPECT_TRUE(d.Deny({"b", 300, ""}, 0));
  EXPECT_TRUE(d.Deny({"c", 200, ""}, 0));  // a goes
  EXPECT_FALSE(d.IsDenied("a", 10));
  EXPECT_TRUE(d.IsDenied("b", 10));
  EXPECT_TRUE(d.IsDenied("c", 10));
  EXPECT_FALSE(d.Deny({"e", 150, ""}, 0));  // ends before every held one: it is the one to go
  EXPECT_EQ(d.evicted(), 2u);
  EXPECT_EQ(d.size(), 2u);
}

TEST(DeviceDenials, ReplaceTakesTheSnapshotWhole) {
  DeviceDenials d;
  EXPECT_TRUE(d.Deny({"old", 100, ""}, 0));
  d.Replace({{"a", 100, ""}, {"over", 5, ""}}, 10);
  EXPECT_FALSE(d.IsDenied("old", 10));
  EXPECT_TRUE(d.IsDenied("a", 10));
  EXPECT_FALSE(d.IsDenied("over", 5));
  EXPECT_EQ(d.size(), 1u);
}

}  // namespace
}  // namespace strait::connector
