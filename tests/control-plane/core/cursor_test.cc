#include "control-plane/api/cursor.h"

#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control-plane/api/formats.h"

namespace strait::control {
namespace {

CursorKey KeyOf(uint8_t fill) {
  std::array<uint8_t, 32> k{};
  k.fill(fill);
  return CursorKey(k);
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

CursorScope Scope(std::string_view tenant, std::string_view filter = "") {
  std::array<std::string_view, 2> parts = {tenant, filter};
  return ScopeHash(parts);
}

TEST(Cursor, RoundTrips) {
  CursorKey key = KeyOf(7);
  for (std::string_view last : {std::string_view(""), std::string_view("u-aaaabbbbccccdddd"),
                                std::string_view("\x00\x00\x00\x00\x00\x00\x04\xd2", 8)}) {
    std::string c = EncodeCursor(key, CursorList::kUsers, Scope("acme"), Bytes(last));
    EXPECT_EQ(c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    auto d = DecodeCursor(key, CursorList::kUsers, Scope("acme"), c);
    ASSERT_TRUE(d.ok()) << CursorErrorName(d.error());
    EXPECT_EQ(*d, Bytes(last));
  }
  std::vector<uint8_t> longest(kMaxCursorKeyBytes, 0xab);
  std::string c = EncodeCursor(key, CursorList::kAudit, Scope(""), longest);
  EXPECT_LE(c.size(), kMaxCursorTextBytes);
  EXPECT_EQ(*DecodeCursor(key, CursorList::kAudit, Scope(""), c), longest);
}

TEST(Cursor, RefusesOtherListScopeKey) {
  CursorKey key = KeyOf(7);
  std::string c = EncodeCursor(key, CursorList::kDevices, Scope("acme", "user=u-aaaabbbbccccdddd"), Bytes("d-x"));
  auto err = [&](const CursorKey& k, CursorList list, const CursorScope& scope, std::string_view text) {
    auto d = DecodeCursor(k, list, scope, text);
    EXPECT_FALSE(d.ok());
    return d.ok() ? CursorError::kMalformed : d.error();
  };
  EXPECT_EQ(err(key, CursorList::kUsers, Scope("acme", "user=u-aaaabbbbccccdddd"), c), CursorError::kOtherList);
  EXPECT_EQ(err(key, CursorList::kDevices, Scope("beta", "user=u-aaaabbbbccccdddd"), c), CursorError::kOtherScope);
  EXPECT_EQ(err(key, CursorList::kDevices, Scope("acme", ""), c), CursorError::kOtherScope);
  EXPECT_EQ(err(KeyOf(8), CursorList::kDevices, Scope("acme", "user=u-aaaabbbbccccdddd"), c), CursorError::kBadMac);
}

TEST(Cursor, RefusesTamperedAndTruncated) {
  CursorKey key = KeyOf(1);
  CursorScope scope = Scope("acme");
  std::string c = EncodeCursor(key, CursorList::kUsers, scope, Bytes("u-aaaabbbbccccdddd"));
  std::vector<uint8_t> raw = *DecodeBase64Url(c);
  // Every single-bit change anywhere is refused.
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> t = raw;
      t[i] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_FALSE(DecodeCursor(key, CursorList::kUsers, scope, EncodeBase64Url(t)).ok()) << i << " " << bit;
    }
  }
  // Every truncation is refused.
  for (size_t n = 0; n < raw.size(); ++n) {
    std::vector<uint8_t> t(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(DecodeCursor(key, CursorList::kUsers, scope, EncodeBase64Url(t)).ok()) << n;
  }
  // Not base64url, padded, too long.
  EXPECT_EQ(DecodeCursor(key, CursorList::kUsers, scope, c + "==").error(), CursorError::kMalformed);
  EXPECT_EQ(DecodeCursor(key, CursorList::kUsers, scope, "a+b/").error(), CursorError::kMalformed);
  EXPECT_EQ(DecodeCursor(key, CursorList::kUsers, scope, "").error(), CursorError::kMalformed);
  EXPECT_EQ(DecodeCursor(key, CursorList::kUsers, scope, std::string(kMaxCursorTextBytes + 1, 'A')).error(),
            CursorError::kMalformed);
}

TEST(Cursor, ScopePartsAreLengthPrefixed) {
  std::array<std::string_view, 2> a = {"ab", "c"};
  std::array<std::string_view, 2> b = {"a", "bc"};
  std::array<std::string_view, 1> c = {"abc"};
  EXPECT_NE(ScopeHash(a), ScopeHash(b));
  EXPECT_NE(ScopeHash(a), ScopeHash(c));
  EXPECT_EQ(ScopeHash(a), ScopeHash(a));
}

TEST(Cursor, ProblemsAreInvalidCursor) {
  for (CursorError e : {CursorError::kMalformed, CursorError::kBadMac, CursorError::kOtherList,
                        CursorError::kOtherScope}) {
    Problem p = CursorProblem(e);
    EXPECT_EQ(p.type, ProblemType::kInvalidCursor);
    EXPECT_EQ(p.status(), 400);
    EXPECT_FALSE(p.detail.empty());
  }
  // A forged cursor and a garbled one are told the same.
  EXPECT_EQ(CursorProblem(CursorError::kMalformed).detail, CursorProblem(CursorError::kBadMac).detail);
}

TEST(Cursor, LimitParsing) {
  EXPECT_EQ(ParseLimit(std::nullopt), 50u);
  EXPECT_EQ(ParseLimit("1"), 1u);
  EXPECT_EQ(ParseLimit("500"), 500u);
  EXPECT_EQ(ParseLimit("42"), 42u);
  for (const char* bad : {"0", "501", "", "-1", "+1", "01", "1.0", "1e2", " 5", "5 ", "abc", "99999999999"}) {
    EXPECT_EQ(ParseLimit(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace strait::control
