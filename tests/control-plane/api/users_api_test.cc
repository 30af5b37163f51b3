// Users, groups and members through the real server (docs/control-plane.md §4.8 Tenant, §4.9 User, Group).
#include "tests/control-plane/api/people_fixture.h"

#include <algorithm>
#include <set>

#include "control-plane/api/formats.h"

namespace strait::control::testing {
namespace {

using UsersApiTest = PeopleFixture;

TEST_F(UsersApiTest, CreateReadListAndFindByEmail) {
  TenantKeys acme = MakeTenant("acme");
  Reply r = Call("POST", "/v1/tenants/acme/users", acme.admin, R"({"email":"Ann@Acme.Example","display_name":"Ann"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  nlohmann::json ann = Body(r);
  const std::string id = ann["id"];
  EXPECT_TRUE(IsValidId(IdKind::kUser, id)) << id;
  EXPECT_EQ(r.Header("location"), "/v1/tenants/acme/users/" + id);
  EXPECT_EQ(ann["email"], "ann@acme.example");  // stored lower case
  EXPECT_EQ(ann["device_count"], 0);
  EXPECT_EQ(ann["created_at"], FormatTime(Seconds(std::chrono::seconds(clock_.now.load()))));

  // Emails are unique per tenant, case-insensitively; another tenant may have the same one.
  Reply dup = Call("POST", "/v1/tenants/acme/users", acme.admin, R"({"email":"ANN@acme.example","display_name":"x"})");
  EXPECT_EQ(dup.status, 409u);
  EXPECT_EQ(ProblemName(dup), "conflict");
  EXPECT_EQ(Body(dup)["field"], "email");
  TenantKeys other = MakeTenant("other");
  EXPECT_EQ(Call("POST", "/v1/tenants/other/users", other.admin, R"({"email":"ann@acme.example","display_name":"A"})")
                .status,
            201u);

  Reply got = Call("GET", "/v1/tenants/acme/users/" + id, acme.read_only);
  ASSERT_EQ(got.status, 200u) << got.body;
  EXPECT_EQ(Body(got), ann);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/users/u-aaaaaaaaaaaaaaaa", acme.admin).status, 404u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/users/not-an-id", acme.admin).status, 404u);
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/users", acme.read_only, R"({"email":"r@x","display_name":"R"})").status,
            403u);

  std::vector<std::string> made = {id};
  for (int i = 0; i < 6; ++i) made.push_back(MakeUser(acme, fmt::format("u{}@acme.example", i)));
  std::sort(made.begin(), made.end());
  std::vector<std::string> seen;
  for (const auto& u : AllPages("/v1/tenants/acme/users", acme.read_only, 3)) seen.push_back(u["id"]);
  EXPECT_EQ(seen, made);  // every user once, by id

  Reply found = Call("GET", "/v1/tenants/acme/users?email=ANN%40acme.example", acme.admin);
  ASSERT_EQ(found.status, 200u) << found.body;
  ASSERT_EQ(Body(found)["items"].size(), 1u);
  EXPECT_EQ(Body(found)["items"][0]["id"], id);
  EXPECT_TRUE(Body(found)["next_cursor"].is_null());
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/users?email=nobody%40acme.example", acme.admin))["items"].size(), 0u);
  Reply bad = Call("GET", "/v1/tenants/acme/users?email=not-an-email", acme.admin);
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(Body(bad)["errors"][0]["pointer"], "/email");
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/users?role=x", acme.admin).status, 400u);
  // A cursor of the unfiltered list does not page the filtered one.
  Reply first = Call("GET", "/v1/tenants/acme/users?limit=1", acme.admin);
  const std::string cursor = Body(first)["next_cursor"];
  Reply moved = Call("GET", "/v1/tenants/acme/users?email=ann%40acme.example&cursor=" + cursor, acme.admin);
  EXPECT_EQ(moved.status, 400u);
  EXPECT_EQ(ProblemName(moved), "invalid-cursor");
  Reply groups_cursor = Call("GET", "/v1/tenants/acme/groups?cursor=" + cursor, acme.admin);
  EXPECT_EQ(ProblemName(groups_cursor), "invalid-cursor");
}

TEST_F(UsersApiTest, PatchChangesOnlyWhatItNamesAndAuditsIt) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  MakeUser(acme, "bob@acme.example");
  const std::string path = "/v1/tenants/acme/users/" + ann;
  clock_.now += 60;
  Reply r = Call("PATCH", path, acme.admin, R"({"display_name":"Ann Smith"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Body(r)["display_name"], "Ann Smith");
  EXPECT_EQ(Body(r)["email"], "ann@acme.example");
  EXPECT_EQ(Body(r)["updated_at"], FormatTime(Seconds(std::chrono::seconds(clock_.now.load()))));
  Reply taken = Call("PATCH", path, acme.admin, R"({"email":"BOB@acme.example"})");
  EXPECT_EQ(taken.status, 409u);
  EXPECT_EQ(Body(taken)["field"], "email");
  EXPECT_EQ(Call("PATCH", path, acme.admin, R"({"email":"ann@new.example"})").status, 200u);
  EXPECT_EQ(Call("PATCH", path, acme.admin, R"({"nickname":"A"})").status, 400u);
  EXPECT_EQ(Call("PATCH", path, acme.read_only, R"({"display_name":"R"})").status, 403u);
  // The same value again changes nothing and is not audited.
  EXPECT_EQ(Call("PATCH", path, acme.admin, R"({"display_name":"Ann Smith"})").status, 200u);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=user.update&resource_id=" + ann, acme.admin);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  nlohmann::json items = Body(audit)["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["detail"], nlohmann::json::parse(R"({"email":"ann@new.example"})"));
  EXPECT_EQ(items[1]["detail"], nlohmann::json::parse(R"({"display_name":"Ann Smith"})"));
}

TEST_F(UsersApiTest, DeleteRevokesAndRemovesEveryDeviceThenTheUser) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const std::string bob = MakeUser(acme, "bob@acme.example");
  const int64_t not_after = clock_.now + 86400;
  const std::string phone = MakeDevice("acme", ann, store::DeviceOs::kAndroid, not_after);
  const std::string laptop = MakeDevice("acme", ann, store::DeviceOs::kLinux);  // no credential yet
  const std::string gone = MakeDevice("acme", ann, store::DeviceOs::kIos, not_after);
  const std::string bobs = MakeDevice("acme", bob, store::DeviceOs::kIos, not_after);
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + gone + "/revoke", acme.admin, "{}").status, 200u);
  Reply group = Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"eng"})");
  const std::string g = Body(group)["id"];
  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/groups/" + g + "/members/" + ann, acme.admin).status, 204u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/users/" + ann, acme.admin))["device_count"], 3);

  const store::EventId before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/users/" + ann, acme.read_only).status, 403u);
  Reply del = Call("DELETE", "/v1/tenants/acme/users/" + ann, acme.admin);
  ASSERT_EQ(del.status, 204u) << del.body;
  EXPECT_TRUE(del.body.empty());

  // One device.revoked for each device that was not revoked yet; the revoked one had its event already.
  std::vector<store::EventRecord> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 2u);
  std::set<std::string> revoked;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, "device.revoked");
    EXPECT_EQ(e.tenant, "acme");
    nlohmann::json b = nlohmann::json::parse(e.body);
    EXPECT_EQ(b["tenant"], "acme");
    EXPECT_EQ(b["reason"], "user deleted");
    revoked.insert(b["device"].get<std::string>());
    if (b["device"] == phone) {
      EXPECT_EQ(b["until"], FormatTime(Seconds(std::chrono::seconds(not_after))));
    } else {
      EXPECT_EQ(b["until"], FormatTime(Seconds(std::chrono::seconds(clock_.now.load()))));  // no credential: now
    }
  }
  EXPECT_EQ(revoked, (std::set<std::string>{phone, laptop}));
  // The denials outlive the rows: a credential of the phone stays refused until it expires.
  auto denial = Denial("acme", phone);
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->until, not_after);
  EXPECT_EQ(denial->reason, store::DenialReason::kDeleted);
  ASSERT_TRUE(Denial("acme", gone).has_value());
  for (const std::string& d : {phone, laptop, gone}) {
    EXPECT_EQ(Call("GET", "/v1/tenants/acme/devices/" + d, acme.admin).status, 404u) << d;
  }
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/users/" + ann, acme.admin).status, 404u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/users/" + ann, acme.admin).status, 404u);
  // Bob and his device are untouched; the membership went with Ann.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/devices/" + bobs, acme.admin))["state"], "active");
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/groups/" + g, acme.admin))["member_count"], 0);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=user.delete", acme.admin);
  ASSERT_EQ(Body(audit)["items"].size(), 1u);
  EXPECT_EQ(Body(audit)["items"][0]["detail"]["devices_removed"], 3);
}

TEST_F(UsersApiTest, GroupsCreateRenameListAndDelete) {
  TenantKeys acme = MakeTenant("acme");
  Reply r = Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"eng","description":"Engineers"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  nlohmann::json eng = Body(r);
  const std::string id = eng["id"];
  EXPECT_TRUE(IsValidId(IdKind::kGroup, id)) << id;
  EXPECT_EQ(r.Header("location"), "/v1/tenants/acme/groups/" + id);
  EXPECT_EQ(eng["member_count"], 0);
  EXPECT_EQ(eng["description"], "Engineers");
  Reply dup = Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"eng"})");
  EXPECT_EQ(dup.status, 409u);
  EXPECT_EQ(Body(dup)["field"], "name");
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":""})").status, 400u);
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/groups", acme.read_only, R"({"name":"ro"})").status, 403u);

  Reply bare = Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"qa"})");
  ASSERT_EQ(bare.status, 201u);
  EXPECT_EQ(Body(bare)["description"], "");
  Reply renamed = Call("PATCH", "/v1/tenants/acme/groups/" + id, acme.admin, R"({"name":"engineering"})");
  ASSERT_EQ(renamed.status, 200u) << renamed.body;
  EXPECT_EQ(Body(renamed)["name"], "engineering");
  EXPECT_EQ(Body(renamed)["description"], "Engineers");
  EXPECT_EQ(Call("PATCH", "/v1/tenants/acme/groups/" + id, acme.admin, R"({"name":"qa"})").status, 409u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/groups/" + id, acme.read_only).status, 200u);

  std::vector<std::string> names;
  for (const auto& g : AllPages("/v1/tenants/acme/groups", acme.read_only, 1)) names.push_back(g["name"]);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"engineering", "qa"}));

  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/groups/" + id, acme.read_only).status, 403u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/groups/" + id, acme.admin).status, 204u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/groups/" + id, acme.admin).status, 404u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/groups/" + id, acme.admin).status, 404u);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?resource_type=group", acme.admin);
  const nlohmann::json items = Body(audit)["items"];  // a range-for over a temporary's member would dangle
  std::vector<std::string> actions;
  for (const auto& a : items) actions.push_back(a["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"group.delete", "group.update", "group.create", "group.create"}));
}

TEST_F(UsersApiTest, MembersAreASetPagedByUser) {
  TenantKeys acme = MakeTenant("acme");
  const std::string g = Body(Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"eng"})"))["id"];
  const std::string base = "/v1/tenants/acme/groups/" + g + "/members";
  std::vector<std::string> users;
  for (int i = 0; i < 5; ++i) users.push_back(MakeUser(acme, fmt::format("m{}@acme.example", i)));
  for (const std::string& u : users) {
    Reply put = Call("PUT", base + "/" + u, acme.admin);
    ASSERT_EQ(put.status, 204u) << put.body;
  }
  // A member again: 204, no change, no audit.
  EXPECT_EQ(Call("PUT", base + "/" + users[0], acme.admin).status, 204u);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=group.member_add", acme.admin);
  EXPECT_EQ(Body(audit)["items"].size(), 5u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/groups/" + g, acme.admin))["member_count"], 5);

  std::sort(users.begin(), users.end());
  std::vector<std::string> seen;
  for (const auto& m : AllPages(base, acme.read_only, 2)) {
    seen.push_back(m["user"]);
    EXPECT_EQ(m["added_at"], FormatTime(Seconds(std::chrono::seconds(clock_.now.load()))));
  }
  EXPECT_EQ(seen, users);

  // Unknown group or user: 404; a body is refused (the route takes none); read-only may not change members.
  EXPECT_EQ(Call("PUT", base + "/u-aaaaaaaaaaaaaaaa", acme.admin).status, 404u);
  EXPECT_EQ(Call("PUT", "/v1/tenants/acme/groups/g-aaaaaaaaaaaaaaaa/members/" + users[0], acme.admin).status, 404u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/groups/g-aaaaaaaaaaaaaaaa/members", acme.admin).status, 404u);
  EXPECT_EQ(Call("PUT", base + "/" + users[1], acme.admin, "{}").status, 413u);
  EXPECT_EQ(Call("PUT", base + "/" + users[1], acme.read_only).status, 403u);

  EXPECT_EQ(Call("DELETE", base + "/" + users[0], acme.admin).status, 204u);
  EXPECT_EQ(Call("DELETE", base + "/" + users[0], acme.admin).status, 404u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/groups/" + g, acme.admin))["member_count"], 4);
  // A members cursor belongs to its group.
  const std::string other = Body(Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"qa"})"))["id"];
  const std::string cursor = Body(Call("GET", base + "?limit=1", acme.admin))["next_cursor"];
  Reply moved = Call("GET", "/v1/tenants/acme/groups/" + other + "/members?cursor=" + cursor, acme.admin);
  EXPECT_EQ(ProblemName(moved), "invalid-cursor");
}

TEST_F(UsersApiTest, MembershipOfAnAssignedGroupAppendsResync) {
  TenantKeys acme = MakeTenant("acme");
  const std::string g = Body(Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"eng"})"))["id"];
  const std::string plain = Body(Call("POST", "/v1/tenants/acme/groups", acme.admin, R"({"name":"plain"})"))["id"];
  const std::string ann = MakeUser(acme, "ann@acme.example");
  {
    // A policy assigned to the group (the policy routes are another area's; the rows are enough here).
    auto tx = store_->Write();
    ASSERT_TRUE(tx.ok());
    const store::TenantScope scope("acme");
    store::PolicyRecord p;
    p.id = GenerateId(IdKind::kPolicy);
    p.name = "staff";
    p.doc_json = "{}";
    p.toml = "";
    p.created_at = p.updated_at = clock_.now;
    ASSERT_TRUE((*tx)->InsertPolicy(scope, p).ok());
    store::PolicyAssignmentRecord a;
    a.id = GenerateId(IdKind::kAssignment);
    a.policy_id = p.id;
    a.target_kind = store::TargetKind::kGroup;
    a.target_id = g;
    a.created_at = a.updated_at = clock_.now;
    ASSERT_TRUE((*tx)->InsertAssignment(scope, a).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  store::EventId before = store_->LastEventId();
  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/groups/" + plain + "/members/" + ann, acme.admin).status, 204u);
  EXPECT_EQ(store_->LastEventId(), before);  // a group no policy is assigned to decides nothing
  ASSERT_EQ(Call("PUT", "/v1/tenants/acme/groups/" + g + "/members/" + ann, acme.admin).status, 204u);
  ASSERT_EQ(Call("DELETE", "/v1/tenants/acme/groups/" + g + "/members/" + ann, acme.admin).status, 204u);
  ASSERT_EQ(Call("DELETE", "/v1/tenants/acme/groups/" + g, acme.admin).status, 204u);
  std::vector<store::EventRecord> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) {
    EXPECT_EQ(e.type, "resync");
    EXPECT_EQ(e.tenant, "acme");
    nlohmann::json b = nlohmann::json::parse(e.body);
    EXPECT_EQ(b["tenant"], "acme");
    EXPECT_NE(b["reason"].get<std::string>().find(g), std::string::npos);
  }
}

}  // namespace
}  // namespace strait::control::testing
