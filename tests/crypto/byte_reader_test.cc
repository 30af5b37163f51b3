#include "crypto/byte_reader.h"

#include <gtest/gtest.h>

#include <array>

namespace strait {
namespace {

TEST(ByteReader, ReadsBigEndianIntegers) {
  const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(in);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  ASSERT_TRUE(r.ReadU8(&a));
  ASSERT_TRUE(r.ReadU16(&b));
  ASSERT_TRUE(r.ReadU32(&c));
  EXPECT_EQ(a, 0x01);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x04050607u);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReader, ShortReadFailsAndConsumesNothing) {
  const uint8_t in[] = {0x01, 0x02, 0x03};
  ByteReader r(in);
  uint32_t v;
  EXPECT_FALSE(r.ReadU32(&v));
  EXPECT_EQ(r.remaining(), 3u);
}

TEST(ByteReader, PrefixedRejectsLengthBeyondInput) {
  const uint8_t in[] = {0x05, 'a', 'b'};
  ByteReader r(in);
  std::span<const uint8_t> s;
  EXPECT_FALSE(r.ReadPrefixed8(&s));
  EXPECT_EQ(r.remaining(), 3u);
}

TEST(ByteWriter, RoundTripsThroughReader) {
  std::array<uint8_t, 32> buf{};
  ByteWriter w(buf);
  w.U8(7);
  w.U16(0xbeef);
  w.U64(0x0102030405060708ull);
  const uint8_t s[] = {'h', 'i'};
  w.Prefixed16(s);
  ASSERT_TRUE(w.ok());
  ByteReader r(w.data());
  uint8_t a;
  uint16_t b;
  uint64_t c;
  std::span<const uint8_t> str;
  ASSERT_TRUE(r.ReadU8(&a) && r.ReadU16(&b) && r.ReadU64(&c) && r.ReadPrefixed16(&str));
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 0xbeef);
  EXPECT_EQ(c, 0x0102030405060708ull);
  EXPECT_EQ(str.size(), 2u);
  EXPECT_TRUE(r.empty());
}

TEST(ByteWriter, OverflowIsStickyAndWritesNothingMore) {
  std::array<uint8_t, 3> buf{};
  ByteWriter w(buf);
  w.U16(1);
  w.U16(2);  // does not fit
  w.U8(3);   // would fit, but the writer already failed
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.written(), 2u);
}

TEST(ByteWriter, Prefixed8RejectsOversizedString) {
  std::array<uint8_t, 300> buf{};
  std::array<uint8_t, 256> big{};
  ByteWriter w(buf);
  w.Prefixed8(big);
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace strait
