#include "tunnel/connector/policy.h"

#include <gtest/gtest.h>

#include <string>

#include "tunnel/connector/policy_file.h"
#include "tests/testing/alloc_counter.h"

namespace strait::connector {
namespace {

constexpr const char* kPolicy = R"(
[[allow]]                                   # allow rule 0
hosts = ["intranet.corp.example", "*.git.corp.example"]
ports = ["443", "8000-8100"]
[[allow]]                                   # allow rule 1
cidrs = ["10.20.0.0/16", "2001:db8:20::/48"]
ports = ["*"]
[[allow]]                                   # allow rule 2
hosts = ["metadata.corp.example"]
ports = [80]
[[deny]]                                    # deny rule 0
cidrs = ["169.254.0.0/16", "127.0.0.0/8", "10.20.99.0/24", "2001:db8:20:99::/64"]
[[deny]]                                    # deny rule 1
hosts = ["secret.git.corp.example"]
[[deny]]                                    # deny rule 2
cidrs = ["10.20.5.5"]
ports = ["22"]
)";

Policy Load(const char* text) {
  auto p = ParsePolicy(text, "test.toml");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().reason);
  return p.ok() ? std::move(*p) : Policy();
}

IpAddress Ip(const char* text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

struct Expect {
  bool allow;
  PolicyReason reason;
  uint32_t rule = Verdict::kNoRule;
};

void ExpectVerdict(const Verdict& v, const Expect& e, const std::string& what) {
  EXPECT_EQ(v.allowed(), e.allow) << what;
  EXPECT_EQ(PolicyReasonName(v.reason), PolicyReasonName(e.reason)) << what;
  EXPECT_EQ(v.rule, e.rule) << what;
}

TEST(Policy, DecidesNamesBeforeResolution) {
  const Policy p = Load(kPolicy);
  struct Case {
    const char* name;
    uint16_t port;
    Expect want;
  };
  const Case cases[] = {
      {"intranet.corp.example", 443, {true, PolicyReason::kAllowedByHost, 0}},
      {"INTRANET.Corp.Example.", 8050, {true, PolicyReason::kAllowedByHost, 0}},  // case, trailing dot
      {"intranet.corp.example", 8100, {true, PolicyReason::kAllowedByHost, 0}},
      {"intranet.corp.example", 8101, {true, PolicyReason::kResolveThenCheck}},  // only a CIDR rule can admit it
      {"x.git.corp.example", 443, {true, PolicyReason::kAllowedByHost, 0}},
      {"y.x.git.corp.example", 443, {true, PolicyReason::kAllowedByHost, 0}},
      {"git.corp.example", 443, {true, PolicyReason::kResolveThenCheck}},
      {"secret.git.corp.example", 443, {false, PolicyReason::kDeniedByHost, 1}},  // deny wins
      {"metadata.corp.example", 80, {true, PolicyReason::kAllowedByHost, 2}},
      {"10.20.1.1", 22, {true, PolicyReason::kAllowedByCidr, 1}},  // an IP literal as a name is an address
      {"127.0.0.1", 443, {false, PolicyReason::kDeniedByCidr, 0}},
      {"[::1]", 443, {false, PolicyReason::kInvalidName}},
      {"bad..name", 443, {false, PolicyReason::kInvalidName}},
      {"-bad.example", 443, {false, PolicyReason::kInvalidName}},
      {"bad-.example", 443, {false, PolicyReason::kInvalidName}},
      {"10.1", 443, {false, PolicyReason::kInvalidName}},  // inet_aton would read it as 10.0.0.1
      {"spaces in.example", 443, {false, PolicyReason::kInvalidName}},
      {"", 443, {false, PolicyReason::kInvalidName}},
      {"intranet.corp.example", 0, {false, PolicyReason::kInvalidPort}},
  };
  for (const Case& c : cases) ExpectVerdict(p.Decide(c.name, c.port), c.want, std::string(c.name) + ":" + std::to_string(c.port));
}

TEST(Policy, DecidesAddresses) {
  const Policy p = Load(kPolicy);
  struct Case {
    const char* addr;
    uint16_t port;
    Expect want;
  };
  const Case cases[] = {
      {"10.20.1.1", 22, {true, PolicyReason::kAllowedByCidr, 1}},
      {"10.20.255.255", 65535, {true, PolicyReason::kAllowedByCidr, 1}},
      {"10.20.99.1", 443, {false, PolicyReason::kDeniedByCidr, 0}},  // inside an allowed /16: deny wins
      {"10.20.5.5", 22, {false, PolicyReason::kDeniedByCidr, 2}},    // deny with a port
      {"10.20.5.5", 443, {true, PolicyReason::kAllowedByCidr, 1}},
      {"10.21.0.1", 443, {false, PolicyReason::kNoMatchingRule}},
      {"127.0.0.1", 443, {false, PolicyReason::kDeniedByCidr, 0}},
      {"169.254.169.254", 80, {false, PolicyReason::kDeniedByCidr, 0}},
      {"::ffff:127.0.0.1", 443, {false, PolicyReason::kDeniedByCidr, 0}},  // IPv4-mapped: judged as IPv4
      {"::ffff:10.20.1.1", 443, {true, PolicyReason::kAllowedByCidr, 1}},
      {"2001:db8:20::1", 443, {true, PolicyReason::kAllowedByCidr, 1}},
      {"2001:db8:20:ffff::1", 443, {true, PolicyReason::kAllowedByCidr, 1}},
      {"2001:db8:20:99::1", 443, {false, PolicyReason::kDeniedByCidr, 0}},
      {"2001:db8:21::1", 443, {false, PolicyReason::kNoMatchingRule}},
      {"0.0.0.0", 443, {false, PolicyReason::kUnspecifiedAddress}},
      {"0.1.2.3", 443, {false, PolicyReason::kUnspecifiedAddress}},
      {"::", 443, {false, PolicyReason::kUnspecifiedAddress}},
      {"10.20.1.1", 0, {false, PolicyReason::kInvalidPort}},
  };
  for (const Case& c : cases) ExpectVerdict(p.Decide(Ip(c.addr), c.port), c.want, std::string(c.addr) + ":" + std::to_string(c.port));
}

TEST(Policy, ChecksEveryResolvedAddress) {
  const Policy p = Load(kPolicy);
  const Verdict by_host = p.Decide("intranet.corp.example", 443);
  const Verdict by_cidr = p.Decide("git.corp.example", 443);
  const Verdict denied = p.Decide("secret.git.corp.example", 443);
  struct Case {
    const Verdict* pre;
    const char* addr;
    Expect want;
  };
  const Case cases[] = {
      // A host rule admits any address except the denied networks: a name cannot be pointed at them.
      {&by_host, "192.168.1.1", {true, PolicyReason::kAllowedByHost, 0}},
      {&by_host, "127.0.0.1", {false, PolicyReason::kDeniedByCidr, 0}},
      {&by_host, "169.254.169.254", {false, PolicyReason::kDeniedByCidr, 0}},
      {&by_host, "::ffff:127.0.0.53", {false, PolicyReason::kDeniedByCidr, 0}},
      {&by_host, "2001:db8:20:99::7", {false, PolicyReason::kDeniedByCidr, 0}},
      {&by_host, "0.0.0.0", {false, PolicyReason::kUnspecifiedAddress}},
      // Without a host rule, each address must itself be allowed.
      {&by_cidr, "10.20.1.1", {true, PolicyReason::kAllowedByCidr, 1}},
      {&by_cidr, "192.168.1.1", {false, PolicyReason::kNoMatchingRule}},
      {&by_cidr, "10.20.99.5", {false, PolicyReason::kDeniedByCidr, 0}},
      // A denied name stays denied.
      {&denied, "10.20.1.1", {false, PolicyReason::kDeniedByHost, 1}},
  };
  for (const Case& c : cases) ExpectVerdict(p.CheckResolved(*c.pre, Ip(c.addr), 443), c.want, c.addr);
}

TEST(Policy, DenyWinsEvenWhenBroaderThanAllow) {
  const Policy p = Load(R"(
[[allow]]
cidrs = ["10.20.30.0/24"]
ports = ["*"]
[[deny]]
cidrs = ["10.0.0.0/8"]
)");
  ExpectVerdict(p.Decide(Ip("10.20.30.1"), 443), {false, PolicyReason::kDeniedByCidr, 0}, "broad deny");
}

TEST(Policy, NamesWithoutAnyCidrAllowAreNotResolved) {
  const Policy p = Load(R"(
[[allow]]
hosts = ["a.example"]
ports = ["443"]
[[allow]]
cidrs = ["10.0.0.0/8"]
ports = ["22"]
)");
  ExpectVerdict(p.Decide("b.example", 443), {false, PolicyReason::kNoMatchingRule}, "no rule covers 443");
  ExpectVerdict(p.Decide("b.example", 22), {true, PolicyReason::kResolveThenCheck}, "a CIDR rule covers 22");
}

TEST(Policy, Ipv6AnyDoesNotCoverIpv4) {
  const Policy p = Load(R"(
[[allow]]
cidrs = ["::/0"]
ports = ["*"]
)");
  ExpectVerdict(p.Decide(Ip("2001:db8::1"), 443), {true, PolicyReason::kAllowedByCidr, 0}, "v6");
  ExpectVerdict(p.Decide(Ip("10.0.0.1"), 443), {false, PolicyReason::kNoMatchingRule}, "v4");
  ExpectVerdict(p.Decide(Ip("::ffff:10.0.0.1"), 443), {false, PolicyReason::kNoMatchingRule}, "mapped v4");
}

TEST(Policy, EmptyPolicyDeniesEverything) {
  const Policy p;
  ExpectVerdict(p.Decide("a.example", 443), {false, PolicyReason::kNoMatchingRule}, "name");
  ExpectVerdict(p.Decide(Ip("10.0.0.1"), 443), {false, PolicyReason::kNoMatchingRule}, "address");
}

TEST(Policy, LongestPrefixAndPortsShareABucket) {
  // Two rules name the same network with different ports; a third covers it more broadly.
  std::vector<PolicyRule> allow(3);
  allow[0].cidrs = {*Cidr::Parse("192.0.2.0/24")};
  allow[0].ports = PortSet({{80, 80}});
  allow[1].cidrs = {*Cidr::Parse("192.0.2.0/24")};
  allow[1].ports = PortSet({{443, 443}});
  allow[2].cidrs = {*Cidr::Parse("192.0.0.0/16")};
  allow[2].ports = PortSet({{22, 22}});
  const Policy p(std::move(allow), {});
  ExpectVerdict(p.Decide(Ip("192.0.2.9"), 80), {true, PolicyReason::kAllowedByCidr, 0}, "80");
  ExpectVerdict(p.Decide(Ip("192.0.2.9"), 443), {true, PolicyReason::kAllowedByCidr, 1}, "443");
  ExpectVerdict(p.Decide(Ip("192.0.2.9"), 22), {true, PolicyReason::kAllowedByCidr, 2}, "22");
  ExpectVerdict(p.Decide(Ip("192.0.2.9"), 8080), {false, PolicyReason::kNoMatchingRule}, "8080");
}

TEST(Policy, DecideAndCheckResolvedDoNotAllocate) {
  const Policy p = Load(kPolicy);
  const IpAddress v4 = Ip("10.20.1.1");
  const IpAddress v6 = Ip("2001:db8:20::1");
  const strait::testing::AllocationCounter allocations;
  int allowed = 0;
  for (int i = 0; i < 100; ++i) {
    Verdict v = p.Decide("y.x.git.corp.example", 443);
    allowed += p.CheckResolved(v, v4, 443).allowed();
    allowed += p.Decide("Unknown.Example.", 443).allowed();
    allowed += p.Decide("10.20.1.1", 22).allowed();
    allowed += p.Decide(v6, 443).allowed();
  }
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_EQ(allowed, 400);
}

}  // namespace
}  // namespace strait::connector
