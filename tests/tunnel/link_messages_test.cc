#include "tunnel/link_messages.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

namespace strait::tunnel {
namespace {

Bytes B(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
std::string_view S(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

template <class M>
std::vector<uint8_t> EncodeOk(const M& m) {
  std::vector<uint8_t> out(m.EncodedSize());
  auto n = m.Encode(out);
  EXPECT_TRUE(n.ok()) << MessageErrorName(n.error());
  if (n.ok()) {
    EXPECT_EQ(*n, out.size());
  }
  return out;
}

// Every proper prefix of a valid encoding must be refused (and never read past its end).
template <class M>
void ExpectEveryPrefixRejected(const std::vector<uint8_t>& enc) {
  for (size_t n = 0; n < enc.size(); ++n) {
    auto r = M::Decode(Bytes(enc).first(n));
    EXPECT_FALSE(r.ok()) << "prefix " << n << " of " << enc.size();
  }
}

template <class M>
void ExpectTrailingRejected(std::vector<uint8_t> enc) {
  enc.push_back(0);
  auto r = M::Decode(enc);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), MessageError::kTrailingBytes);
}

template <class M>
void ExpectTrailingIgnored(std::vector<uint8_t> enc) {
  enc.push_back(0x42);
  EXPECT_TRUE(M::Decode(enc).ok());
}

const std::string kCred(300, 'c');

TEST(LinkMessages, HelloRoundTrips) {
  Hello h;
  h.role = LinkRole::kConnector;
  h.credential = B(kCred);
  for (size_t i = 0; i < h.proof.size(); ++i) h.proof[i] = static_cast<uint8_t>(i);
  h.preferred_connector = B("conn-1");
  auto enc = EncodeOk(h);
  auto d = Hello::Decode(enc);
  ASSERT_TRUE(d.ok()) << MessageErrorName(d.error());
  EXPECT_EQ(d->version_min, 1);
  EXPECT_EQ(d->version_max, 1);
  EXPECT_EQ(d->role, LinkRole::kConnector);
  EXPECT_EQ(S(d->credential), kCred);
  EXPECT_EQ(d->proof, h.proof);
  EXPECT_EQ(S(d->preferred_connector), "conn-1");
  ExpectEveryPrefixRejected<Hello>(enc);
  ExpectTrailingRejected<Hello>(enc);
}

TEST(LinkMessages, HelloRejectsBadRoleVersionAndCredentialBounds) {
  Hello h;
  h.credential = B(kCred);
  auto enc = EncodeOk(h);
  auto bad_role = enc;
  bad_role[2] = 3;  // relays never send HELLO
  EXPECT_EQ(Hello::Decode(bad_role).error(), MessageError::kBadRole);
  auto bad_range = enc;
  bad_range[0] = 2;  // min 2 > max 1
  EXPECT_EQ(Hello::Decode(bad_range).error(), MessageError::kBadVersionRange);

  const std::string too_long(kMaxCredentialBytes + 1, 'x');
  h.credential = B(too_long);
  std::vector<uint8_t> out(2048);
  EXPECT_EQ(h.Encode(out).error(), MessageError::kTooLong);
  h.credential = {};
  EXPECT_EQ(h.Encode(out).error(), MessageError::kEmpty);

  // A decoder meets the over-long length before the bytes: header says 513, nothing follows.
  const uint8_t hdr[] = {1, 1, 1, 0x02, 0x01};
  EXPECT_EQ(Hello::Decode(hdr).error(), MessageError::kTooLong);
}

TEST(LinkMessages, HelloAckRoundTripsAndIsExtensible) {
  HelloAck a;
  a.max_payload = 8192;
  a.keepalive_ms = 1000;
  a.idle_timeout_ms = 4000;
  a.relay_id = B("relay-eu-1");
  auto enc = EncodeOk(a);
  auto d = HelloAck::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_payload, 8192u);
  EXPECT_EQ(d->keepalive_ms, 1000u);
  EXPECT_EQ(d->idle_timeout_ms, 4000u);
  EXPECT_EQ(S(d->relay_id), "relay-eu-1");
  ExpectEveryPrefixRejected<HelloAck>(enc);
  ExpectTrailingIgnored<HelloAck>(enc);
  a.max_payload = kMaxPayload + 1;
  std::vector<uint8_t> out(64);
  EXPECT_EQ(a.Encode(out).error(), MessageError::kBadValue);
}

TEST(LinkMessages, PingPongRoundTripExact) {
  auto enc = EncodeOk(Ping{0x0102030405060708ull});
  EXPECT_EQ(Ping::Decode(enc)->opaque, 0x0102030405060708ull);
  ExpectEveryPrefixRejected<Ping>(enc);
  ExpectTrailingRejected<Ping>(enc);
  auto penc = EncodeOk(Pong{42});
  EXPECT_EQ(Pong::Decode(penc)->opaque, 42u);
  ExpectTrailingRejected<Pong>(penc);
}

TEST(LinkMessages, ErrorRoundTripsAndBoundsReason) {
  ErrorMessage e{ErrorCode::kBadProof, B("signature did not verify")};
  auto enc = EncodeOk(e);
  auto d = ErrorMessage::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->code, ErrorCode::kBadProof);
  EXPECT_EQ(S(d->reason), "signature did not verify");
  ExpectEveryPrefixRejected<ErrorMessage>(enc);
  ExpectTrailingRejected<ErrorMessage>(enc);

  const std::string max_reason(kMaxErrorReasonBytes, 'r'), over(kMaxErrorReasonBytes + 1, 'r');
  EXPECT_TRUE(ErrorMessage::Decode(EncodeOk(ErrorMessage{ErrorCode::kInternal, B(max_reason)})).ok());
  std::vector<uint8_t> out(1024);
  EXPECT_EQ((ErrorMessage{ErrorCode::kInternal, B(over)}.Encode(out).error()), MessageError::kTooLong);
  const uint8_t hdr[] = {0, 1, 0x01, 0x01};  // reason length 257, nothing follows
  EXPECT_EQ(ErrorMessage::Decode(hdr).error(), MessageError::kTooLong);
  // Codes this build does not name survive a round trip (forward compatibility).
  const uint8_t future[] = {0x01, 0x00, 0, 0};
  EXPECT_EQ(static_cast<uint16_t>(ErrorMessage::Decode(future)->code), 0x100);
}

TEST(LinkMessages, GoAwayRoundTripsExact) {
  auto enc = EncodeOk(GoAway{ErrorCode::kShuttingDown, 30000});
  auto d = GoAway::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->code, ErrorCode::kShuttingDown);
  EXPECT_EQ(d->drain_ms, 30000u);
  ExpectEveryPrefixRejected<GoAway>(enc);
  ExpectTrailingRejected<GoAway>(enc);
}

TEST(LinkMessages, SessionRequestRoundTripsIncludingEmpty) {
  auto enc = EncodeOk(SessionRequest{B("conn-7")});
  EXPECT_EQ(S(SessionRequest::Decode(enc)->preferred_connector), "conn-7");
  ExpectEveryPrefixRejected<SessionRequest>(enc);
  ExpectTrailingRejected<SessionRequest>(enc);
  auto empty = EncodeOk(SessionRequest{});
  EXPECT_EQ(empty.size(), 1u);
  EXPECT_TRUE(SessionRequest::Decode(empty)->preferred_connector.empty());
}

TEST(LinkMessages, SessionOfferRoundTripsAndRequiresIdAndCredential) {
  auto enc = EncodeOk(SessionOffer{B("conn-7"), B(kCred)});
  auto d = SessionOffer::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(S(d->connector_id), "conn-7");
  EXPECT_EQ(S(d->connector_credential), kCred);
  ExpectEveryPrefixRejected<SessionOffer>(enc);
  ExpectTrailingIgnored<SessionOffer>(enc);
  std::vector<uint8_t> out(1024);
  EXPECT_EQ((SessionOffer{{}, B(kCred)}.Encode(out).error()), MessageError::kEmpty);
  const uint8_t empty_id[] = {0, 0, 1, 'x'};
  EXPECT_EQ(SessionOffer::Decode(empty_id).error(), MessageError::kEmpty);
}

TEST(LinkMessages, SessionCreditRoundTripsExact) {
  auto enc = EncodeOk(SessionCredit{0xfffffffeu});
  auto d = SessionCredit::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->increment, 0xfffffffeu);
  ExpectEveryPrefixRejected<SessionCredit>(enc);
  ExpectTrailingRejected<SessionCredit>(enc);
  std::array<uint8_t, 4> out{};
  EXPECT_FALSE(SessionCredit{0}.Encode(out).ok());
}

TEST(LinkMessages, SessionCloseRoundTripsExact) {
  auto enc = EncodeOk(SessionClose{ErrorCode::kConnectorGone, B("link lost")});
  auto d = SessionClose::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->code, ErrorCode::kConnectorGone);
  EXPECT_EQ(S(d->reason), "link lost");
  ExpectEveryPrefixRejected<SessionClose>(enc);
  ExpectTrailingRejected<SessionClose>(enc);
}

TEST(LinkMessages, NoiseMessageIsBounded) {
  std::vector<uint8_t> msg(kMaxNoiseMessageBytes, 7);
  EXPECT_TRUE(NoiseMessage::Decode(msg).ok());
  msg.push_back(7);
  EXPECT_EQ(NoiseMessage::Decode(msg).error(), MessageError::kTooLong);
  EXPECT_EQ(NoiseMessage::Decode({}).error(), MessageError::kEmpty);
}

TEST(LinkMessages, HandshakePayloadsRoundTripAndAreExtensible) {
  DeviceHandshake dh{B(kCred), 1u << 20, 128, UINT64_MAX - 1};
  auto enc = EncodeOk(dh);
  EXPECT_EQ(enc.size(), 2 + kCred.size() + 4 + 2 + 8);
  auto d = DeviceHandshake::Decode(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(S(d->credential), kCred);
  EXPECT_EQ(d->initial_session_window, 1u << 20);
  EXPECT_EQ(d->max_streams, 128);
  EXPECT_EQ(d->timestamp, UINT64_MAX - 1);
  ExpectEveryPrefixRejected<DeviceHandshake>(enc);
  ExpectTrailingIgnored<DeviceHandshake>(enc);

  auto cenc = EncodeOk(ConnectorHandshake{4096, 16});
  EXPECT_EQ(cenc.size(), 6u);
  auto c = ConnectorHandshake::Decode(cenc);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->initial_session_window, 4096u);
  EXPECT_EQ(c->max_streams, 16);
  ExpectEveryPrefixRejected<ConnectorHandshake>(cenc);
  ExpectTrailingIgnored<ConnectorHandshake>(cenc);
}

TEST(LinkMessages, EncodeRefusesShortBuffers) {
  Hello h;
  h.credential = B(kCred);
  std::vector<uint8_t> out(h.EncodedSize() - 1);
  EXPECT_EQ(h.Encode(out).error(), MessageError::kBufferTooSmall);
  std::vector<uint8_t> out2(7);
  EXPECT_EQ(Ping{1}.Encode(out2).error(), MessageError::kBufferTooSmall);
}

}  // namespace
}  // namespace strait::tunnel
