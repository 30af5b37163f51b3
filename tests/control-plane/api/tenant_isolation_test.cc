// Tenant isolation through the real server (docs/control-plane.md §3 rule 2, §10): tenant B's admin key reads,
// lists, changes, deletes and pages nothing of tenant A's, whether it names A in the path or A's ids under its own;
// and a read-only key is refused every write.
#include "tests/control-plane/api/people_fixture.h"

namespace strait::control::testing {
namespace {

class TenantIsolationTest : public PeopleFixture {
 protected:
  void SetUp() override {
    PeopleFixture::SetUp();
    a_ = MakeTenant("tenant-a");
    b_ = MakeTenant("tenant-b");
    user_ = MakeUser(a_, "ann@a.example");
    MakeUser(a_, "amy@a.example");
    group_ = Body(Call("POST", "/v1/tenants/tenant-a/groups", a_.admin, R"({"name":"eng"})"))["id"];
    EXPECT_EQ(Call("PUT", "/v1/tenants/tenant-a/groups/" + group_ + "/members/" + user_, a_.admin).status, 204u);
    device_ = MakeDevice("tenant-a", user_, store::DeviceOs::kAndroid, clock_.now + 3600);
    MakeDevice("tenant-a", user_, store::DeviceOs::kIos);
    Call("POST", "/v1/tenants/tenant-a/groups", a_.admin, R"({"name":"qa"})");
    key_ = a_.read_only.substr(3, 12);
    // B has things of its own, so a leak would have somewhere to show.
    MakeUser(b_, "bob@b.example");
  }

  // A route's path with A's real ids in it, under `tenant`.
  std::string Fill(std::string_view path, const std::string& tenant) const {
    std::string out(path);
    const std::pair<const char*, std::string> values[] = {{"{tenant}", tenant}, {"{key}", key_},
                                                          {"{user}", user_},    {"{group}", group_},
                                                          {"{device}", device_}, {"{policy}", "p-aaaaaaaaaaaaaaaa"},
                                                          {"{assignment}", "pa-aaaaaaaaaaaaaaaa"},
                                                          {"{activation}", "AAAAAAAA"}, {"{connector}", "dc-east"},
                                                          {"{relay}", "relay-1"}};
    for (const auto& [param, value] : values) {
      for (size_t at = out.find(param); at != std::string::npos; at = out.find(param)) {
        out.replace(at, strlen(param), value);
      }
    }
    EXPECT_EQ(out.find('{'), std::string::npos) << "a path parameter this test does not fill: " << out;
    return out;
  }

  static std::string BodyFor(const Route& r) {
    if (r.body_limit == 0) return "";
    if (r.path.ends_with("/push-token")) return R"({"token":"abc"})";
    if (r.path.ends_with("/users")) return R"({"email":"x@b.example","display_name":"X"})";
    if (r.path.ends_with("/groups")) return R"({"name":"x"})";
    if (r.path.ends_with("/api-keys")) return R"({"name":"x","role":"read_only"})";
    if (r.method == Method::kPatch && r.path.ends_with("{user}")) return R"({"display_name":"Mallory"})";
    if (r.method == Method::kPatch) return R"({"name":"Mallory"})";
    return "{}";
  }

  // What A has, as A's admin sees it: compared before and after B's attempts.
  nlohmann::json Snapshot() {
    nlohmann::json s;
    for (const char* list : {"users", "groups", "devices", "api-keys", "audit"}) {
      s[list] = AllPages(fmt::format("/v1/tenants/tenant-a/{}", list), a_.admin, 500);
    }
    s["members"] = AllPages("/v1/tenants/tenant-a/groups/" + group_ + "/members", a_.admin, 500);
    s["licence"] = Body(Call("GET", "/v1/tenants/tenant-a/licence", a_.admin));
    return s;
  }

  TenantKeys a_, b_;
  std::string user_, group_, device_, key_;
};

TEST_F(TenantIsolationTest, OtherTenantsPathsAreNotFoundOnEveryRoute) {
  const nlohmann::json before = Snapshot();
  const store::EventId events = store_->LastEventId();
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    if (route.path.find("{tenant}") == std::string_view::npos) continue;
    const std::string path = Fill(route.path, "tenant-a");
    Reply r = Call(MethodName(route.method), path, b_.admin, BodyFor(route));
    EXPECT_EQ(r.status, 404u) << MethodName(route.method) << " " << path << ": " << r.body;
    EXPECT_EQ(ProblemName(r), "not-found") << path;
    // Nothing in the answer names A's things, beyond the path the caller sent (the problem's `instance`).
    nlohmann::json problem = Body(r);
    problem.erase("instance");
    EXPECT_EQ(problem.dump().find(user_), std::string::npos) << path;
    EXPECT_EQ(problem.dump().find(device_), std::string::npos) << path;
    ++checked;
  }
  EXPECT_GT(checked, 20);
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(store_->LastEventId(), events);
}

TEST_F(TenantIsolationTest, OtherTenantsIdsUnderOwnPathAreNotFound) {
  const nlohmann::json before = Snapshot();
  const store::EventId events = store_->LastEventId();
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    // Routes that name one of A's resources by id, called under B's own tenant.
    const bool names_one = route.path.find("{user}") != std::string_view::npos ||
                           route.path.find("{group}") != std::string_view::npos ||
                           route.path.find("{device}") != std::string_view::npos ||
                           route.path.find("{key}") != std::string_view::npos;
    if (route.path.find("{tenant}") == std::string_view::npos || !names_one) continue;
    // A route a tenant admin may not call at all (a machine's own renewal) is 403 whatever the id: it tells nothing.
    if ((route.who & kWhoAdmin) == 0) continue;
    const std::string path = Fill(route.path, "tenant-b");
    Reply r = Call(MethodName(route.method), path, b_.admin, BodyFor(route));
    EXPECT_EQ(r.status, 404u) << MethodName(route.method) << " " << path << ": " << r.body;
    EXPECT_EQ(ProblemName(r), "not-found") << path;
    ++checked;
  }
  EXPECT_GE(checked, 17);
  // B's lists filtered by A's user find nothing; B's own lists hold only B's.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/tenant-b/devices?user=" + user_, b_.admin))["items"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/tenant-b/users?email=ann%40a.example", b_.admin))["items"].size(), 0u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/tenant-b/users", b_.admin))["items"].size(), 1u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/tenant-b/devices", b_.admin))["items"].size(), 0u);
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(store_->LastEventId(), events);
  // A's device is untouched: still active, not denied.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/tenant-a/devices/" + device_, a_.admin))["state"], "active");
  EXPECT_FALSE(Denial("tenant-a", device_).has_value());
}

TEST_F(TenantIsolationTest, OtherTenantsCursorsAreInvalid) {
  // A page of each of A's lists with a next cursor; the cursor taken to B's same list.
  const std::pair<std::string, std::string> lists[] = {
      {"/v1/tenants/tenant-a/users", "/v1/tenants/tenant-b/users"},
      {"/v1/tenants/tenant-a/groups", "/v1/tenants/tenant-b/groups"},
      {"/v1/tenants/tenant-a/devices", "/v1/tenants/tenant-b/devices"},
      {"/v1/tenants/tenant-a/api-keys", "/v1/tenants/tenant-b/api-keys"},
      {"/v1/tenants/tenant-a/audit", "/v1/tenants/tenant-b/audit"},
  };
  for (const auto& [a_list, b_list] : lists) {
    Reply page = Call("GET", a_list + "?limit=1", a_.admin);
    ASSERT_EQ(page.status, 200u) << a_list << page.body;
    ASSERT_TRUE(Body(page)["next_cursor"].is_string()) << a_list;
    const std::string cursor = Body(page)["next_cursor"];
    Reply r = Call("GET", b_list + "?cursor=" + cursor, b_.admin);
    EXPECT_EQ(r.status, 400u) << b_list << ": " << r.body;
    EXPECT_EQ(ProblemName(r), "invalid-cursor") << b_list;
    // And on A's list through B's key: not found, as every A path.
    EXPECT_EQ(Call("GET", a_list + "?cursor=" + cursor, b_.admin).status, 404u) << a_list;
  }
  // Members: a cursor of A's group on B's own group.
  ASSERT_EQ(Call("PUT", "/v1/tenants/tenant-a/groups/" + group_ + "/members/" +
                            Body(Call("GET", "/v1/tenants/tenant-a/users?email=amy%40a.example", a_.admin))["items"][0]
                                ["id"]
                                .get<std::string>(),
                 a_.admin)
                .status,
            204u);
  const std::string members_cursor =
      Body(Call("GET", "/v1/tenants/tenant-a/groups/" + group_ + "/members?limit=1", a_.admin))["next_cursor"];
  const std::string b_group = Body(Call("POST", "/v1/tenants/tenant-b/groups", b_.admin, R"({"name":"eng"})"))["id"];
  Reply r = Call("GET", "/v1/tenants/tenant-b/groups/" + b_group + "/members?cursor=" + members_cursor, b_.admin);
  EXPECT_EQ(ProblemName(r), "invalid-cursor");
}

TEST_F(TenantIsolationTest, ReadOnlyKeyIsRefusedEveryWrite) {
  const nlohmann::json before = Snapshot();
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    if (route.method == Method::kGet || route.path.find("{tenant}") == std::string_view::npos) continue;
    EXPECT_EQ(route.who & kWhoReadOnly, 0) << route.path << " lets a read-only key write";
    const std::string path = Fill(route.path, "tenant-a");
    Reply r = Call(MethodName(route.method), path, a_.read_only, BodyFor(route));
    EXPECT_EQ(r.status, 403u) << MethodName(route.method) << " " << path << ": " << r.body;
    EXPECT_EQ(ProblemName(r), "forbidden") << path;
    ++checked;
  }
  EXPECT_GT(checked, 15);
  // The same key reads every list.
  for (const char* list : {"users", "groups", "devices", "audit"}) {
    EXPECT_EQ(Call("GET", fmt::format("/v1/tenants/tenant-a/{}", list), a_.read_only).status, 200u) << list;
  }
  nlohmann::json after = Snapshot();
  // The read-only key's own last_used_at may move; nothing else does.
  EXPECT_EQ(after["users"], before["users"]);
  EXPECT_EQ(after["groups"], before["groups"]);
  EXPECT_EQ(after["devices"], before["devices"]);
  EXPECT_EQ(after["members"], before["members"]);
  EXPECT_EQ(after["audit"], before["audit"]);
}

}  // namespace
}  // namespace strait::control::testing
