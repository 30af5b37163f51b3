// The split-DNS stub's decisions without sockets (tunnel/device/dns_forwarder.h), on a manual clock: routing by
// domain, fresh IDs and the original restored, spoofed answers, the timeout's SERVFAIL, the pending bound.
#include "tunnel/device/dns_forwarder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "tests/device/dns_test_util.h"
#include "tests/testing/alloc_counter.h"

namespace strait::device {
namespace {

using testing::DnsAnswerA;
using testing::DnsQuery;

constexpr int64_t kSecond = 1'000'000'000;
constexpr UdpEndpoint kAsker{0x7F000001, 40000};
constexpr UdpEndpoint kUpstream{0x0A000035, 53};  // 10.0.0.53
constexpr uint32_t kInternal = 0x0A140035;        // 10.20.0.53

DnsForwarderOptions Options(size_t max_pending = 1024) {
  DnsForwarderOptions o;
  o.upstreams = {kUpstream};
  o.max_pending = max_pending;
  o.timeout_ns = 5 * kSecond;
  return o;
}

struct Forwarded {
  DnsForwarder::QueryVerdict verdict;
  UdpEndpoint to;
  std::vector<uint8_t> packet;  // as rewritten
};

Forwarded Query(DnsForwarder& f, std::vector<uint8_t> q, int64_t now = 0, UdpEndpoint asker = kAsker) {
  UdpEndpoint to;
  size_t reply = 0;
  const auto v = f.OnQuery(q, asker, now, &to, &reply);
  if (v == DnsForwarder::QueryVerdict::kServFail) q.resize(reply);
  return {v, to, q};
}

TEST(DnsForwarder, RoutesNamesUnderTheDomainsToTheInternalServers) {
  DnsForwarder f(Options());
  const std::vector<uint32_t> servers = {kInternal};
  const std::vector<std::string> domains = {"Corp.Example."};
  f.Update(servers, domains);
  for (const char* name : {"corp.example", "db.corp.example", "A.B.CORP.EXAMPLE"}) {
    const Forwarded r = Query(f, DnsQuery(1, name));
    EXPECT_EQ(r.verdict, DnsForwarder::QueryVerdict::kForward) << name;
    EXPECT_EQ(r.to, (UdpEndpoint{kInternal, 53})) << name;
  }
  for (const char* name : {"xcorp.example", "example.com", "corp.example.com"}) {
    const Forwarded r = Query(f, DnsQuery(1, name));
    EXPECT_EQ(r.to, kUpstream) << name;
  }
  EXPECT_EQ(f.stats().internal, 3u);
  EXPECT_EQ(f.stats().external, 3u);
  EXPECT_EQ(f.pending(), 6u);
}

TEST(DnsForwarder, ADomainWithoutServersGoesToTheSystemUpstreams) {
  DnsForwarder f(Options());
  const std::vector<std::string> domains = {"corp.example"};
  f.Update({}, domains);
  EXPECT_EQ(Query(f, DnsQuery(1, "db.corp.example")).to, kUpstream);
}

TEST(DnsForwarder, ServersAreUsedRoundRobin) {
  DnsForwarderOptions o = Options();
  o.upstreams = {{1, 53}, {2, 53}};
  DnsForwarder f(o);
  const std::vector<uint32_t> servers = {10, 11};
  const std::vector<std::string> domains = {"corp"};
  f.Update(servers, domains);
  EXPECT_EQ(Query(f, DnsQuery(1, "a.corp")).to.ip, 10u);
  EXPECT_EQ(Query(f, DnsQuery(1, "a.corp")).to.ip, 11u);
  EXPECT_EQ(Query(f, DnsQuery(1, "a.corp")).to.ip, 10u);
  EXPECT_EQ(Query(f, DnsQuery(1, "a.com")).to.ip, 1u);
  EXPECT_EQ(Query(f, DnsQuery(1, "a.com")).to.ip, 2u);
}

TEST(DnsForwarder, AnAnswerGoesBackWithTheOriginalId) {
  DnsForwarder f(Options());
  const Forwarded r = Query(f, DnsQuery(0x1111, "example.com"));
  ASSERT_EQ(r.verdict, DnsForwarder::QueryVerdict::kForward);
  const uint16_t fresh = DnsId(r.packet);
  std::vector<uint8_t> answer = DnsAnswerA(r.packet, {192, 0, 2, 1});
  UdpEndpoint asker;
  ASSERT_TRUE(f.OnAnswer(answer, kUpstream, &asker));
  EXPECT_EQ(asker, kAsker);
  EXPECT_EQ(DnsId(answer), 0x1111);
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_EQ(f.stats().answers, 1u);
  // The same answer again: its ID is no longer pending.
  SetDnsId(answer, fresh);
  EXPECT_FALSE(f.OnAnswer(answer, kUpstream, &asker));
  EXPECT_EQ(f.stats().spoofed, 1u);
}

TEST(DnsForwarder, FreshIdsAreRandomAndNeverTwiceInFlight) {
  // A source that repeats itself: the forwarder must still never reuse an ID in flight.
  DnsForwarderOptions o = Options();
  int calls = 0;
  o.random_id = [&calls] { return static_cast<uint16_t>(calls++ < 20 ? 7 : 9); };
  DnsForwarder f(o);
  std::set<uint16_t> ids;
  for (int i = 0; i < 5; ++i) ids.insert(DnsId(Query(f, DnsQuery(1, "example.com")).packet));
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_TRUE(ids.count(7));
}

TEST(DnsForwarder, SpoofedAnswersAreDroppedAndTheQueryKeepsWaiting) {
  DnsForwarder f(Options());
  const Forwarded r = Query(f, DnsQuery(0x2222, "example.com"));
  const std::vector<uint8_t> good = DnsAnswerA(r.packet, {192, 0, 2, 1});
  UdpEndpoint asker;

  std::vector<uint8_t> wrong_id = good;
  SetDnsId(wrong_id, static_cast<uint16_t>(DnsId(good) + 1));
  EXPECT_FALSE(f.OnAnswer(wrong_id, kUpstream, &asker));

  std::vector<uint8_t> wrong_source = good;
  EXPECT_FALSE(f.OnAnswer(wrong_source, UdpEndpoint{kUpstream.ip, 5353}, &asker));
  EXPECT_FALSE(f.OnAnswer(wrong_source, UdpEndpoint{kUpstream.ip + 1, 53}, &asker));

  std::vector<uint8_t> other_question = DnsAnswerA(DnsQuery(DnsId(r.packet), "evil.example"), {6, 6, 6, 6});
  EXPECT_FALSE(f.OnAnswer(other_question, kUpstream, &asker));

  std::vector<uint8_t> not_an_answer = r.packet;  // QR clear
  EXPECT_FALSE(f.OnAnswer(not_an_answer, kUpstream, &asker));

  EXPECT_EQ(f.stats().spoofed, 4u);
  EXPECT_EQ(f.stats().answers_malformed, 1u);
  EXPECT_EQ(f.pending(), 1u);
  std::vector<uint8_t> real = good;
  ASSERT_TRUE(f.OnAnswer(real, kUpstream, &asker)) << "the genuine answer still gets through";
  EXPECT_EQ(DnsId(real), 0x2222);
}

TEST(DnsForwarder, AnswerQuestionInAnotherCaseIsTheSameQuestion) {
  DnsForwarder f(Options());
  const Forwarded r = Query(f, DnsQuery(3, "Example.COM"));
  std::vector<uint8_t> answer = DnsAnswerA(DnsQuery(DnsId(r.packet), "example.com"), {192, 0, 2, 1});
  UdpEndpoint asker;
  EXPECT_TRUE(f.OnAnswer(answer, kUpstream, &asker));
}

TEST(DnsForwarder, AQueryThatWaitsTooLongGetsServFail) {
  DnsForwarder f(Options());
  (void)Query(f, DnsQuery(0x3333, "slow.example"), 1 * kSecond);
  (void)Query(f, DnsQuery(0x4444, "later.example"), 3 * kSecond);
  ASSERT_EQ(f.NextDeadline(), 6 * kSecond);
  std::vector<uint8_t> out(kDnsHeaderSize + kDnsMaxQuestionSize);
  UdpEndpoint asker;
  size_t n = 0;
  EXPECT_FALSE(f.PopExpired(6 * kSecond - 1, out, &asker, &n));
  ASSERT_TRUE(f.PopExpired(6 * kSecond, out, &asker, &n));
  EXPECT_FALSE(f.PopExpired(6 * kSecond, out, &asker, &n)) << "the second waits until 8 s";
  out.resize(n);
  DnsMessage m;
  ASSERT_EQ(ParseDnsMessage(out, &m), DnsParse::kOk);
  EXPECT_EQ(m.id, 0x3333);
  EXPECT_EQ(m.rcode(), kDnsRcodeServFail);
  EXPECT_EQ(m.name(), "slow.example");
  EXPECT_EQ(asker, kAsker);
  EXPECT_EQ(f.stats().timeouts, 1u);
  EXPECT_EQ(f.NextDeadline(), 8 * kSecond);
}

TEST(DnsForwarder, AFullTableDropsTheOldestAndKeepsWorking) {
  DnsForwarder f(Options(4));
  std::vector<std::vector<uint8_t>> sent;
  // Each its own name: an answer to a dropped query must not fit a later one that drew its freed ID.
  for (uint16_t i = 0; i < 10; ++i) {
    sent.push_back(Query(f, DnsQuery(i, "q" + std::to_string(i) + ".example"), i).packet);
  }
  EXPECT_EQ(f.pending(), 4u);
  EXPECT_EQ(f.stats().full, 6u);
  EXPECT_EQ(f.NextDeadline(), 5 * kSecond + 6) << "the oldest left is the seventh";
  UdpEndpoint asker;
  std::vector<uint8_t> dropped = DnsAnswerA(sent[0], {1, 1, 1, 1});
  EXPECT_FALSE(f.OnAnswer(dropped, kUpstream, &asker)) << "the dropped query's answer no longer matches";
  std::vector<uint8_t> kept = DnsAnswerA(sent[9], {1, 1, 1, 1});
  ASSERT_TRUE(f.OnAnswer(kept, kUpstream, &asker));
  EXPECT_EQ(DnsId(kept), 9);
  // A new query after the flood works as before.
  const Forwarded r = Query(f, DnsQuery(0x5555, "after.example"), 20);
  std::vector<uint8_t> a = DnsAnswerA(r.packet, {2, 2, 2, 2});
  ASSERT_TRUE(f.OnAnswer(a, kUpstream, &asker));
  EXPECT_EQ(DnsId(a), 0x5555);
}

TEST(DnsForwarder, MalformedAndNonQueriesAreDroppedAndCounted) {
  DnsForwarder f(Options());
  std::vector<uint8_t> short_packet(5, 0);
  EXPECT_EQ(Query(f, short_packet).verdict, DnsForwarder::QueryVerdict::kDrop);
  auto two = DnsQuery(1, "a.example");
  two[5] = 2;
  EXPECT_EQ(Query(f, two).verdict, DnsForwarder::QueryVerdict::kDrop);
  auto response = DnsQuery(1, "a.example");
  response[2] |= 0x80;
  EXPECT_EQ(Query(f, response).verdict, DnsForwarder::QueryVerdict::kDrop);
  auto notify = DnsQuery(1, "a.example");
  notify[2] |= 0x20;  // opcode 4
  EXPECT_EQ(Query(f, notify).verdict, DnsForwarder::QueryVerdict::kDrop);
  EXPECT_EQ(f.stats().malformed, 2u);
  EXPECT_EQ(f.stats().malformed_by[static_cast<size_t>(DnsParse::kTooShort)], 1u);
  EXPECT_EQ(f.stats().malformed_by[static_cast<size_t>(DnsParse::kBadQuestionCount)], 1u);
  EXPECT_EQ(f.stats().not_query, 2u);
  EXPECT_EQ(f.pending(), 0u);
}

TEST(DnsForwarder, NoServerAtAllAnswersServFailAtOnce) {
  DnsForwarderOptions o = Options();
  o.upstreams.clear();
  DnsForwarder f(o);
  const Forwarded r = Query(f, DnsQuery(0x6666, "example.com"));
  ASSERT_EQ(r.verdict, DnsForwarder::QueryVerdict::kServFail);
  DnsMessage m;
  ASSERT_EQ(ParseDnsMessage(r.packet, &m), DnsParse::kOk);
  EXPECT_EQ(m.id, 0x6666);
  EXPECT_EQ(m.rcode(), kDnsRcodeServFail);
  EXPECT_EQ(m.name(), "example.com");
  EXPECT_EQ(f.stats().no_upstream, 1u);
}

// The per-datagram calls allocate nothing: the table, the ID index and the name buffers are made once.
TEST(DnsForwarder, QueriesAnswersDropsAndTimeoutsNoAlloc) {
  DnsForwarder f(Options(8));
  const std::vector<uint32_t> servers = {kInternal};
  const std::vector<std::string> domains = {"corp.example"};
  f.Update(servers, domains);
  const std::vector<uint8_t> corp = DnsQuery(1, "db.corp.example");
  const std::vector<uint8_t> other = DnsQuery(2, "www.example.com");
  std::array<uint8_t, 512> buf{};
  std::array<uint8_t, kDnsHeaderSize + kDnsMaxQuestionSize> fail{};
  uint64_t delivered = 0;

  strait::testing::AllocationCounter allocations;
  for (int i = 0; i < 1000; ++i) {
    const std::vector<uint8_t>& q = i % 2 == 0 ? corp : other;
    std::copy(q.begin(), q.end(), buf.begin());
    const auto packet = std::span<uint8_t>(buf).first(q.size());
    UdpEndpoint to;
    size_t reply = 0;
    (void)f.OnQuery(packet, kAsker, i, &to, &reply);
    if (i % 3 == 0) {
      packet[2] |= 0x80;  // the echo as its answer
      UdpEndpoint asker;
      delivered += f.OnAnswer(packet, to, &asker);
    }
    UdpEndpoint asker;
    size_t n = 0;
    while (f.PopExpired(i * kSecond / 100, fail, &asker, &n)) {
    }
  }
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_GT(delivered, 0u);
  EXPECT_GT(f.stats().full, 0u) << "the eviction path ran";
  EXPECT_GT(f.stats().timeouts, 0u) << "the timeout path ran";
}

}  // namespace
}  // namespace strait::device
