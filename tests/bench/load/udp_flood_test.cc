#include "bench/suite/load/udp_flood.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <span>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace strait::bench {
namespace {

// Waits (bounded) until the counter has seen `want` of the run's datagrams.
bool WaitDelivered(const UdpCounter& c, std::uint64_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (c.delivered() < want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return c.delivered() >= want;
}

UdpFloodOptions Paced(std::uint16_t port, std::uint32_t run_id) {
  UdpFloodOptions o;
  o.to = {"127.0.0.1", port};
  o.size = 100;
  o.rate = 2000;
  o.run_id = run_id;
  o.warmup_s = 0.2;
  o.seconds = 0.5;
  return o;
}

TEST(UdpFlood, PacedRunIsCountedWholeOnLoopback) {
  auto c = UdpCounter::Start("127.0.0.1");
  ASSERT_TRUE(c) << c.error();
  (*c)->Expect(7);
  auto r = RunUdpFlood(Paced((*c)->port(), 7));
  ASSERT_TRUE(r) << r.error();
  // 2,000/s over a 0.5 s window: the pacer holds the rate (within a batch), and nothing is lost on loopback.
  EXPECT_GE(r->sent, 900u);
  EXPECT_LE(r->sent, 1000u + 32u);
  EXPECT_EQ(r->send_errors, 0u);
  EXPECT_NEAR(r->seconds, 0.5, 0.1);
  ASSERT_TRUE(WaitDelivered(**c, r->sent));
  EXPECT_EQ((*c)->delivered(), r->sent) << "warm-up datagrams are not counted";
  EXPECT_EQ((*c)->delivered_bytes(), r->sent * 100);
  std::uint64_t in_timeline = 0;
  for (const auto& s : r->timeline) in_timeline += s.ops;
  EXPECT_EQ(in_timeline, r->sent);
}

TEST(UdpFlood, AnotherRunsAndForeignDatagramsAreNotDelivery) {
  auto c = UdpCounter::Start("127.0.0.1");
  ASSERT_TRUE(c) << c.error();
  (*c)->Expect(1);
  auto first = RunUdpFlood(Paced((*c)->port(), 1));
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(WaitDelivered(**c, first->sent));
  // A new run starts from zero, and run 1's datagrams, a short one and a stranger's now count as foreign.
  (*c)->Expect(2);
  EXPECT_EQ((*c)->delivered(), 0u);
  auto stale = RunUdpFlood(Paced((*c)->port(), 1));
  ASSERT_TRUE(stale) << stale.error();
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*c)->port());
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  const char junk[40] = "not a strait bench datagram at all....";
  ASSERT_EQ(sendto(fd, junk, 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 5);
  ASSERT_EQ(sendto(fd, junk, sizeof(junk), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(sizeof(junk)));
  close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((*c)->foreign() < stale->sent + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*c)->delivered(), 0u);
  EXPECT_GE((*c)->foreign(), stale->sent + 2);
}

TEST(UdpFlood, ClassifyDatagramKnowsOnlyWholeDatagramsOfItsRun) {
  std::vector<unsigned char> d(64, 'x');
  PutUdpHeader(d.data(), 7, 5, /*measured=*/true);
  EXPECT_EQ(ClassifyDatagram(d, false, 7), DatagramKind::kMeasured);
  EXPECT_EQ(ClassifyDatagram(d, true, 7), DatagramKind::kForeign);  // cut by the kernel
  EXPECT_EQ(ClassifyDatagram(d, false, 8), DatagramKind::kForeign);  // another run's
  EXPECT_EQ(ClassifyDatagram(std::span(d).first(kUdpHeaderBytes - 1), false, 7), DatagramKind::kForeign);
  EXPECT_EQ(ClassifyDatagram(std::span(d).first(kUdpHeaderBytes), false, 7), DatagramKind::kMeasured);
  PutUdpHeader(d.data(), 7, 5, /*measured=*/false);
  EXPECT_EQ(ClassifyDatagram(d, false, 7), DatagramKind::kWarmup);
  d[0] ^= 1;  // not the magic
  EXPECT_EQ(ClassifyDatagram(d, false, 7), DatagramKind::kForeign);
  std::vector<unsigned char> big(kMaxUdpPayload + 1, 'x');
  PutUdpHeader(big.data(), 7, 5, true);
  EXPECT_EQ(ClassifyDatagram(big, false, 7), DatagramKind::kForeign);
}

TEST(UdpFlood, StopFlagEndsTheRunEarly) {
  auto c = UdpCounter::Start("127.0.0.1");
  ASSERT_TRUE(c) << c.error();
  std::atomic<bool> stop{true};
  UdpFloodOptions o = Paced((*c)->port(), 3);
  o.seconds = 60;
  o.stop = &stop;
  auto r = RunUdpFlood(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->stopped_early);
  EXPECT_EQ(r->sent, 0u);
}

TEST(UdpFlood, BadOptionsAreRefused) {
  UdpFloodOptions o = Paced(9, 1);
  o.size = kUdpHeaderBytes - 1;
  EXPECT_FALSE(RunUdpFlood(o));
  o.size = kMaxUdpPayload + 1;
  EXPECT_FALSE(RunUdpFlood(o));
  o = Paced(9, 1);
  o.rate = -1;
  EXPECT_FALSE(RunUdpFlood(o));
  o = Paced(9, 1);
  o.seconds = 0;
  EXPECT_FALSE(RunUdpFlood(o));
  o = Paced(9, 1);
  o.to.host = "localhost";
  EXPECT_FALSE(RunUdpFlood(o));
  EXPECT_FALSE(UdpCounter::Start("not-an-address"));
}

}  // namespace
}  // namespace strait::bench
