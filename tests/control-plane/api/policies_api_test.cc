// Policies, assignments and effective policy through the real server (docs/control-plane.md §4.7, §4.8, §7.3).
#include "tests/control-plane/api/api_fixture.h"

#include <map>
#include <set>

#include "control-plane/api/ids.h"
#include "tunnel/connector/policy_file.h"

namespace strait::control::testing {
namespace {

using json = nlohmann::json;

constexpr std::string_view kPolicyBody =
    R"({"name":"%s","default":%s,"app":{"allow":[{"hosts":["intranet.corp.example"],"ports":["443"]}],"deny":[]}})";

class PoliciesApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    t_ = MakeTenant("acme");
  }

  std::string PolicyBody(std::string_view name, bool is_default = false) {
    std::string b(kPolicyBody);
    b.replace(b.find("%s"), 2, name);
    b.replace(b.find("%s"), 2, is_default ? "true" : "false");
    return b;
  }

  json CreatePolicy(std::string_view name, bool is_default = false) {
    Reply r = Call("POST", "/v1/tenants/acme/policies", t_.admin, PolicyBody(name, is_default));
    EXPECT_EQ(r.status, 201u) << r.body;
    return Body(r);
  }

  json Assign(const std::string& policy, std::string_view kind, const std::string& target, int priority) {
    Reply r = Call("POST", "/v1/tenants/acme/policy-assignments", t_.admin,
                   json{{"policy", policy}, {"target", {{"kind", kind}, {"id", target}}}, {"priority", priority}}.dump());
    EXPECT_EQ(r.status, 201u) << r.body;
    return Body(r);
  }

  // A user, straight into the store.
  std::string InsertUser() {
    store::UserRecord u;
    u.id = GenerateId(IdKind::kUser);
    u.email = u.id + "@corp.example";
    u.display_name = "User";
    u.created_at = u.updated_at = clock_.now;
    auto tx = store_->Write();
    EXPECT_TRUE((*tx)->InsertUser(store::TenantScope("acme"), u).ok());
    EXPECT_TRUE((*tx)->Commit().ok());
    return u.id;
  }

  std::string InsertDevice(const std::string& user) {
    store::DeviceRecord d;
    d.id = GenerateId(IdKind::kDevice);
    d.user_id = user;
    d.name = "laptop";
    d.signing_public.assign(32, 1);
    d.noise_public.assign(32, 2);
    d.activation_id = "AAAAAAAA";
    d.activated_at = d.created_at = d.updated_at = clock_.now;
    auto tx = store_->Write();
    auto r = (*tx)->InsertDevice(store::TenantScope("acme"), d);
    EXPECT_TRUE(r.ok()) << r.error().reason;
    EXPECT_TRUE((*tx)->Commit().ok());
    return d.id;
  }

  std::string InsertGroup(const std::vector<std::string>& members) {
    store::GroupRecord g;
    g.id = GenerateId(IdKind::kGroup);
    g.name = g.id;
    g.created_at = g.updated_at = clock_.now;
    auto tx = store_->Write();
    EXPECT_TRUE((*tx)->InsertGroup(store::TenantScope("acme"), g).ok());
    for (const auto& u : members) EXPECT_TRUE((*tx)->PutGroupMember(store::TenantScope("acme"), g.id, u, 1).ok());
    EXPECT_TRUE((*tx)->Commit().ok());
    return g.id;
  }

  json Effective(const std::string& device) {
    Reply r = Call("GET", "/v1/tenants/acme/devices/" + device + "/effective-policy", t_.read_only);
    EXPECT_EQ(r.status, 200u) << r.body;
    return Body(r);
  }

  // The events appended after `after`, as parsed bodies.
  std::vector<json> EventsAfter(store::EventId after) {
    auto tx = store_->Read();
    auto events = (*tx)->ReadEvents(after, 10'000);
    EXPECT_TRUE(events.ok());
    std::vector<json> out;
    for (const auto& e : *events) {
      json j = json::parse(e.body);
      EXPECT_EQ(j["type"], e.type);
      EXPECT_EQ(j["tenant"], "acme");
      out.push_back(std::move(j));
    }
    return out;
  }

  Reply Put(const std::string& id, const std::string& body, std::optional<std::string> if_match) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"},
                                                                {"Authorization", "Bearer " + t_.admin}};
    if (if_match) headers.emplace_back("If-Match", *if_match);
    return Client().Send("PUT", "/v1/tenants/acme/policies/" + id, body, std::move(headers));
  }

  TenantKeys t_;
};

TEST_F(PoliciesApiTest, CreateGetListAndDelete) {
  store::EventId before = store_->LastEventId();
  json p = CreatePolicy("web");
  const std::string id = p["id"];
  EXPECT_TRUE(IsValidId(IdKind::kPolicy, id));
  EXPECT_EQ(p["version"], 1);
  EXPECT_EQ(p["default"], false);
  EXPECT_EQ(p["app"]["allow"][0]["hosts"][0], "intranet.corp.example");
  // The TOML is what connectors load: their parser accepts it.
  auto parsed = connector::ParsePolicy(p["toml"].get<std::string>(), "t");
  ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
  EXPECT_TRUE(parsed->Decide("intranet.corp.example", 443).allowed());

  std::vector<json> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "policy.updated");
  EXPECT_EQ(events[0]["policy"], id);
  EXPECT_EQ(events[0]["version"], 1);
  EXPECT_EQ(events[0]["default"], false);
  EXPECT_EQ(events[0]["toml"], p["toml"]);

  Reply got = Call("GET", "/v1/tenants/acme/policies/" + id, t_.read_only);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(Body(got), p);
  EXPECT_EQ(got.Header("etag"), "\"1\"");

  CreatePolicy("mail");
  Reply list = Call("GET", "/v1/tenants/acme/policies?limit=1", t_.read_only);
  ASSERT_EQ(list.status, 200u);
  json page = Body(list);
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_FALSE(page["items"][0].contains("app")) << "a summary has no rules";
  EXPECT_FALSE(page["items"][0].contains("toml"));
  EXPECT_FALSE(page["next_cursor"].is_null());

  Reply dup = Call("POST", "/v1/tenants/acme/policies", t_.admin, PolicyBody("web"));
  EXPECT_EQ(dup.status, 409u);
  EXPECT_EQ(Body(dup)["field"], "name");
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/policies", t_.read_only, PolicyBody("x")).status, 403u);

  before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policies/" + id, t_.admin).status, 204u);
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "policy.deleted");
  EXPECT_EQ(events[0]["policy"], id);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/policies/" + id, t_.admin).status, 404u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policies/" + id, t_.admin).status, 404u);

  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=policy.delete", t_.admin);
  ASSERT_EQ(audit.status, 200u);
  ASSERT_EQ(Body(audit)["items"].size(), 1u);
  EXPECT_EQ(Body(audit)["items"][0]["resource"]["id"], id);
}

TEST_F(PoliciesApiTest, PutWithIfMatchBumpsTheVersion) {
  const std::string id = CreatePolicy("web")["id"];
  Reply ok = Put(id, PolicyBody("web2"), "\"1\"");
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(Body(ok)["version"], 2);
  EXPECT_EQ(Body(ok)["name"], "web2");
  EXPECT_EQ(ok.Header("etag"), "\"2\"");

  Reply stale = Put(id, PolicyBody("web3"), "\"1\"");
  EXPECT_EQ(stale.status, 412u);
  EXPECT_EQ(ProblemName(stale), "version-mismatch");
  EXPECT_EQ(Body(stale)["version"], 2);

  Reply bad = Put(id, PolicyBody("web3"), "W/\"2\"");
  EXPECT_EQ(bad.status, 400u);
  Reply unconditional = Put(id, PolicyBody("web3"), std::nullopt);
  ASSERT_EQ(unconditional.status, 200u) << unconditional.body;
  EXPECT_EQ(Body(unconditional)["version"], 3);
  EXPECT_EQ(Put("p-aaaaaaaaaaaaaaaa", PolicyBody("x"), std::nullopt).status, 404u);
}

TEST_F(PoliciesApiTest, TomlLevelErrorsComeBackAsPointers) {
  Reply r = Call("POST", "/v1/tenants/acme/policies", t_.admin,
                 R"({"name":"bad","app":{"allow":[{"hosts":["a.example"],"ports":["443"]},
                     {"cidrs":["10.20.1.0/16"],"ports":["*"]}]}})");
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(ProblemName(r), "invalid-request");
  json errors = Body(r)["errors"];
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]["pointer"], "/app/allow/1/cidrs/0");
  EXPECT_NE(errors[0]["detail"].get<std::string>().find("host bits set"), std::string::npos);

  r = Call("POST", "/v1/tenants/acme/policies", t_.admin,
           R"({"name":"bad","app":{},"tunnel":{"allow":[{"cidrs":["10.0.0.0/8"],"protocols":["gre"]}]}})");
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(Body(r)["errors"][0]["pointer"], "/tunnel/allow/0/protocols/0");
  r = Call("POST", "/v1/tenants/acme/policies", t_.admin, R"({"name":"bad","app":{"allow":[{"hots":["a"]}]}})");
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(Body(r)["errors"][0]["pointer"], "/app/allow/0/hots");
}

TEST_F(PoliciesApiTest, BigPoliciesPassTheDefaultJsonBounds) {
  // 30,000 values: more than the default body's 20,000, within a policy's.
  json deny = json::array();
  for (int i = 0; i < 1000; ++i) {
    json cidrs = json::array();
    for (int j = 0; j < 28; ++j) cidrs.push_back(fmt::format("10.{}.{}.0/24", i % 250, j));
    deny.push_back({{"cidrs", cidrs}});
  }
  Reply r = Call("POST", "/v1/tenants/acme/policies", t_.admin, json{{"name", "big"}, {"app", {{"deny", deny}}}}.dump());
  ASSERT_EQ(r.status, 201u) << r.body.substr(0, 500);
}

TEST_F(PoliciesApiTest, OneDefaultPerTenant) {
  const std::string a = CreatePolicy("a", true)["id"];
  store::EventId before = store_->LastEventId();
  const std::string b = CreatePolicy("b", true)["id"];
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/policies/" + a, t_.admin))["default"], false);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/policies/" + b, t_.admin))["default"], true);
  // Connectors hear that a is no longer the default, then that b is.
  std::vector<json> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["policy"], a);
  EXPECT_EQ(events[0]["default"], false);
  EXPECT_EQ(events[1]["policy"], b);
  EXPECT_EQ(events[1]["default"], true);

  // A PUT making a the default again clears b.
  Reply r = Put(a, PolicyBody("a", true), "\"1\"");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/policies/" + b, t_.admin))["default"], false);
}

TEST_F(PoliciesApiTest, EffectivePolicyViaUserGroupDefaultAndNone) {
  const std::string alice = InsertUser(), bob = InsertUser();
  const std::string laptop = InsertDevice(alice), phone = InsertDevice(alice), bobs = InsertDevice(bob);
  const std::string eng = InsertGroup({alice, bob});

  json e = Effective(laptop);
  EXPECT_EQ(e["via"], "none");
  EXPECT_TRUE(e["policy"].is_null());
  EXPECT_TRUE(e["version"].is_null());
  EXPECT_EQ(e["device"], laptop);

  // A new default moves every device: device.policy with null (they follow the default).
  store::EventId before = store_->LastEventId();
  const std::string def = CreatePolicy("default", true)["id"];
  std::vector<json> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 4u);
  std::set<std::string> moved;
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i]["type"], "device.policy");
    EXPECT_TRUE(events[i]["policy"].is_null());
    moved.insert(events[i]["device"]);
  }
  EXPECT_EQ(moved, (std::set<std::string>{laptop, phone, bobs}));
  e = Effective(laptop);
  EXPECT_EQ(e["via"], "default");
  EXPECT_EQ(e["policy"], def);
  EXPECT_EQ(e["version"], 1);

  // A group assignment moves both users' devices.
  const std::string group_policy = CreatePolicy("eng")["id"];
  before = store_->LastEventId();
  const std::string ga = Assign(group_policy, "group", eng, 10)["id"];
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 3u);
  for (const auto& ev : events) EXPECT_EQ(ev["policy"], group_policy);
  e = Effective(bobs);
  EXPECT_EQ(e["via"], "group");
  EXPECT_EQ(e["assignment"], ga);

  // A user assignment beats the group's, whatever the priority; only alice's two devices move.
  const std::string user_policy = CreatePolicy("alice")["id"];
  before = store_->LastEventId();
  const std::string ua = Assign(user_policy, "user", alice, 1000)["id"];
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 2u);
  for (const auto& ev : events) {
    EXPECT_EQ(ev["policy"], user_policy);
    EXPECT_NE(ev["device"], bobs);
  }
  EXPECT_EQ(Effective(phone)["via"], "user");
  EXPECT_EQ(Effective(bobs)["policy"], group_policy);

  // A lower-priority group assignment of another policy changes nothing for alice, and moves bob.
  const std::string other = CreatePolicy("other")["id"];
  before = store_->LastEventId();
  Assign(other, "group", eng, 5);
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["device"], bobs);
  EXPECT_EQ(events[0]["policy"], other);

  // Filters.
  Reply list = Call("GET", "/v1/tenants/acme/policy-assignments?user=" + alice, t_.read_only);
  ASSERT_EQ(list.status, 200u);
  ASSERT_EQ(Body(list)["items"].size(), 1u);
  EXPECT_EQ(Body(list)["items"][0]["id"], ua);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/policy-assignments?group=" + eng, t_.admin))["items"].size(), 2u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/policy-assignments?policy=" + other, t_.admin))["items"].size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/policy-assignments?user=nope", t_.admin).status, 400u);

  // Deleting the user's assignment sends alice back to the group's best.
  before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policy-assignments/" + ua, t_.admin).status, 204u);
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 2u);
  for (const auto& ev : events) EXPECT_EQ(ev["policy"], other);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policy-assignments/" + ua, t_.admin).status, 404u);

  // Deleting a policy drops its assignments: everyone falls back to the remaining group assignment.
  before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policies/" + other, t_.admin).status, 204u);
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]["type"], "policy.deleted");
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i]["policy"], group_policy);
  EXPECT_EQ(Effective(laptop)["policy"], group_policy);

  // Deleting the default: nothing moves for devices on an assignment.
  before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/policies/" + def, t_.admin).status, 204u);
  EXPECT_EQ(EventsAfter(before).size(), 1u);

  EXPECT_EQ(Call("GET", "/v1/tenants/acme/devices/d-aaaaaaaaaaaaaaaa/effective-policy", t_.admin).status, 404u);
}

// A connector snapshot's device_policies (§7.2): the devices with a policy of their own (via their user or a group),
// the same ones device.policy events name a policy for; devices on the default are left out.
TEST_F(PoliciesApiTest, ConnectorSnapshotListsTheDevicesWithAPolicyOfTheirOwn) {
  {
    store::ConnectorRecord conn;
    conn.id = "dc-east";
    conn.display_name = "DC east";
    conn.state = store::EnrolState::kActive;
    auto tx = store_->Write();
    ASSERT_TRUE((*tx)->InsertConnector(store::TenantScope("acme"), conn).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  auto snapshot = [&] {
    Reply r = Call("GET", "/v1/tenants/acme/connectors/dc-east/snapshot", t_.admin);
    EXPECT_EQ(r.status, 200u) << r.body;
    const json body = Body(r);
    std::map<std::string, std::string> out;
    for (const json& d : body["device_policies"]) out[d["device"]] = d["policy"];
    return out;
  };
  const std::string alice = InsertUser(), bob = InsertUser(), carol = InsertUser();
  const std::string laptop = InsertDevice(alice), phone = InsertDevice(alice), bobs = InsertDevice(bob);
  InsertDevice(carol);
  const std::string eng = InsertGroup({bob});
  EXPECT_TRUE(snapshot().empty());
  CreatePolicy("default", true);
  EXPECT_TRUE(snapshot().empty());  // everyone follows the default
  const std::string mine = CreatePolicy("alice")["id"], group = CreatePolicy("eng")["id"];
  Assign(mine, "user", alice, 10);
  Assign(group, "group", eng, 10);
  EXPECT_EQ(snapshot(), (std::map<std::string, std::string>{{laptop, mine}, {phone, mine}, {bobs, group}}));
}

TEST_F(PoliciesApiTest, AssignmentTargetsMustExist) {
  const std::string p = CreatePolicy("p")["id"];
  const std::string u = InsertUser();
  auto post = [&](const json& body) { return Call("POST", "/v1/tenants/acme/policy-assignments", t_.admin, body.dump()); };
  EXPECT_EQ(post({{"policy", p}, {"target", {{"kind", "user"}, {"id", "u-aaaaaaaaaaaaaaaa"}}}, {"priority", 1}}).status,
            404u);
  EXPECT_EQ(post({{"policy", p}, {"target", {{"kind", "group"}, {"id", "g-aaaaaaaaaaaaaaaa"}}}, {"priority", 1}}).status,
            404u);
  EXPECT_EQ(post({{"policy", "p-aaaaaaaaaaaaaaaa"}, {"target", {{"kind", "user"}, {"id", u}}}, {"priority", 1}}).status,
            404u);
  Reply range = post({{"policy", p}, {"target", {{"kind", "user"}, {"id", u}}}, {"priority", 1001}});
  EXPECT_EQ(range.status, 400u);
  EXPECT_EQ(Body(range)["errors"][0]["pointer"], "/priority");
  Reply kind = post({{"policy", p}, {"target", {{"kind", "user"}, {"id", "g-aaaaaaaaaaaaaaaa"}}}, {"priority", 1}});
  EXPECT_EQ(kind.status, 400u);
  EXPECT_EQ(Body(kind)["errors"][0]["pointer"], "/target/id");
  EXPECT_EQ(post({{"policy", p}, {"target", {{"kind", "user"}, {"id", u}}}, {"priority", 1}}).status, 201u);
  Reply dup = post({{"policy", p}, {"target", {{"kind", "user"}, {"id", u}}}, {"priority", 2}});
  EXPECT_EQ(dup.status, 409u);
}

TEST_F(PoliciesApiTest, MoreThanAThousandDevicesMovedIsOneResync) {
  {
    auto tx = store_->Write();
    const store::TenantScope scope("acme");
    store::UserRecord u;
    u.id = GenerateId(IdKind::kUser);
    u.email = "many@corp.example";
    u.display_name = "Many";
    ASSERT_TRUE((*tx)->InsertUser(scope, u).ok());
    for (int i = 0; i < 1001; ++i) {
      store::DeviceRecord d;
      d.id = GenerateId(IdKind::kDevice);
      d.user_id = u.id;
      d.name = "d";
      d.signing_public.assign(32, 1);
      d.noise_public.assign(32, 2);
      d.activation_id = "AAAAAAAA";
      ASSERT_TRUE((*tx)->InsertDevice(scope, d).ok());
    }
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  store::EventId before = store_->LastEventId();
  CreatePolicy("default", true);
  std::vector<json> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "policy.updated");
  EXPECT_EQ(events[1]["type"], "resync");
  EXPECT_TRUE(events[1]["reason"].is_string());
}

}  // namespace
}  // namespace strait::control::testing
