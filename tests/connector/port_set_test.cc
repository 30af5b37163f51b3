#include "tunnel/connector/port_set.h"

#include <gtest/gtest.h>

namespace strait::connector {
namespace {

TEST(PortSet, ParsesSinglesRangesAndStar) {
  EXPECT_EQ(*PortSet::ParseRange("443"), (PortRange{443, 443}));
  EXPECT_EQ(*PortSet::ParseRange("8000-8100"), (PortRange{8000, 8100}));
  EXPECT_EQ(*PortSet::ParseRange("1-65535"), (PortRange{1, 65535}));
  EXPECT_EQ(*PortSet::ParseRange("*"), (PortRange{1, 65535}));
  for (const char* bad : {"0", "65536", "99999999999", "0-80", "80-65536", "100-50", "-5", "+5", "80-", "-80",
                          "8a", " 80", "80 ", "", "1-2-3", "**"}) {
    EXPECT_FALSE(PortSet::ParseRange(bad).ok()) << bad;
  }
}

TEST(PortSet, MergesAndContains) {
  PortSet s({{8000, 8100}, {443, 443}, {8101, 8200}, {444, 444}, {20, 22}});
  EXPECT_EQ(s.ranges(), (std::vector<PortRange>{{20, 22}, {443, 444}, {8000, 8200}}));
  for (uint16_t p : {20, 21, 22, 443, 444, 8000, 8150, 8200}) EXPECT_TRUE(s.Contains(p)) << p;
  for (uint16_t p : {0, 1, 19, 23, 442, 445, 7999, 8201, 65535}) EXPECT_FALSE(s.Contains(p)) << p;
  EXPECT_FALSE(PortSet().Contains(80));
  EXPECT_TRUE(PortSet::All().Contains(65535));
}

}  // namespace
}  // namespace strait::connector
