// Known answers for inner (sealed stream) frames: bytes written by hand from tunnel/inner_frame.h (the authority)
// and docs/protocol.md §8, checked both ways: the writer produces exactly these bytes, and the reader and the
// payload decoders get the fields back from them.
//
//   type u8 | flags u8 | stream_id u32 | length u16 | payload
#include <gtest/gtest.h>

#include <array>

#include "tests/testing/hex.h"
#include "tunnel/inner_frame.h"

namespace strait::tunnel {
namespace {

using testing::Ascii;
using testing::Hex;
using testing::Wire;

// Runs `write` on a fresh writer and returns what it wrote.
template <class F>
Wire Written(F write) {
  std::array<uint8_t, 512> buf{};
  InnerFrameWriter w(buf);
  EXPECT_TRUE(write(w));
  return Wire(w.data().begin(), w.data().end());
}

// The one frame in `bytes`, which must be exactly one known frame.
InnerFrame Only(const Wire& bytes) {
  InnerFrameReader r(bytes);
  InnerFrame f;
  EXPECT_EQ(r.Next(&f), InnerStatus::kFrame);
  InnerFrame end;
  EXPECT_EQ(r.Next(&end), InnerStatus::kEnd);
  return f;
}

TEST(InnerWireFormat, OpenIpv4) {
  const uint8_t addr[] = {10, 0, 0, 1};
  // OPEN, stream 1, 11 bytes: u32 initial_window (1 MiB), u8 addr_type (1 = IPv4), 4 addr, u16 port (443)
  const Wire want = Hex("01 00 00000001 000b  00100000 01 0a000001 01bb");
  EXPECT_EQ(Written([&](InnerFrameWriter& w) { return w.Open(1, 1u << 20, {AddrType::kIPv4, addr, 443}); }), want);
  const InnerFrame f = Only(want);
  EXPECT_EQ(f.type, InnerType::kOpen);
  EXPECT_EQ(f.flags, 0);
  EXPECT_EQ(f.stream_id, 1u);
  const auto p = DecodeOpen(f.payload);
  ASSERT_TRUE(p.ok()) << InnerErrorName(p.error());
  EXPECT_EQ(p->initial_window, 1u << 20);
  EXPECT_EQ(p->target.type, AddrType::kIPv4);
  EXPECT_EQ(Wire(p->target.addr.begin(), p->target.addr.end()), Hex("0a000001"));
  EXPECT_EQ(p->target.port, 443);
}

TEST(InnerWireFormat, OpenDomain) {
  const Wire name = Ascii("db.internal");
  // OPEN, stream 0x0102, 19 bytes: window 65,536, addr_type 3, str8 "db.internal", port 5432
  const Wire want = Hex("01 00 00000102 0013  00010000 03 0b 64622e696e7465726e616c 1538");
  EXPECT_EQ(Written([&](InnerFrameWriter& w) { return w.Open(0x102, 65536, {AddrType::kDomain, name, 5432}); }),
            want);
  const auto p = DecodeOpen(Only(want).payload);
  ASSERT_TRUE(p.ok()) << InnerErrorName(p.error());
  EXPECT_EQ(p->initial_window, 65536u);
  EXPECT_EQ(p->target.type, AddrType::kDomain);
  EXPECT_EQ(Wire(p->target.addr.begin(), p->target.addr.end()), name);
  EXPECT_EQ(p->target.port, 5432);
}

TEST(InnerWireFormat, OpenIpv6) {
  const Wire addr = Hex("20010db8000000000000000000000001");  // 2001:db8::1
  // OPEN, stream 0xfffffffe, 23 bytes: window 0xffffffff, addr_type 4, 16 addr, port 8080
  const Wire want = Hex("01 00 fffffffe 0017  ffffffff 04 20010db8000000000000000000000001 1f90");
  EXPECT_EQ(Written([&](InnerFrameWriter& w) {
              return w.Open(0xfffffffe, 0xffffffff, {AddrType::kIPv6, addr, 8080});
            }),
            want);
  const InnerFrame f = Only(want);
  EXPECT_EQ(f.stream_id, 0xfffffffeu);
  const auto p = DecodeOpen(f.payload);
  ASSERT_TRUE(p.ok()) << InnerErrorName(p.error());
  EXPECT_EQ(p->initial_window, 0xffffffffu);
  EXPECT_EQ(p->target.type, AddrType::kIPv6);
  EXPECT_EQ(Wire(p->target.addr.begin(), p->target.addr.end()), addr);
  EXPECT_EQ(p->target.port, 8080);
}

TEST(InnerWireFormat, OpenOk) {
  const Wire want = Hex("02 00 00000001 0004  00100000");  // u32 initial_window (1 MiB)
  EXPECT_EQ(Written([](InnerFrameWriter& w) { return w.OpenOk(1, 1u << 20); }), want);
  const InnerFrame f = Only(want);
  EXPECT_EQ(f.type, InnerType::kOpenOk);
  EXPECT_EQ(f.stream_id, 1u);
  EXPECT_EQ(DecodeOpenOk(f.payload).value(), 1u << 20);
}

TEST(InnerWireFormat, DataWithAndWithoutFin) {
  const Wire hi = Ascii("hi");
  const Wire want = Hex("03 00 00000005 0002  6869");
  EXPECT_EQ(Written([&](InnerFrameWriter& w) { return w.Data(5, hi, /*fin=*/false); }), want);
  InnerFrame f = Only(want);
  EXPECT_EQ(f.type, InnerType::kData);
  EXPECT_FALSE(f.fin());
  EXPECT_EQ(f.stream_id, 5u);
  EXPECT_EQ(Wire(f.payload.begin(), f.payload.end()), hi);

  const Wire fin = Hex("03 01 00000005 0000");  // an empty DATA carrying FIN (flag 0x01)
  EXPECT_EQ(Written([](InnerFrameWriter& w) { return w.Data(5, {}, /*fin=*/true); }), fin);
  f = Only(fin);
  EXPECT_TRUE(f.fin());
  EXPECT_TRUE(f.payload.empty());
}

TEST(InnerWireFormat, WindowForTheSessionAndForAStream) {
  const Wire session = Hex("04 00 00000000 0004  00008000");  // stream 0 = the session window, +32 KiB
  EXPECT_EQ(Written([](InnerFrameWriter& w) { return w.Window(0, 0x8000); }), session);
  InnerFrame f = Only(session);
  EXPECT_EQ(f.type, InnerType::kWindow);
  EXPECT_EQ(f.stream_id, 0u);
  EXPECT_EQ(DecodeWindow(f.payload).value(), 0x8000u);

  const Wire stream = Hex("04 00 00000009 0004  00080000");
  EXPECT_EQ(Written([](InnerFrameWriter& w) { return w.Window(9, 0x80000); }), stream);
  f = Only(stream);
  EXPECT_EQ(f.stream_id, 9u);
  EXPECT_EQ(DecodeWindow(f.payload).value(), 0x80000u);
}

TEST(InnerWireFormat, Reset) {
  const Wire want = Hex("05 00 00000007 0002  0015");  // u16 code (21 = connect_failed)
  EXPECT_EQ(Written([](InnerFrameWriter& w) { return w.Reset(7, ErrorCode::kConnectFailed); }), want);
  const InnerFrame f = Only(want);
  EXPECT_EQ(f.type, InnerType::kReset);
  EXPECT_EQ(f.stream_id, 7u);
  EXPECT_EQ(DecodeReset(f.payload).value(), ErrorCode::kConnectFailed);
}

// Frames back to back in one plaintext, an unknown type among them skipped by its length.
TEST(InnerWireFormat, FramesBackToBackWithAnUnknownTypeSkipped) {
  const Wire plaintext = Hex(
      "02 00 00000001 0004 00010000"  // OPEN_OK stream 1
      "7f 00 00000001 0003 aabbcc"    // type 0x7f: unknown, skipped
      "03 01 00000001 0001 21");      // DATA "!" + FIN
  InnerFrameReader r(plaintext);
  InnerFrame f;
  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kOpenOk);
  ASSERT_EQ(r.Next(&f), InnerStatus::kFrame);
  EXPECT_EQ(f.type, InnerType::kData);
  EXPECT_TRUE(f.fin());
  EXPECT_EQ(Wire(f.payload.begin(), f.payload.end()), Ascii("!"));
  EXPECT_EQ(r.Next(&f), InnerStatus::kEnd);
  EXPECT_EQ(r.skipped(), 1u);
}

}  // namespace
}  // namespace strait::tunnel
