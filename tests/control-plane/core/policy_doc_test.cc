#include "control-plane/api/policy_doc.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control-plane/api/json_reader.h"
#include "tunnel/connector/policy_file.h"

namespace strait::control {
namespace {

using json = nlohmann::json;
using connector::ParsePolicy;

json Parse(std::string_view text) {
  auto r = ReadJson(text, kPolicyJsonLimits);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : json();
}

PolicyWrite Decode(std::string_view text) {
  auto r = DecodePolicyWrite(Parse(text));
  EXPECT_TRUE(r.ok()) << text << (r.ok() ? "" : " -> " + r.error().errors.front().pointer + " " +
                                                     r.error().errors.front().detail);
  return r.ok() ? *r : PolicyWrite{};
}

// docs/examples/policy.toml, written as the API's JSON.
constexpr std::string_view kExampleJson = R"({
  "name": "example",
  "app": {
    "allow": [
      {"hosts": ["intranet.corp.example", "*.git.corp.example"], "ports": ["443", "8000-8100"]},
      {"cidrs": ["10.20.0.0/16", "2001:db8:20::/48"], "ports": ["*"]},
      {"hosts": ["*.build.corp.example"], "cidrs": ["10.30.4.0/24"], "ports": ["22"]}
    ],
    "deny": [
      {"cidrs": ["169.254.0.0/16", "127.0.0.0/8", "::1", "fe80::/10", "10.20.99.0/24"]},
      {"hosts": ["*.git.corp.example"], "ports": ["5432", "3306"]}
    ]
  }
})";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PolicyDoc, JsonRendersTomlTheConnectorAccepts) {
  PolicyWrite p = Decode(R"({"name":"all","default":true,
    "app":{"allow":[{"hosts":["a.example"],"ports":["443"]}],"deny":[{"cidrs":["10.0.0.0/8"]}]},
    "tunnel":{"routes":["10.20.0.0/16"],"dns_servers":["10.20.0.53"],"dns_domains":["corp.example"],
              "device_to_device":true,
              "allow":[{"cidrs":["10.20.0.0/16"],"protocols":["tcp","icmp"],"ports":["*"]}],
              "deny":[{"cidrs":["10.20.99.0/24"]}]}})");
  EXPECT_EQ(p.name, "all");
  EXPECT_TRUE(p.is_default);
  auto toml = CheckPolicy(p);
  ASSERT_TRUE(toml.ok()) << toml.error().errors.front().detail;
  EXPECT_EQ(*toml, RenderPolicyToml(p));
  auto policy = ParsePolicy(*toml, "t");
  ASSERT_TRUE(policy.ok()) << policy.error().reason;
  EXPECT_EQ(policy->allow_rules().size(), 1u);
  EXPECT_EQ(policy->deny_rules().size(), 1u);
  EXPECT_TRUE(policy->Decide("a.example", 443).allowed());
  EXPECT_FALSE(policy->Decide("a.example", 80).allowed());
  EXPECT_EQ(policy->tunnel().routes.size(), 1u);
  EXPECT_EQ(policy->tunnel().dns_servers.size(), 1u);
  EXPECT_EQ(policy->tunnel().dns_domains, std::vector<std::string>{"corp.example"});
  EXPECT_TRUE(policy->tunnel().device_to_device);
}

TEST(PolicyDoc, CanonicalTomlShape) {
  PolicyWrite p = Decode(R"({"name":"n","app":{"allow":[{"hosts":["x.example"],"ports":["1-2"]}],"deny":[]},
                             "tunnel":{"routes":["10.0.0.0/8"]}})");
  EXPECT_EQ(RenderPolicyToml(p),
            "version = 1\n\n[[allow]]\nhosts = [\"x.example\"]\nports = [\"1-2\"]\n\n[tunnel]\nroutes = "
            "[\"10.0.0.0/8\"]\n");
}

TEST(PolicyDoc, EmptyPolicyIsValidAndDeniesEverything) {
  PolicyWrite p = Decode(R"({"name":"none","app":{}})");
  auto toml = CheckPolicy(p);
  ASSERT_TRUE(toml.ok());
  EXPECT_EQ(*toml, "version = 1\n");
  auto policy = ParsePolicy(*toml, "t");
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE(policy->Decide("a.example", 443).allowed());
}

TEST(PolicyDoc, ExampleFileRoundTripsToTheSamePolicy) {
  const std::string file = ReadFile(std::string(STRAIT_TESTDATA_DIR) + "/../../docs/examples/policy.toml");
  ASSERT_FALSE(file.empty());
  auto from_file = ParsePolicy(file, "example");
  ASSERT_TRUE(from_file.ok()) << from_file.error().reason;
  auto toml = CheckPolicy(Decode(kExampleJson));
  ASSERT_TRUE(toml.ok());
  auto from_json = ParsePolicy(*toml, "rendered");
  ASSERT_TRUE(from_json.ok()) << from_json.error().reason;

  ASSERT_EQ(from_file->allow_rules().size(), from_json->allow_rules().size());
  ASSERT_EQ(from_file->deny_rules().size(), from_json->deny_rules().size());
  for (size_t i = 0; i < from_file->allow_rules().size(); ++i) {
    EXPECT_EQ(from_file->allow_rules()[i].hosts.size(), from_json->allow_rules()[i].hosts.size()) << i;
    EXPECT_EQ(from_file->allow_rules()[i].cidrs.size(), from_json->allow_rules()[i].cidrs.size()) << i;
  }
  // The same verdicts, reasons and deciding rules for destinations every rule has a say in.
  const std::vector<std::pair<std::string, uint16_t>> probes = {
      {"intranet.corp.example", 443}, {"intranet.corp.example", 8050}, {"intranet.corp.example", 22},
      {"x.git.corp.example", 443},    {"x.git.corp.example", 5432},    {"10.20.1.1", 80},
      {"10.20.99.7", 80},             {"169.254.169.254", 80},         {"127.0.0.1", 443},
      {"h.build.corp.example", 22},   {"10.30.4.9", 22},               {"10.30.4.9", 23},
      {"2001:db8:20::1", 443},        {"::1", 443},                    {"other.example", 443},
      {"fe80::1", 22},
  };
  for (const auto& [name, port] : probes) {
    auto a = from_file->Decide(name, port);
    auto b = from_json->Decide(name, port);
    EXPECT_EQ(a.allow, b.allow) << name << ":" << port;
    EXPECT_EQ(a.reason, b.reason) << name << ":" << port;
    EXPECT_EQ(a.rule, b.rule) << name << ":" << port;
  }
}

TEST(PolicyDoc, DecodeEncodeRoundTrip) {
  for (std::string_view text :
       {kExampleJson,
        std::string_view(R"({"name":"t","default":false,"app":{"allow":[],"deny":[{"hosts":[]}]},
                             "tunnel":{"device_to_device":false,"allow":[{"cidrs":["1.2.3.0/24"]}]}})")}) {
    PolicyWrite p = Decode(text);
    auto again = DecodePolicyWrite(EncodePolicyWrite(p));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, p);
    EXPECT_EQ(RenderPolicyToml(*again), RenderPolicyToml(p));
  }
}

// The parser's first error comes back at the JSON pointer of the same item.
TEST(PolicyDoc, ParserErrorsBecomePointers) {
  struct Case {
    std::string body;
    std::string pointer;
    FieldErrorCode code;
    std::string detail_part;
  };
  const std::vector<Case> cases = {
      {R"({"name":"n","app":{"allow":[{"hosts":["a.example"],"ports":["443"]},
           {"cidrs":["10.20.1.0/16"],"ports":["*"]}]}})",
       "/app/allow/1/cidrs/0", FieldErrorCode::kBadFormat, "host bits set"},
      {R"({"name":"n","app":{"allow":[{"hosts":["a.example"],"ports":["0"]}]}})", "/app/allow/0/ports/0",
       FieldErrorCode::kBadFormat, "port"},
      {R"({"name":"n","app":{"deny":[{"hosts":["*"]}]}})", "/app/deny/0/hosts/0", FieldErrorCode::kBadFormat,
       "bad host pattern"},
      {R"({"name":"n","app":{"allow":[{"hosts":["a.example"]}]}})", "/app/allow/0", FieldErrorCode::kMissingField,
       "needs ports"},
      {R"({"name":"n","app":{"deny":[{"ports":["1"]}]}})", "/app/deny/0", FieldErrorCode::kMissingField,
       "neither hosts nor cidrs"},
      {R"({"name":"n","app":{},"tunnel":{"routes":["10.0.0.0/8","2001:db8::/32"]}})", "/tunnel/routes/1",
       FieldErrorCode::kBadFormat, "not IPv4"},
      {R"({"name":"n","app":{},"tunnel":{"dns_servers":["10.0.0.0/8"]}})", "/tunnel/dns_servers/0",
       FieldErrorCode::kBadFormat, "a range"},
      {R"({"name":"n","app":{},"tunnel":{"allow":[{"cidrs":["10.0.0.0/8"],"protocols":["sctp"]}]}})",
       "/tunnel/allow/0/protocols/0", FieldErrorCode::kWrongType, "unknown protocol"},
      {R"({"name":"n","app":{},"tunnel":{"deny":[{"cidrs":["10.0.0.0/8"],"ports":["70000"]}]}})",
       "/tunnel/deny/0/ports/0", FieldErrorCode::kBadFormat, ""},
      {R"({"name":"n","app":{},"tunnel":{"allow":[{"cidrs":["10.0.0.0/8"],"protocols":["udp"]}]}})",
       "/tunnel/allow/0", FieldErrorCode::kMissingField, "needs ports"},
  };
  for (const Case& c : cases) {
    PolicyWrite p = Decode(c.body);
    auto r = CheckPolicy(p);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().type, ProblemType::kInvalidRequest);
    ASSERT_EQ(r.error().errors.size(), 1u);
    EXPECT_EQ(r.error().errors[0].pointer, c.pointer) << c.body;
    EXPECT_EQ(r.error().errors[0].code, c.code) << c.body;
    EXPECT_NE(r.error().errors[0].detail.find(c.detail_part), std::string::npos) << r.error().errors[0].detail;
    EXPECT_EQ(r.error().errors[0].detail.find("policy:"), std::string::npos) << "no file position in the detail";
  }
}

TEST(PolicyDoc, DecodeRefusesBadShapes) {
  struct Case {
    std::string body;
    std::string pointer;
    FieldErrorCode code;
  };
  const std::vector<Case> cases = {
      {R"({"app":{}})", "/name", FieldErrorCode::kMissingField},
      {R"({"name":"n"})", "/app", FieldErrorCode::kMissingField},
      {R"({"name":"n","app":{"allow":{}}})", "/app/allow", FieldErrorCode::kWrongType},
      {R"({"name":"n","app":{"allow":[7]}})", "/app/allow/0", FieldErrorCode::kWrongType},
      {R"({"name":"n","app":{"allow":[{"host":["a.example"]}]}})", "/app/allow/0/host", FieldErrorCode::kUnknownField},
      {R"({"name":"n","app":{"allow":[{"ports":[443]}]}})", "/app/allow/0/ports/0", FieldErrorCode::kWrongType},
      {R"({"name":"n","app":{"allow":[{"hosts":["a\u0001"]}]}})", "/app/allow/0/hosts/0", FieldErrorCode::kBadFormat},
      {R"({"name":"n","app":{},"version":1})", "/version", FieldErrorCode::kUnknownField},
      {R"({"name":"n","app":{},"tunnel":{"deny":[{}]}})", "/tunnel/deny/0/cidrs", FieldErrorCode::kMissingField},
      {R"({"name":"n","app":{},"tunnel":{"dns_servers":["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4","1.1.1.5"]}})",
       "/tunnel/dns_servers", FieldErrorCode::kTooManyItems},
      {R"({"name":"n","default":"yes","app":{}})", "/default", FieldErrorCode::kWrongType},
  };
  for (const Case& c : cases) {
    auto r = DecodePolicyWrite(Parse(c.body));
    ASSERT_FALSE(r.ok()) << c.body;
    ASSERT_FALSE(r.error().errors.empty());
    EXPECT_EQ(r.error().errors[0].pointer, c.pointer) << c.body;
    EXPECT_EQ(r.error().errors[0].code, c.code) << c.body;
  }
  // A pattern of 256 bytes is refused before rendering.
  std::string long_host(256, 'a');
  auto r = DecodePolicyWrite(json{{"name", "n"}, {"app", {{"deny", {{{"hosts", {long_host}}}}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errors[0].pointer, "/app/deny/0/hosts/0");
}

TEST(PolicyDoc, RuleAndItemBounds) {
  json deny = json::array();
  for (size_t i = 0; i <= kMaxPolicyRulesTotal; ++i) deny.push_back({{"cidrs", {"10.0.0.0/8"}}});
  auto r = DecodePolicyWrite(json{{"name", "n"}, {"app", {{"deny", deny}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errors[0].code, FieldErrorCode::kTooManyItems);
  // 5,001 app rules and 5,000 tunnel rules: each list is within bounds, the whole is not.
  json half = json::array();
  for (size_t i = 0; i < kMaxPolicyRulesTotal / 2; ++i) half.push_back({{"cidrs", {"10.0.0.0/8"}}});
  json more = half;
  more.push_back({{"cidrs", {"10.0.0.0/8"}}});
  r = DecodePolicyWrite(json{{"name", "n"}, {"app", {{"deny", more}}}, {"tunnel", {{"deny", half}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errors[0].pointer, "");
  EXPECT_EQ(r.error().errors[0].code, FieldErrorCode::kTooManyItems);
}

TEST(PolicyDoc, OverOneMebibyteOfTomlIsLimitExceeded) {
  // 5,000 rules of 250-byte names: valid one by one, about 1.3 MB of TOML together.
  PolicyWrite p;
  p.name = "big";
  const std::string label(60, 'a');
  const std::string host = label + "." + label + "." + label + "." + label + ".example";
  for (int i = 0; i < 5000; ++i) p.deny.push_back(AppRule{std::vector<std::string>{host}, std::nullopt, std::nullopt});
  auto r = CheckPolicy(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, ProblemType::kLimitExceeded);
  EXPECT_EQ(r.error().extensions["limit"], "policy_toml_bytes");
  EXPECT_EQ(r.error().extensions["max"], kMaxPolicyTomlBytes);
  p.deny.resize(100);
  EXPECT_TRUE(CheckPolicy(p).ok());
}

TEST(PolicyDoc, StringsAreEscapedNotInjected) {
  // A quote in a pattern cannot close the string and add a key: the parser sees one (bad) host pattern.
  PolicyWrite p = Decode(R"({"name":"n","app":{"deny":[{"hosts":["a.example\"], ports = [\"1"]}]}})");
  auto r = CheckPolicy(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errors[0].pointer, "/app/deny/0/hosts/0");
  PolicyWrite q = Decode(R"({"name":"n","app":{"deny":[{"hosts":["a\\b.example"]}]}})");
  EXPECT_NE(RenderPolicyToml(q).find(R"("a\\b.example")"), std::string::npos);
}

TEST(PolicyDoc, FieldPointers) {
  EXPECT_EQ(PolicyFieldPointer("allow[1].cidrs[0]"), "/app/allow/1/cidrs/0");
  EXPECT_EQ(PolicyFieldPointer("deny[12]"), "/app/deny/12");
  EXPECT_EQ(PolicyFieldPointer("tunnel.routes[2]"), "/tunnel/routes/2");
  EXPECT_EQ(PolicyFieldPointer("tunnel.allow[0].protocols[1]"), "/tunnel/allow/0/protocols/1");
  EXPECT_EQ(PolicyFieldPointer("tunnel"), "/tunnel");
  EXPECT_EQ(PolicyFieldPointer(""), std::nullopt);
  EXPECT_EQ(PolicyFieldPointer("allow[x]"), std::nullopt);
  EXPECT_EQ(PolicyFieldPointer("allow[1"), std::nullopt);
  EXPECT_EQ(PolicyFieldPointer("allow."), std::nullopt);
}

}  // namespace
}  // namespace strait::control
