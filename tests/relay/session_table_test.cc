// SessionTable (relay/session_table.h): the relay's routing rules and relay credit, without links or sockets.
#include "relay/session_table.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "tunnel/link_messages.h"

namespace strait::relay {
namespace {

using tunnel::ErrorCode;
using tunnel::FrameHeader;
using tunnel::FrameType;
using Action = SessionTable::Action;

constexpr std::uint64_t kDev = 11, kCon = 22, kOtherDev = 33;
constexpr std::uint32_t kCh = 0x100;

FrameHeader H(FrameType t, std::uint32_t ch, std::uint32_t length = 0) { return {1, t, 0, length, ch}; }

std::vector<std::uint8_t> Close(ErrorCode code) {
  tunnel::SessionClose c;
  c.code = code;
  std::vector<std::uint8_t> p(c.EncodedSize());
  EXPECT_TRUE(c.Encode(p).ok());
  return p;
}

struct Table : ::testing::Test {
  SessionTable t{64u << 10};
  void SetUp() override {
    t.Add(kCh, false, kDev, kCon);
    t.Add(kCh, true, kCon, kDev);
  }
  SessionTable::Verdict From(std::uint64_t link, bool connector, FrameType type, std::uint32_t ch,
                             std::span<const std::uint8_t> payload = {}, std::size_t bytes = 100) {
    return t.OnFrame(link, connector, H(type, ch, static_cast<std::uint32_t>(payload.size())), payload, bytes);
  }
};

TEST_F(Table, EachRoleSendsOnlyItsFrames) {
  EXPECT_EQ(From(kDev, false, FrameType::kSessionRequest, 0).action, Action::kSessionRequest);
  for (const auto& [link, connector, type, ch] :
       std::vector<std::tuple<std::uint64_t, bool, FrameType, std::uint32_t>>{
           {kCon, true, FrameType::kSessionRequest, 0},   // a connector does not ask for sessions
           {kDev, false, FrameType::kSessionRequest, kCh}, // only on channel 0
           {kCon, true, FrameType::kSessionInit, kCh},
           {kDev, false, FrameType::kSessionAccept, kCh},
           {kDev, false, FrameType::kSessionOffer, kCh},
           {kDev, false, FrameType::kSessionCredit, kCh},  // only the relay grants credit
           {kCon, true, FrameType::kHello, kCh}}) {
    const auto v = From(link, connector, type, ch);
    EXPECT_EQ(v.action, Action::kRefuse) << tunnel::FrameTypeName(type);
    EXPECT_EQ(v.drop, DropReason::kBadFrameForRole) << tunnel::FrameTypeName(type);
  }
  EXPECT_EQ(From(kDev, false, static_cast<FrameType>(0x7f), kCh).drop, DropReason::kUnknownType);
  const std::uint8_t junk[3] = {1, 2, 3};
  EXPECT_EQ(From(kDev, false, FrameType::kSessionClose, kCh, junk).drop, DropReason::kMalformed);
}

TEST_F(Table, AFrameGoesToItsPeerOnlyOnTheSendersOwnLeg) {
  const auto v = From(kDev, false, FrameType::kSealedStream, kCh);
  EXPECT_EQ(v.action, Action::kForward);
  EXPECT_EQ(v.peer, kCon);
  EXPECT_EQ(From(kCon, true, FrameType::kSessionAccept, kCh).peer, kDev);
  // Another device's link, a channel never given, channel 0: unknown_channel.
  EXPECT_EQ(From(kOtherDev, false, FrameType::kSealedStream, kCh).drop, DropReason::kUnknownChannel);
  EXPECT_EQ(From(kDev, false, FrameType::kSealedStream, kCh + 1).drop, DropReason::kUnknownChannel);
  EXPECT_EQ(From(kDev, false, FrameType::kSealedDatagram, 0).drop, DropReason::kUnknownChannel);
  // Removing needs the owner, and returns the peer.
  EXPECT_FALSE(t.Remove(kCh, false, kOtherDev));
  EXPECT_EQ(t.Remove(kCh, false, kDev), kCon);
  EXPECT_EQ(From(kDev, false, FrameType::kSealedStream, kCh).drop, DropReason::kUnknownChannel);
}

TEST_F(Table, ADeviceRefusingItsConnectorIsNoted) {
  const auto bad = Close(ErrorCode::kBadCredential);
  EXPECT_TRUE(From(kDev, false, FrameType::kSessionClose, kCh, bad).refused_offer);
  EXPECT_FALSE(From(kCon, true, FrameType::kSessionClose, kCh, bad).refused_offer);
  EXPECT_FALSE(From(kDev, false, FrameType::kSessionClose, kCh, Close(ErrorCode::kCancelled)).refused_offer);
}

TEST_F(Table, ASenderIsClosedPastItsCreditAndDatagramsAreFree) {
  constexpr std::size_t kFrame = 16'652;
  std::size_t sent = 0;
  while (sent + kFrame <= tunnel::kInitialRelayCredit + tunnel::kRelayCreditSlack) {
    ASSERT_EQ(From(kCon, true, FrameType::kSealedStream, kCh, {}, kFrame).action, Action::kForward);
    sent += kFrame;
  }
  EXPECT_EQ(t.Find(kCh, true, kCon)->outstanding, sent);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(From(kCon, true, FrameType::kSealedDatagram, kCh, {}, kFrame).action, Action::kForward);
  }
  const auto v = From(kCon, true, FrameType::kSealedStream, kCh, {}, kFrame);
  EXPECT_EQ(v.action, Action::kCloseLink);
  EXPECT_EQ(v.drop, DropReason::kCreditExceeded);
  // Credit back: it may send again.
  EXPECT_TRUE(t.Credited(kCon, true, kCh, 64u << 10));
  EXPECT_EQ(From(kCon, true, FrameType::kSealedStream, kCh, {}, kFrame).action, Action::kForward);
  EXPECT_FALSE(t.Credited(kOtherDev, false, kCh, 1)) << "not its leg";
}

TEST_F(Table, CreditIsReturnedInBatchesForWhatReachedTheOtherLink) {
  // Frames from the connector delivered to the device: the device's leg owes the connector.
  std::uint64_t returned = 0;
  for (int i = 0; i < 10; ++i) {
    if (auto r = t.Delivered(kDev, false, H(FrameType::kSealedStream, kCh), 10'000)) {
      EXPECT_EQ(r->to, kCon);
      EXPECT_EQ(r->channel, kCh);
      returned += r->amount;
    }
  }
  EXPECT_EQ(returned, 70'000u) << "one return once 64 KiB was owed, for all of it";
  EXPECT_EQ(t.Find(kCh, false, kDev)->owed, 30'000u);
  EXPECT_FALSE(t.Delivered(kDev, false, H(FrameType::kSealedDatagram, kCh), 100'000));
  EXPECT_FALSE(t.Delivered(kDev, false, H(FrameType::kSessionCredit, kCh), 100'000));
  EXPECT_FALSE(t.Delivered(kOtherDev, false, H(FrameType::kSealedStream, kCh), 100'000));
}

}  // namespace
}  // namespace strait::relay
