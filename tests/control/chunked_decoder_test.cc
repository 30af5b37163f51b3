// The chunked transfer decoder (tunnel/control/chunked_decoder.h): body bytes out whatever the split, extensions and
// trailers skipped, and every malformation (bad hex, bare LF, data longer than its size, oversized chunk or line,
// too many trailers) fails it for good.
#include "tunnel/control/chunked_decoder.h"

#include <gtest/gtest.h>

#include <string>

namespace strait::control {
namespace {

TEST(ChunkedDecoder, DecodesWhateverTheSplit) {
  const std::string wire = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nAFTER";
  for (size_t step = 1; step <= wire.size(); ++step) {
    ChunkedDecoder d;
    std::string out;
    ChunkedDecoder::Status st = ChunkedDecoder::Status::kOk;
    for (size_t i = 0; i < wire.size() && st == ChunkedDecoder::Status::kOk; i += step) {
      st = d.Feed(std::string_view(wire).substr(i, step), &out);
    }
    EXPECT_EQ(st, ChunkedDecoder::Status::kEnd) << step;
    EXPECT_EQ(out, "hello 0123456789") << step;
    EXPECT_TRUE(d.done());
  }
}

TEST(ChunkedDecoder, RefusesMalformations) {
  struct Case {
    const char* name;
    std::string wire;
  } cases[] = {
      {"no size", "\r\n"},
      {"bad hex", "zz\r\n"},
      {"space before the size", " 5\r\nhello\r\n"},
      {"bare LF after the size", "5\nhello\r\n"},
      {"data longer than its size", "2\r\nhello\r\n"},
      {"data without CRLF", "5\r\nhelloXY"},
      {"chunk beyond the bound", "8000000\r\n"},
      {"seventeen digits", "00000000000000001\r\n"},
      {"long extension", "1;" + std::string(2000, 'x') + "\r\n"},
      {"bare LF in trailers", "0\r\nX: 1\n"},
      {"long trailer", "0\r\n" + std::string(2000, 'x') + "\r\n"},
  };
  for (const Case& c : cases) {
    ChunkedDecoder d;
    std::string out;
    EXPECT_EQ(d.Feed(c.wire, &out), ChunkedDecoder::Status::kError) << c.name;
    EXPECT_TRUE(d.failed()) << c.name;
    EXPECT_FALSE(d.error().empty()) << c.name;
    EXPECT_EQ(d.Feed("5\r\nhello\r\n", &out), ChunkedDecoder::Status::kError) << c.name;  // it stays failed
  }
  std::string trailers = "0\r\n";
  for (int i = 0; i < 40; ++i) trailers += "X: 1\r\n";
  ChunkedDecoder d;
  std::string out;
  EXPECT_EQ(d.Feed(trailers, &out), ChunkedDecoder::Status::kError);
}

TEST(ChunkedDecoder, StreamsDataWithoutHoldingIt) {
  ChunkedDecoder d;
  std::string out;
  EXPECT_EQ(d.Feed("100000\r\n", &out), ChunkedDecoder::Status::kOk);  // 1 MiB chunk announced
  const std::string piece(4096, 'a');
  for (int i = 0; i < 256; ++i) {
    out.clear();
    ASSERT_EQ(d.Feed(piece, &out), ChunkedDecoder::Status::kOk);
    EXPECT_EQ(out.size(), piece.size());  // handed over as it came
  }
  out.clear();
  EXPECT_EQ(d.Feed("\r\n0\r\n\r\n", &out), ChunkedDecoder::Status::kEnd);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace strait::control
