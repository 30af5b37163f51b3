#include "tunnel/connector/cidr_table.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace strait::connector {
namespace {

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value_or(IpAddress{}); }

TEST(IpAddress, ParsesOnlyStrictTextForms) {
  EXPECT_EQ(Ip("192.0.2.1").ToString(), "192.0.2.1");
  EXPECT_EQ(Ip("2001:DB8::1").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("::ffff:10.0.0.1").Unmapped().ToString(), "10.0.0.1");
  EXPECT_EQ(Ip("2001:db8::1").Unmapped().ToString(), "2001:db8::1");
  for (const char* bad : {"", "10.1", "010.0.0.1x", "0x0a000001", "10.0.0.256", "1.2.3.4.5", "fe80::1%eth0",
                          "[::1]", "::1::", "host.example", " 10.0.0.1"}) {
    EXPECT_FALSE(IpAddress::Parse(bad)) << bad;
  }
}

TEST(Cidr, ParsesAndRejects) {
  struct Case {
    const char* text;
    const char* canonical;  // nullptr: must fail
  };
  const Case cases[] = {
      {"10.20.0.0/16", "10.20.0.0/16"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"192.0.2.7", "192.0.2.7/32"},
      {"192.0.2.7/32", "192.0.2.7/32"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"::/0", "::/0"},
      {"::1", "::1/128"},
      {"2001:db8::8/125", "2001:db8::8/125"},
      {"10.20.1.0/16", nullptr},   // host bits set
      {"10.0.0.0/33", nullptr},
      {"2001:db8::/129", nullptr},
      {"10.0.0.0/", nullptr},
      {"10.0.0.0/-1", nullptr},
      {"10.0.0.0/+8", nullptr},
      {"10.0.0.0/0008", nullptr},
      {"10.0.0.0/8/8", nullptr},
      {"10.0.0/8", nullptr},
      {"corp.example/8", nullptr},
      {"::ffff:10.0.0.0/104", nullptr},  // IPv4-mapped: write it as IPv4
      {"", nullptr},
  };
  for (const Case& c : cases) {
    auto r = Cidr::Parse(c.text);
    if (c.canonical) {
      ASSERT_TRUE(r.ok()) << c.text << ": " << r.error();
      EXPECT_EQ(r->ToString(), c.canonical);
    } else {
      EXPECT_FALSE(r.ok()) << c.text;
    }
  }
  auto typo = Cidr::Parse("10.20.1.0/16");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().find("10.20.0.0/16"), std::string::npos) << typo.error();
}

TEST(CidrTable, MatchesPrefixBoundaries) {
  CidrTable t;
  t.Add(*Cidr::Parse("10.20.0.0/16"), 0);
  t.Add(*Cidr::Parse("2001:db8:20::/48"), 1);
  t.Add(*Cidr::Parse("2001:db8:20:1:2:3:4:4/127"), 2);
  auto any = [](uint32_t) { return true; };
  EXPECT_EQ(t.Find(Ip("10.20.0.0"), any), 0u);
  EXPECT_EQ(t.Find(Ip("10.20.255.255"), any), 0u);
  EXPECT_EQ(t.Find(Ip("10.19.255.255"), any), CidrTable::kNoRule);
  EXPECT_EQ(t.Find(Ip("10.21.0.0"), any), CidrTable::kNoRule);
  EXPECT_EQ(t.Find(Ip("2001:db8:20:ffff:ffff:ffff:ffff:ffff"), any), 1u);
  EXPECT_EQ(t.Find(Ip("2001:db8:21::"), any), CidrTable::kNoRule);
  EXPECT_EQ(t.Find(Ip("2001:db8:20:1:2:3:4:4"), any), 2u);  // the longer prefix first
  EXPECT_EQ(t.Find(Ip("2001:db8:20:1:2:3:4:5"), any), 2u);
  EXPECT_EQ(t.Find(Ip("2001:db8:20:1:2:3:4:6"), any), 1u);
}

// Differential: the hashed table against a linear scan of Cidr::Contains, on random rules and addresses
// concentrated near the rules so that boundaries get hit.
TEST(CidrTable, AgreesWithLinearScan) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<Cidr> rules;
    CidrTable t;
    for (uint32_t i = 0; i < 200; ++i) {
      IpAddress a;
      a.family = rng() % 2 ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
      for (int b = 0; b < (a.family == IpAddress::Family::kV4 ? 4 : 16); ++b) a.bytes[b] = static_cast<uint8_t>(rng() % 4);
      int len = static_cast<int>(rng() % (a.bits() + 1));
      Cidr c;
      c.prefix = static_cast<uint8_t>(len);
      for (int bit = 0; bit < len; ++bit) {
        if (a.bytes[bit / 8] & (0x80 >> (bit % 8))) c.network.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
      }
      c.network.family = a.family;
      rules.push_back(c);
      t.Add(c, i);
    }
    for (int q = 0; q < 2000; ++q) {
      IpAddress a;
      a.family = rng() % 2 ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
      for (int b = 0; b < (a.family == IpAddress::Family::kV4 ? 4 : 16); ++b) a.bytes[b] = static_cast<uint8_t>(rng() % 4);
      uint32_t skip = static_cast<uint32_t>(rng() % 200);  // exercise accept() rejecting a rule
      bool linear = false;
      for (uint32_t i = 0; i < rules.size(); ++i) linear |= (i != skip && rules[i].Contains(a));
      uint32_t found = t.Find(a, [&](uint32_t r) { return r != skip; });
      ASSERT_EQ(found != CidrTable::kNoRule, linear) << a.ToString();
      if (found != CidrTable::kNoRule) {
        EXPECT_TRUE(rules[found].Contains(a));
      }
    }
  }
}

}  // namespace
}  // namespace strait::connector
