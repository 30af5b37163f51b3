// crypto/hex.h: the one hex codec (libsodium's) for digests, fingerprints and the tests' hand-written bytes.
#include "crypto/hex.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strait::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(Hex, EncodesLowerCaseTwoDigitsAByte) {
  EXPECT_EQ(HexEncode(Bytes{}), "");
  EXPECT_EQ(HexEncode(Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}), "00017f80abff");
}

TEST(Hex, DecodesEitherCase) {
  EXPECT_EQ(HexDecode(""), Bytes{});
  EXPECT_EQ(HexDecode("00017f80abff"), (Bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}));
  EXPECT_EQ(HexDecode("ABff"), (Bytes{0xab, 0xff}));
}

TEST(Hex, RoundTripsEveryByte) {
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  const std::string text = HexEncode(all);
  EXPECT_EQ(text.size(), 512u);
  EXPECT_EQ(HexDecode(text), all);
}

TEST(Hex, SkipsIgnoredCharactersBetweenPairsOnly) {
  EXPECT_EQ(HexDecode("01 0a\nff", " \n"), (Bytes{0x01, 0x0a, 0xff}));
  EXPECT_EQ(HexDecode("  01  ", " "), Bytes{0x01});
  EXPECT_EQ(HexDecode("0 1", " "), std::nullopt);   // inside a pair
  EXPECT_EQ(HexDecode("01 0a"), std::nullopt);      // nothing is ignored unless asked
  EXPECT_EQ(HexDecode("01:0a", " "), std::nullopt);  // not in the ignore list
}

TEST(Hex, RefusesWhatIsNotHex) {
  EXPECT_EQ(HexDecode("0"), std::nullopt);     // a lone digit
  EXPECT_EQ(HexDecode("abc"), std::nullopt);   // an odd count
  EXPECT_EQ(HexDecode("0g"), std::nullopt);    // not a hex digit
  EXPECT_EQ(HexDecode("0x01"), std::nullopt);  // no prefixes
  EXPECT_EQ(HexDecode(std::string_view("01\0 02", 6), std::string_view(" ")), std::nullopt);  // a NUL
}

}  // namespace
}  // namespace strait::crypto
