// The request bodies of users, groups and devices (docs/control-plane.md §4.9): table-driven, each bound exactly at
// and past its limit, and decode(encode(x)) == x.
#include "control-plane/api/dto_people.h"

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

template <class Decode, class Encode>
void RunTable(const char* what, Decode decode, Encode encode, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    auto r = decode(Parse(c.body));
    if (!c.error) {
      ASSERT_TRUE(r.ok()) << what << " " << c.body << " -> " << RenderProblem(r.error(), "/", "r");
      auto again = decode(encode(*r));
      ASSERT_TRUE(again.ok()) << what << " " << c.body;
      EXPECT_TRUE(*again == *r) << what << " round trip of " << c.body;
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
std::string Str(const std::string& s) { return "\"" + s + "\""; }

TEST(DtoPeople, UserPatchTable) {
  RunTable("UserPatch", DecodeUserPatch, EncodeUserPatch,
           {
               {R"({})", std::nullopt},
               {R"({"email":"ann@acme.example"})", std::nullopt},
               {R"({"display_name":"Ann"})", std::nullopt},
               {R"({"email":"a@b","display_name":")" + S(128) + "\"}", std::nullopt},
               {R"({"display_name":")" + S(129) + "\"}", {{"/display_name", C::kOutOfRange}}},
               {R"({"display_name":""})", {{"/display_name", C::kOutOfRange}}},
               {R"({"email":"ab"})", {{"/email", C::kOutOfRange}}},
               {R"({"email":"ann.acme.example"})", {{"/email", C::kBadFormat}}},
               {R"({"email":"a@b@c"})", {{"/email", C::kBadFormat}}},
               {R"({"email":null})", {{"/email", C::kWrongType}}},
               {R"({"display_name":5})", {{"/display_name", C::kWrongType}}},
               {R"({"name":"Ann"})", {{"/name", C::kUnknownField}}},
               {R"([])", {{"", C::kWrongType}}},
           });
  auto upper = DecodeUserPatch(Parse(R"({"email":"Ann@ACME.example"})"));
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->email, "ann@acme.example");
  EXPECT_FALSE(upper->display_name.has_value());
}

TEST(DtoPeople, GroupCreateAndPatchTables) {
  RunTable("GroupCreate", DecodeGroupCreate, EncodeGroupCreate,
           {
               {R"({"name":"eng"})", std::nullopt},
               {R"({"name":"eng","description":""})", std::nullopt},
               {R"({"name":")" + S(128) + R"(","description":")" + S(1024) + "\"}", std::nullopt},
               {R"({"name":"eng","description":")" + S(1025) + "\"}", {{"/description", C::kOutOfRange}}},
               {R"({"name":")" + S(129) + "\"}", {{"/name", C::kOutOfRange}}},
               {R"({"name":""})", {{"/name", C::kOutOfRange}}},
               {R"({"name":"a\u0007b"})", {{"/name", C::kBadFormat}}},
               {R"({"description":"x"})", {{"/name", C::kMissingField}}},
               {R"({"name":"eng","members":[]})", {{"/members", C::kUnknownField}}},
               {R"({"name":["eng"]})", {{"/name", C::kWrongType}}},
           });
  auto bare = DecodeGroupCreate(Parse(R"({"name":"eng"})"));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->description, "");
  RunTable("GroupPatch", DecodeGroupPatch, EncodeGroupPatch,
           {
               {R"({})", std::nullopt},
               {R"({"description":""})", std::nullopt},
               {R"({"name":"qa"})", std::nullopt},
               {R"({"name":""})", {{"/name", C::kOutOfRange}}},
               {R"({"description":")" + S(1025) + "\"}", {{"/description", C::kOutOfRange}}},
               {R"({"description":null})", {{"/description", C::kWrongType}}},
               {R"({"id":"g-aaaaaaaaaaaaaaaa"})", {{"/id", C::kUnknownField}}},
           });
}

TEST(DtoPeople, DevicePatchAndReasonTables) {
  RunTable("DevicePatch", DecodeDevicePatch, EncodeDevicePatch,
           {
               {R"({})", std::nullopt},
               {R"({"name":"Ann's phone"})", std::nullopt},
               {R"({"name":")" + S(128) + "\"}", std::nullopt},
               {R"({"name":")" + S(129) + "\"}", {{"/name", C::kOutOfRange}}},
               {R"({"name":""})", {{"/name", C::kOutOfRange}}},
               {R"({"state":"locked"})", {{"/state", C::kUnknownField}}},
           });
  RunTable("Reason", DecodeReason, EncodeReason,
           {
               {R"({})", std::nullopt},
               {R"({"reason":""})", std::nullopt},
               {R"({"reason":"lost"})", std::nullopt},
               {R"({"reason":")" + S(256) + "\"}", std::nullopt},
               {R"({"reason":")" + S(257) + "\"}", {{"/reason", C::kOutOfRange}}},
               {R"({"reason":"line\nbreak"})", {{"/reason", C::kBadFormat}}},
               {R"({"reason":null})", {{"/reason", C::kWrongType}}},
               {R"({"reason":"x","until":"2026-01-01T00:00:00Z"})", {{"/until", C::kUnknownField}}},
           });
  auto none = DecodeReason(Parse("{}"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->reason, "");
}

TEST(DtoPeople, PushTokenTable) {
  RunTable("PushToken", DecodePushToken, EncodePushToken,
           {
               {R"({"token":"f3a9c0de"})", std::nullopt},
               {R"({"token":null})", std::nullopt},
               {R"({"token":"x"})", std::nullopt},
               {"{\"token\":" + Str(S(4096, 'Z')) + "}", std::nullopt},
               {R"({"token":"https://wns.example/?token=A%2Fb~_-"})", std::nullopt},
               {"{\"token\":" + Str(S(4097, 'Z')) + "}", {{"/token", C::kOutOfRange}}},
               {R"({"token":""})", {{"/token", C::kOutOfRange}}},
               {R"({"token":"caf\u00e9"})", {{"/token", C::kBadFormat}}},
               {R"({"token":"tab\there"})", {{"/token", C::kBadFormat}}},
               {R"({})", {{"/token", C::kMissingField}}},
               {R"({"token":42})", {{"/token", C::kWrongType}}},
               {R"({"token":"a","service":"fcm"})", {{"/service", C::kUnknownField}}},
           });
  auto cleared = DecodePushToken(Parse(R"({"token":null})"));
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE(cleared->token.has_value());
}

TEST(DtoPeople, EveryErrorIsReported) {
  auto r = DecodeGroupCreate(Parse(R"({"name":"","description":5,"extra":1})"));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().errors.size(), 3u);
  EXPECT_EQ(r.error().errors[0].pointer, "/name");
  EXPECT_EQ(r.error().errors[1].pointer, "/description");
  EXPECT_EQ(r.error().errors[2].pointer, "/extra");
}

}  // namespace
}  // namespace strait::control
