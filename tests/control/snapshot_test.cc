// Snapshots (tunnel/control/snapshot.h): the relay's and the connector's starting state decode with their ids,
// times and bounds checked; unknown fields are ignored; inconsistent snapshots are refused naming the field.
#include "tunnel/control/snapshot.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace strait::control {
namespace {

using nlohmann::json;

json Relay() {
  return {{"as_of", "1234"},
          {"denied", json::array({{{"tenant", "acme"}, {"role", "device"}, {"subject", "d-1"}, {"reason", "lost"},
                                   {"until", "2025-06-02T12:00:00Z"}},
                                  {{"tenant", "acme"}, {"role", "connector"}, {"subject", "dc-east"},
                                   {"until", "2025-06-05T12:00:00Z"}}})},
          {"suspended_tenants", json::array({"globex"})},
          {"revoked_relays", json::array({"relay-9"})},
          {"newer_field", true}};
}

json Connector() {
  return {{"as_of", "77"},
          {"tenant_state", "active"},
          {"policies", json::array({{{"id", "p-a"}, {"version", 3}, {"default", true}, {"toml", "[app]\n"}},
                                    {{"id", "p-b"}, {"version", 1}, {"default", false}, {"toml", ""}}})},
          {"device_policies", json::array({{{"device", "d-1"}, {"policy", "p-b"}}})},
          {"denied", json::array()},
          {"revoked_relays", json::array()}};
}

TEST(Snapshot, RelaySnapshotDecodes) {
  auto s = DecodeRelaySnapshot(Relay().dump());
  ASSERT_TRUE(s.ok()) << s.error().reason;
  EXPECT_EQ(s->as_of, 1234u);
  ASSERT_EQ(s->denied.size(), 2u);
  EXPECT_EQ(s->denied[0].role, crypto::Role::kDevice);
  EXPECT_EQ(s->denied[0].reason, "lost");
  EXPECT_EQ(s->denied[0].until, 1'748'865'600u);
  EXPECT_EQ(s->denied[1].role, crypto::Role::kConnector);
  EXPECT_EQ(s->denied[1].reason, "");
  EXPECT_EQ(s->suspended_tenants, std::vector<std::string>{"globex"});
  EXPECT_EQ(s->revoked_relays, std::vector<std::string>{"relay-9"});
}

TEST(Snapshot, ConnectorSnapshotDecodes) {
  auto s = DecodeConnectorSnapshot(Connector().dump());
  ASSERT_TRUE(s.ok()) << s.error().reason;
  EXPECT_EQ(s->as_of, 77u);
  EXPECT_FALSE(s->tenant_suspended);
  ASSERT_EQ(s->policies.size(), 2u);
  EXPECT_TRUE(s->policies[0].is_default);
  EXPECT_EQ(s->policies[0].version, 3u);
  EXPECT_EQ(s->policies[0].toml, "[app]\n");
  ASSERT_EQ(s->device_policies.size(), 1u);
  EXPECT_EQ(s->device_policies[0].policy, "p-b");
  json j = Connector();
  j["tenant_state"] = "suspended";
  EXPECT_TRUE(DecodeConnectorSnapshot(j.dump())->tenant_suspended);
}

// The decoder's error, if it refuses `text`.
std::optional<WireResultError> ErrorOf(bool connector, const std::string& text) {
  if (connector) {
    auto s = DecodeConnectorSnapshot(text);
    return s.ok() ? std::nullopt : std::optional<WireResultError>(s.error());
  }
  auto s = DecodeRelaySnapshot(text);
  return s.ok() ? std::nullopt : std::optional<WireResultError>(s.error());
}

TEST(Snapshot, RefusesBadSnapshotsNamingTheField) {
  struct Case {
    std::string name;
    bool connector;
    std::function<void(json&)> edit;
    WireError code;
    std::string pointer;
  };
  const std::vector<Case> cases = {
      {"as_of number", false, [](json& j) { j["as_of"] = 1234; }, WireError::kWrongType, "/as_of"},
      {"as_of syntax", false, [](json& j) { j["as_of"] = "12x"; }, WireError::kBadValue, "/as_of"},
      {"no denied", false, [](json& j) { j.erase("denied"); }, WireError::kMissingField, "/denied"},
      {"denial role", false, [](json& j) { j["denied"][0]["role"] = "relay"; }, WireError::kBadValue,
       "/denied/0/role"},
      {"denial subject", false, [](json& j) { j["denied"][1]["subject"] = "A B"; }, WireError::kBadValue,
       "/denied/1/subject"},
      {"denial until", false, [](json& j) { j["denied"][1].erase("until"); }, WireError::kMissingField,
       "/denied/1/until"},
      {"tenant id", false, [](json& j) { j["suspended_tenants"][0] = "Globex"; }, WireError::kBadValue,
       "/suspended_tenants/0"},
      {"relay id type", false, [](json& j) { j["revoked_relays"][0] = 9; }, WireError::kWrongType,
       "/revoked_relays/0"},
      {"tenant state", true, [](json& j) { j["tenant_state"] = "gone"; }, WireError::kBadValue, "/tenant_state"},
      {"duplicate policy", true, [](json& j) { j["policies"][1]["id"] = "p-a"; }, WireError::kBadValue,
       "/policies/1/id"},
      {"two defaults", true, [](json& j) { j["policies"][1]["default"] = true; }, WireError::kBadValue,
       "/policies/1/default"},
      {"device policy unknown", true, [](json& j) { j["device_policies"][0]["policy"] = "p-z"; },
       WireError::kBadValue, "/device_policies/0/policy"},
      {"device twice", true,
       [](json& j) { j["device_policies"].push_back({{"device", "d-1"}, {"policy", "p-a"}}); },
       WireError::kBadValue, "/device_policies/1/device"},
      {"too many policies", true,
       [](json& j) {
         for (int i = 0; i < 64; ++i) {
           j["policies"].push_back({{"id", "x" + std::to_string(i)}, {"version", 1}, {"default", false}, {"toml", ""}});
         }
       },
       WireError::kBadValue, "/policies"},
  };
  for (const Case& c : cases) {
    json j = c.connector ? Connector() : Relay();
    c.edit(j);
    const std::optional<WireResultError> e = ErrorOf(c.connector, j.dump());
    ASSERT_TRUE(e.has_value()) << c.name;
    EXPECT_EQ(e->code, c.code) << c.name << ": " << e->reason;
    const std::string& reason = e->reason;
    EXPECT_NE(reason.find(c.pointer), std::string::npos) << c.name << ": " << reason;
  }
}

}  // namespace
}  // namespace strait::control
