#include "control-plane/api/router.h"

#include <array>
#include <string>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

using Kind = RouteMatch::Kind;

constexpr std::array<RouteSpec, 9> kRoutes = {{
    {Method::kGet, "/v1/tenants"},                                          // 0
    {Method::kPost, "/v1/tenants"},                                         // 1
    {Method::kGet, "/v1/tenants/{tenant}"},                                 // 2
    {Method::kPatch, "/v1/tenants/{tenant}"},                               // 3
    {Method::kDelete, "/v1/tenants/{tenant}"},                              // 4
    {Method::kGet, "/v1/tenants/{tenant}/devices/{device}"},                // 5
    {Method::kPut, "/v1/tenants/{tenant}/groups/{group}/members/{user}"},   // 6
    {Method::kGet, "/v1/relays/{relay}/events"},                            // 7
    {Method::kGet, "/v1/things/{name}"},                                    // 8 (not an id: generic syntax)
}};

TEST(Router, MatchesTemplatesAndExtractsParams) {
  Router router(kRoutes);
  RouteMatch m = router.Match(Method::kGet, "/v1/tenants/acme/devices/d-aaaabbbbccccdddd");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route, 5u);
  EXPECT_EQ(m.params.Get("tenant"), "acme");
  EXPECT_EQ(m.params.Get("device"), "d-aaaabbbbccccdddd");
  EXPECT_EQ(m.params.Find("user"), std::nullopt);

  m = router.Match(Method::kPut, "/v1/tenants/acme/groups/g-aaaabbbbccccdddd/members/u-aaaabbbbccccdddd");
  ASSERT_EQ(m.kind, Kind::kFound);
  EXPECT_EQ(m.route, 6u);
  ASSERT_EQ(m.params.items.size(), 3u);
  EXPECT_EQ(m.params.items[1].first, "group");

  EXPECT_EQ(router.Match(Method::kPost, "/v1/tenants").route, 1u);
  EXPECT_EQ(router.Match(Method::kGet, "/v1/relays/relay-1.east_2/events").kind, Kind::kFound);
  EXPECT_EQ(router.Match(Method::kGet, "/v1/things/Some.Name~x").kind, Kind::kFound);
}

TEST(Router, BadParameterSyntaxIsNotFound) {
  Router router(kRoutes);
  for (const char* path : {"/v1/tenants/Acme", "/v1/tenants/acme.corp", "/v1/tenants/acme/devices/u-aaaabbbbccccdddd",
                           "/v1/tenants/acme/devices/d-aaaabbbbccccddd", "/v1/tenants/%61cme",
                           "/v1/relays/relay%2F1/events", "/v1/things/a%20b", "/v1/things/a b"}) {
    RouteMatch m = router.Match(Method::kGet, path);
    EXPECT_EQ(m.kind, Kind::kNotFound) << path;
    EXPECT_TRUE(m.allow.empty());
  }
  std::string long_tenant = "/v1/tenants/" + std::string(65, 'a');
  EXPECT_EQ(router.Match(Method::kGet, long_tenant).kind, Kind::kNotFound);
  EXPECT_EQ(router.Match(Method::kGet, "/v1/tenants/" + std::string(64, 'a')).kind, Kind::kFound);
  EXPECT_EQ(router.Match(Method::kGet, "/v1/things/" + std::string(257, 'a')).kind, Kind::kNotFound);
}

TEST(Router, NotFoundShapes) {
  Router router(kRoutes);
  for (const char* path : {"", "v1/tenants", "/", "/v1", "/v1/tenants/", "/v1//tenants", "/v1/tenants/acme/",
                           "/v2/tenants", "/v1/tenants/acme/devices", "/v1/TENANTS",
                           "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"}) {
    EXPECT_EQ(router.Match(Method::kGet, path).kind, Kind::kNotFound) << path;
  }
  EXPECT_EQ(router.Match(Method::kGet, "/v1/tenants/" + std::string(kMaxPathBytes, 'a')).kind, Kind::kNotFound);
}

TEST(Router, WrongMethodIsMethodNotAllowedWithAllow) {
  Router router(kRoutes);
  RouteMatch m = router.Match(Method::kPut, "/v1/tenants/acme");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, (std::vector<Method>{Method::kGet, Method::kPatch, Method::kDelete}));
  EXPECT_EQ(AllowHeader(m.allow), "GET, PATCH, DELETE");
  m = router.Match(Method::kDelete, "/v1/tenants");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(AllowHeader(m.allow), "GET, POST");
  // A bad parameter is 404 even when the method would also be wrong.
  EXPECT_EQ(router.Match(Method::kPut, "/v1/tenants/ACME").kind, Kind::kNotFound);
}

TEST(Router, Methods) {
  EXPECT_EQ(ParseMethod("PATCH"), Method::kPatch);
  EXPECT_EQ(ParseMethod("patch"), std::nullopt);
  EXPECT_EQ(ParseMethod("HEAD"), std::nullopt);
  EXPECT_EQ(MethodName(Method::kDelete), "DELETE");
}

TEST(Query, SplitsTargets) {
  EXPECT_EQ(SplitTarget("/v1/x?limit=5"), (std::pair<std::string_view, std::string_view>{"/v1/x", "limit=5"}));
  EXPECT_EQ(SplitTarget("/v1/x").second, "");
  EXPECT_EQ(SplitTarget("/v1/x?a=1?b").second, "a=1?b");
}

TEST(Query, ParsesAndDecodes) {
  auto q = QueryParams::Parse("limit=10&cursor=abc-_&email=ann%2Btag%40acme.example&flag&&x=a+b&");
  ASSERT_TRUE(q.ok()) << q.error().detail;
  EXPECT_EQ(q->Get("limit"), "10");
  EXPECT_EQ(q->Get("cursor"), "abc-_");
  EXPECT_EQ(q->Get("email"), "ann+tag@acme.example");
  EXPECT_EQ(q->Get("flag"), "");
  EXPECT_EQ(q->Get("x"), "a+b");  // '+' is not a space
  EXPECT_EQ(q->Get("missing"), std::nullopt);
  EXPECT_EQ(q->items().size(), 5u);
  std::array<std::string_view, 4> allowed = {"limit", "cursor", "email", "flag"};
  EXPECT_EQ(q->FirstUnknown(allowed), "x");
  EXPECT_TRUE(QueryParams::Parse("").ok());
  EXPECT_TRUE(QueryParams::Parse("a=%C3%A9").ok());
}

TEST(Query, RefusesBadInput) {
  struct Case {
    std::string query;
    std::string param;
  };
  std::string many;
  for (int i = 0; i < 33; ++i) many += "p" + std::string(1, static_cast<char>('a' + i % 26)) + std::string(i / 26, 'z') + "=1&";
  const Case cases[] = {
      {"limit=1&limit=2", "limit"},
      {"a=%zz", "a"},
      {"a=%4", "a"},
      {"a=%", "a"},
      {"a=%00", "a"},
      {"a=%0A", "a"},
      {"a=%FF", "a"},
      {"A=1", ""},
      {"=1", ""},
      {"a-b=1", ""},
      {std::string(33, 'a') + "=1", ""},
      {"a=" + std::string(1023, 'x'), "a"},
      {many, ""},
  };
  for (const Case& c : cases) {
    auto q = QueryParams::Parse(c.query);
    ASSERT_FALSE(q.ok()) << c.query;
    EXPECT_EQ(q.error().param, c.param) << c.query;
    EXPECT_FALSE(q.error().detail.empty());
  }
  EXPECT_TRUE(QueryParams::Parse("a=" + std::string(1022, 'x')).ok());  // 1,024 bytes in all
  std::string thirty_two;
  for (int i = 0; i < 32; ++i) thirty_two += "p" + std::string(1, static_cast<char>('a' + i % 26)) + std::string(i / 26, 'z') + "=1&";
  EXPECT_TRUE(QueryParams::Parse(thirty_two).ok());
}

}  // namespace
}  // namespace strait::control
