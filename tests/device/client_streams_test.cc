// ClientStreams (tunnel/device/client_streams.h): the device client's streams by token, without a session or a clock.
#include "tunnel/device/client_streams.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace strait::device {
namespace {

// Only its address is stored: the table never calls it.
ClientStreamHandler* const kHandler = reinterpret_cast<ClientStreamHandler*>(std::uintptr_t{0x1000});

Target Dest() { return *Target::Domain("intranet.example", 443); }

TEST(ClientStreams, WaitingStreamsAreBoundInOrderAndFoundByMuxId) {
  ClientStreams s(8);
  const StreamToken a = s.Add(Dest(), kHandler, 100), b = s.Add(Dest(), kHandler, 200);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, a);
  EXPECT_EQ(s.FrontWaiting(), a);
  s.PopWaiting();
  s.Bind(a, 7);
  EXPECT_EQ(s.TokenOf(7), a);
  EXPECT_EQ(s.Find(a)->mux_id, 7u);
  EXPECT_EQ(s.FrontWaiting(), b);
  EXPECT_EQ(s.live(), 2u);
  EXPECT_EQ(s.TokenOf(8), 0u);
}

TEST(ClientStreams, TheWaitingQueueIsBoundedAndForgottenStreamsLeaveItLazily) {
  ClientStreams s(2);
  const StreamToken a = s.Add(Dest(), kHandler, 100);
  const StreamToken b = s.Add(Dest(), kHandler, 100);
  EXPECT_EQ(s.Add(Dest(), kHandler, 100), 0u) << "a third waiting stream is refused";
  ASSERT_TRUE(s.Erase(a));
  EXPECT_FALSE(s.Erase(a)) << "already gone";
  EXPECT_EQ(s.FrontWaiting(), b) << "the erased stream's place is dropped at the front";
  EXPECT_NE(s.Add(Dest(), kHandler, 100), 0u);
}

TEST(ClientStreams, ExpiredWaitsComeOutOldestFirstAndBoundOnesNever) {
  ClientStreams s(8);
  const StreamToken a = s.Add(Dest(), kHandler, 100);
  const StreamToken b = s.Add(Dest(), kHandler, 200);
  const StreamToken c = s.Add(Dest(), kHandler, 300);
  // b got a session meanwhile (it left the queue when its OPEN went out).
  EXPECT_EQ(s.FrontWaiting(), a);
  EXPECT_EQ(s.TakeExpired(99), std::vector<StreamToken>{});
  EXPECT_EQ(s.TakeExpired(100), std::vector<StreamToken>{a});
  EXPECT_EQ(s.FrontWaiting(), b);
  s.PopWaiting();
  s.Bind(b, 3);
  EXPECT_EQ(s.TakeExpired(std::numeric_limits<std::int64_t>::max()), std::vector<StreamToken>{c});
  EXPECT_EQ(s.FrontWaiting(), 0u);
  EXPECT_NE(s.Find(a), nullptr) << "expiring takes it out of the queue; the caller fails and erases it";
}

TEST(ClientStreams, WhenTheSessionEndsEveryBoundStreamIsUnbound) {
  ClientStreams s(8);
  const StreamToken a = s.Add(Dest(), kHandler, 100);
  const StreamToken b = s.Add(Dest(), kHandler, 100);
  const StreamToken c = s.Add(Dest(), kHandler, 100);
  s.PopWaiting();
  s.Bind(a, 1);
  s.PopWaiting();
  s.Bind(b, 3);
  EXPECT_EQ(s.Unbind(), (std::vector<StreamToken>{a, b}));
  EXPECT_EQ(s.TokenOf(1), 0u);
  EXPECT_EQ(s.TokenOf(3), 0u);
  EXPECT_EQ(s.FrontWaiting(), c) << "streams still waiting keep waiting for the next session";
}

}  // namespace
}  // namespace strait::device
