// Every route of the table with every principal kind (docs/control-plane.md §3 "Who may call what"): the status the
// rules give. A route added without a thought for who may call it fails here.
#include "tests/control-plane/api/api_fixture.h"

#include <regex>

namespace strait::control::testing {
namespace {

using AuthzMatrixTest = ApiFixture;

std::string Fill(std::string_view path, std::string_view tenant) {
  std::string out(path);
  const std::pair<const char*, std::string> values[] = {
      {"{tenant}", std::string(tenant)}, {"{key}", "aaaaaaaaaaaa"}, {"{user}", "u-aaaaaaaaaaaaaaaa"},
      {"{group}", "g-aaaaaaaaaaaaaaaa"}, {"{device}", "d-aaaaaaaaaaaaaaaa"}, {"{policy}", "p-aaaaaaaaaaaaaaaa"},
      {"{assignment}", "pa-aaaaaaaaaaaaaaaa"}, {"{activation}", "AAAAAAAA"}, {"{connector}", "dc-east"},
      {"{relay}", "relay-1"}};
  for (const auto& [param, value] : values) {
    for (size_t at = out.find(param); at != std::string::npos; at = out.find(param)) out.replace(at, strlen(param), value);
  }
  return out;
}

TEST_F(AuthzMatrixTest, EveryRouteEveryPrincipal) {
  TenantKeys t1 = MakeTenant("t1");
  TenantKeys t2 = MakeTenant("t2");
  struct Who {
    const char* name;
    std::string key;
    uint16_t bit;       // the route's who bit that admits it
    bool tenant_bound;  // holds only t2's rights
  };
  const Who principals[] = {{"operator", op_key_, kWhoOperator, false},
                            {"admin of t1", t1.admin, kWhoAdmin, false},
                            {"read-only of t1", t1.read_only, kWhoReadOnly, false},
                            {"admin of t2", t2.admin, kWhoAdmin, true},
                            {"nobody", "", kWhoPublic, false}};
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    const bool tenant_route = route.path.find("{tenant}") != std::string_view::npos;
    const std::string path = Fill(route.path, "t1");
    const std::string method(MethodName(route.method));
    // A route that takes no body (limit 0, e.g. PUT of a group member) refuses one with 413 before anything else.
    const bool has_body = route.body_limit > 0 && (route.method == Method::kPost || route.method == Method::kPut ||
                                                   route.method == Method::kPatch);
    for (const Who& p : principals) {
      Reply r = Call(method, path, p.key, has_body ? "{}" : "");
      SCOPED_TRACE(fmt::format("{} {} as {}: {} {}", method, route.path, p.name, r.status, r.body));
      ASSERT_NE(r.status, 0u) << r.error;
      ASSERT_NE(r.status, 500u);
      if (p.key.empty()) {
        if (route.who & (kWhoPublic | kWhoActivation)) {
          EXPECT_NE(r.status, 401u);
        } else {
          EXPECT_EQ(r.status, 401u);
          EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"strait\"");
        }
      } else if (p.tenant_bound && tenant_route) {
        EXPECT_EQ(r.status, 404u);  // another tenant's: as if it did not exist
        EXPECT_EQ(ProblemName(r), "not-found");
      } else if ((route.who & p.bit) || (route.who & kWhoPublic)) {
        EXPECT_NE(r.status, 401u);
        EXPECT_NE(r.status, 403u);
      } else {
        EXPECT_EQ(r.status, 403u);
        EXPECT_EQ(ProblemName(r), "forbidden");
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(ApiRoutes().size() * std::size(principals)));
}

TEST_F(AuthzMatrixTest, MalformedAndUnknownKeysAre401) {
  MakeTenant("t1");
  for (const char* key : {"sk_short", "Bearer", "sk_aaaaaaaaaaaa_aaaa", "sk_AAAAAAAAAAAA_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    Reply r = Call("GET", "/v1/tenants", key);
    EXPECT_EQ(r.status, 401u) << key;
    EXPECT_EQ(ProblemName(r), "unauthenticated");
  }
  // Right id, wrong secret.
  std::string wrong = op_key_;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(Call("GET", "/v1/tenants", wrong).status, 401u);
  Reply basic = Client().Send("GET", "/v1/tenants", {}, {{"Authorization", "Basic dXNlcjpwYXNz"}});
  EXPECT_EQ(basic.status, 401u);
}

TEST_F(AuthzMatrixTest, UnknownRoutesAre404AndWrongMethods405WithAllow) {
  EXPECT_EQ(Call("GET", "/v1/nothing", op_key_).status, 404u);
  EXPECT_EQ(Call("GET", "/v1/tenants/Bad_Id", op_key_).status, 404u);
  Reply r = Call("PUT", "/v1/tenants", op_key_, "{}");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.Header("allow"), "GET, POST");
  EXPECT_EQ(ProblemName(r), "method-not-allowed");
}

}  // namespace
}  // namespace strait::control::testing
