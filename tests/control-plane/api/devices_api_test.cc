// Devices, the admin's side, through the real server (docs/control-plane.md §4.8 Tenant, §4.9 Device, §7.3): the
// Device body, filters, lock / unlock / revoke / delete with their denials and events, and the push token.
#include "tests/control-plane/api/people_fixture.h"

#include <algorithm>

#include "control-plane/api/formats.h"

namespace strait::control::testing {
namespace {

using DevicesApiTest = PeopleFixture;

std::string T(int64_t t) { return FormatTime(Seconds(std::chrono::seconds(t))); }

TEST_F(DevicesApiTest, DeviceBodyCarriesItsNewestCredentialAndKeys) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const std::string d = MakeDevice("acme", ann, store::DeviceOs::kAndroid, clock_.now + 3600);
  {
    // A renewal: a newer credential of the same device.
    auto tx = store_->Write();
    ASSERT_TRUE(tx.ok());
    store::CredentialRecord c;
    c.serial = *(*tx)->NextSerial();
    c.role = store::SubjectRole::kDevice;
    c.tenant = "acme";
    c.subject = d;
    c.not_before = clock_.now;
    c.not_after = clock_.now + 86400;
    c.issued_at = clock_.now;
    ASSERT_TRUE((*tx)->InsertCredential(c).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  Reply r = Call("GET", "/v1/tenants/acme/devices/" + d, acme.read_only);
  ASSERT_EQ(r.status, 200u) << r.body;
  nlohmann::json j = Body(r);
  EXPECT_EQ(j["id"], d);
  EXPECT_EQ(j["user"], ann);
  EXPECT_EQ(j["os"], "android");
  EXPECT_EQ(j["os_version"], "14");
  EXPECT_EQ(j["model"], "Pixel");
  EXPECT_EQ(j["state"], "active");
  EXPECT_EQ(j["credential"]["serial"], "2");  // a string, the newest
  EXPECT_EQ(j["credential"]["not_after"], T(clock_.now + 86400));
  EXPECT_EQ(j["keys"]["signing"], EncodeBase64(std::vector<uint8_t>(32, 0x11)));
  EXPECT_EQ(j["keys"]["noise"], EncodeBase64(std::vector<uint8_t>(32, 0x22)));
  EXPECT_EQ(j["push"], nlohmann::json::parse(R"({"service":"none","token":null,"updated_at":null})"));
  EXPECT_EQ(j["activation"], "ABCDEFGH");
  EXPECT_EQ(j["activated_at"], T(clock_.now));
  EXPECT_TRUE(j["last_renewed_at"].is_null());
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/users/" + ann, acme.admin))["device_count"], 1);
  // Without a credential: null.
  const std::string bare = MakeDevice("acme", ann, store::DeviceOs::kLinux);
  EXPECT_TRUE(Body(Call("GET", "/v1/tenants/acme/devices/" + bare, acme.admin))["credential"].is_null());
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/devices/d-aaaaaaaaaaaaaaaa", acme.admin).status, 404u);

  Reply renamed = Call("PATCH", "/v1/tenants/acme/devices/" + d, acme.admin, R"({"name":"Ann's phone"})");
  ASSERT_EQ(renamed.status, 200u) << renamed.body;
  EXPECT_EQ(Body(renamed)["name"], "Ann's phone");
  EXPECT_EQ(Call("PATCH", "/v1/tenants/acme/devices/" + d, acme.admin, R"({"state":"locked"})").status, 400u);
  EXPECT_EQ(Call("PATCH", "/v1/tenants/acme/devices/" + d, acme.read_only, R"({"name":"x"})").status, 403u);
}

TEST_F(DevicesApiTest, ListFiltersByUserStateAndOsEachBoundToItsCursor) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const std::string bob = MakeUser(acme, "bob@acme.example");
  std::vector<std::string> anns, all;
  for (int i = 0; i < 4; ++i) anns.push_back(MakeDevice("acme", ann, store::DeviceOs::kAndroid));
  const std::string bobs_ios = MakeDevice("acme", bob, store::DeviceOs::kIos);
  all = anns;
  all.push_back(bobs_ios);
  std::sort(anns.begin(), anns.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + anns[1] + "/lock", acme.admin, "{}").status, 200u);

  auto ids = [&](const std::string& target) {
    std::vector<std::string> out;
    for (const auto& d : AllPages(target, acme.read_only, 2)) out.push_back(d["id"]);
    return out;
  };
  EXPECT_EQ(ids("/v1/tenants/acme/devices"), all);
  EXPECT_EQ(ids("/v1/tenants/acme/devices?user=" + ann), anns);
  EXPECT_EQ(ids("/v1/tenants/acme/devices?os=ios"), std::vector<std::string>{bobs_ios});
  EXPECT_EQ(ids("/v1/tenants/acme/devices?state=locked"), std::vector<std::string>{anns[1]});
  EXPECT_EQ(ids("/v1/tenants/acme/devices?user=" + ann + "&state=active&os=android"),
            (std::vector<std::string>{anns[0], anns[2], anns[3]}));
  EXPECT_TRUE(ids("/v1/tenants/acme/devices?user=u-aaaaaaaaaaaaaaaa").empty());

  for (const char* bad : {"user=ann", "state=lost", "os=symbian", "colour=red", "limit=0"}) {
    Reply r = Call("GET", std::string("/v1/tenants/acme/devices?") + bad, acme.admin);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_EQ(ProblemName(r), "invalid-request") << bad;
  }
  // A cursor of one filter does not continue another.
  const std::string cursor = Body(Call("GET", "/v1/tenants/acme/devices?user=" + ann + "&limit=1", acme.admin))["next_cursor"];
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/devices?user=" + ann + "&limit=1&cursor=" + cursor, acme.admin).status, 200u);
  for (const std::string& q : {"user=" + bob, std::string("os=android"), std::string("")}) {
    Reply r = Call("GET", "/v1/tenants/acme/devices?" + q + "&cursor=" + cursor, acme.admin);
    EXPECT_EQ(ProblemName(r), "invalid-cursor") << q;
  }
}

TEST_F(DevicesApiTest, LockAndUnlockDenyAndLiftWithTheirEvents) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const int64_t not_after = clock_.now + 7200;
  const std::string d = MakeDevice("acme", ann, store::DeviceOs::kMacos, not_after);
  const std::string base = "/v1/tenants/acme/devices/" + d;

  store::EventId before = store_->LastEventId();
  EXPECT_EQ(Call("POST", base + "/lock", acme.read_only, R"({"reason":"x"})").status, 403u);
  EXPECT_EQ(Call("POST", base + "/lock", acme.admin, R"({"reason":")" + std::string(257, 'a') + "\"}").status, 400u);
  EXPECT_EQ(store_->LastEventId(), before);  // refused requests change nothing
  Reply locked = Call("POST", base + "/lock", acme.admin, R"({"reason":"left on a train"})");
  ASSERT_EQ(locked.status, 200u) << locked.body;
  EXPECT_EQ(Body(locked)["state"], "locked");
  auto denial = Denial("acme", d);
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->reason, store::DenialReason::kLocked);
  EXPECT_EQ(denial->until, not_after);
  std::vector<store::EventRecord> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "device.locked");
  EXPECT_EQ(events[0].tenant, "acme");
  EXPECT_EQ(nlohmann::json::parse(events[0].body),
            nlohmann::json({{"type", "device.locked"}, {"tenant", "acme"}, {"device", d}, {"until", T(not_after)},
                            {"reason", "left on a train"}}));
  // Seats: a locked device still holds one.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/licence", acme.admin))["used"], 1);

  // Locking again changes nothing.
  before = store_->LastEventId();
  EXPECT_EQ(Call("POST", base + "/lock", acme.admin, "{}").status, 200u);
  EXPECT_EQ(store_->LastEventId(), before);

  Reply unlocked = Call("POST", base + "/unlock", acme.admin, R"({"reason":"found"})");
  ASSERT_EQ(unlocked.status, 200u) << unlocked.body;
  EXPECT_EQ(Body(unlocked)["state"], "active");
  EXPECT_FALSE(Denial("acme", d).has_value());
  events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "device.unlocked");
  nlohmann::json b = nlohmann::json::parse(events[0].body);
  EXPECT_EQ(b["tenant"], "acme");
  EXPECT_EQ(b["device"], d);
  EXPECT_EQ(b["reason"], "found");
  // Unlocking an active device changes nothing.
  before = store_->LastEventId();
  EXPECT_EQ(Call("POST", base + "/unlock", acme.admin, "{}").status, 200u);
  EXPECT_EQ(store_->LastEventId(), before);

  Reply audit = Call("GET", "/v1/tenants/acme/audit?resource_id=" + d, acme.admin);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  const nlohmann::json items = Body(audit)["items"];  // a range-for over a temporary's member would dangle
  std::vector<std::string> actions;
  for (const auto& a : items) actions.push_back(a["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"device.unlock", "device.lock"}));
  EXPECT_EQ(items[1]["detail"]["reason"], "left on a train");
}

TEST_F(DevicesApiTest, RevokeIsFinalAndIdempotent) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const std::string d = MakeDevice("acme", ann, store::DeviceOs::kWindows10);  // never had a credential
  const std::string base = "/v1/tenants/acme/devices/" + d;
  ASSERT_EQ(Call("POST", base + "/lock", acme.admin, "{}").status, 200u);

  store::EventId before = store_->LastEventId();
  clock_.now += 10;
  Reply revoked = Call("POST", base + "/revoke", acme.admin, R"({"reason":"lost"})");
  ASSERT_EQ(revoked.status, 200u) << revoked.body;
  EXPECT_EQ(Body(revoked)["state"], "revoked");
  std::vector<store::EventRecord> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "device.revoked");
  EXPECT_EQ(nlohmann::json::parse(events[0].body),
            nlohmann::json({{"type", "device.revoked"}, {"tenant", "acme"}, {"device", d},
                            {"until", T(clock_.now)}, {"reason", "lost"}}));  // no credential: until now
  auto denial = Denial("acme", d);
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->reason, store::DenialReason::kRevoked);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/licence", acme.admin))["used"], 0);  // a revoked device holds no seat

  // Revoking again: 200, nothing changes, no event. Lock and unlock of a revoked device: 409.
  before = store_->LastEventId();
  Reply again = Call("POST", base + "/revoke", acme.admin, R"({"reason":"again"})");
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(Body(again)["state"], "revoked");
  for (const char* action : {"/lock", "/unlock"}) {
    Reply r = Call("POST", base + action, acme.admin, "{}");
    EXPECT_EQ(r.status, 409u) << action;
    EXPECT_EQ(ProblemName(r), "conflict");
    EXPECT_EQ(Body(r)["field"], "state");
  }
  EXPECT_EQ(store_->LastEventId(), before);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=device.revoke", acme.admin);
  EXPECT_EQ(Body(audit)["items"].size(), 1u);
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/devices/d-aaaaaaaaaaaaaaaa/revoke", acme.admin, "{}").status, 404u);
  EXPECT_EQ(Call("POST", base + "/revoke", acme.admin, "").status, 400u);  // the body is a JSON object, even {}
}

TEST_F(DevicesApiTest, DeleteRevokesFirstIfNeeded) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const int64_t not_after = clock_.now + 600;
  const std::string live = MakeDevice("acme", ann, store::DeviceOs::kIos, not_after);
  const std::string dead = MakeDevice("acme", ann, store::DeviceOs::kIos, not_after);
  ASSERT_EQ(Call("POST", "/v1/tenants/acme/devices/" + dead + "/revoke", acme.admin, "{}").status, 200u);

  store::EventId before = store_->LastEventId();
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/devices/" + live, acme.read_only).status, 403u);
  ASSERT_EQ(Call("DELETE", "/v1/tenants/acme/devices/" + live, acme.admin).status, 204u);
  ASSERT_EQ(Call("DELETE", "/v1/tenants/acme/devices/" + dead, acme.admin).status, 204u);
  std::vector<store::EventRecord> events = EventsAfter(before);
  ASSERT_EQ(events.size(), 1u);  // the revoked one had its event already
  EXPECT_EQ(events[0].type, "device.revoked");
  nlohmann::json b = nlohmann::json::parse(events[0].body);
  EXPECT_EQ(b["device"], live);
  EXPECT_EQ(b["until"], T(not_after));
  auto denial = Denial("acme", live);
  ASSERT_TRUE(denial.has_value());
  EXPECT_EQ(denial->reason, store::DenialReason::kDeleted);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/devices/" + live, acme.admin).status, 404u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/devices/" + live, acme.admin).status, 404u);
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/users/" + ann, acme.admin))["device_count"], 0);
}

TEST_F(DevicesApiTest, PushTokenFollowsTheOsAndIsNeverAudited) {
  TenantKeys acme = MakeTenant("acme");
  const std::string ann = MakeUser(acme, "ann@acme.example");
  const struct {
    store::DeviceOs os;
    const char* service;
  } cases[] = {{store::DeviceOs::kIos, "apns"},
               {store::DeviceOs::kMacos, "apns"},
               {store::DeviceOs::kAndroid, "fcm"},
               {store::DeviceOs::kWindows10, "wns"}};
  const std::string token = "secret-push-token-0123456789";
  for (const auto& c : cases) {
    const std::string d = MakeDevice("acme", ann, c.os);
    const std::string path = "/v1/tenants/acme/devices/" + d + "/push-token";
    Reply r = Call("PUT", path, acme.admin, R"({"token":")" + token + "\"}");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(Body(r)["push"]["service"], c.service);
    EXPECT_EQ(Body(r)["push"]["token"], token);
    EXPECT_EQ(Body(r)["push"]["updated_at"], T(clock_.now));
    Reply cleared = Call("PUT", path, acme.admin, R"({"token":null})");
    ASSERT_EQ(cleared.status, 200u) << cleared.body;
    EXPECT_TRUE(Body(cleared)["push"]["token"].is_null());
    EXPECT_EQ(Call("PUT", path, acme.read_only, R"({"token":"x"})").status, 403u);
  }
  for (store::DeviceOs os : {store::DeviceOs::kLinux, store::DeviceOs::kBlackberry10}) {
    const std::string d = MakeDevice("acme", ann, os);
    Reply r = Call("PUT", "/v1/tenants/acme/devices/" + d + "/push-token", acme.admin, R"({"token":"abc"})");
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_EQ(Body(r)["errors"][0]["pointer"], "/token");
    EXPECT_EQ(Call("PUT", "/v1/tenants/acme/devices/" + d + "/push-token", acme.admin, R"({"token":null})").status,
              200u);
  }
  EXPECT_EQ(Call("PUT", "/v1/tenants/acme/devices/d-aaaaaaaaaaaaaaaa/push-token", acme.admin, R"({"token":"a"})")
                .status,
            404u);
  Reply audit = Call("GET", "/v1/tenants/acme/audit?action=device.push_token&limit=500", acme.admin);
  ASSERT_EQ(audit.status, 200u);
  EXPECT_EQ(audit.body.find(token), std::string::npos);
  nlohmann::json items = Body(audit)["items"];
  ASSERT_EQ(items.size(), 10u);
  EXPECT_TRUE(items[0]["detail"]["token"].is_null());
  EXPECT_EQ(items[items.size() - 1]["detail"]["token"], "set");
}

}  // namespace
}  // namespace strait::control::testing
