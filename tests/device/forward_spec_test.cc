#include "tunnel/device/forward_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strait::device {
namespace {

struct Good {
  const char* spec;
  const char* local;   // SocketAddress::ToString
  const char* target;  // TargetText
  AddressType type;
};

TEST(ForwardSpec, ParsesEveryLocalAndDestinationForm) {
  const std::vector<Good> cases = {
      {"8080=intranet.corp:80", "127.0.0.1:8080", "intranet.corp:80", AddressType::kDomain},
      {"0=db:5432", "127.0.0.1:0", "db:5432", AddressType::kDomain},
      {"127.0.0.2:5432=10.1.2.3:5432", "127.0.0.2:5432", "10.1.2.3:5432", AddressType::kIpv4},
      {"[::1]:2222=[fd00::22]:22", "[::1]:2222", "[fd00::22]:22", AddressType::kIpv6},
      {"1=my_host-1.example:65535", "127.0.0.1:1", "my_host-1.example:65535", AddressType::kDomain},
      {"65535=[::ffff:10.0.0.1]:1", "127.0.0.1:65535", "[::ffff:10.0.0.1]:1", AddressType::kIpv6},
  };
  for (const Good& c : cases) {
    auto s = ParseForwardSpec(c.spec);
    ASSERT_TRUE(s) << c.spec << ": " << s.error();
    EXPECT_EQ(s->local.ToString(), c.local) << c.spec;
    EXPECT_EQ(TargetText(s->target), c.target) << c.spec;
    EXPECT_EQ(s->target.type, c.type) << c.spec;
  }
}

TEST(ForwardSpec, DestinationBytesAreWhatTheOpenCarries) {
  auto s = ParseForwardSpec("8080=10.1.2.3:443");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->target, Target::Ipv4({10, 1, 2, 3}, 443));
  s = ParseForwardSpec("8080=Intranet.Corp:80");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->target.domain(), "Intranet.Corp");  // kept as given: the connector resolves and checks policy
}

struct Bad {
  std::string spec;
  const char* error;  // a substring of the reason
};

TEST(ForwardSpec, ErrorsNameThePartThatIsWrong) {
  const std::vector<Bad> cases = {
      {"", "expected LOCAL=HOST:PORT"},
      {"8080", "expected LOCAL=HOST:PORT"},
      {"8080=db.corp:0", "port 0 outside 1..65535"},
      {"8080=db.corp:65536", "port 65536 outside 1..65535"},
      {"8080=db.corp:http", "port 'http' is not a number"},
      {"8080=db.corp", "destination 'db.corp' needs HOST:PORT"},
      {"8080=db.corp:", "destination 'db.corp:' has no port"},
      {"8080=:80", "has no host"},
      {"8080=", "destination is empty"},
      {"=db:80", "local address is empty"},
      {"70000=db:80", "local port 70000 outside 0..65535"},
      {"10.0.0.1:8080=db:80", "local 10.0.0.1:8080 is not loopback"},
      {"0.0.0.0:8080=db:80", "not loopback"},
      {"[::]:8080=db:80", "not loopback"},
      {"localhost:8080=db:80", "local localhost:8080 is not PORT, IPv4:PORT or [IPv6]:PORT"},
      {"127.0.0.1=db:80", "local '127.0.0.1' needs HOST:PORT"},
      {"127.0.0.1:x=db:80", "port 'x' is not a number"},
      {"8080=::1:80", "an IPv6 destination is written [ADDRESS]:PORT"},
      {"8080=[db.corp]:80", "host [db.corp] is not an IPv6 address"},
      {"8080=db corp:80", "host 'db corp' is not a name"},
      {"8080=user@db:80", "is not a name"},
      {"8080=10.0.0.256:80", "host 10.0.0.256 is not a valid IPv4 address"},
      {"8080=" + std::string(256, 'a') + ":80", "longer than 255 bytes"},
  };
  for (const Bad& c : cases) {
    auto s = ParseForwardSpec(c.spec);
    ASSERT_FALSE(s) << c.spec << " parsed";
    EXPECT_NE(s.error().find(c.error), std::string::npos) << c.spec << ": " << s.error();
  }
}

TEST(ForwardSpec, ErrorStaysOneLine) {
  auto s = ParseForwardSpec(std::string("8080=db\ncorp:80"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().find('\n'), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("db\\x0acorp"), std::string::npos) << s.error();
}

TEST(ForwardSpec, NameOf255BytesIsTheLongest) {
  EXPECT_TRUE(ParseForwardSpec("8080=" + std::string(255, 'a') + ":80"));
}

TEST(ForwardSpec, FormatReadsBack) {
  for (const char* spec : {"8080=intranet.corp:80", "127.0.0.9:1=[fd00::1]:22", "[::1]:0=192.0.2.1:443"}) {
    auto s = ParseForwardSpec(spec);
    ASSERT_TRUE(s) << spec;
    const std::string text = FormatForwardSpec(*s);
    auto again = ParseForwardSpec(text);
    ASSERT_TRUE(again) << text << ": " << again.error();
    EXPECT_EQ(again->local.ToString(), s->local.ToString());
    EXPECT_EQ(again->target, s->target);
  }
  EXPECT_EQ(FormatForwardSpec(*ParseForwardSpec("8080=intranet.corp:80")), "127.0.0.1:8080=intranet.corp:80");
}

}  // namespace
}  // namespace strait::device
