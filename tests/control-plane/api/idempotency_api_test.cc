// Idempotency-Key over the real server (docs/control-plane.md §4.5): a retry answers the first reply again, another
// body under the same key is 422, keys are per principal, and only 2xx replies are kept.
#include "tests/control-plane/api/api_fixture.h"

#include <thread>

namespace strait::control::testing {
namespace {

using IdempotencyApiTest = ApiFixture;

Reply Post(HttpsClient c, const std::string& key, const std::string& idem, const std::string& body) {
  return c.Send("POST", "/v1/tenants", body, {{"Authorization", "Bearer " + key},
                                             {"Content-Type", "application/json"}, {"Idempotency-Key", idem}});
}

TEST_F(IdempotencyApiTest, ARetryReplaysAndAnotherBodyIsRefused) {
  const std::string body = R"({"id":"acme","display_name":"Acme","seats":5})";
  Reply first = Post(Client(), op_key_, "create-acme-1", body);
  ASSERT_EQ(first.status, 201u) << first.body;
  Reply again = Post(Client(), op_key_, "create-acme-1", body);
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  EXPECT_EQ(Body(again), Body(first));
  Reply other = Post(Client(), op_key_, "create-acme-1", R"({"id":"acme2","display_name":"Acme","seats":5})");
  EXPECT_EQ(other.status, 422u);
  EXPECT_EQ(ProblemName(other), "idempotency-key-reused");
  // Without the key, the same body is a second create: a conflict.
  EXPECT_EQ(Call("POST", "/v1/tenants", op_key_, body).status, 409u);
  // The audit has one create.
  EXPECT_EQ(Body(Call("GET", "/v1/audit?action=tenant.create", op_key_))["items"].size(), 1u);
}

TEST_F(IdempotencyApiTest, KeysArePerPrincipalAndRefusalsAreNotKept) {
  const std::string other_op = MakeKey(std::nullopt, store::ApiKeyRole::kOperator);
  Reply bad = Post(Client(), op_key_, "k", R"({"id":"acme","display_name":"Acme","seats":-5})");
  EXPECT_EQ(bad.status, 400u);
  Reply fixed = Post(Client(), op_key_, "k", R"({"id":"acme","display_name":"Acme","seats":5})");
  EXPECT_EQ(fixed.status, 201u) << fixed.body;  // the refusal was not stored under "k"
  Reply theirs = Post(Client(), other_op, "k", R"({"id":"beta","display_name":"Beta","seats":5})");
  EXPECT_EQ(theirs.status, 201u) << theirs.body;  // the same key text, another principal
  EXPECT_TRUE(theirs.Header("idempotency-replayed").empty());
}

TEST_F(IdempotencyApiTest, RecordsExpireAfter24Hours) {
  const std::string body = R"({"id":"acme","display_name":"Acme","seats":5})";
  ASSERT_EQ(Post(Client(), op_key_, "day-1", body).status, 201u);
  clock_.now += 24 * 3600 + 1;
  Reply later = Post(Client(), op_key_, "day-1", body);
  EXPECT_EQ(later.status, 409u);  // not replayed: run again, and the tenant exists
}

TEST_F(IdempotencyApiTest, TwoRetriesAtOnceMakeOneTenant) {
  const std::string body = R"({"id":"race","display_name":"Race","seats":5})";
  std::vector<std::thread> threads;
  std::vector<Reply> replies(8);
  for (size_t i = 0; i < replies.size(); ++i) {
    threads.emplace_back([&, i] { replies[i] = Post(Client(), op_key_, "same", body); });
  }
  for (auto& t : threads) t.join();
  for (const Reply& r : replies) {
    EXPECT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(Body(r)["id"], "race");
  }
  EXPECT_EQ(Body(Call("GET", "/v1/audit?action=tenant.create", op_key_))["items"].size(), 1u);
}

}  // namespace
}  // namespace strait::control::testing
