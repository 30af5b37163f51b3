// LinkTimers on a manual clock: every deadline of a link, to the nanosecond, with no sleeping and no real time.
#include "tunnel/link/link_timers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace strait::link {
namespace {

using Action = LinkTimers::Action;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000 * kMs;

LinkTimers Make() { return LinkTimers({10 * kS, 3 * kS, 2 * kMs}); }

// Plays the link's timer: at each deadline, records what is due and does what TlsLink does for it, until `until`.
std::vector<std::pair<std::int64_t, Action>> Play(LinkTimers& t, std::int64_t until) {
  std::vector<std::pair<std::int64_t, Action>> out;
  for (int guard = 0; guard < 10000; ++guard) {
    const std::int64_t at = t.NextDeadline();
    if (at == LinkTimers::kNever || at > until) return out;
    const Action a = t.Due(at);
    EXPECT_NE(a, Action::kNone) << "a deadline with nothing due at " << at;  // the timer would spin
    out.emplace_back(at, a);
    switch (a) {
      case Action::kPing: t.Sent(at); break;
      case Action::kFlushRetry: t.FlushRetried(); break;
      case Action::kCredentialCheck: t.SetCredentialDeadline(LinkTimers::kNever); break;
      default: t.Stop(); break;  // a timeout closes the link
    }
  }
  ADD_FAILURE() << "no end";
  return out;
}

TEST(LinkTimers, NothingIsDueBeforeStartOrAfterStop) {
  LinkTimers t = Make();
  EXPECT_EQ(t.NextDeadline(), LinkTimers::kNever);
  EXPECT_EQ(t.Due(100 * kS), Action::kNone);
  t.Start(0, false);
  t.Stop();
  EXPECT_EQ(t.NextDeadline(), LinkTimers::kNever);
  EXPECT_EQ(t.Due(100 * kS), Action::kNone);
}

TEST(LinkTimers, ServerWithoutAClientHelloIsDueAtTheShortDeadline) {
  LinkTimers t = Make();
  t.Start(5 * kS, /*hello_seen=*/false);
  EXPECT_EQ(t.NextDeadline(), 8 * kS);
  EXPECT_EQ(t.Due(8 * kS - 1), Action::kNone);
  EXPECT_EQ(t.Due(8 * kS), Action::kHelloTimeout);
  // Bytes that are not a whole ClientHello do not move it (only HelloSeen does).
  t.Received(7 * kS);
  EXPECT_EQ(t.Due(8 * kS), Action::kHelloTimeout);
}

TEST(LinkTimers, AfterTheClientHelloOnlyTheHandshakeDeadlineIsLeft) {
  LinkTimers t = Make();
  t.Start(0, false);
  t.HelloSeen();
  EXPECT_EQ(t.NextDeadline(), 10 * kS);
  EXPECT_EQ(t.Due(9 * kS), Action::kNone);
  EXPECT_EQ(t.Due(10 * kS), Action::kHandshakeTimeout);
  LinkTimers client = Make();
  client.Start(0, /*hello_seen=*/true);  // a client has no ClientHello deadline
  EXPECT_EQ(client.NextDeadline(), 10 * kS);
}

TEST(LinkTimers, ZeroTurnsALoginDeadlineOff) {
  LinkTimers t({0, 0, 0});
  t.Start(0, false);
  EXPECT_EQ(t.NextDeadline(), LinkTimers::kNever);
  EXPECT_EQ(t.Due(1'000'000 * kS), Action::kNone);
}

TEST(LinkTimers, AnIdleLinkPingsEveryKeepaliveAndASilentPeerIsClosedAtTheIdleTimeout) {
  LinkTimers t = Make();
  t.Start(0, true);
  t.Up(15'000, 60'000);
  const auto events = Play(t, 1000 * kS);
  const std::vector<std::pair<std::int64_t, Action>> want = {
      {15 * kS, Action::kPing}, {30 * kS, Action::kPing}, {45 * kS, Action::kPing},
      {60 * kS, Action::kIdleTimeout}};  // at 60 s idle comes before the fourth PING
  EXPECT_EQ(events, want);
}

TEST(LinkTimers, WhatIsReceivedMovesTheIdleDeadlineAndWhatIsSentMovesTheKeepalive) {
  LinkTimers t = Make();
  t.Start(0, true);
  t.Up(15'000, 60'000);
  t.Sent(10 * kS);
  EXPECT_EQ(t.NextDeadline(), 25 * kS);
  t.Sent(5 * kS);  // time never goes back
  EXPECT_EQ(t.NextDeadline(), 25 * kS);
  t.Received(50 * kS);
  EXPECT_EQ(t.Due(60 * kS), Action::kPing);
  t.Sent(60 * kS);
  EXPECT_EQ(t.Due(75 * kS), Action::kPing);
  t.Sent(75 * kS);
  EXPECT_EQ(t.Due(109 * kS), Action::kPing);  // idle (at 110 s) not yet
  t.Sent(109 * kS);
  EXPECT_EQ(t.Due(110 * kS), Action::kIdleTimeout);
  LinkTimers off = Make();
  off.Start(0, true);
  off.Up(0, 0);
  EXPECT_EQ(off.NextDeadline(), LinkTimers::kNever);
}

TEST(LinkTimers, TheCredentialDeadlineCountsOnlyOnceUpAndComesBeforeIdleAndPing) {
  LinkTimers t = Make();
  t.Start(0, true);
  t.SetCredentialDeadline(1 * kS);  // set during login (VerifyHello), due only once up
  EXPECT_EQ(t.Due(5 * kS), Action::kNone);
  EXPECT_EQ(t.NextDeadline(), 10 * kS);
  t.Up(1'000, 1'000);
  EXPECT_EQ(t.NextDeadline(), 1 * kS);
  EXPECT_EQ(t.Due(5 * kS), Action::kCredentialCheck);  // everything is due at 5 s: the credential first
  t.SetCredentialDeadline(LinkTimers::kNever);
  EXPECT_EQ(t.Due(5 * kS), Action::kIdleTimeout);
}

TEST(LinkTimers, ARefusedFlushIsRetriedFirstAndOnlyOnceUp) {
  LinkTimers t = Make();
  t.Start(0, true);
  t.FlushRefused(1 * kMs);  // while logging in: waits for up
  EXPECT_EQ(t.Due(1 * kS), Action::kNone);
  t.Up(15'000, 60'000);
  EXPECT_EQ(t.NextDeadline(), 3 * kMs);
  EXPECT_EQ(t.Due(3 * kMs), Action::kFlushRetry);
  t.FlushRetried();
  EXPECT_EQ(t.NextDeadline(), 15 * kS);
  t.FlushRefused(20 * kS);
  EXPECT_EQ(t.Due(60 * kS), Action::kFlushRetry);  // before idle and the ping, both due too
}

}  // namespace
}  // namespace strait::link
