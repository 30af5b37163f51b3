#include "tunnel/connector/policy_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace strait::connector {
namespace {

namespace fs = std::filesystem;

// A scratch directory per test (tests/testing/temp_dir.h).
class PolicyFile : public ::testing::Test {
 protected:
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  strait::testing::TempDir tmp_{"strait-policy"};
  fs::path dir_{tmp_.path()};
};

TEST_F(PolicyFile, LoadsTheDocumentedExample) {
  auto p = LoadPolicyFile(fs::path(STRAIT_TESTDATA_DIR) / ".." / ".." / "docs" / "examples" / "policy.toml");
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_EQ(p->allow_rules().size(), 3u);
  EXPECT_EQ(p->deny_rules().size(), 2u);
  EXPECT_TRUE(p->Decide("www.git.corp.example", 443).allowed());
  EXPECT_FALSE(p->Decide("www.git.corp.example", 5432).allowed());
  EXPECT_TRUE(p->Decide(*IpAddress::Parse("10.30.4.7"), 22).allowed());
  EXPECT_FALSE(p->Decide(*IpAddress::Parse("10.30.4.7"), 23).allowed());
  EXPECT_FALSE(p->Decide(*IpAddress::Parse("::1"), 443).allowed());
}

TEST_F(PolicyFile, IntegerAndStringPortsAreEquivalent) {
  auto p = LoadPolicyFile(Write("p.toml", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [22, \"443\", \"8000-8001\"]\n"));
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_EQ(p->allow_rules()[0].ports.ranges(), (std::vector<PortRange>{{22, 22}, {443, 443}, {8000, 8001}}));
}

TEST_F(PolicyFile, EmptyFileIsAnEmptyPolicy) {
  auto p = LoadPolicyFile(Write("empty.toml", "# nothing allowed yet\n"));
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_FALSE(p->Decide("a.example", 443).allowed());
}

// Each bad file must give the right code and a message naming the file, line, column and field.
TEST_F(PolicyFile, ErrorsNameFileLineAndField) {
  struct Case {
    const char* what;
    const char* text;
    PolicyErrorCode code;
    const char* where;  // expected "<line>:<col>: <field>" part after the file name
    const char* says;   // a fragment of the explanation
  };
  const Case cases[] = {
      {"syntax", "[[allow]\nports = [\"*\"]\n", PolicyErrorCode::kSyntax, ":1:", ""},
      {"unknown top key", "alow = []\n", PolicyErrorCode::kUnknownKey, ":1:1: alow", "unknown key"},
      {"unknown rule key", "[[allow]]\nhost = [\"a.example\"]\nports = [\"*\"]\n", PolicyErrorCode::kUnknownKey,
       ":2:1: allow[0].host", "unknown key"},
      {"bad cidr", "[[allow]]\nports = [\"*\"]\ncidrs = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
       PolicyErrorCode::kBadCidr, ":3:24: allow[0].cidrs[1]", "prefix length 33 above 32"},
      {"host bits", "\n\n[[deny]]\ncidrs = [\"10.20.1.0/16\"]\n", PolicyErrorCode::kBadCidr,
       ":4:10: deny[0].cidrs[0]", "did you mean 10.20.0.0/16"},
      {"bad host", "[[allow]]\nhosts = [\"a..b\"]\nports = [\"*\"]\n", PolicyErrorCode::kBadHost,
       ":2:10: allow[0].hosts[0]", "not a valid DNS name"},
      {"ip as host", "[[allow]]\nhosts = [\"10.0.0.1\"]\nports = [\"*\"]\n", PolicyErrorCode::kBadHost,
       ":2:10: allow[0].hosts[0]", "cidrs"},
      {"port 0", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [\"0-80\"]\n", PolicyErrorCode::kBadPort,
       ":3:10: allow[0].ports[0]", "outside 1..65535"},
      {"port too big", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [65536]\n", PolicyErrorCode::kBadPort,
       ":3:10: allow[0].ports[0]", "outside 1..65535"},
      {"reversed range", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = [\"443\", \"100-50\"]\n",
       PolicyErrorCode::kBadPort, ":3:17: allow[0].ports[1]", "reversed"},
      {"empty rule", "[[allow]]\nports = [\"*\"]\n", PolicyErrorCode::kEmptyRule, ":1:1: allow[0]",
       "neither hosts nor cidrs"},
      {"empty lists", "[[deny]]\nhosts = []\ncidrs = []\n", PolicyErrorCode::kEmptyRule, ":1:1: deny[0]",
       "neither hosts nor cidrs"},
      {"allow without ports", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\n", PolicyErrorCode::kEmptyRule,
       ":1:1: allow[0]", "needs ports"},
      {"empty ports", "[[allow]]\ncidrs = [\"10.0.0.0/8\"]\nports = []\n", PolicyErrorCode::kEmptyRule,
       ":3:9: allow[0].ports", "no ports"},
      {"string not array", "[[allow]]\nhosts = \"a.example\"\nports = [\"*\"]\n", PolicyErrorCode::kBadType,
       ":2:9: allow[0].hosts", "must be an array of strings"},
      {"table not array", "[allow]\nhosts = [\"a.example\"]\n", PolicyErrorCode::kBadType, ":1:1: allow",
       "array of tables"},
      {"number host", "[[allow]]\nhosts = [5]\nports = [\"*\"]\n", PolicyErrorCode::kBadType,
       ":2:10: allow[0].hosts[0]", "must be a string"},
      {"bad version", "version = 2\n", PolicyErrorCode::kBadVersion, ":1:11: version", "must be 1"},
      {"long pattern", nullptr, PolicyErrorCode::kTooLarge, ":2:10: allow[0].hosts[0]", "longer than 255"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string text = c.text ? c.text : "[[allow]]\nhosts = [\"" + std::string(300, 'a') + "\"]\nports = [\"*\"]\n";
    fs::path file = Write("bad.toml", text);
    auto p = LoadPolicyFile(file);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(static_cast<int>(p.error().code), static_cast<int>(c.code)) << p.error().reason;
    EXPECT_EQ(p.error().reason.rfind(file.string() + c.where, 0), 0u) << p.error().reason;
    EXPECT_NE(p.error().reason.find(c.says), std::string::npos) << p.error().reason;
  }
}

TEST_F(PolicyFile, MissingFileIsAnIoError) {
  auto p = LoadPolicyFile(dir_ / "absent.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, PolicyErrorCode::kIo);
  EXPECT_NE(p.error().reason.find("absent.toml"), std::string::npos);
}

TEST_F(PolicyFile, RefusesTooManyRules) {
  std::string text;
  for (size_t i = 0; i <= kMaxPolicyRules; ++i) text += "[[deny]]\ncidrs = [\"10.0.0.0/8\"]\n";
  auto p = LoadPolicyFile(Write("many.toml", text));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, PolicyErrorCode::kTooLarge);
  EXPECT_NE(p.error().reason.find("deny[10000]"), std::string::npos) << p.error().reason;
}

TEST_F(PolicyFile, AcceptsTheMaximumRuleCount) {
  std::string text;
  for (size_t i = 0; i < kMaxPolicyRules; ++i) {
    text += "[[allow]]\ncidrs = [\"10." + std::to_string(i / 256) + "." + std::to_string(i % 256) +
            ".0/24\"]\nports = [\"443\"]\n";
  }
  auto p = LoadPolicyFile(Write("max.toml", text));
  ASSERT_TRUE(p.ok()) << p.error().reason;
  EXPECT_TRUE(p->Decide(*IpAddress::Parse("10.39.15.9"), 443).allowed());
  EXPECT_FALSE(p->Decide(*IpAddress::Parse("10.39.16.9"), 443).allowed());
}

TEST_F(PolicyFile, RefusesOversizedFileWithoutParsingIt) {
  std::string text(kMaxPolicyFileSize + 1, '#');
  auto p = LoadPolicyFile(Write("huge.toml", text));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, PolicyErrorCode::kTooLarge);
}

// The [tunnel] table (docs/ip-tunnel.md §4).
TEST(PolicyFileTunnel, LoadsRoutesDnsServersAndDomains) {
  auto p = ParsePolicy(R"(
[tunnel]
routes = ["10.20.0.0/16", "192.168.7.0/24", "10.99.0.1"]
dns_servers = ["10.20.0.53"]
dns_domains = ["Corp.Example.", "git.corp.example"]
)", "t.toml");
  ASSERT_TRUE(p.ok()) << p.error().reason;
  const TunnelPolicy& t = p->tunnel();
  ASSERT_EQ(t.routes.size(), 3u);
  EXPECT_EQ(t.routes[0], (tunnel::Ipv4Prefix{0x0a140000, 16}));
  EXPECT_EQ(t.routes[2], (tunnel::Ipv4Prefix{0x0a630001, 32}));
  EXPECT_EQ(t.dns_servers, std::vector<uint32_t>{0x0a140035});
  EXPECT_EQ(t.dns_domains, (std::vector<std::string>{"corp.example", "git.corp.example"}));
}

TEST(PolicyFileTunnel, ErrorsNameTheField) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"[tunnel]\nroutes = [\"10.20.1.0/16\"]", "t.toml:2:11: tunnel.routes[0]: bad route \"10.20.1.0/16\": host bits set"},
      {"[tunnel]\nroutes = [\"fd00::/8\"]", "tunnel.routes[0]: bad route \"fd00::/8\" is not IPv4"},
      {"[tunnel]\ndns_servers = [\"10.0.0.0/8\"]", "tunnel.dns_servers[0]: bad DNS server \"10.0.0.0/8\": a range"},
      {"[tunnel]\ndns_domains = [\"not a name\"]", "tunnel.dns_domains[0]: not a DNS name"},
      {"[tunnel]\nroute = []", "tunnel.route: unknown key (expected routes, dns_servers, dns_domains, device_to_device, allow or deny)"},
      {"tunnel = 3", "tunnel: must be a table, not an integer"},
      {"[tunnel]\ndns_servers = [\"1.1.1.1\", \"1.1.1.2\", \"1.1.1.3\", \"1.1.1.4\", \"1.1.1.5\"]",
       "tunnel.dns_servers: more than 4 DNS servers"},
  };
  for (const Case& c : cases) {
    auto p = ParsePolicy(c.text, "t.toml");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.error().reason.find(c.error), std::string::npos) << p.error().reason;
  }
  std::string many = "[tunnel]\nroutes = [";
  for (size_t i = 0; i <= tunnel::kMaxTunnelRoutes; ++i) many += "\"10." + std::to_string(i) + ".0.0/16\",";
  many += "]";
  auto p = ParsePolicy(many, "t.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().reason.find("more than 64 routes"), std::string::npos) << p.error().reason;
}

}  // namespace
}  // namespace strait::connector
