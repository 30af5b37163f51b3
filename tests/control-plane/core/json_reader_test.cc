#include "control-plane/api/json_reader.h"

#include <string>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

JsonErrorCode CodeOf(std::string_view body, const JsonLimits& limits = {}) {
  auto r = ReadJson(body, limits);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? JsonErrorCode::kSyntax : r.error().code;
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonReader, ReadsValidDocuments) {
  auto r = ReadJson(R"( {"a":[1,-2,3.5,true,false,null,"x\u00e9"],"b":{"c":{}},"d":18446744073709551615} )");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ((*r)["a"][0], 1);
  EXPECT_EQ((*r)["a"][1], -2);
  EXPECT_TRUE((*r)["a"][2].is_number_float());
  EXPECT_EQ((*r)["a"][6], "x\xc3\xa9");
  EXPECT_TRUE((*r)["b"]["c"].is_object());
  EXPECT_TRUE((*r)["d"].is_number_unsigned());
  for (const char* scalar : {"1", "\"s\"", "null", "[]", "{}"}) EXPECT_TRUE(ReadJson(scalar).ok()) << scalar;
}

TEST(JsonReader, SyntaxErrorsAndTheirOffsets) {
  for (const char* bad : {"", " ", "{", "[1,]", "{\"a\" 1}", "tru", "{'a':1}", "\"\x01\"", "[1 2]",
                          "{\"a\":1,}", "\"\\ud800\"", "/*c*/1", "+1", "NaN"}) {
    EXPECT_EQ(CodeOf(bad), JsonErrorCode::kSyntax) << bad;
  }
  EXPECT_EQ(CodeOf(std::string("\0{}", 3)), JsonErrorCode::kSyntax);
  EXPECT_EQ(CodeOf(std::string("[\"a\0\"]", 6)), JsonErrorCode::kSyntax);
  auto empty = ReadJson("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().offset, 0u);
  auto cut = ReadJson("[1,");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().offset, 3u);
  auto r = ReadJson("[1, 2, x]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 8u);
  EXPECT_EQ(r.error().detail.find("last read"), std::string::npos) << r.error().detail;
  EXPECT_EQ(r.error().detail.find("json.exception"), std::string::npos) << r.error().detail;
}

TEST(JsonReader, DetailNeverEchoesTheBody) {
  auto r = ReadJson(R"({"secret": sk_abcdefsecret})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().detail.find("sk_abc"), std::string::npos) << r.error().detail;
}

TEST(JsonReader, TrailingBytes) {
  EXPECT_EQ(CodeOf("{} {}"), JsonErrorCode::kTrailingBytes);
  EXPECT_EQ(CodeOf("1 2"), JsonErrorCode::kTrailingBytes);
  EXPECT_EQ(CodeOf("{}x"), JsonErrorCode::kTrailingBytes);
  EXPECT_EQ(CodeOf("01"), JsonErrorCode::kTrailingBytes);
  // nlohmann's lexer takes a NUL byte for the end of input; the reader does not.
  EXPECT_EQ(CodeOf(std::string("{}\0{\"a\":1}", 10)), JsonErrorCode::kTrailingBytes);
  EXPECT_EQ(CodeOf(std::string("{}\0", 3)), JsonErrorCode::kTrailingBytes);
  auto r = ReadJson("{}  ,");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 4u);
  EXPECT_TRUE(ReadJson("{} \r\n\t").ok());
}

TEST(JsonReader, DepthAtAndPastTheBound) {
  EXPECT_TRUE(ReadJson(Nested(16)).ok());
  EXPECT_EQ(CodeOf(Nested(17)), JsonErrorCode::kTooDeep);
  EXPECT_EQ(CodeOf(Nested(100000)), JsonErrorCode::kTooDeep);  // never recursion, never a crash
  EXPECT_TRUE(ReadJson(R"({"a":{"b":{"c":1}}})", {.max_depth = 3}).ok());
  EXPECT_EQ(CodeOf(R"({"a":{"b":{"c":[]}}})", {.max_depth = 3}), JsonErrorCode::kTooDeep);
  auto r = ReadJson("[[[", {.max_depth = 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 3u);
}

TEST(JsonReader, ValueCountAtAndPastTheBound) {
  // [0,0,...] holds n+1 values (the array counts).
  auto array_of = [](size_t n) {
    std::string s = "[";
    for (size_t i = 0; i < n; ++i) s += i ? ",0" : "0";
    return s + "]";
  };
  EXPECT_TRUE(ReadJson(array_of(19'999)).ok());
  EXPECT_EQ(CodeOf(array_of(20'000)), JsonErrorCode::kTooManyValues);
  // Keys do not count as values.
  EXPECT_TRUE(ReadJson(R"({"a":1,"b":2})", {.max_values = 3}).ok());
  EXPECT_EQ(CodeOf(R"({"a":1,"b":[]})", {.max_values = 2}), JsonErrorCode::kTooManyValues);
}

TEST(JsonReader, StringAndKeyBytesAtAndPastTheBound) {
  std::string at(65'536, 'a');
  std::string past(65'537, 'a');
  EXPECT_TRUE(ReadJson("\"" + at + "\"").ok());
  EXPECT_EQ(CodeOf("\"" + past + "\""), JsonErrorCode::kStringTooLong);
  EXPECT_TRUE(ReadJson("{\"" + at + "\":1}").ok());
  EXPECT_EQ(CodeOf("{\"" + past + "\":1}"), JsonErrorCode::kStringTooLong);
  // The bound is on decoded bytes: "\u00e9" is 2 bytes, not 6.
  EXPECT_TRUE(ReadJson(R"(["\u00e9\u00e9"])", {.max_string_bytes = 4}).ok());
  EXPECT_EQ(CodeOf(R"(["\u00e9\u00e9a"])", {.max_string_bytes = 4}), JsonErrorCode::kStringTooLong);
}

TEST(JsonReader, DuplicateKeys) {
  auto r = ReadJson(R"({"a":1,"b":{"a":2},"a":3})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, JsonErrorCode::kDuplicateKey);
  EXPECT_EQ(r.error().offset, 22u);  // just past the second "a"
  EXPECT_NE(r.error().detail.find("\"a\""), std::string::npos) << r.error().detail;
  // The same key in sibling objects is fine; escapes that decode to the same key are duplicates.
  EXPECT_TRUE(ReadJson(R"([{"a":1},{"a":2}])").ok());
  EXPECT_EQ(CodeOf(R"({"a":1,"\u0061":2})"), JsonErrorCode::kDuplicateKey);
}

TEST(JsonReader, BadUtf8AnywhereHasItsOwnCode) {
  for (std::string bad : {std::string("\"\xff\""), std::string("\"\xc0\xaf\""),         // invalid byte, overlong
                          std::string("\"\xed\xa0\x80\""),                               // a surrogate
                          std::string("\"\xf4\x90\x80\x80\""),                           // beyond U+10FFFF
                          std::string("\"\xe2\x82\""), std::string("[1]\x80")}) {        // truncated; outside
    EXPECT_EQ(CodeOf(bad), JsonErrorCode::kBadUtf8) << bad;
  }
  auto r = ReadJson("[\"ok\",\"\xfe\"]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 7u);
  EXPECT_TRUE(ReadJson("\"\xf0\x9f\x98\x80 \xe2\x82\xac\"").ok());
}

TEST(JsonReader, NumbersOutOfRange) {
  EXPECT_EQ(CodeOf("1e400"), JsonErrorCode::kNumberOutOfRange);
  EXPECT_EQ(CodeOf("[-1e400]"), JsonErrorCode::kNumberOutOfRange);
  auto big = ReadJson("123456789012345678901234567890");  // beyond 64 bits: a double, still in range
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(big->is_number_float());
}

TEST(JsonReader, ErrorCodeNames) {
  EXPECT_EQ(JsonErrorCodeName(JsonErrorCode::kDuplicateKey), "duplicate_key");
  EXPECT_EQ(JsonErrorCodeName(JsonErrorCode::kBadUtf8), "bad_utf8");
}

}  // namespace
}  // namespace strait::control
