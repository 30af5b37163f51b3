// connector::DirectGate: what the Direct Connect listener decides, without sockets.
#include "tunnel/connector/direct_gate.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace strait::connector {
namespace {

using Accept = DirectGate::AcceptVerdict;
using Up = DirectGate::UpVerdict;
using Kind = DirectGate::FrameVerdict::Kind;

tunnel::FrameHeader Header(tunnel::FrameType type, std::uint32_t channel, std::size_t length) {
  return {tunnel::kFramingVersion, type, 0, static_cast<std::uint32_t>(length), channel};
}

DirectGate::FrameVerdict Request(DirectGate& g, std::uint64_t link) {
  const std::vector<std::uint8_t> empty_preference = {0};
  return g.OnFrame(link, Header(tunnel::FrameType::kSessionRequest, 0, 1), empty_preference);
}

TEST(DirectGate, RefusesASourceAtItsCapAndAFullListener) {
  DirectGate g({.max_links = 3, .max_logins = 8, .max_logins_per_source = 2, .max_channels_per_link = 4});
  ASSERT_EQ(g.OnAccept(1), Accept::kAccept);
  EXPECT_FALSE(g.Admit(10, 1));
  ASSERT_EQ(g.OnAccept(1), Accept::kAccept);
  EXPECT_FALSE(g.Admit(11, 1));
  EXPECT_EQ(g.OnAccept(1), Accept::kRefuseSource);  // two logins in flight from source 1
  ASSERT_EQ(g.OnAccept(2), Accept::kAccept);
  EXPECT_FALSE(g.Admit(12, 2));
  EXPECT_EQ(g.OnAccept(3), Accept::kRefuseFull);  // three links
  EXPECT_EQ(g.stats().refused_source, 1u);
  EXPECT_EQ(g.stats().refused_full, 1u);
  EXPECT_EQ(g.stats().accepted, 3u);
}

TEST(DirectGate, AFullLoginBudgetEvictsTheOldestLoginWhichStopsCountingAgainstMaxLinks) {
  DirectGate g({.max_links = 2, .max_logins = 2, .max_logins_per_source = 8, .max_channels_per_link = 4});
  EXPECT_FALSE(g.Admit(10, 1));
  EXPECT_FALSE(g.Admit(11, 2));
  EXPECT_EQ(g.OnAccept(3), Accept::kRefuseFull);
  EXPECT_EQ(g.Admit(12, 3), std::optional<std::uint64_t>(10));  // the listener closes link 10
  EXPECT_EQ(g.links(), 3u);
  EXPECT_EQ(g.counted_links(), 2u);
  EXPECT_EQ(g.stats().logins_evicted, 1u);
  const DirectGate::DownVerdict down = g.OnLinkDown(10, /*was_up=*/false, /*closed_by_us=*/true);
  EXPECT_TRUE(down.known);
  EXPECT_FALSE(down.tell_owner);
  EXPECT_FALSE(down.login_failed);  // we closed it: already logged as evicted
  EXPECT_EQ(g.links(), 2u);
}

TEST(DirectGate, AnotherTenantIsRefusedAndNeverReachesTheOwner) {
  DirectGate g({});
  EXPECT_FALSE(g.Admit(10, 1));
  EXPECT_EQ(g.OnLinkUp(10, /*same_tenant=*/false), Up::kRefuseTenant);
  EXPECT_EQ(Request(g, 10).kind, Kind::kIgnore);
  EXPECT_FALSE(g.admitted(10));
  EXPECT_FALSE(g.OnLinkDown(10, true, true).tell_owner);
  EXPECT_EQ(g.stats().refused_tenant, 1u);
  EXPECT_EQ(g.OnLinkUp(99, true), Up::kUnknown);
}

TEST(DirectGate, OffersNewChannelsUpToTheLimitAndForwardsOnlyOfferedOnes) {
  DirectGate g({.max_links = 4, .max_logins = 4, .max_logins_per_source = 4, .max_channels_per_link = 2});
  EXPECT_FALSE(g.Admit(10, 1));
  ASSERT_EQ(g.OnLinkUp(10, true), Up::kAdmitted);
  const std::vector<std::uint8_t> sealed = {1, 2, 3};
  EXPECT_EQ(g.OnFrame(10, Header(tunnel::FrameType::kSessionInit, 1, 3), sealed).kind, Kind::kNeverOffered);
  const DirectGate::FrameVerdict first = Request(g, 10);
  EXPECT_EQ(first.kind, Kind::kOffer);
  EXPECT_EQ(first.channel, 1u);
  EXPECT_EQ(g.OnFrame(10, Header(tunnel::FrameType::kSessionInit, 1, 3), sealed).kind, Kind::kForward);
  EXPECT_EQ(Request(g, 10).channel, 2u);
  EXPECT_EQ(Request(g, 10).kind, Kind::kTooManySessions);  // the link stays; channels are never reused
  EXPECT_EQ(g.OnFrame(10, Header(tunnel::FrameType::kSealedStream, 3, 3), sealed).kind, Kind::kNeverOffered);
  const std::vector<std::uint8_t> malformed = {5, 'x'};
  EXPECT_EQ(g.OnFrame(10, Header(tunnel::FrameType::kSessionRequest, 0, 2), malformed).kind, Kind::kBadRequest);
  EXPECT_EQ(g.OnFrame(10, Header(tunnel::FrameType::kPing, 0, 3), sealed).kind, Kind::kIgnore);
  EXPECT_EQ(g.stats().offers, 2u);
  EXPECT_EQ(g.stats().refused_channels, 1u);
  EXPECT_TRUE(g.OnLinkDown(10, true, false).tell_owner);
}

TEST(DirectGate, CountsALoginThatFailsOnItsOwn) {
  DirectGate g({});
  EXPECT_FALSE(g.Admit(10, 1));
  const DirectGate::DownVerdict v = g.OnLinkDown(10, /*was_up=*/false, /*closed_by_us=*/false);
  EXPECT_TRUE(v.login_failed);
  EXPECT_EQ(g.stats().logins_failed, 1u);
  EXPECT_EQ(g.logins_in_flight(), 0u);
  EXPECT_FALSE(g.OnLinkDown(10, false, false).known);  // once
}

}  // namespace
}  // namespace strait::connector
