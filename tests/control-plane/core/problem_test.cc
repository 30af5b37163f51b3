#include "control-plane/api/problem.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "control-plane/api/json_reader.h"

namespace strait::control {
namespace {

TEST(Problem, EveryTypeRendersValidJsonWithItsStatus) {
  std::set<std::string_view> names;
  for (const ProblemInfo& row : ProblemTable()) {
    ASSERT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_GE(row.status, 400);
    EXPECT_LE(row.status, 599);
    EXPECT_FALSE(row.title.empty());
    std::string body = RenderProblem(MakeProblem(row.type, "some detail"), "/v1/x", "8f3a0c1d2e4b5a69");
    auto parsed = ReadJson(body);
    ASSERT_TRUE(parsed.ok()) << body;
    EXPECT_EQ((*parsed)["status"], row.status) << body;
    EXPECT_EQ((*parsed)["type"], "urn:strait:problem:" + std::string(row.name));
    EXPECT_EQ((*parsed)["title"], row.title);
    EXPECT_EQ((*parsed)["detail"], "some detail");
    EXPECT_EQ((*parsed)["instance"], "/v1/x");
    EXPECT_EQ((*parsed)["request_id"], "8f3a0c1d2e4b5a69");
    EXPECT_FALSE(parsed->contains("errors"));
    EXPECT_EQ(ProblemTypeFromName(row.name), row.type);
  }
  EXPECT_EQ(names.size(), kProblemTypeCount);
  EXPECT_EQ(ProblemTypeFromName("no-such-type"), std::nullopt);
}

TEST(Problem, SpotChecksTheTable) {
  EXPECT_EQ(Info(ProblemType::kMalformedJson).status, 400);
  EXPECT_EQ(Info(ProblemType::kActivationInvalid).status, 401);
  EXPECT_EQ(Info(ProblemType::kLicenceExhausted).name, "licence-exhausted");
  EXPECT_EQ(Info(ProblemType::kVersionMismatch).status, 412);
  EXPECT_EQ(Info(ProblemType::kIdempotencyKeyReused).status, 422);
  EXPECT_EQ(Info(ProblemType::kStoreBusy).status, 503);
  EXPECT_EQ(Info(ProblemType::kRenewTooSoon).status, 429);
  EXPECT_EQ(Info(ProblemType::kRenewTooSoon).name, "renew-too-soon");
  EXPECT_EQ(ProblemTypeUri(ProblemType::kEventsExpired), "urn:strait:problem:events-expired");
}

TEST(Problem, DetailsAndInstanceAreEscaped) {
  std::string nasty = "quote \" backslash \\ newline \n nul " + std::string(1, '\0') + " ctl \x01 </script>";
  std::string body = RenderProblem(MakeProblem(ProblemType::kConflict, nasty), "/v1/\"a\"", "id\n");
  auto parsed = ReadJson(body);
  ASSERT_TRUE(parsed.ok()) << body;
  EXPECT_EQ((*parsed)["detail"], nasty);
  EXPECT_EQ((*parsed)["instance"], "/v1/\"a\"");
  EXPECT_EQ(body.find('\n'), std::string::npos);
  // Invalid UTF-8 from a client never makes the body unrenderable.
  std::string bad = RenderProblem(MakeProblem(ProblemType::kNotFound, "bad \xff byte"), "/v1/\xc3", "r");
  EXPECT_TRUE(ReadJson(bad).ok()) << bad;
}

TEST(Problem, ExtensionsAreAddedButNeverReplaceStandardMembers) {
  Problem p = MakeProblem(ProblemType::kLicenceExhausted, "tenant acme uses 50 of its 50 device seats");
  p.extensions = {{"seats", 50}, {"used", 50}, {"status", 200}, {"type", "x"}};
  auto parsed = ReadJson(RenderProblem(p, "/v1/activate", "r"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)["seats"], 50);
  EXPECT_EQ((*parsed)["used"], 50);
  EXPECT_EQ((*parsed)["status"], 403);
  EXPECT_EQ((*parsed)["type"], "urn:strait:problem:licence-exhausted");
}

TEST(Problem, InvalidRequestListsAtMostTwentyErrors) {
  std::vector<FieldError> errors;
  for (int i = 0; i < 25; ++i) {
    errors.push_back({"/tls_names/" + std::to_string(i), FieldErrorCode::kBadFormat, "bad name"});
  }
  Problem p = InvalidRequest(errors, 25);
  EXPECT_EQ(p.detail, "25 fields are not valid");
  auto parsed = ReadJson(RenderProblem(p, "/v1/relays", "r"));
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ((*parsed)["errors"].size(), kMaxFieldErrors);
  EXPECT_EQ((*parsed)["errors"][0]["pointer"], "/tls_names/0");
  EXPECT_EQ((*parsed)["errors"][0]["code"], "bad_format");
  EXPECT_EQ((*parsed)["errors"][0]["detail"], "bad name");
  EXPECT_EQ(InvalidRequest({{"/email", FieldErrorCode::kBadFormat, "expected one '@'"}}, 1).detail,
            "1 field is not valid");
}

TEST(Problem, InvalidQueryParameter) {
  Problem p = InvalidQueryParameter("limit", "expected 1..500");
  EXPECT_EQ(p.type, ProblemType::kInvalidRequest);
  EXPECT_EQ(p.detail, "query parameter limit: expected 1..500");
  EXPECT_EQ(p.extensions["parameter"], "limit");
  Problem unnamed = InvalidQueryParameter("", "more than 32 query parameters");
  EXPECT_EQ(unnamed.detail, "query: more than 32 query parameters");
  EXPECT_FALSE(unnamed.extensions.contains("parameter"));
}

TEST(Problem, PointerTokensEscapeTildeAndSlash) {
  EXPECT_EQ(EscapePointerToken("a/b~c"), "a~1b~0c");
  EXPECT_EQ(EscapePointerToken("~1"), "~01");
  EXPECT_EQ(EscapePointerToken(""), "");
}

TEST(Problem, FieldErrorCodeNames) {
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kUnknownField), "unknown_field");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kWrongType), "wrong_type");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kMissingField), "missing_field");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kOutOfRange), "out_of_range");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kBadFormat), "bad_format");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kTooManyItems), "too_many_items");
  EXPECT_EQ(FieldErrorCodeName(FieldErrorCode::kDuplicateItem), "duplicate_item");
}

}  // namespace
}  // namespace strait::control
