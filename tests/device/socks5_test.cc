#include "tunnel/device/socks5.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <cstdint>
#include <string>
#include <vector>

namespace strait::device {
namespace {

using Bytes = std::vector<uint8_t>;
using Kind = Socks5Result::Kind;

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kGreetNoAuth = {0x05, 0x01, 0x00};
const Bytes kSelectNoAuth = {0x05, 0x00};

Bytes DomainRequest(const std::string& name, uint16_t port) {
  Bytes b = {0x05, 0x01, 0x00, 0x03, static_cast<uint8_t>(name.size())};
  b.insert(b.end(), name.begin(), name.end());
  b.push_back(static_cast<uint8_t>(port >> 8));
  b.push_back(static_cast<uint8_t>(port));
  return b;
}

// What a client connection saw: the final result, every reply written, and all bytes consumed.
struct Outcome {
  Kind kind;
  Socks5CloseReason reason;
  Bytes replies;
  size_t consumed;
  Target target;
};

// Runs the door the way the listener will: feed what arrived in chunks of `chunk` bytes, write replies, stop at
// a terminal result.
Outcome Drive(const Bytes& in, size_t chunk) {
  Socks5Server s;
  Outcome o{Kind::kNeedMore, Socks5CloseReason::kNone, {}, 0, {}};
  size_t arrived = 0;
  while (true) {
    std::span<const uint8_t> pending = std::span(in).subspan(o.consumed, arrived - o.consumed);
    Socks5Result r = s.Feed(pending);
    EXPECT_LE(r.consumed, pending.size());
    o.consumed += r.consumed;
    o.kind = r.kind;
    o.reason = r.reason;
    o.replies.insert(o.replies.end(), r.reply.begin(), r.reply.end());
    if (r.kind == Kind::kRequestReady) o.target = s.target();
    if (r.kind == Kind::kRequestReady || r.kind == Kind::kReplyAndClose || r.kind == Kind::kError) return o;
    if (r.kind == Kind::kNeedMore) {
      EXPECT_EQ(o.consumed, arrived);
      if (arrived == in.size()) return o;
      arrived = std::min(in.size(), arrived + chunk);
    }
  }
}

struct Case {
  const char* name;
  Bytes in;
  Kind kind;
  Socks5CloseReason reason;
  Bytes replies;
  size_t consumed;
  std::optional<Target> target;
};

std::vector<Case> Cases() {
  const Bytes ipv4_req = {0x05, 0x01, 0x00, 0x01, 10, 20, 0, 5, 0x01, 0xBB};
  Bytes ipv6_req = {0x05, 0x01, 0x00, 0x04};
  std::array<uint8_t, 16> v6{};
  for (size_t i = 0; i < 16; ++i) v6[i] = static_cast<uint8_t>(0x20 + i);
  ipv6_req.insert(ipv6_req.end(), v6.begin(), v6.end());
  ipv6_req.insert(ipv6_req.end(), {0x00, 0x16});
  const std::string long_name(255, 'a');
  const Bytes fail_cmd = {0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  const Bytes fail_atyp = {0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  const Bytes refuse = {0x05, 0xFF};
  Bytes all_methods = {0x05, 0xFF};
  for (int m = 0xFF; m >= 1; --m) all_methods.push_back(static_cast<uint8_t>(m));
  all_methods.back() = 0x00;  // 0x00 offered last of 255
  Bytes no_noauth = {0x05, 0xFF};
  for (int m = 1; m <= 0xFF; ++m) no_noauth.push_back(static_cast<uint8_t>(m));

  return {
      {"Ipv4", Cat({kGreetNoAuth, ipv4_req}), Kind::kRequestReady, Socks5CloseReason::kNone, kSelectNoAuth, 13,
       Target::Ipv4({10, 20, 0, 5}, 443)},
      {"Ipv6", Cat({kGreetNoAuth, ipv6_req}), Kind::kRequestReady, Socks5CloseReason::kNone, kSelectNoAuth,
       3 + 22, Target::Ipv6(v6, 22)},
      {"Domain", Cat({kGreetNoAuth, DomainRequest("intranet.corp.example", 8080)}), Kind::kRequestReady,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 7 + 21, Target::Domain("intranet.corp.example", 8080)},
      {"DomainOfMaxLength", Cat({kGreetNoAuth, DomainRequest(long_name, 1)}), Kind::kRequestReady,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 262, Target::Domain(long_name, 1)},
      {"DomainKeptAsGiven", Cat({kGreetNoAuth, DomainRequest("Host.Example.", 80)}), Kind::kRequestReady,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 7 + 13, Target::Domain("Host.Example.", 80)},
      {"NoAuthAmongManyMethods", Cat({all_methods, ipv4_req}), Kind::kRequestReady, Socks5CloseReason::kNone,
       kSelectNoAuth, 257 + 10, Target::Ipv4({10, 20, 0, 5}, 443)},
      {"ReservedByteIgnored", Cat({kGreetNoAuth, {0x05, 0x01, 0x7F, 0x01, 1, 2, 3, 4, 0, 80}}),
       Kind::kRequestReady, Socks5CloseReason::kNone, kSelectNoAuth, 13, Target::Ipv4({1, 2, 3, 4}, 80)},
      {"OnlyUserPassOffered", {0x05, 0x01, 0x02}, Kind::kReplyAndClose, Socks5CloseReason::kNoAcceptableMethod,
       refuse, 3, std::nullopt},
      {"AllMethodsButNoAuth", no_noauth, Kind::kReplyAndClose, Socks5CloseReason::kNoAcceptableMethod, refuse,
       257, std::nullopt},
      {"ZeroMethods", {0x05, 0x00}, Kind::kReplyAndClose, Socks5CloseReason::kNoAcceptableMethod, refuse, 2,
       std::nullopt},
      {"Bind", Cat({kGreetNoAuth, {0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0, 80}}), Kind::kReplyAndClose,
       Socks5CloseReason::kUnsupportedCommand, Cat({kSelectNoAuth, fail_cmd}), 3 + 2, std::nullopt},
      {"UdpAssociate", Cat({kGreetNoAuth, {0x05, 0x03}}), Kind::kReplyAndClose,
       Socks5CloseReason::kUnsupportedCommand, Cat({kSelectNoAuth, fail_cmd}), 3 + 2, std::nullopt},
      {"UnknownAddressType", Cat({kGreetNoAuth, {0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4}}), Kind::kReplyAndClose,
       Socks5CloseReason::kUnsupportedAddressType, Cat({kSelectNoAuth, fail_atyp}), 3 + 4, std::nullopt},
      {"Socks4Client", {0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, 0}, Kind::kError,
       Socks5CloseReason::kBadGreetingVersion, {}, 1, std::nullopt},
      {"HttpClient", {'G', 'E', 'T', ' ', '/'}, Kind::kError, Socks5CloseReason::kBadGreetingVersion, {}, 1,
       std::nullopt},
      {"BadRequestVersion", Cat({kGreetNoAuth, {0x04, 0x01, 0x00, 0x01}}), Kind::kError,
       Socks5CloseReason::kBadRequestVersion, kSelectNoAuth, 3 + 1, std::nullopt},
      {"EmptyDomain", Cat({kGreetNoAuth, {0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50}}), Kind::kError,
       Socks5CloseReason::kEmptyDomain, kSelectNoAuth, 3 + 5, std::nullopt},
      {"Empty", {}, Kind::kNeedMore, Socks5CloseReason::kNone, {}, 0, std::nullopt},
      {"TruncatedGreeting", {0x05, 0x03, 0x00, 0x01}, Kind::kNeedMore, Socks5CloseReason::kNone, {}, 4,
       std::nullopt},
      {"TruncatedIpv4Request", Cat({kGreetNoAuth, {0x05, 0x01, 0x00, 0x01, 10, 0, 0}}), Kind::kNeedMore,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 7, std::nullopt},
      {"TruncatedDomainRequest", Cat({kGreetNoAuth, {0x05, 0x01, 0x00, 0x03, 0x05, 'a', 'b'}}), Kind::kNeedMore,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 7, std::nullopt},
      {"TruncatedPort", Cat({kGreetNoAuth, {0x05, 0x01, 0x00, 0x04}, Bytes(16, 1), {0x01}}), Kind::kNeedMore,
       Socks5CloseReason::kNone, kSelectNoAuth, 3 + 21, std::nullopt},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Socks5Cases : public ::testing::TestWithParam<Case> {};

// Every case must come out the same whether the bytes arrive whole, in small pieces or one at a time.
TEST_P(Socks5Cases, SameOutcomeForEveryChunking) {
  const Case& c = GetParam();
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{100000}}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    Outcome o = Drive(c.in, chunk);
    EXPECT_EQ(o.kind, c.kind);
    EXPECT_EQ(Socks5CloseReasonName(o.reason), Socks5CloseReasonName(c.reason));
    EXPECT_EQ(o.replies, c.replies);
    EXPECT_EQ(o.consumed, c.consumed);
    if (c.target) {
      EXPECT_TRUE(o.target == *c.target);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Socks5Cases, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

TEST(Socks5Server, PipelinedDataAfterRequestIsLeftUnconsumed) {
  const Bytes request = {0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1F, 0x90};
  const Bytes data = {'G', 'E', 'T', ' ', '/', '\r', '\n'};
  const Bytes in = Cat({kGreetNoAuth, request, data});
  Socks5Server s;
  Socks5Result r = s.Feed(in);
  ASSERT_EQ(r.kind, Kind::kReply);
  EXPECT_EQ(r.consumed, 3u);
  r = s.Feed(std::span(in).subspan(3));
  ASSERT_EQ(r.kind, Kind::kRequestReady);
  EXPECT_EQ(r.consumed, request.size());
  EXPECT_TRUE(s.target() == Target::Ipv4({127, 0, 0, 1}, 8080));
  // The data stays with the caller, for the stream.
  EXPECT_EQ(in.size() - 3 - r.consumed, data.size());
}

TEST(Socks5Server, GreetingTakesNoMoreThanItsOwnBytes) {
  const Bytes in = Cat({{0x05, 0x02, 0x02, 0x00}, {0x05, 0x01}});
  Socks5Server s;
  Socks5Result r = s.Feed(in);
  EXPECT_EQ(r.kind, Kind::kReply);
  EXPECT_EQ(r.consumed, 4u);
}

TEST(Socks5Server, FeedAfterDoneIsACallerBug) {
  Socks5Server s;
  ASSERT_EQ(s.Feed(Bytes{0x05, 0x01, 0x02}).kind, Kind::kReplyAndClose);
  Socks5Result r = s.Feed(Bytes{0x05});
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.reason, Socks5CloseReason::kFeedAfterDone);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(Socks5Server, LongestMessagesFitTheBound) {
  // 257-byte greeting then a 262-byte request, byte at a time: nothing beyond those bounds is ever needed.
  Bytes greet = {0x05, 0xFF};
  for (int i = 0; i < 255; ++i) greet.push_back(0x00);
  Bytes in = Cat({greet, DomainRequest(std::string(255, 'z'), 65535)});
  ASSERT_EQ(in.size(), kMaxSocksGreetingSize + kMaxSocksRequestSize);
  Outcome o = Drive(in, 1);
  EXPECT_EQ(o.kind, Kind::kRequestReady);
  EXPECT_EQ(o.consumed, in.size());
  EXPECT_EQ(o.target.port, 65535);
}

TEST(Socks5Replies, SuccessWithIpv4Bound) {
  Socks5Reply r = Socks5SuccessReply(Target::Ipv4({0, 0, 0, 0}, 0));
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), (Bytes{0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
}

TEST(Socks5Replies, SuccessWithIpv6Bound) {
  std::array<uint8_t, 16> a{};
  a[15] = 1;
  Socks5Reply r = Socks5SuccessReply(Target::Ipv6(a, 1080));
  Bytes want = {0x05, 0x00, 0x00, 0x04};
  want.insert(want.end(), a.begin(), a.end());
  want.insert(want.end(), {0x04, 0x38});
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), want);
}

TEST(Socks5Replies, SuccessWithDomainBound) {
  Socks5Reply r = Socks5SuccessReply(*Target::Domain("a.b", 1));
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), (Bytes{0x05, 0x00, 0x00, 0x03, 3, 'a', '.', 'b', 0, 1}));
}

TEST(Socks5Replies, FailureCarriesCodeAndZeroAddress) {
  Socks5Reply r = Socks5FailureReply(Socks5ReplyCode::kConnectionRefused);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), (Bytes{0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
}

TEST(Socks5Replies, ResetCodesMapToReplyCodes) {
  using tunnel::ErrorCode;
  struct M {
    ErrorCode reset;
    Socks5ReplyCode rep;
  };
  const M table[] = {
      {ErrorCode::kRefusedByPolicy, Socks5ReplyCode::kNotAllowedByRuleset},
      {ErrorCode::kUnauthorized, Socks5ReplyCode::kNotAllowedByRuleset},
      {ErrorCode::kConnectFailed, Socks5ReplyCode::kConnectionRefused},
      {ErrorCode::kDnsFailed, Socks5ReplyCode::kHostUnreachable},
      {ErrorCode::kTimeout, Socks5ReplyCode::kTtlExpired},
      {ErrorCode::kNoConnector, Socks5ReplyCode::kNetworkUnreachable},
      {ErrorCode::kConnectorGone, Socks5ReplyCode::kNetworkUnreachable},
      {ErrorCode::kTooManyStreams, Socks5ReplyCode::kGeneralFailure},
      {ErrorCode::kOverloaded, Socks5ReplyCode::kGeneralFailure},
      {ErrorCode::kInternal, Socks5ReplyCode::kGeneralFailure},
      {static_cast<ErrorCode>(999), Socks5ReplyCode::kGeneralFailure},  // a code from a newer peer
  };
  for (const M& m : table) EXPECT_EQ(Socks5ReplyForReset(m.reset), m.rep) << static_cast<int>(m.reset);
}

}  // namespace
}  // namespace strait::device
