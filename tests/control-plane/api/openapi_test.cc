// The OpenAPI document lists exactly the routes the server has (both directions), each with its operationId, and
// every example body in it decodes (docs/control-plane.md §10).
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"
#include "control-plane/api/dto_policy.h"
#include "control-plane/api/policy_doc.h"
#include "control-plane/api/dto_people.h"
#include "control-plane/api/dto_renew.h"
#include "control-plane/handlers/openapi.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

TEST(OpenApiTest, PathsAndMethodsAreExactlyTheRouteTable) {
  nlohmann::json doc = nlohmann::json::parse(OpenApiText());
  ASSERT_EQ(doc["openapi"], "3.0.3");
  std::set<std::tuple<std::string, std::string, std::string>> in_doc, in_table;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      in_doc.emplace(path, method, op.value("operationId", ""));
    }
  }
  for (const Route& r : ApiRoutes()) {
    in_table.emplace(std::string(r.path), Lower(MethodName(r.method)), std::string(r.operation_id));
  }
  for (const auto& row : in_table) EXPECT_TRUE(in_doc.count(row)) << "missing from openapi.json: " << std::get<1>(row) << " " << std::get<0>(row) << " " << std::get<2>(row);
  for (const auto& row : in_doc) EXPECT_TRUE(in_table.count(row)) << "not a route: " << std::get<1>(row) << " " << std::get<0>(row) << " " << std::get<2>(row);
}

TEST(OpenApiTest, SchemaExamplesDecode) {
  nlohmann::json doc = nlohmann::json::parse(OpenApiText());
  const auto& schemas = doc["components"]["schemas"];
  EXPECT_TRUE(DecodeTenantCreate(schemas["TenantCreate"]["example"]).ok());
  EXPECT_TRUE(DecodeApiKeyCreate(schemas["ApiKeyCreate"]["example"]).ok());
  auto policy = DecodePolicyWrite(schemas["PolicyWrite"]["example"]);
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(CheckPolicy(*policy).ok());
  EXPECT_TRUE(DecodeAssignmentCreate(schemas["AssignmentCreate"]["example"]).ok());
  EXPECT_TRUE(DecodeUserCreate(schemas["UserCreate"]["example"]).ok());
  EXPECT_TRUE(DecodeUserPatch(schemas["UserPatch"]["example"]).ok());
  EXPECT_TRUE(DecodeGroupCreate(schemas["GroupCreate"]["example"]).ok());
  EXPECT_TRUE(DecodeGroupPatch(schemas["GroupPatch"]["example"]).ok());
  EXPECT_TRUE(DecodeDevicePatch(schemas["DevicePatch"]["example"]).ok());
  EXPECT_TRUE(DecodeReason(schemas["Reason"]["example"]).ok());
  EXPECT_TRUE(DecodePushToken(schemas["PushToken"]["example"]).ok());
  EXPECT_TRUE(DecodeRenew(schemas["Renew"]["example"], EnrolKind::kDevice).ok());
}

TEST(OpenApiTest, PublicRoutesNeedNoSecurity) {
  nlohmann::json doc = nlohmann::json::parse(OpenApiText());
  for (const Route& r : ApiRoutes()) {
    const auto& op = doc["paths"][std::string(r.path)][Lower(MethodName(r.method))];
    const bool open = op.contains("security") && op["security"].empty();
    EXPECT_EQ(open, (r.who & kWhoPublic) != 0) << r.path;
  }
}

}  // namespace
}  // namespace strait::control
