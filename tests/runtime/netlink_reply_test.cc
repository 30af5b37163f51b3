// The sans-I/O netlink reply decoder (runtime/netlink_reply.h): acks, errors with and without the kernel's
// extended-ack text, dump ends, route payloads, and every length that does not fit.
#include "runtime/netlink_reply.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace strait::runtime {
namespace {

using Kind = NetlinkReply::Kind;

void Put(std::vector<std::uint8_t>* out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out->insert(out->end(), b, b + n);
  while (out->size() % 4 != 0) out->push_back(0);
}

void Attr(std::vector<std::uint8_t>* out, std::uint16_t type, const void* value, std::size_t n) {
  const nlattr a{static_cast<std::uint16_t>(sizeof(nlattr) + n), type};
  Put(out, &a, sizeof a);
  Put(out, value, n);
}

// A message: header (length filled in) + body.
std::vector<std::uint8_t> Message(std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                                  const std::vector<std::uint8_t>& body) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(sizeof h + body.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  std::vector<std::uint8_t> out;
  Put(&out, &h, sizeof h);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// An NLMSG_ERROR body: error code, the (capped) request header, optional attributes.
std::vector<std::uint8_t> ErrorBody(int error, std::uint32_t seq, const std::string& ext_ack = {}) {
  nlmsgerr e{};
  e.error = error;
  e.msg.nlmsg_len = sizeof(nlmsghdr) + 12;  // what the request's length was; capped: its body is not here
  e.msg.nlmsg_seq = seq;
  std::vector<std::uint8_t> body;
  Put(&body, &e, sizeof e);
  if (!ext_ack.empty()) Attr(&body, NLMSGERR_ATTR_MSG, ext_ack.c_str(), ext_ack.size() + 1);
  return body;
}

TEST(NetlinkReply, AckCarriesTheRequestSequence) {
  const auto bytes = Message(NLMSG_ERROR, NLM_F_CAPPED, 7, ErrorBody(0, 7));
  const NetlinkReply r = ParseNetlinkReply(bytes);
  EXPECT_EQ(r.kind, Kind::kAck);
  EXPECT_EQ(r.seq, 7u);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.consumed, bytes.size());
}

TEST(NetlinkReply, ErrorCarriesErrnoAndExtendedAck) {
  const auto bytes =
      Message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 9, ErrorBody(-EEXIST, 9, "Route already exists"));
  const NetlinkReply r = ParseNetlinkReply(bytes);
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.error, EEXIST);
  EXPECT_EQ(r.ext_ack, "Route already exists");
}

TEST(NetlinkReply, UncappedErrorFindsAttributesAfterTheEchoedRequest) {
  nlmsgerr e{};
  e.error = -EINVAL;
  e.msg.nlmsg_len = sizeof(nlmsghdr) + 8;  // the echoed request: header + 8 bytes of body
  std::vector<std::uint8_t> body;
  Put(&body, &e, sizeof e);
  const std::uint8_t request_body[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  Put(&body, request_body, sizeof request_body);
  const std::string text = "Invalid prefix for given prefix length";
  Attr(&body, NLMSGERR_ATTR_MSG, text.c_str(), text.size() + 1);
  const auto bytes = Message(NLMSG_ERROR, NLM_F_ACK_TLVS, 3, body);  // the reply's views point into it
  const NetlinkReply r = ParseNetlinkReply(bytes);
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.error, EINVAL);
  EXPECT_EQ(r.ext_ack, text);
}

TEST(NetlinkReply, ErrorWithoutAckTlvsFlagIgnoresTrailingBytes) {
  const auto bytes = Message(NLMSG_ERROR, NLM_F_CAPPED, 9, ErrorBody(-EPERM, 9, "not shown"));
  const NetlinkReply r = ParseNetlinkReply(bytes);
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.error, EPERM);
  EXPECT_TRUE(r.ext_ack.empty());
}

TEST(NetlinkReply, DoneEndsADumpAndMayCarryAnError) {
  const int zero = 0;
  std::vector<std::uint8_t> ok_body;
  Put(&ok_body, &zero, sizeof zero);
  EXPECT_EQ(ParseNetlinkReply(Message(NLMSG_DONE, NLM_F_MULTI, 4, ok_body)).kind, Kind::kDone);
  const int failed = -EBUSY;
  std::vector<std::uint8_t> failed_body;
  Put(&failed_body, &failed, sizeof failed);
  const NetlinkReply r = ParseNetlinkReply(Message(NLMSG_DONE, NLM_F_MULTI, 4, failed_body));
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_EQ(r.error, EBUSY);
}

TEST(NetlinkReply, PayloadAndConsumedWalkADatagramOfSeveralMessages) {
  const std::vector<std::uint8_t> body = {1, 2, 3, 4, 5};  // 5 bytes: the next message starts after 3 of padding
  auto datagram = Message(RTM_NEWROUTE, NLM_F_MULTI, 5, body);
  datagram.resize(sizeof(nlmsghdr) + 8);
  const auto second = Message(NLMSG_ERROR, NLM_F_CAPPED, 5, ErrorBody(0, 5));
  datagram.insert(datagram.end(), second.begin(), second.end());
  const NetlinkReply first = ParseNetlinkReply(datagram);
  ASSERT_EQ(first.kind, Kind::kPayload);
  EXPECT_EQ(first.type, RTM_NEWROUTE);
  EXPECT_EQ(first.payload.size(), 5u);                // nlmsg_len says 16 + 5
  EXPECT_EQ(first.consumed, sizeof(nlmsghdr) + 8);    // and the next message starts at the aligned end
  const NetlinkReply next = ParseNetlinkReply(std::span(datagram).subspan(first.consumed));
  EXPECT_EQ(next.kind, Kind::kAck);
}

TEST(NetlinkReply, RejectsLengthsThatDoNotFit) {
  const auto good = Message(NLMSG_ERROR, NLM_F_CAPPED, 1, ErrorBody(0, 1));
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const NetlinkReply r = ParseNetlinkReply(std::span(good).first(cut));
    EXPECT_EQ(r.kind, Kind::kMalformed) << "cut at " << cut;
    EXPECT_EQ(r.consumed, 0u);
  }
  auto short_len = good;
  const std::uint32_t len = 8;  // shorter than a header
  std::memcpy(short_len.data(), &len, sizeof len);
  EXPECT_EQ(ParseNetlinkReply(short_len).kind, Kind::kMalformed);
  // An NLMSG_ERROR whose body cannot hold the error code and the request header.
  EXPECT_EQ(ParseNetlinkReply(Message(NLMSG_ERROR, 0, 1, {0, 0, 0, 0})).kind, Kind::kMalformed);
  // A positive error code is not something the kernel sends.
  EXPECT_EQ(ParseNetlinkReply(Message(NLMSG_ERROR, NLM_F_CAPPED, 1, ErrorBody(5, 1))).kind, Kind::kMalformed);
}

TEST(NetlinkReply, ExtendedAckAttributeLongerThanTheMessageIsIgnored) {
  auto body = ErrorBody(-EINVAL, 2, "text");
  const std::uint16_t too_long = 200;
  std::memcpy(body.data() + sizeof(nlmsgerr), &too_long, sizeof too_long);
  const auto bytes = Message(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 2, body);
  const NetlinkReply r = ParseNetlinkReply(bytes);
  EXPECT_EQ(r.kind, Kind::kError);
  EXPECT_TRUE(r.ext_ack.empty());
}

std::vector<std::uint8_t> RouteBody(std::uint8_t family, std::uint8_t dst_len) {
  rtmsg m{};
  m.rtm_family = family;
  m.rtm_dst_len = dst_len;
  m.rtm_table = RT_TABLE_MAIN;
  m.rtm_protocol = RTPROT_STATIC;
  m.rtm_scope = RT_SCOPE_LINK;
  m.rtm_type = RTN_UNICAST;
  std::vector<std::uint8_t> body;
  Put(&body, &m, sizeof m);
  return body;
}

TEST(RouteMessage, DecodesDestinationDeviceAndTable) {
  auto body = RouteBody(AF_INET, 16);
  const std::uint8_t dst[4] = {10, 20, 0, 0};
  Attr(&body, RTA_DST, dst, 4);
  const std::int32_t oif = 42;
  Attr(&body, RTA_OIF, &oif, 4);
  const std::uint32_t table = 1000;
  Attr(&body, RTA_TABLE, &table, 4);
  const std::uint32_t priority = 5;
  Attr(&body, RTA_PRIORITY, &priority, 4);  // not ours: skipped
  RouteInfo route;
  ASSERT_TRUE(ParseRouteMessage(body, &route));
  EXPECT_EQ(route.dst, 0x0a140000u);
  EXPECT_EQ(route.prefix_len, 16);
  EXPECT_EQ(route.ifindex, 42);
  EXPECT_EQ(route.table, 1000u);
  EXPECT_EQ(route.protocol, RTPROT_STATIC);
  EXPECT_EQ(route.scope, RT_SCOPE_LINK);
  EXPECT_EQ(route.type, RTN_UNICAST);
}

TEST(RouteMessage, RejectsOtherFamiliesBadPrefixesAndBadAttributes) {
  RouteInfo route;
  EXPECT_FALSE(ParseRouteMessage(RouteBody(AF_INET6, 64), &route));
  EXPECT_FALSE(ParseRouteMessage(RouteBody(AF_INET, 33), &route));
  const auto short_body = RouteBody(AF_INET, 8);
  EXPECT_FALSE(ParseRouteMessage(std::span(short_body).first(11), &route));
  auto wrong_size = RouteBody(AF_INET, 8);
  const std::uint8_t dst[3] = {10, 0, 0};
  Attr(&wrong_size, RTA_DST, dst, 3);
  EXPECT_FALSE(ParseRouteMessage(wrong_size, &route));
  auto overlong = RouteBody(AF_INET, 8);
  const nlattr a{64, RTA_DST};
  Put(&overlong, &a, sizeof a);
  EXPECT_FALSE(ParseRouteMessage(overlong, &route));
}

}  // namespace
}  // namespace strait::runtime
