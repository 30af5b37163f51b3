#include "control-plane/api/formats.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

using std::chrono::seconds;

TEST(Formats, TimesRoundTripAndAreStrict) {
  auto t = ParseTime("2025-06-01T12:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->time_since_epoch(), seconds(1748779200));
  EXPECT_EQ(FormatTime(*t), "2025-06-01T12:00:00Z");
  EXPECT_EQ(ParseTime("1970-01-01T00:00:00Z")->time_since_epoch(), seconds(0));
  EXPECT_EQ(FormatTime(Seconds(seconds(0))), "1970-01-01T00:00:00Z");
  EXPECT_TRUE(ParseTime("2024-02-29T23:59:59Z").has_value());
  EXPECT_TRUE(ParseTime("9999-12-31T23:59:59Z").has_value());
  EXPECT_EQ(FormatTime(*ParseTime("9999-12-31T23:59:59Z")), "9999-12-31T23:59:59Z");
  for (const char* bad : {"2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z",
                          "2025-06-00T00:00:00Z", "2025-06-01T24:00:00Z", "2025-06-01T12:60:00Z",
                          "2025-06-01T12:00:60Z", "2025-06-01t12:00:00Z", "2025-06-01T12:00:00z",
                          "2025-06-01T12:00:00.5Z", "2025-06-01T12:00:00+00:00", "2025-06-01 12:00:00Z",
                          "1969-12-31T23:59:59Z", "+025-06-01T12:00:00Z", "2025-6-01T12:00:00Z", ""}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
}

TEST(Formats, Base64StandardWithPadding) {
  std::vector<uint8_t> bytes = {0xfb, 0xff, 0x00, 0x10};
  EXPECT_EQ(EncodeBase64(bytes), "+/8AEA==");
  EXPECT_EQ(DecodeBase64("+/8AEA==").value(), bytes);
  EXPECT_EQ(EncodeBase64({}), "");
  EXPECT_TRUE(DecodeBase64("").value().empty());
  for (const char* bad : {"+/8AEA", "-_8AEA==", "+/8AEA= =", " +/8AEA==", "+/8AEB==", "+/8AEA===", "a"}) {
    EXPECT_FALSE(DecodeBase64(bad).has_value()) << bad;
  }
  EXPECT_EQ(EncodeBase64Url(bytes), "-_8AEA");
  EXPECT_EQ(DecodeBase64Url("-_8AEA").value(), bytes);
  EXPECT_FALSE(DecodeBase64Url("-_8AEA==").has_value());
  EXPECT_FALSE(DecodeBase64Url("+/8AEA").has_value());
}

TEST(Formats, ControlCharacters) {
  EXPECT_FALSE(HasControlChars("Acme Corp \xc3\xa9 \xe2\x82\xac"));
  for (std::string bad : {std::string("a\nb"), std::string("a\tb"), std::string(1, '\0'), std::string("\x7f"),
                          std::string("\xc2\x85"), std::string("\xc2\x9f")}) {
    EXPECT_TRUE(HasControlChars(bad)) << bad;
  }
  EXPECT_FALSE(HasControlChars("\xc2\xa0"));  // NBSP is not a control character
}

TEST(Formats, Emails) {
  std::string why;
  EXPECT_TRUE(IsValidEmail("ann@acme.example"));
  EXPECT_TRUE(IsValidEmail("a@b"));
  // Built with append: g++ 12 at -O2 warns falsely (-Warray-bounds) on `std::string(n, c) + "..."`.
  EXPECT_TRUE(IsValidEmail(std::string(250, 'a').append("@b.c")));   // 254
  EXPECT_FALSE(IsValidEmail(std::string(251, 'a').append("@b.c")));  // 255
  EXPECT_FALSE(IsValidEmail("ab", &why));
  EXPECT_FALSE(IsValidEmail("ann.acme.example", &why));
  EXPECT_EQ(why, "expected one '@'");
  EXPECT_FALSE(IsValidEmail("a@b@c", &why));
  EXPECT_EQ(why, "expected one '@'");
  EXPECT_FALSE(IsValidEmail("@acme", &why));
  EXPECT_FALSE(IsValidEmail("ann@", &why));
  EXPECT_FALSE(IsValidEmail("an n@acme", &why));
  EXPECT_FALSE(IsValidEmail("ann@ac\x01me", &why));
  EXPECT_EQ(LowerAscii("Ann@ACME.example"), "ann@acme.example");
}

}  // namespace
}  // namespace strait::control
