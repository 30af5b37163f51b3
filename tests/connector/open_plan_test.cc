// connector::PlanOpen / PlanResolved: what the connector does with a stream OPEN and a resolution, without I/O.
#include "tunnel/connector/open_plan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "tunnel/connector/policy_file.h"

namespace strait::connector {
namespace {

constexpr const char* kPolicy = R"(
[[allow]]
hosts = ["intranet.corp.example"]
ports = ["443"]
[[allow]]
cidrs = ["10.20.0.0/16"]
ports = ["*"]
[[deny]]
cidrs = ["10.20.99.0/24", "169.254.0.0/16"]
[[deny]]
hosts = ["secret.corp.example"]
)";

Policy Load() {
  auto p = ParsePolicy(kPolicy, "test.toml");
  EXPECT_TRUE(p.ok());
  return p.ok() ? std::move(*p) : Policy();
}

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }

tunnel::OpenTarget V4(const std::vector<std::uint8_t>& b, std::uint16_t port) {
  return {tunnel::AddrType::kIPv4, b, port};
}
tunnel::OpenTarget Name(std::string_view n, std::uint16_t port) {
  return {tunnel::AddrType::kDomain, {reinterpret_cast<const std::uint8_t*>(n.data()), n.size()}, port};
}

TEST(OpenPlan, DialsAnAllowedAddressAndRefusesADeniedOne) {
  const Policy p = Load();
  const std::vector<std::uint8_t> ok = {10, 20, 1, 1}, denied = {10, 20, 99, 1}, elsewhere = {192, 0, 2, 1};
  const OpenPlan dial = PlanOpen(p, V4(ok, 22));
  EXPECT_EQ(dial.kind, OpenPlan::Kind::kDial);
  EXPECT_EQ(dial.address, Ip("10.20.1.1"));
  EXPECT_EQ(dial.port, 22);
  for (const auto& b : {denied, elsewhere}) {
    const OpenPlan refused = PlanOpen(p, V4(b, 22));
    EXPECT_EQ(refused.kind, OpenPlan::Kind::kRefuse);
    EXPECT_EQ(refused.refuse, RefuseReason::kPolicy);
  }
  EXPECT_EQ(PlanOpen(p, V4(ok, 0)).kind, OpenPlan::Kind::kRefuse);  // port 0
}

TEST(OpenPlan, ANameThatIsAnAddressIsJudgedAndDialledAsTheAddress) {
  const Policy p = Load();
  const OpenPlan plan = PlanOpen(p, Name("10.20.3.4", 80));
  EXPECT_EQ(plan.kind, OpenPlan::Kind::kDial);
  EXPECT_EQ(plan.address, Ip("10.20.3.4"));
  EXPECT_EQ(PlanOpen(p, Name("169.254.169.254", 80)).kind, OpenPlan::Kind::kRefuse);
}

TEST(OpenPlan, ResolvesOnlyNamesThePolicyMayAllow) {
  const Policy p = Load();
  const OpenPlan by_host = PlanOpen(p, Name("intranet.corp.example", 443));
  EXPECT_EQ(by_host.kind, OpenPlan::Kind::kResolve);
  EXPECT_EQ(by_host.name, "intranet.corp.example");
  EXPECT_EQ(PlanOpen(p, Name("anything.example", 22)).kind, OpenPlan::Kind::kResolve);  // CIDR rules cover 22
  EXPECT_EQ(PlanOpen(p, Name("secret.corp.example", 443)).kind, OpenPlan::Kind::kRefuse);
  EXPECT_EQ(PlanOpen(p, Name("bad..name", 443)).kind, OpenPlan::Kind::kRefuse);
}

TEST(OpenPlan, AResolutionDialsTheAllowedAddressesInTheResolversOrder) {
  const Policy p = Load();
  const OpenPlan any = PlanOpen(p, Name("anything.example", 22));
  ResolveResult r;
  r.addresses = {Ip("192.0.2.1"), Ip("10.20.2.2"), Ip("10.20.99.9"), Ip("10.20.1.1")};
  const ResolvedPlan plan = PlanResolved(p, any.verdict, 22, r);
  EXPECT_FALSE(plan.refuse);
  EXPECT_EQ(plan.dial, (std::vector<IpAddress>{Ip("10.20.2.2"), Ip("10.20.1.1")}));

  // A host rule admits addresses outside the allow CIDRs, never inside a deny CIDR.
  const OpenPlan host = PlanOpen(p, Name("intranet.corp.example", 443));
  r.addresses = {Ip("192.0.2.1"), Ip("169.254.1.1")};
  EXPECT_EQ(PlanResolved(p, host.verdict, 443, r).dial, (std::vector<IpAddress>{Ip("192.0.2.1")}));
  r.addresses = {Ip("169.254.1.1"), Ip("0.0.0.0")};
  EXPECT_EQ(PlanResolved(p, host.verdict, 443, r).refuse, RefuseReason::kPolicy);
}

TEST(OpenPlan, AFailedOrEmptyResolutionIsDnsFailed) {
  const Policy p = Load();
  const OpenPlan any = PlanOpen(p, Name("anything.example", 22));
  ResolveResult failed;
  failed.error = -2;
  EXPECT_EQ(PlanResolved(p, any.verdict, 22, failed).refuse, RefuseReason::kDnsFailed);
  EXPECT_EQ(PlanResolved(p, any.verdict, 22, ResolveResult{}).refuse, RefuseReason::kDnsFailed);
}

}  // namespace
}  // namespace strait::connector
