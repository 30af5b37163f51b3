#include "tunnel/device/target.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strait::device {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Encode(const Target& t) {
  std::array<uint8_t, kMaxAddressWireSize> buf{};
  ByteWriter w(buf);
  WriteAddress(t, w);
  EXPECT_TRUE(w.ok());
  return Bytes(w.data().begin(), w.data().end());
}

TEST(Target, EncodesTheOpenFrameAddressForms) {
  EXPECT_EQ(Encode(Target::Ipv4({192, 0, 2, 1}, 443)), (Bytes{1, 192, 0, 2, 1, 0x01, 0xBB}));
  EXPECT_EQ(Encode(*Target::Domain("db", 5432)), (Bytes{3, 2, 'd', 'b', 0x15, 0x38}));
  std::array<uint8_t, 16> v6{};
  v6[0] = 0x20;
  v6[1] = 0x01;
  Bytes want = {4};
  want.insert(want.end(), v6.begin(), v6.end());
  want.insert(want.end(), {0, 22});
  EXPECT_EQ(Encode(Target::Ipv6(v6, 22)), want);
}

TEST(Target, RoundTripsEveryForm) {
  std::array<uint8_t, 16> v6{};
  v6.fill(0xAB);
  const Target targets[] = {Target::Ipv4({10, 0, 0, 1}, 1), Target::Ipv6(v6, 65535),
                            *Target::Domain("x", 80), *Target::Domain(std::string(255, 'n'), 8443)};
  for (const Target& t : targets) {
    Bytes b = Encode(t);
    ByteReader r(b);
    Target back;
    ASSERT_TRUE(ReadAddress(r, &back));
    EXPECT_TRUE(r.empty());
    EXPECT_TRUE(back == t);
  }
}

TEST(Target, DomainMustBeOneTo255Bytes) {
  EXPECT_FALSE(Target::Domain("", 80));
  EXPECT_FALSE(Target::Domain(std::string(256, 'a'), 80));
  EXPECT_TRUE(Target::Domain(std::string(255, 'a'), 80));
}

TEST(Target, ReadRejectsBadFormsAndConsumesNothing) {
  const Bytes cases[] = {
      {},                          // empty
      {2, 1, 2, 3, 4, 0, 80},      // unknown type
      {1, 1, 2, 3, 4, 0},          // short port
      {3, 0, 0, 80},               // empty name
      {3, 5, 'a', 'b', 0, 80},     // short name
      {4, 1, 2, 3},                // short IPv6
  };
  for (const Bytes& b : cases) {
    ByteReader r(b);
    Target t;
    EXPECT_FALSE(ReadAddress(r, &t));
    EXPECT_EQ(r.remaining(), b.size());
  }
}

}  // namespace
}  // namespace strait::device
