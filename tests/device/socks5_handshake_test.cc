// device::Socks5Handshake: the SOCKS5 door's per-connection decisions, without sockets.
#include "tunnel/device/socks5_handshake.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace strait::device {
namespace {

using Then = Socks5Handshake::Step::Then;
using Phase = Socks5Handshake::Phase;
using Bytes = std::vector<std::uint8_t>;

const Bytes kGreeting = {0x05, 0x01, 0x00};
const Bytes kRequest = {0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x50};  // CONNECT 10.0.0.1:80
const Bytes kMethodReply = {0x05, 0x00};

Bytes Cat(const Bytes& a, const Bytes& b) {
  Bytes r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

TEST(Socks5Handshake, RepliesToTheGreetingThenOpensTheTarget) {
  Socks5Handshake hs;
  Socks5Handshake::Step s = hs.OnData(kGreeting);
  EXPECT_EQ(s.send, kMethodReply);
  EXPECT_EQ(s.then, Then::kNone);
  s = hs.OnData(kRequest);
  EXPECT_TRUE(s.send.empty());
  EXPECT_EQ(s.then, Then::kOpen);
  EXPECT_EQ(hs.phase(), Phase::kOpening);
  EXPECT_EQ(hs.target(), Target::Ipv4({10, 0, 0, 1}, 80));
}

TEST(Socks5Handshake, HoldsPipelinedAndLateBytesForTheStreamInOrder) {
  Socks5Handshake hs;
  Socks5Handshake::Step s = hs.OnData(Cat(Cat(kGreeting, kRequest), {'G', 'E'}));
  EXPECT_EQ(s.send, kMethodReply);  // the greeting's reply, in the same step as the open
  EXPECT_EQ(s.then, Then::kOpen);
  EXPECT_EQ(hs.OnData(Bytes{'T'}).then, Then::kNone);  // arrived before reads paused
  EXPECT_EQ(hs.held_bytes(), 3u);
  const Socks5Handshake::Opened o = hs.OnOpened();
  EXPECT_EQ(o.held, (Bytes{'G', 'E', 'T'}));
  EXPECT_FALSE(o.eof);
  EXPECT_EQ(Bytes(o.reply.bytes().begin(), o.reply.bytes().end()), (Bytes{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(hs.phase(), Phase::kPumping);
  EXPECT_EQ(hs.held_bytes(), 0u);
}

TEST(Socks5Handshake, AHalfCloseDuringTheOpenIsRememberedBeforeItAborts) {
  Socks5Handshake before;
  EXPECT_EQ(before.OnData(kGreeting).then, Then::kNone);
  const Socks5Handshake::Step gone = before.OnReadClosed();
  EXPECT_EQ(gone.then, Then::kAbort);
  EXPECT_FALSE(gone.protocol_error);
  EXPECT_EQ(before.phase(), Phase::kClosed);

  Socks5Handshake during;
  ASSERT_EQ(during.OnData(Cat(kGreeting, kRequest)).then, Then::kOpen);
  EXPECT_EQ(during.OnReadClosed().then, Then::kNone);
  EXPECT_TRUE(during.OnOpened().eof);
}

TEST(Socks5Handshake, AFailedOpenAnswersWithTheMappedReplyAndClosesGracefully) {
  const struct {
    tunnel::ErrorCode code;
    std::uint8_t rep;
  } cases[] = {
      {tunnel::ErrorCode::kRefusedByPolicy, 0x02}, {tunnel::ErrorCode::kConnectFailed, 0x05},
      {tunnel::ErrorCode::kDnsFailed, 0x04},       {tunnel::ErrorCode::kTimeout, 0x06},
      {tunnel::ErrorCode::kNoConnector, 0x03},     {tunnel::ErrorCode::kOverloaded, 0x01},
  };
  for (const auto& c : cases) {
    Socks5Handshake hs;
    ASSERT_EQ(hs.OnData(Cat(Cat(kGreeting, kRequest), {'x'})).then, Then::kOpen);
    const Socks5Handshake::Step s = hs.OnOpenFailed(c.code);
    EXPECT_EQ(s.send, (Bytes{5, c.rep, 0, 1, 0, 0, 0, 0, 0, 0})) << static_cast<int>(c.code);
    EXPECT_EQ(s.then, Then::kCloseGracefully);
    EXPECT_FALSE(s.protocol_error);
    EXPECT_EQ(hs.phase(), Phase::kClosed);
    EXPECT_EQ(hs.held_bytes(), 0u);
  }
}

TEST(Socks5Handshake, ProtocolRefusalsAreCountedAndEndTheHandshake) {
  Socks5Handshake no_method;
  const Socks5Handshake::Step s = no_method.OnData(Bytes{0x05, 0x01, 0x02});  // username/password only
  EXPECT_EQ(s.send, (Bytes{0x05, 0xFF}));
  EXPECT_EQ(s.then, Then::kCloseGracefully);
  EXPECT_TRUE(s.protocol_error);

  Socks5Handshake garbage;
  const Socks5Handshake::Step g = garbage.OnData(Bytes{0x04, 0x01, 0x00, 0x50});
  EXPECT_TRUE(g.send.empty());
  EXPECT_EQ(g.then, Then::kAbort);
  EXPECT_TRUE(g.protocol_error);
  EXPECT_EQ(garbage.phase(), Phase::kClosed);
  EXPECT_EQ(garbage.OnData(kGreeting).then, Then::kNone);  // nothing more after the end
  EXPECT_TRUE(garbage.OnData(kGreeting).send.empty());
}

TEST(Socks5Handshake, EventsOutsideTheirPhaseDoNothing) {
  Socks5Handshake hs;
  EXPECT_EQ(hs.OnOpened().reply.size, 0u);
  EXPECT_EQ(hs.OnOpenFailed(tunnel::ErrorCode::kTimeout).then, Then::kNone);
  EXPECT_EQ(hs.phase(), Phase::kSocks);
  ASSERT_EQ(hs.OnData(Cat(kGreeting, kRequest)).then, Then::kOpen);
  (void)hs.OnOpened();
  EXPECT_EQ(hs.OnOpenFailed(tunnel::ErrorCode::kTimeout).then, Then::kNone);
  EXPECT_EQ(hs.OnData(Bytes{1, 2, 3}).then, Then::kNone);
  EXPECT_EQ(hs.phase(), Phase::kPumping);
}

}  // namespace
}  // namespace strait::device
