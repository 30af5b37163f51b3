// runtime/address_text.h: the one HOST:PORT splitter and IP formatter (the runtime, the device, the demo and the
// bench tools use it).
#include "runtime/address_text.h"

#include <gtest/gtest.h>

#include "runtime/net.h"

namespace strait::runtime {
namespace {

TEST(AddressText, SplitsHostAndPortAtTheLastColon) {
  auto hp = SplitHostPort("10.0.0.1:443");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "10.0.0.1");
  EXPECT_EQ(hp->port, 443);
  EXPECT_FALSE(hp->bracketed);
  hp = SplitHostPort("[2001:db8::1]:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "2001:db8::1");
  EXPECT_EQ(hp->port, 8080);
  EXPECT_TRUE(hp->bracketed);
  hp = SplitHostPort("relay.example:0");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "relay.example");
  EXPECT_EQ(hp->port, 0);
  hp = SplitHostPort(":65535");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "");
  EXPECT_EQ(hp->port, 65535);
}

TEST(AddressText, RefusesPortsThatAreNotOneDecimalNumberUpTo65535) {
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", "10.0.0.1:65536", "10.0.0.1:-1", "10.0.0.1:+1", "10.0.0.1:1x",
                          "10.0.0.1: 1", "10.0.0.1:99999999999"}) {
    EXPECT_FALSE(SplitHostPort(bad)) << bad;
  }
}

TEST(AddressText, FormatsWhatItSplits) {
  for (const char* text : {"127.0.0.1:4443", "[::1]:80", "[2001:db8::5]:17533", "0.0.0.0:0"}) {
    const SocketAddress a = ParseSocketAddress(text).value();
    EXPECT_EQ(AddressText(a.get()), text);
    const auto hp = SplitHostPort(text);
    ASSERT_TRUE(hp);
    EXPECT_EQ(IpLiteral(a.get()), hp->host);
  }
  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  EXPECT_EQ(IpLiteral(&unknown), "?");
  EXPECT_EQ(AddressText(&unknown), "?");
}

}  // namespace
}  // namespace strait::runtime
