// bench/lib/round_trips.h: the ping-pong loop and latency summary that strait-pingpong and strait-app-load share.
#include "bench/lib/round_trips.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace strait::bench {
namespace {

Exchange Echo() {
  return [](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
    std::copy(out.begin(), out.end(), in.begin());
    return std::string();
  };
}

TEST(RoundTrips, RecordsCountAfterWarmupAndSendsADifferentMessageEachTime) {
  std::set<std::vector<std::uint8_t>> seen;
  const Exchange echo = Echo();
  RoundTripOptions o;
  o.size = 64;
  o.count = 50;
  o.warmup = 7;
  const RoundTrips r = RunRoundTrips(o, [&](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
    EXPECT_EQ(out.size(), 64u);
    seen.emplace(out.begin(), out.end());
    return echo(out, in);
  });
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.ns.size(), 50u);
  EXPECT_EQ(seen.size(), 57u);
  EXPECT_TRUE(std::all_of(r.ns.begin(), r.ns.end(), [](std::int64_t ns) { return ns >= 0; }));
}

TEST(RoundTrips, AStaleEchoIsCaught) {
  std::vector<std::uint8_t> previous;
  RoundTripOptions o;
  o.size = 16;
  o.count = 10;
  const RoundTrips r = RunRoundTrips(o, [&](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
    if (previous.empty()) previous.assign(out.begin(), out.end());
    std::copy(previous.begin(), previous.end(), in.begin());  // always the first message's echo
    return std::string();
  });
  EXPECT_EQ(r.error, "round trip 1 echoed different bytes");
  EXPECT_EQ(r.ns.size(), 1u);
}

TEST(RoundTrips, AnExchangeErrorEndsTheRunWithItsReason) {
  int calls = 0;
  RoundTripOptions o;
  o.count = 10;
  o.warmup = 2;
  const RoundTrips r = RunRoundTrips(o, [&](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
    if (++calls == 5) return std::string("EOF");
    std::copy(out.begin(), out.end(), in.begin());
    return std::string();
  });
  EXPECT_EQ(r.error, "round trip 4 failed: EOF");
  EXPECT_EQ(r.ns.size(), 2u);  // round trips 2 and 3; 0 and 1 were warm-up
}

TEST(RoundTrips, StopAndDeadlineEndTheRun) {
  std::atomic<bool> stop{false};
  int calls = 0;
  const Exchange echo = Echo();
  RoundTripOptions o;
  o.count = 100;
  o.stop = &stop;
  RoundTrips r = RunRoundTrips(o, [&](std::span<const std::uint8_t> out, std::span<std::uint8_t> in) {
    if (++calls == 3) stop = true;
    return echo(out, in);
  });
  EXPECT_EQ(r.error, "gave up after 3 of 100 round trips");
  EXPECT_EQ(r.ns.size(), 3u);

  RoundTripOptions past;
  past.count = 100;
  past.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  r = RunRoundTrips(past, Echo());
  EXPECT_EQ(r.error, "gave up after 1 of 100 round trips");
}

TEST(LatencySummary, NearestRankPercentiles) {
  std::vector<std::int64_t> ns;
  for (std::int64_t us = 1; us <= 100; ++us) ns.push_back(us * 1000);
  std::shuffle(ns.begin(), ns.end(), std::mt19937(42));
  const LatencySummary s = Summarize(ns);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.min_us, 1.0);
  EXPECT_DOUBLE_EQ(s.p50_us, 50.0);
  EXPECT_DOUBLE_EQ(s.p90_us, 90.0);
  EXPECT_DOUBLE_EQ(s.p99_us, 99.0);
  EXPECT_DOUBLE_EQ(s.p999_us, 100.0);
  EXPECT_DOUBLE_EQ(s.max_us, 100.0);
  EXPECT_DOUBLE_EQ(s.mean_us, 50.5);
}

TEST(LatencySummary, OneSampleIsEveryPercentileAndNoneIsAllZero) {
  const LatencySummary one = Summarize({2500});
  EXPECT_EQ(one.count, 1u);
  EXPECT_DOUBLE_EQ(one.p50_us, 2.5);
  EXPECT_DOUBLE_EQ(one.p999_us, 2.5);
  EXPECT_DOUBLE_EQ(one.mean_us, 2.5);
  const LatencySummary none = Summarize({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_DOUBLE_EQ(none.max_us, 0.0);
}

TEST(LatencySummary, JsonMembersNameEveryFigure) {
  EXPECT_EQ(JsonMembers(Summarize({1000, 2000, 3000, 4000})),
            "\"count\":4,\"min_us\":1.00,\"p50_us\":2.00,\"p90_us\":4.00,\"p99_us\":4.00,\"p999_us\":4.00,"
            "\"max_us\":4.00,\"mean_us\":2.50");
}

}  // namespace
}  // namespace strait::bench
