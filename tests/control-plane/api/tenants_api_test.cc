// Tenants, licences, API keys and audit through the real server (docs/control-plane.md §4.8).
#include "tests/control-plane/api/api_fixture.h"

#include "control-plane/api/formats.h"

namespace strait::control::testing {
namespace {

using TenantsApiTest = ApiFixture;

TEST_F(TenantsApiTest, CreateGetAndListTenantsWithPaging) {
  Reply r = Call("POST", "/v1/tenants", op_key_, R"({"id":"acme","display_name":"Acme Corp","seats":50})");
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.Header("location"), "/v1/tenants/acme");
  nlohmann::json t = Body(r);
  EXPECT_EQ(t["id"], "acme");
  EXPECT_EQ(t["state"], "active");
  auto key = DecodeBase64(t["tenant_key"].get<std::string>());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ(t["tenant_cert_not_after"], FormatTime(Seconds(std::chrono::seconds(clock_.now + 90 * 86400))));

  Reply dup = Call("POST", "/v1/tenants", op_key_, R"({"id":"acme","display_name":"Again","seats":1})");
  EXPECT_EQ(dup.status, 409u);
  EXPECT_EQ(ProblemName(dup), "conflict");
  EXPECT_EQ(Body(dup)["field"], "id");

  for (const char* id : {"b-1", "b-2", "b-3", "b-4"}) MakeTenant(id);
  std::vector<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    Reply page = Call("GET", "/v1/tenants?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), op_key_);
    ASSERT_EQ(page.status, 200u) << page.body;
    nlohmann::json j = Body(page);
    for (const auto& item : j["items"]) seen.push_back(item["id"]);
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"acme", "b-1", "b-2", "b-3", "b-4"}));

  Reply tampered = Call("GET", "/v1/tenants?cursor=" + cursor.substr(0, cursor.size() - 2) + "AA", op_key_);
  EXPECT_EQ(tampered.status, 400u);
  EXPECT_EQ(ProblemName(tampered), "invalid-cursor");
  Reply bad_limit = Call("GET", "/v1/tenants?limit=501", op_key_);
  EXPECT_EQ(bad_limit.status, 400u);
  EXPECT_EQ(ProblemName(bad_limit), "invalid-request");
  Reply unknown = Call("GET", "/v1/tenants?sort=desc", op_key_);
  EXPECT_EQ(unknown.status, 400u);
}

TEST_F(TenantsApiTest, SuspendAppendsAnEventAndOnlyASuspendedTenantCanBeDeleted) {
  TenantKeys acme = MakeTenant("acme");
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme", op_key_).status, 409u);
  store::EventId before = store_->LastEventId();
  Reply s = Call("PATCH", "/v1/tenants/acme", op_key_, R"({"state":"suspended"})");
  ASSERT_EQ(s.status, 200u) << s.body;
  EXPECT_EQ(Body(s)["state"], "suspended");
  EXPECT_EQ(store_->LastEventId(), before + 1);
  auto tx = store_->Read();
  auto events = (*tx)->ReadEvents(before, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "tenant.suspended");
  EXPECT_EQ((*events)[0].tenant, "acme");
  tx->reset();
  // The same state again changes nothing: no event.
  EXPECT_EQ(Call("PATCH", "/v1/tenants/acme", op_key_, R"({"state":"suspended"})").status, 200u);
  EXPECT_EQ(store_->LastEventId(), before + 1);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme", op_key_).status, 204u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", op_key_).status, 404u);
  // Its keys went with it.
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", acme.admin).status, 401u);
  Reply audit = Call("GET", "/v1/audit?action=tenant.delete", op_key_);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  ASSERT_EQ(Body(audit)["items"].size(), 1u);
  EXPECT_EQ(Body(audit)["items"][0]["resource"]["id"], "acme");
}

TEST_F(TenantsApiTest, LicenceReadAndSet) {
  TenantKeys acme = MakeTenant("acme", 50);
  Reply r = Call("GET", "/v1/tenants/acme/licence", acme.read_only);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Body(r), nlohmann::json::parse(R"({"seats":50,"expires_at":null,"used":0})"));
  Reply put = Call("PUT", "/v1/tenants/acme/licence", op_key_, R"({"seats":75,"expires_at":"2027-01-01T00:00:00Z"})");
  ASSERT_EQ(put.status, 200u) << put.body;
  EXPECT_EQ(Body(put)["seats"], 75);
  EXPECT_EQ(Body(put)["expires_at"], "2027-01-01T00:00:00Z");
  EXPECT_EQ(Call("PUT", "/v1/tenants/acme/licence", acme.admin, R"({"seats":1000,"expires_at":null})").status, 403u);
  Reply bad = Call("PUT", "/v1/tenants/acme/licence", op_key_, R"({"seats":-1})");
  EXPECT_EQ(bad.status, 400u);
  ASSERT_EQ(Body(bad)["errors"].size(), 2u);  // seats out of range, expires_at missing
}

TEST_F(TenantsApiTest, ApiKeysAreShownOnceWorkAndCanBeDeleted) {
  MakeTenant("acme");
  Reply made = Call("POST", "/v1/tenants/acme/api-keys", op_key_, R"({"name":"acme admin","role":"admin"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  const std::string admin = Body(made)["key"];
  const std::string id = Body(made)["id"];
  EXPECT_EQ(admin.rfind("sk_" + id + "_", 0), 0u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", admin).status, 200u);
  // Listed without the secret.
  Reply list = Call("GET", "/v1/tenants/acme/api-keys", admin);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.body.find(admin.substr(16)), std::string::npos);
  // An admin makes read-only keys, not admin keys.
  EXPECT_EQ(Call("POST", "/v1/tenants/acme/api-keys", admin, R"({"name":"x","role":"admin"})").status, 403u);
  Reply ro = Call("POST", "/v1/tenants/acme/api-keys", admin, R"({"name":"auditor","role":"read_only"})");
  ASSERT_EQ(ro.status, 201u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/api-keys/" + std::string(Body(ro)["id"]), admin).status, 204u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", std::string(Body(ro)["key"])).status, 401u);
  // An admin may not delete an admin key; the operator may.
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/api-keys/" + id, admin).status, 403u);
  EXPECT_EQ(Call("DELETE", "/v1/tenants/acme/api-keys/" + id, op_key_).status, 204u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme", admin).status, 401u);
  // Operator keys: role operator only at /v1/api-keys; the last one stays.
  EXPECT_EQ(Call("POST", "/v1/api-keys", op_key_, R"({"name":"x","role":"admin"})").status, 400u);
  const std::string own_id = op_key_.substr(3, 12);
  Reply last = Call("DELETE", "/v1/api-keys/" + own_id, op_key_);
  EXPECT_EQ(last.status, 409u);
  Reply second = Call("POST", "/v1/api-keys", op_key_, R"({"name":"second","role":"operator"})");
  ASSERT_EQ(second.status, 201u);
  EXPECT_EQ(Call("DELETE", "/v1/api-keys/" + own_id, std::string(Body(second)["key"])).status, 204u);
  EXPECT_EQ(Call("GET", "/v1/tenants", op_key_).status, 401u);
}

TEST_F(TenantsApiTest, EveryChangeIsAuditedWithItsActorAndRequestId) {
  TenantKeys acme = MakeTenant("acme");
  Reply made = Call("POST", "/v1/tenants/acme/api-keys", acme.admin, R"({"name":"auditor","role":"read_only"})");
  ASSERT_EQ(made.status, 201u);
  Reply audit = Call("GET", "/v1/tenants/acme/audit", acme.read_only);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  nlohmann::json items = Body(audit)["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["action"], "api_key.create");  // newest first
  EXPECT_EQ(items[0]["actor"]["kind"], "api_key");
  EXPECT_EQ(items[0]["actor"]["id"], acme.admin.substr(3, 12));
  EXPECT_EQ(items[0]["request_id"], made.Header("x-request-id"));
  EXPECT_EQ(items[0]["detail"]["role"], "read_only");
  EXPECT_EQ(items[1]["action"], "tenant.create");
  EXPECT_EQ(made.body.find("\"secret"), std::string::npos);
  // Reads write no audit.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/audit", acme.read_only))["items"].size(), 2u);
  // Filters and a bad time.
  EXPECT_EQ(Body(Call("GET", "/v1/tenants/acme/audit?action=tenant.create", acme.admin))["items"].size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/tenants/acme/audit?since=yesterday", acme.admin).status, 400u);
}

TEST_F(TenantsApiTest, HealthAndOpenApiArePublic) {
  Reply h = Call("GET", "/v1/health", "");
  ASSERT_EQ(h.status, 200u);
  EXPECT_EQ(Body(h)["status"], "ok");
  Reply o = Call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(o.status, 200u);
  EXPECT_EQ(Body(o)["openapi"], "3.0.3");
}

}  // namespace
}  // namespace strait::control::testing
