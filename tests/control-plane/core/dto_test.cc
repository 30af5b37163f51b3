#include "control-plane/api/dto.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control-plane/api/json_reader.h"

namespace strait::control {
namespace {

using json = nlohmann::json;
using C = FieldErrorCode;

json Parse(std::string_view text) {
  auto r = ReadJson(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : json();
}

// One table row: a body, and either no errors or the one (pointer, code) expected first.
struct Case {
  std::string body;
  std::optional<std::pair<std::string, C>> error;
};

template <class Decode>
void RunTable(const char* what, Decode decode, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    auto r = decode(Parse(c.body));
    if (!c.error) {
      EXPECT_TRUE(r.ok()) << what << " " << c.body << " -> "
                          << (r.ok() ? "" : RenderProblem(r.error(), "/", "r"));
      continue;
    }
    ASSERT_FALSE(r.ok()) << what << " " << c.body;
    const Problem& p = r.error();
    EXPECT_EQ(p.type, ProblemType::kInvalidRequest);
    ASSERT_FALSE(p.errors.empty()) << c.body;
    EXPECT_EQ(p.errors[0].pointer, c.error->first) << what << " " << c.body;
    EXPECT_EQ(p.errors[0].code, c.error->second) << what << " " << c.body << " " << p.errors[0].detail;
  }
}

std::string S(size_t n, char c = 'a') { return std::string(n, c); }

TEST(Dto, TenantCreateTable) {
  auto body = [](std::string id, std::string name, std::string seats, std::string extra = "") {
    return R"({"id":")" + id + R"(","display_name":")" + name + R"(","seats":)" + seats + extra + "}";
  };
  RunTable("TenantCreate", DecodeTenantCreate,
           {
               {body("acme", "Acme Corp", "50"), std::nullopt},
               {body("acme", "Acme Corp", "0"), std::nullopt},
               {body("acme", "Acme Corp", "1000000"), std::nullopt},
               {body("acme", "Acme Corp", "1000001"), {{"/seats", C::kOutOfRange}}},
               {body("acme", "Acme Corp", "-1"), {{"/seats", C::kOutOfRange}}},
               {body("acme", "Acme Corp", "18446744073709551615"), {{"/seats", C::kOutOfRange}}},
               {body("acme", "Acme Corp", "1.0"), {{"/seats", C::kWrongType}}},
               {body("acme", "Acme Corp", "1e3"), {{"/seats", C::kWrongType}}},
               {body("acme", "Acme Corp", "\"5\""), {{"/seats", C::kWrongType}}},
               {body("acme", "Acme Corp", "null"), {{"/seats", C::kWrongType}}},
               {body(S(64), "n", "1"), std::nullopt},
               {body(S(65), "n", "1"), {{"/id", C::kBadFormat}}},
               {body("Acme", "n", "1"), {{"/id", C::kBadFormat}}},
               {body("acme", S(128), "1"), std::nullopt},
               {body("acme", S(129), "1"), {{"/display_name", C::kOutOfRange}}},
               {body("acme", "", "1"), {{"/display_name", C::kOutOfRange}}},
               {body("acme", "tab\\there", "1"), {{"/display_name", C::kBadFormat}}},
               {body("acme", "c1 \\u0085", "1"), {{"/display_name", C::kBadFormat}}},
               {body("acme", "caf\\u00e9 \xe2\x82\xac", "1"), std::nullopt},
               {body("acme", "n", "1", R"(,"licence_expires_at":"2026-01-01T00:00:00Z")"), std::nullopt},
               {body("acme", "n", "1", R"(,"licence_expires_at":"2026-01-01")"), {{"/licence_expires_at", C::kBadFormat}}},
               {body("acme", "n", "1", R"(,"licence_expires_at":null)"), {{"/licence_expires_at", C::kWrongType}}},
               {body("acme", "n", "1", R"(,"seat":1)"), {{"/seat", C::kUnknownField}}},
               {R"({"display_name":"n","seats":1})", {{"/id", C::kMissingField}}},
               {R"({"id":"acme","seats":1})", {{"/display_name", C::kMissingField}}},
               {R"({"id":"acme","display_name":"n"})", {{"/seats", C::kMissingField}}},
               {R"([])", {{"", C::kWrongType}}},
               {R"("acme")", {{"", C::kWrongType}}},
           });
}

TEST(Dto, ApiKeyCreateTable) {
  RunTable("ApiKeyCreate", DecodeApiKeyCreate,
           {
               {R"({"name":"acme admin","role":"admin"})", std::nullopt},
               {R"({"name":"x","role":"read_only"})", std::nullopt},
               {R"({"name":"x","role":"operator"})", std::nullopt},
               {R"({"name":"x","role":"Admin"})", {{"/role", C::kBadFormat}}},
               {R"({"name":"x","role":"root"})", {{"/role", C::kBadFormat}}},
               {R"({"name":"x","role":1})", {{"/role", C::kWrongType}}},
               {R"({"name":"x"})", {{"/role", C::kMissingField}}},
               {R"({"role":"admin"})", {{"/name", C::kMissingField}}},
               {R"({"name":")" + S(128) + R"(","role":"admin"})", std::nullopt},
               {R"({"name":")" + S(129) + R"(","role":"admin"})", {{"/name", C::kOutOfRange}}},
               {R"({"name":["x"],"role":"admin"})", {{"/name", C::kWrongType}}},
               {R"({"name":"x","role":"admin","tenant":"acme"})", {{"/tenant", C::kUnknownField}}},
           });
  auto r = DecodeApiKeyCreate(Parse(R"({"name":"acme admin","role":"read_only"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->role, ApiKeyRole::kReadOnly);
  EXPECT_EQ(r->name, "acme admin");
}

TEST(Dto, UserCreateTable) {
  auto body = [](std::string email, std::string name = "Ann") {
    return R"({"email":")" + email + R"(","display_name":")" + name + R"("})";
  };
  RunTable("UserCreate", DecodeUserCreate,
           {
               {body("ann@acme.example"), std::nullopt},
               {body("a@b"), std::nullopt},
               {body(S(250) + "@b.c"), std::nullopt},
               {body(S(251) + "@b.c"), {{"/email", C::kOutOfRange}}},
               {body("ab"), {{"/email", C::kOutOfRange}}},
               {body("ann.acme.example"), {{"/email", C::kBadFormat}}},
               {body("a@b@c"), {{"/email", C::kBadFormat}}},
               {body("a nn@acme"), {{"/email", C::kBadFormat}}},
               {body("ann@acme", ""), {{"/display_name", C::kOutOfRange}}},
           });
  auto r = DecodeUserCreate(Parse(body("Ann@ACME.Example")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->email, "ann@acme.example");
}

TEST(Dto, ReportsEveryErrorWithPointersLikeTheDocExample) {
  auto r = DecodeUserCreate(Parse(R"({"email":"ann.acme","display_name":"Ann","nickname":"a"})"));
  ASSERT_FALSE(r.ok());
  std::string body = RenderProblem(r.error(), "/v1/tenants/acme/users", "8f3a0c1d2e4b5a69");
  json p = Parse(body);
  EXPECT_EQ(p["status"], 400);
  EXPECT_EQ(p["detail"], "2 fields are not valid");
  ASSERT_EQ(p["errors"].size(), 2u);
  EXPECT_EQ(p["errors"][0], json({{"pointer", "/email"}, {"code", "bad_format"}, {"detail", "expected one '@'"}}));
  EXPECT_EQ(p["errors"][1], json({{"pointer", "/nickname"},
                                  {"code", "unknown_field"},
                                  {"detail", "unknown field (expected email, display_name)"}}));
}

TEST(Dto, UnknownFieldPointersAreEscaped) {
  auto r = DecodeApiKeyCreate(Parse(R"({"name":"x","role":"admin","a/b~c":1})"));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().errors.size(), 1u);
  EXPECT_EQ(r.error().errors[0].pointer, "/a~1b~0c");
}

TEST(Dto, AtMostTwentyErrorsAreListedAllCounted) {
  json body = json::object();
  for (int i = 0; i < 30; ++i) body["x" + std::to_string(i)] = i;
  auto r = DecodeUserCreate(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errors.size(), kMaxFieldErrors);
  EXPECT_EQ(r.error().detail, "32 fields are not valid");  // 2 missing + 30 unknown
}

TEST(ObjectReader, NestedObjectsListsAndNull) {
  json body = Parse(R"({"tunnel":{"routes":["10.0.0.0/8","10.0.0.0/8",7],"dns":true,"extra":1},
                        "names":["a","b"],"token":null,"blob":"AAEC","big":3})");
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto tunnel = r.Object("tunnel", Need::kRequired);
  ASSERT_TRUE(tunnel.has_value());
  EXPECT_EQ(tunnel->TextList("routes", Need::kRequired, {.max_items = 4, .item = kNameBounds, .unique = true}),
            std::nullopt);
  EXPECT_EQ(tunnel->Bool("dns", Need::kRequired), true);
  EXPECT_EQ(tunnel->Bool("device_to_device", Need::kOptional), std::nullopt);
  tunnel->Finish();
  EXPECT_EQ(r.TextList("names", Need::kRequired, {.max_items = 2, .item = kNameBounds, .unique = true}),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.TakeNull("token"));
  EXPECT_FALSE(r.TakeNull("blob"));
  EXPECT_EQ(r.Bytes("blob", Need::kRequired, 3, 3), (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(r.Int("big", Need::kRequired, 0, 2), std::nullopt);
  r.Finish();
  std::vector<FieldError> want = {
      {"/tunnel/routes/1", C::kDuplicateItem, "duplicate item"},
      {"/tunnel/routes/2", C::kWrongType, "expected a string, got an integer"},
      {"/tunnel/extra", C::kUnknownField, "unknown field (expected routes, dns, device_to_device)"},
      {"/big", C::kOutOfRange, "expected 0..2"},
  };
  EXPECT_EQ(errors.list(), want);
}

TEST(ObjectReader, ListBoundsAndBytesBounds) {
  json body = Parse(R"({"l":["a","b","c"],"e":[],"b":"AAEC","bad":"AAE","t":"a\u0001"})");
  FieldErrors errors;
  ObjectReader r(body, "/x", &errors);
  EXPECT_EQ(r.TextList("l", Need::kRequired, {.max_items = 2}), std::nullopt);
  EXPECT_EQ(r.TextList("e", Need::kRequired, {.max_items = 2}), std::vector<std::string>{});
  EXPECT_EQ(r.Bytes("b", Need::kRequired, 4, 8), std::nullopt);
  EXPECT_EQ(r.Bytes("bad", Need::kRequired, 0, 8), std::nullopt);
  EXPECT_EQ(r.Text("t", Need::kRequired, {.min_bytes = 0, .max_bytes = 8, .allow_control = true}), "a\x01");
  EXPECT_EQ(r.Id("id", Need::kOptional, IdKind::kUser), std::nullopt);
  r.Finish();
  ASSERT_EQ(errors.total(), 3u);
  EXPECT_EQ(errors.list()[0].pointer, "/x/l");
  EXPECT_EQ(errors.list()[0].code, C::kTooManyItems);
  EXPECT_EQ(errors.list()[1].code, C::kOutOfRange);
  EXPECT_EQ(errors.list()[2].code, C::kBadFormat);
}

TEST(Dto, EncodersRoundTrip) {
  TenantCreate t{"acme", "Acme Corp", 50, ParseTime("2026-01-01T00:00:00Z")};
  EXPECT_EQ(*DecodeTenantCreate(EncodeTenantCreate(t)), t);
  t.licence_expires_at.reset();
  EXPECT_EQ(*DecodeTenantCreate(EncodeTenantCreate(t)), t);
  ApiKeyCreate k{"ops", ApiKeyRole::kOperator};
  EXPECT_EQ(*DecodeApiKeyCreate(EncodeApiKeyCreate(k)), k);
  UserCreate u{"ann@acme.example", "Ann"};
  EXPECT_EQ(*DecodeUserCreate(EncodeUserCreate(u)), u);
}

}  // namespace
}  // namespace strait::control

namespace strait::control {
namespace {

TEST(Dto, DecodeBodyMapsReaderErrorsToMalformedJson) {
  auto bad = DecodeBody<UserCreate>(R"({"email":"a@b","email":"c@d"})", DecodeUserCreate);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().type, ProblemType::kMalformedJson);
  EXPECT_EQ(bad.error().extensions["offset"], 22);  // just past the second "email"
  auto rendered = ReadJson(RenderProblem(bad.error(), "/v1/tenants/acme/users", "r"));
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ((*rendered)["offset"], 22);
  EXPECT_EQ((*rendered)["status"], 400);

  auto deep = DecodeBody<UserCreate>(R"({"email":[[[1]]]})", DecodeUserCreate, {.max_depth = 3});
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().type, ProblemType::kMalformedJson);

  auto fields = DecodeBody<UserCreate>(R"({"email":"a@b"})", DecodeUserCreate);
  ASSERT_FALSE(fields.ok());
  EXPECT_EQ(fields.error().type, ProblemType::kInvalidRequest);

  auto ok = DecodeBody<UserCreate>(R"({"email":"a@b","display_name":"A"})", DecodeUserCreate);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->email, "a@b");
}

}  // namespace
}  // namespace strait::control
