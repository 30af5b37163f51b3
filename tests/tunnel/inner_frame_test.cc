#include "tunnel/inner_frame.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

namespace strait::tunnel {
namespace {

std::span<const uint8_t> B(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(InnerFrame, PacksSeveralFramesAndReadsThemBack) {
  std::array<uint8_t, 512> buf{};
  InnerFrameWriter w(buf);
  const uint8_t v4[] = {10, 0, 0, 1};
  ASSERT_TRUE(w.Open(1, 65536, OpenTarget{AddrType::kIPv4, v4, 443}));
  ASSERT_TRUE(w.OpenOk(1, 1024));
  ASSERT_TRUE(w.Data(1, B("hello"), /*fin=*/true));
  ASSERT_TRUE(w.Window(0, 5));
  ASSERT_TRUE(w.Reset(3, ErrorCode::kConnectFailed));

  InnerFrameReader r(w.data());
  InnerFrame f;
  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kOpen);
  auto open = DecodeOpen(f.payload);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->initial_window, 65536u);
  EXPECT_EQ(open->target.type, AddrType::kIPv4);
  EXPECT_EQ(open->target.port, 443);
  EXPECT_EQ(open->target.addr[0], 10);

  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kOpenOk);
  EXPECT_EQ(*DecodeOpenOk(f.payload), 1024u);

  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kData);
  EXPECT_TRUE(f.fin());
  EXPECT_EQ(f.payload.size(), 5u);

  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kWindow);
  EXPECT_EQ(f.stream_id, 0u);
  EXPECT_EQ(*DecodeWindow(f.payload), 5u);

  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kReset);
  EXPECT_EQ(f.stream_id, 3u);
  EXPECT_EQ(*DecodeReset(f.payload), ErrorCode::kConnectFailed);

  EXPECT_EQ(r.Next(&f), InnerStatus::kEnd);
}

TEST(InnerFrame, OpenRoundTripsEveryAddressType) {
  const uint8_t v4[4] = {192, 168, 1, 2};
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const std::string max_domain(255, 'd');
  struct Case { OpenTarget target; size_t size; };
  const Case cases[] = {
      {{AddrType::kIPv4, v4, 80}, 4 + 1 + 4 + 2},
      {{AddrType::kIPv6, v6, 8443}, 4 + 1 + 16 + 2},
      {{AddrType::kDomain, B("intranet.example"), 443}, 4 + 1 + 1 + 16 + 2},
      {{AddrType::kDomain, B(max_domain), 1}, kMaxOpenSize},
  };
  for (const auto& c : cases) {
    std::array<uint8_t, 512> buf{};
    InnerFrameWriter w(buf);
    ASSERT_TRUE(w.Open(9, 777, c.target));
    EXPECT_EQ(w.written(), kInnerHeaderSize + c.size);
    InnerFrameReader r(w.data());
    InnerFrame f;
    ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
    auto p = DecodeOpen(f.payload);
    ASSERT_TRUE(p.ok()) << InnerErrorName(p.error());
    EXPECT_EQ(p->target.type, c.target.type);
    EXPECT_TRUE(std::equal(p->target.addr.begin(), p->target.addr.end(), c.target.addr.begin(),
                           c.target.addr.end()));
    EXPECT_EQ(p->target.port, c.target.port);
    // Every truncation of the payload is refused.
    for (size_t n = 0; n < f.payload.size(); ++n) EXPECT_FALSE(DecodeOpen(f.payload.first(n)).ok()) << n;
  }
}

TEST(InnerFrame, OpenRejectsBadAddressesAndTrailingBytes) {
  const uint8_t bad_type[] = {0, 0, 0, 1, 2, 1, 2, 3, 4, 0, 80};
  EXPECT_EQ(DecodeOpen(bad_type).error(), InnerError::kBadAddrType);
  const uint8_t empty_domain[] = {0, 0, 0, 1, 3, 0, 0, 80};
  EXPECT_EQ(DecodeOpen(empty_domain).error(), InnerError::kEmptyDomain);
  const uint8_t trailing[] = {0, 0, 0, 1, 1, 1, 2, 3, 4, 0, 80, 0};
  EXPECT_EQ(DecodeOpen(trailing).error(), InnerError::kTrailingBytes);
  std::array<uint8_t, 64> buf{};
  InnerFrameWriter w(buf);
  const uint8_t three[] = {1, 2, 3};
  EXPECT_FALSE(w.Open(1, 1, OpenTarget{AddrType::kIPv4, three, 1}));
  EXPECT_FALSE(w.Open(1, 1, OpenTarget{AddrType::kDomain, {}, 1}));
  EXPECT_EQ(w.written(), 0u);
}

TEST(InnerFrame, FixedSizePayloadsAreExact) {
  const uint8_t five[] = {0, 0, 0, 1, 0};
  EXPECT_EQ(DecodeWindow(five).error(), InnerError::kTrailingBytes);
  EXPECT_EQ(DecodeOpenOk(std::span(five).first(3)).error(), InnerError::kTruncated);
  EXPECT_EQ(DecodeReset(std::span(five).first(3)).error(), InnerError::kTrailingBytes);
  EXPECT_EQ(DecodeReset(std::span(five).first(1)).error(), InnerError::kTruncated);
}

TEST(InnerFrameReader, SkipsUnknownTypes) {
  std::array<uint8_t, 128> buf{};
  InnerFrameWriter w(buf);
  ASSERT_TRUE(w.Raw(0x7f, 0, 1, B("future")));
  ASSERT_TRUE(w.Data(1, B("x"), false));
  ASSERT_TRUE(w.Raw(0x00, 0, 1, {}));
  InnerFrameReader r(w.data());
  InnerFrame f;
  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kData);
  EXPECT_EQ(r.Next(&f), InnerStatus::kEnd);
  EXPECT_EQ(r.skipped(), 2u);
}

TEST(InnerFrameReader, RejectsTruncationAtEveryLength) {
  std::array<uint8_t, 128> buf{};
  InnerFrameWriter w(buf);
  ASSERT_TRUE(w.Data(1, B("abc"), false));
  ASSERT_TRUE(w.Data(2, B("defgh"), true));
  const size_t first = kInnerHeaderSize + 3;
  for (size_t n = 1; n < w.written(); ++n) {
    if (n == first) continue;  // a frame boundary: a valid, shorter message
    InnerFrameReader r(w.data().first(n));
    InnerFrame f;
    InnerStatus s;
    while ((s = r.Next(&f)) == InnerStatus::kFrame) {}
    EXPECT_EQ(s, InnerStatus::kTruncated) << n;
  }
}

TEST(InnerFrameWriter, RefusesFramesThatDoNotFitAndWritesNothing) {
  std::array<uint8_t, kInnerHeaderSize + 3> buf{};
  InnerFrameWriter w(buf);
  EXPECT_FALSE(w.Data(1, B("abcd"), false));
  EXPECT_EQ(w.written(), 0u);
  EXPECT_FALSE(w.Window(1, 1));  // needs 4 payload bytes
  EXPECT_TRUE(w.Reset(1, ErrorCode::kCancelled));  // header + 2 fits in 11
  EXPECT_EQ(w.written(), kInnerHeaderSize + kResetSize);
}

}  // namespace
}  // namespace strait::tunnel
