// The enrolment request DTOs (control-plane/api/dto_enroll.h): each accepted and refused shape, with the pointer of
// the first field error.
#include "control-plane/api/dto_enroll.h"

#include <gtest/gtest.h>

namespace strait::control {
namespace {

nlohmann::json J(std::string_view text) { return nlohmann::json::parse(text); }

template <class T>
std::string FirstPointer(const Result<T, Problem>& r) {
  return r.ok() || r.error().errors.empty() ? std::string("<ok>") : r.error().errors[0].pointer;
}

const std::string kKey32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const std::string kSig64 = std::string(86, 'A') + "==";

std::string RedeemText(std::string_view kind, std::string_view extra) {
  return "{\"activation\":\"7K3M9X2P\",\"kind\":\"" + std::string(kind) + "\",\"signing_key\":\"" + kKey32 +
         "\",\"key_proof\":\"" + kSig64 + "\",\"mac\":\"" + kKey32 + "\"" + std::string(extra) + "}";
}

TEST(DtoEnrollTest, ActivationCreateTable) {
  struct Row {
    const char* body;
    const char* pointer;  // "<ok>" when accepted
  } rows[] = {
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa"})", "<ok>"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","os":"ios","expires_in_s":600})", "<ok>"},
      {R"({"kind":"connector","connector":"dc-east","expires_in_s":2592000})", "<ok>"},
      {R"({"kind":"device"})", "/user"},
      {R"({"kind":"connector"})", "/connector"},
      {R"({"kind":"connector","connector":"dc","os":"ios"})", "/os"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","connector":"dc"})", "/connector"},
      {R"({"kind":"relay"})", "/kind"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","expires_in_s":599})", "/expires_in_s"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","expires_in_s":2592001})", "/expires_in_s"},
      {R"({"kind":"device","user":"bob"})", "/user"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","os":"beos"})", "/os"},
      {R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa","extra":1})", "/extra"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(FirstPointer(DecodeActivationCreate(J(row.body))), row.pointer) << row.body;
  }
  auto ok = DecodeActivationCreate(J(R"({"kind":"device","user":"u-aaaaaaaaaaaaaaaa"})"));
  EXPECT_EQ(ok->expires_in_s, kDefaultActivationLifetime);
  EXPECT_EQ(ok->target, "u-aaaaaaaaaaaaaaaa");
  EXPECT_TRUE(DecodeRelayActivationCreate(J("{}")).ok());
  EXPECT_EQ(FirstPointer(DecodeRelayActivationCreate(J(R"({"kind":"relay"})"))), "/kind");
}

TEST(DtoEnrollTest, EndpointsAndCoverage) {
  EXPECT_EQ(EndpointHost("Relay1.Example.com:443"), "relay1.example.com");
  EXPECT_EQ(EndpointHost("10.0.0.1:3101"), "10.0.0.1");
  EXPECT_EQ(EndpointHost("[2001:db8::1]:443"), "2001:db8::1");
  for (const char* bad : {"host", "host:", ":443", "host:0", "host:65536", "host:044", "2001:db8::1:443",
                          "[10.0.0.1]:443", "-bad.example.com:1", "a..b:1", "ho st:1"}) {
    EXPECT_FALSE(EndpointHost(bad).has_value()) << bad;
  }
  EXPECT_FALSE(EndpointNotCovered("relay1.example.com:443", {"RELAY1.example.com"}, {}));
  EXPECT_FALSE(EndpointNotCovered("[2001:db8::1]:443", {}, {"2001:db8:0::1"}));
  EXPECT_TRUE(EndpointNotCovered("relay2.example.com:443", {"relay1.example.com"}, {"10.0.0.1"}));
  EXPECT_TRUE(EndpointNotCovered("10.0.0.2:443", {"relay1.example.com"}, {"10.0.0.1"}));
}

TEST(DtoEnrollTest, RelayCreateAndPatchTable) {
  struct Row {
    const char* body;
    const char* pointer;
  } rows[] = {
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r.example.com:443","connector_endpoint":"10.0.0.1:3101","tls_names":["r.example.com"],"tls_ips":["10.0.0.1"]})",
       "<ok>"},
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r.example.com:443","connector_endpoint":"r.example.com:3101"})",
       "/device_endpoint"},
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r.example.com:443","connector_endpoint":"x.example.com:1","tls_names":["r.example.com"]})",
       "/connector_endpoint"},
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r:443","connector_endpoint":"r:1","tls_names":["r","r"]})",
       "/tls_names/1"},
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r:443","connector_endpoint":"r:1","tls_names":["r"],"tls_ips":["999.1.1.1"]})",
       "/tls_ips/0"},
      {R"({"id":"Relay","display_name":"R","device_endpoint":"r:443","connector_endpoint":"r:1","tls_names":["r"]})",
       "/id"},
      {R"({"id":"relay-1","display_name":"R","device_endpoint":"r:443","connector_endpoint":"r:1","tls_names":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]})",
       "/tls_names"},
  };
  for (const Row& row : rows) EXPECT_EQ(FirstPointer(DecodeRelayCreate(J(row.body))), row.pointer) << row.body;
  auto r = DecodeRelayCreate(J(rows[0].body));
  ASSERT_TRUE(r.ok());
  auto again = DecodeRelayCreate(EncodeRelayCreate(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
  EXPECT_TRUE(DecodeRelayPatch(J(R"({"tls_ips":[]})")).ok());
  EXPECT_EQ(FirstPointer(DecodeRelayPatch(J(R"({"id":"x"})"))), "/id");
  EXPECT_EQ(FirstPointer(DecodeRelayPatch(J(R"({"device_endpoint":"nope"})"))), "/device_endpoint");
  EXPECT_TRUE(DecodeConnectorCreate(J(R"({"id":"dc-east","display_name":"East"})")).ok());
  EXPECT_EQ(FirstPointer(DecodeConnectorCreate(J(R"({"id":"dc-east"})"))), "/display_name");
  EXPECT_EQ(FirstPointer(DecodeConnectorPatch(J(R"({"id":"dc-east"})"))), "/id");
}

TEST(DtoEnrollTest, RedeemTable) {
  const std::string device = ",\"noise_key\":\"" + kKey32 + "\",\"device\":{\"os\":\"linux\"}";
  struct Row {
    std::string body;
    const char* pointer;
  } rows[] = {
      {RedeemText("device", device), "<ok>"},
      {RedeemText("connector", ",\"noise_key\":\"" + kKey32 + "\""), "<ok>"},
      {RedeemText("relay", ",\"tls_public_key\":\"MFkw\""), "<ok>"},
      {RedeemText("device", ",\"noise_key\":\"" + kKey32 + "\""), "/device"},
      {RedeemText("device", ",\"device\":{\"os\":\"linux\"}"), "/noise_key"},
      {RedeemText("relay", ""), "/tls_public_key"},
      {RedeemText("relay", ",\"tls_public_key\":\"MFkw\",\"noise_key\":\"" + kKey32 + "\""), "/noise_key"},
      {RedeemText("connector", ",\"noise_key\":\"" + kKey32 + "\",\"device\":{\"os\":\"linux\"}"), "/device"},
      {RedeemText("device", ",\"noise_key\":\"" + kKey32 + "\",\"device\":{\"os\":\"plan9\"}"), "/device/os"},
      {RedeemText("device", ",\"noise_key\":\"AAAA\",\"device\":{\"os\":\"linux\"}"), "/noise_key"},
      {RedeemText("robot", ""), "/kind"},
  };
  for (const Row& row : rows) EXPECT_EQ(FirstPointer(DecodeRedeem(J(row.body))), row.pointer) << row.body;
  auto r = DecodeRedeem(J(rows[0].body));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, EnrolKind::kDevice);
  EXPECT_EQ(r->device->os, OsName::kLinux);
  auto again = DecodeRedeem(EncodeRedeem(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
  EXPECT_EQ(FirstPointer(DecodeRedeem(J(R"({"activation":"7K3M9X2P"})"))), "/kind");
}

}  // namespace
}  // namespace strait::control
