// What a hostile or careless client sends (docs/control-plane.md §4.2, §8): each gets its problem+json, never a 500,
// and the server serves the next request.
#include "tests/control-plane/api/api_fixture.h"

namespace strait::control::testing {
namespace {

using HostileInputTest = ApiFixture;

struct Case {
  const char* what;
  std::string body;
  unsigned status;
  const char* problem;
};

TEST_F(HostileInputTest, BadBodiesGetTheirProblem) {
  std::string deep(40, '[');
  deep += std::string(40, ']');
  std::string many = "{\"id\":\"x\",\"display_name\":\"y\",\"seats\":1,\"z\":[";
  for (int i = 0; i < 25000; ++i) many += i ? ",0" : "0";
  many += "]}";
  const Case cases[] = {
      {"not JSON", "{id:", 400, "malformed-json"},
      {"trailing bytes", R"({"id":"a","display_name":"b","seats":1} x)", 400, "malformed-json"},
      {"duplicate key", R"({"id":"a","id":"b","display_name":"b","seats":1})", 400, "malformed-json"},
      {"bad UTF-8", std::string("{\"id\":\"a\",\"display_name\":\"\xff\",\"seats\":1}"), 400, "malformed-json"},
      {"too deep", "{\"a\":" + deep + "}", 400, "malformed-json"},
      {"too many values", many, 400, "malformed-json"},
      {"not an object", "[1,2]", 400, "invalid-request"},
      {"wrong types", R"({"id":7,"display_name":true,"seats":"1"})", 400, "invalid-request"},
      {"float for an integer", R"({"id":"a","display_name":"b","seats":1.0})", 400, "invalid-request"},
      {"unknown field", R"({"id":"a","display_name":"b","seats":1,"nickname":"c"})", 400, "invalid-request"},
      {"missing fields", R"({})", 400, "invalid-request"},
      {"bad id", R"({"id":"ACME!","display_name":"b","seats":1})", 400, "invalid-request"},
      {"out of range", R"({"id":"a","display_name":"b","seats":1000001})", 400, "invalid-request"},
      {"control characters", "{\"id\":\"a\",\"display_name\":\"b\\u0007\",\"seats\":1}", 400, "invalid-request"},
      {"empty", "", 400, "malformed-json"},
  };
  for (const Case& c : cases) {
    Reply r = Call("POST", "/v1/tenants", op_key_, c.body);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    EXPECT_EQ(ProblemName(r), c.problem) << c.what;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << c.what;
    nlohmann::json j = Body(r);
    EXPECT_EQ(j["instance"], "/v1/tenants") << c.what;
    EXPECT_EQ(j["request_id"], r.Header("x-request-id")) << c.what;
  }
  Reply fields = Call("POST", "/v1/tenants", op_key_, R"({"id":7,"seats":"x","nickname":1})");
  nlohmann::json errors = Body(fields)["errors"];
  std::set<std::string> pointers;
  for (const auto& e : errors) pointers.insert(e["pointer"]);
  EXPECT_EQ(pointers, (std::set<std::string>{"/id", "/seats", "/display_name", "/nickname"}));
  EXPECT_EQ(Call("GET", "/v1/tenants", op_key_).status, 200u);  // still serving
  EXPECT_EQ(dispatcher_->counters().internal.load(), 0u);
}

TEST_F(HostileInputTest, WrongContentTypeIs415) {
  Reply r = Client().Send("POST", "/v1/tenants", R"({"id":"a","display_name":"b","seats":1})",
                          {{"Authorization", "Bearer " + op_key_}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415u);
  EXPECT_EQ(ProblemName(r), "unsupported-media-type");
  Reply ok = Client().Send("POST", "/v1/tenants", R"({"id":"a","display_name":"b","seats":1})",
                           {{"Authorization", "Bearer " + op_key_}, {"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(ok.status, 201u) << ok.body;
}

TEST_F(HostileInputTest, OversizedBodiesAre413BeforeTheyAreRead) {
  std::string big = R"({"id":"a","display_name":")" + std::string(70 * 1024, 'x') + R"(","seats":1})";
  Reply r = Call("POST", "/v1/tenants", op_key_, big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(ProblemName(r), "body-too-large");
  EXPECT_EQ(Body(r)["max"], 65536);
  // A body on a route that takes none.
  Reply get = Client().Send("GET", "/v1/tenants", "{}", {{"Authorization", "Bearer " + op_key_},
                                                           {"Content-Type", "application/json"}});
  EXPECT_EQ(get.status, 413u);
  EXPECT_EQ(Call("GET", "/v1/tenants", op_key_).status, 200u);
}

TEST_F(HostileInputTest, BadQueriesCursorsAndIdempotencyKeys) {
  EXPECT_EQ(Call("GET", "/v1/tenants?limit=0", op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/tenants?limit=abc", op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/tenants?limit=1&limit=2", op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/tenants?cursor=%zz", op_key_).status, 400u);
  Reply junk = Call("GET", "/v1/tenants?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", op_key_);
  EXPECT_EQ(junk.status, 400u);
  EXPECT_EQ(ProblemName(junk), "invalid-cursor");
  // A cursor of one list is refused on another.
  MakeTenant("t1");
  MakeTenant("t2");
  Reply page = Call("GET", "/v1/tenants?limit=1", op_key_);
  std::string cursor = Body(page)["next_cursor"];
  Reply moved = Call("GET", "/v1/api-keys?cursor=" + cursor, op_key_);
  EXPECT_EQ(moved.status, 400u);
  EXPECT_EQ(ProblemName(moved), "invalid-cursor");
  Reply bad_key = Client().Send("POST", "/v1/tenants", R"({"id":"x","display_name":"x","seats":1})",
                                {{"Authorization", "Bearer " + op_key_}, {"Content-Type", "application/json"},
                                 {"Idempotency-Key", std::string(256, 'k')}});
  EXPECT_EQ(bad_key.status, 400u);
  EXPECT_EQ(ProblemName(bad_key), "invalid-idempotency-key");
}

TEST_F(HostileInputTest, RateLimitsAnswer429WithRetryAfter) {
  Stop();
  DispatcherOptions o;
  o.rate_per_key = 1;
  o.burst_per_key = 3;
  o.rate_unauthenticated = 2;
  Start(o);
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    Reply r = Call("GET", "/v1/tenants", op_key_);
    if (r.status == 429u) {
      ++limited;
      EXPECT_EQ(r.Header("retry-after"), "1");
      EXPECT_EQ(ProblemName(r), "rate-limited");
    }
  }
  EXPECT_GE(limited, 2);
  // Unauthenticated requests are limited per address, apart from the key's bucket.
  int anon_limited = 0;
  for (int i = 0; i < 5; ++i) anon_limited += Call("GET", "/v1/health", "").status == 429u;
  EXPECT_GE(anon_limited, 2);
}

}  // namespace
}  // namespace strait::control::testing
