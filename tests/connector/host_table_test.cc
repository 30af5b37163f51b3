#include "tunnel/connector/host_table.h"

#include <gtest/gtest.h>

#include <string>

namespace strait::connector {
namespace {

std::string Canonical(std::string_view name) {
  std::array<char, kMaxHostNameSize + 1> buf{};
  std::string_view out;
  if (!CanonicalHostName(name, buf, &out)) return "<invalid>";
  return std::string(out);
}

TEST(HostName, CanonicalFormIsLowerCaseWithoutTrailingDot) {
  EXPECT_EQ(Canonical("Intranet.CORP.example."), "intranet.corp.example");
  EXPECT_EQ(Canonical("a"), "a");
  EXPECT_EQ(Canonical("under_score.example"), "under_score.example");
  EXPECT_EQ(Canonical("x1.example"), "x1.example");
  EXPECT_EQ(Canonical("example.123x"), "example.123x");
}

TEST(HostName, RejectsInvalidNames) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  std::string name253;
  while (name253.size() < 253) name253 += name253.empty() ? "a" : ".a";
  EXPECT_EQ(Canonical(label63 + ".example"), label63 + ".example");
  EXPECT_EQ(Canonical(name253), name253);
  const std::string bad[] = {"",       ".",          "..",          "a..b",        ".a",        "a.b..",
                             "-a.b",   "a-.b",       "a.-b",        "a b.c",       "a*.b",      "*.a.b",
                             "a/b",    "a:b",        "10.0.0.1",    "10.1",        "0x0a.1",    label64 + ".b",
                             name253 + "a", std::string("a\0b", 3), "é.example", "a.b%"};
  for (const std::string& b : bad) EXPECT_EQ(Canonical(b), "<invalid>") << b;
}

TEST(HostPattern, ParsesNamesAndLeadingWildcards) {
  auto exact = HostPattern::Parse("Intranet.Corp.Example.");
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->wildcard);
  EXPECT_EQ(exact->name, "intranet.corp.example");
  auto wild = HostPattern::Parse("*.Git.corp.example");
  ASSERT_TRUE(wild.ok());
  EXPECT_TRUE(wild->wildcard);
  EXPECT_EQ(wild->name, "git.corp.example");
  EXPECT_EQ(wild->ToString(), "*.git.corp.example");
  for (const char* bad : {"*", "*.", "**.a.b", "a.*.b", "*a.b", "a.b.*", "*.*.b", "10.0.0.1", "::1", ""}) {
    EXPECT_FALSE(HostPattern::Parse(bad).ok()) << bad;
  }
}

TEST(HostTable, WildcardMatchesOneOrMoreLabelsButNotTheSuffix) {
  HostTable t;
  t.Add(*HostPattern::Parse("*.a.b"), 0);
  auto any = [](uint32_t) { return true; };
  struct Case {
    const char* name;
    bool match;
  };
  const Case cases[] = {{"x.a.b", true}, {"y.x.a.b", true}, {"a.b", false},   {"xa.b", false},
                        {"b", false},    {"a.b.c", false},  {"x.a.bc", false}, {"x.aa.b", false}};
  for (const Case& c : cases) {
    EXPECT_EQ(t.Find(c.name, any) != HostTable::kNoRule, c.match) << c.name;
    EXPECT_EQ(HostPattern::Parse("*.a.b")->Matches(c.name), c.match) << c.name;
  }
}

TEST(HostTable, ExactBeforeWildcardAndAcceptFilters) {
  HostTable t;
  t.Add(*HostPattern::Parse("*.corp.example"), 0);
  t.Add(*HostPattern::Parse("db.corp.example"), 1);
  t.Add(*HostPattern::Parse("*.db.corp.example"), 2);
  auto any = [](uint32_t) { return true; };
  EXPECT_EQ(t.Find("db.corp.example", any), 1u);
  EXPECT_EQ(t.Find("x.db.corp.example", any), 2u);  // longest suffix first
  EXPECT_EQ(t.Find("web.corp.example", any), 0u);
  EXPECT_EQ(t.Find("db.corp.example", [](uint32_t r) { return r != 1; }), 0u);
  EXPECT_EQ(t.Find("other.example", any), HostTable::kNoRule);
}

}  // namespace
}  // namespace strait::connector
