// The split-DNS stub's message parser (tunnel/device/dns_message.h): header and first question, the label and
// name rules, a query captured from dig, domain matching on label boundaries, IDs, SERVFAIL.
#include "tunnel/device/dns_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/hex.h"
#include "tests/device/dns_test_util.h"

namespace strait::device {
namespace {

using testing::DnsQuery;
using testing::PutName;
using testing::PutU16;

DnsParse Parse(const std::vector<uint8_t>& p, DnsMessage* m = nullptr) {
  DnsMessage local;
  return ParseDnsMessage(p, m != nullptr ? m : &local);
}

// Captured from `dig @127.0.0.1 -p PORT intranet.Corp.Example A` (DiG 9.18.49) by a UDP socket that printed the
// datagram in hex: ID 0x40e4, flags RD|AD, one question, and an EDNS OPT record (UDP size 1232, a client cookie)
// in the additional section, which the parser leaves alone.
constexpr const char* kDigQuery =
    "40e4 0120 0001 0000 0000 0001"
    " 08 696e7472616e6574 04 436f7270 07 4578616d706c65 00 0001 0001"
    " 00 0029 04d0 00 00 0000 000c 000a 0008 a484e6a7f79d6fb7";

TEST(DnsMessage, ParsesAQueryCapturedFromDig) {
  auto bytes = crypto::HexDecode(kDigQuery, " ");
  ASSERT_TRUE(bytes);
  DnsMessage m;
  ASSERT_EQ(Parse(*bytes, &m), DnsParse::kOk);
  EXPECT_EQ(m.id, 0x40e4);
  EXPECT_FALSE(m.response());
  EXPECT_EQ(m.opcode(), 0);
  EXPECT_EQ(m.flags & kDnsFlagRecursionDesired, kDnsFlagRecursionDesired);
  EXPECT_EQ(m.name(), "intranet.corp.example") << "lower-cased";
  EXPECT_EQ(m.qtype, 1);
  EXPECT_EQ(m.qclass, 1);
  EXPECT_EQ(m.question_end, 12u + 23u + 4u);
  EXPECT_EQ(DnsId(*bytes), 0x40e4);
}

TEST(DnsMessage, ReadsAnAnswerWithCompressionAfterTheQuestion) {
  const std::vector<uint8_t> q = DnsQuery(7, "db.corp.example", 28);
  const std::vector<uint8_t> a = testing::DnsAnswerA(q, {10, 20, 0, 5});
  DnsMessage m;
  ASSERT_EQ(Parse(a, &m), DnsParse::kOk);
  EXPECT_TRUE(m.response());
  EXPECT_EQ(m.name(), "db.corp.example");
  EXPECT_EQ(m.qtype, 28);
  EXPECT_EQ(m.question_end, q.size());
}

TEST(DnsMessage, TheRootNameIsValidAndEmpty) {
  DnsMessage m;
  ASSERT_EQ(Parse(DnsQuery(1, "", 2), &m), DnsParse::kOk);
  EXPECT_EQ(m.name(), "");
}

TEST(DnsMessage, RefusesWhatBreaksTheRules) {
  struct Case {
    const char* what;
    std::vector<uint8_t> packet;
    DnsParse want;
  };
  std::vector<Case> cases;
  cases.push_back({"11 bytes", std::vector<uint8_t>(11, 0), DnsParse::kTooShort});
  {
    auto p = DnsQuery(1, "a.example");
    p[5] = 0;
    cases.push_back({"qdcount 0", p, DnsParse::kBadQuestionCount});
    p[5] = 2;
    cases.push_back({"qdcount 2", p, DnsParse::kBadQuestionCount});
  }
  {
    std::vector<uint8_t> p = DnsQuery(1, "");
    p.resize(12);
    p.push_back(64);
    p.insert(p.end(), 64, 'a');
    p.push_back(0);
    PutU16(p, 1);
    PutU16(p, 1);
    cases.push_back({"a 64-byte label", p, DnsParse::kBadLabel});
  }
  {
    std::vector<uint8_t> p = DnsQuery(1, "");
    p.resize(12);
    PutU16(p, 0xC00C);
    PutU16(p, 1);
    PutU16(p, 1);
    cases.push_back({"a compression pointer", p, DnsParse::kCompressedName});
  }
  {
    std::vector<uint8_t> p = DnsQuery(1, "");
    p.resize(12);
    p.push_back(6);
    for (char c : std::string("x.corp")) p.push_back(static_cast<uint8_t>(c));
    PutName(p, "example");
    PutU16(p, 1);
    PutU16(p, 1);
    cases.push_back({"a dot inside a label", p, DnsParse::kBadLabel});
  }
  {
    auto p = DnsQuery(1, "a.example");
    p[13] = 0x01;  // a control byte
    cases.push_back({"a control byte", p, DnsParse::kBadLabel});
    p[13] = ' ';
    cases.push_back({"a space", p, DnsParse::kBadLabel});
    p[13] = 0xC3;
    cases.push_back({"a non-ASCII byte", p, DnsParse::kBadLabel});
  }
  {
    // 4 labels of 63 = 255 text bytes with the dots: above 253.
    const std::string l63(63, 'a');
    cases.push_back({"254+ text bytes", DnsQuery(1, l63 + "." + l63 + "." + l63 + "." + l63), DnsParse::kNameTooLong});
  }
  {
    auto p = DnsQuery(1, "a.example");
    p.resize(p.size() - 1);
    cases.push_back({"qclass cut", p, DnsParse::kTruncated});
    p.resize(12 + 3);
    cases.push_back({"name cut", p, DnsParse::kTruncated});
  }
  for (const Case& c : cases) {
    EXPECT_EQ(Parse(c.packet), c.want) << c.what << ": got " << DnsParseName(Parse(c.packet));
  }
}

TEST(DnsMessage, AcceptsTheLongestName) {
  // 63+1+63+1+63+1+61 = 253 text bytes.
  const std::string l63(63, 'b');
  const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'c');
  ASSERT_EQ(name.size(), 253u);
  DnsMessage m;
  ASSERT_EQ(Parse(DnsQuery(1, name), &m), DnsParse::kOk);
  EXPECT_EQ(m.name(), name);
  EXPECT_EQ(Parse(DnsQuery(1, name + "c")), DnsParse::kNameTooLong);
}

TEST(DnsMessage, MatchesDomainsOnLabelBoundariesOnly) {
  const std::vector<std::string> domains = {"corp.example", "internal"};
  EXPECT_TRUE(MatchesDomain("corp.example", domains));
  EXPECT_TRUE(MatchesDomain("a.corp.example", domains));
  EXPECT_TRUE(MatchesDomain("x.y.corp.example", domains));
  EXPECT_TRUE(MatchesDomain("db.internal", domains));
  EXPECT_FALSE(MatchesDomain("xcorp.example", domains));
  EXPECT_FALSE(MatchesDomain("corp.example.com", domains));
  EXPECT_FALSE(MatchesDomain("example", domains));
  EXPECT_FALSE(MatchesDomain("", domains));
  EXPECT_FALSE(MatchesDomain("a.corp.example", std::vector<std::string>{}));
  EXPECT_FALSE(MatchesDomain("a", std::vector<std::string>{""}));
}

TEST(DnsMessage, CanonicalDomainsAreLowerCaseWithoutTheDotAndValidOnly) {
  const std::vector<std::string> in = {"Corp.Example.", "bad..name", "ok.internal", ""};
  EXPECT_EQ(CanonicalDnsDomains(in), (std::vector<std::string>{"corp.example", "ok.internal"}));
}

TEST(DnsMessage, IdsAreReadAndRewrittenInPlace) {
  auto p = DnsQuery(0x1234, "a.example");
  EXPECT_EQ(DnsId(p), 0x1234);
  SetDnsId(p, 0xBEEF);
  EXPECT_EQ(p[0], 0xBE);
  EXPECT_EQ(p[1], 0xEF);
  EXPECT_EQ(DnsId(p), 0xBEEF);
  std::vector<uint8_t> one = {7};
  EXPECT_EQ(DnsId(one), 0);
  SetDnsId(one, 1);
  EXPECT_EQ(one[0], 7);
}

TEST(DnsMessage, QuestionsCompareWithCaseFolded) {
  const auto a = DnsQuery(1, "Db.Corp.Example");
  const auto b = DnsQuery(1, "db.corp.example");
  const auto c = DnsQuery(1, "db.corp.example", 28);
  const auto q = [](const std::vector<uint8_t>& p) { return std::span<const uint8_t>(p).subspan(12); };
  EXPECT_TRUE(SameDnsQuestion(q(a), q(b)));
  EXPECT_FALSE(SameDnsQuestion(q(b), q(c))) << "another qtype";
  EXPECT_FALSE(SameDnsQuestion(q(b), q(DnsQuery(1, "db.corp.exampl"))));
}

TEST(DnsMessage, ServFailEchoesTheQuestionAndTheQueryFlags) {
  auto query = crypto::HexDecode(kDigQuery, " ");
  ASSERT_TRUE(query);
  DnsMessage q;
  ASSERT_EQ(Parse(*query, &q), DnsParse::kOk);
  const auto question = std::span<const uint8_t>(*query).subspan(12, q.question_end - 12);
  std::vector<uint8_t> out(512);
  const size_t n = WriteDnsServFail(q.id, q.flags, question, out);
  ASSERT_EQ(n, q.question_end);
  out.resize(n);
  DnsMessage a;
  ASSERT_EQ(Parse(out, &a), DnsParse::kOk);
  EXPECT_EQ(a.id, 0x40e4);
  EXPECT_TRUE(a.response());
  EXPECT_EQ(a.rcode(), kDnsRcodeServFail);
  EXPECT_EQ(a.flags & kDnsFlagRecursionDesired, kDnsFlagRecursionDesired);
  EXPECT_EQ(a.flags & kDnsFlagRecursionAvailable, kDnsFlagRecursionAvailable);
  EXPECT_EQ(a.name(), "intranet.corp.example");
  EXPECT_EQ(out[7] | out[9] | out[11], 0) << "no answer, authority or additional records";
  std::vector<uint8_t> small(n - 1);
  EXPECT_EQ(WriteDnsServFail(q.id, q.flags, question, small), 0u);
}

}  // namespace
}  // namespace strait::device
