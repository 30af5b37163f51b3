// Known answers for the link wire format: for every frame type and every link message, bytes written by hand from
// tunnel/frame.h (the authority) and docs/protocol.md §2-§6, checked both ways: encode(fields) == bytes and
// decode(bytes) == fields. A layout mistake made the same way in the encoder and the decoder passes a round trip;
// it fails here. All integers big-endian; str8/str16 = u8/u16 length, then the bytes.
#include <gtest/gtest.h>

#include <array>

#include "tests/testing/hex.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link_messages.h"

namespace strait::tunnel {
namespace {

using testing::Ascii;
using testing::Cat;
using testing::Hex;
using testing::Str;
using testing::View;
using testing::Wire;

template <class M>
Wire Encode(const M& m) {
  Wire out(m.EncodedSize());
  const auto n = m.Encode(out);
  EXPECT_TRUE(n.ok()) << MessageErrorName(n.error());
  if (!n.ok()) return {};
  out.resize(*n);
  return out;
}

template <class M>
M Decode(const Wire& bytes) {
  auto m = M::Decode(bytes);
  EXPECT_TRUE(m.ok()) << MessageErrorName(m.error());
  return m.ok() ? *m : M{};
}

// ---- The 12-byte header: ver | type | flags u16 | length u32 | channel u32 ----

TEST(LinkWireFormat, HeaderBytesAndFields) {
  const Wire payload = Hex("aa bb cc");
  const Wire want = Hex("01 20 0001 00000003 01020304 aabbcc");  // SEALED_STREAM, critical, channel 0x01020304
  Wire out(want.size());
  ASSERT_EQ(EncodeFrame(FrameType::kSealedStream, kFlagCritical, 0x01020304, payload, out), want.size());
  EXPECT_EQ(out, want);

  FrameHeader h;
  ASSERT_TRUE(ParseFrameHeader(want, &h));
  EXPECT_EQ(h, (FrameHeader{1, FrameType::kSealedStream, kFlagCritical, 3, 0x01020304}));
  FrameReader r;
  const ReadResult res = r.Next(want);
  ASSERT_EQ(res.kind, ReadKind::kFrame);
  EXPECT_EQ(res.consumed, want.size());
  EXPECT_EQ(Wire(res.payload.begin(), res.payload.end()), payload);
}

TEST(LinkWireFormat, HeaderLengthAndChannelUseAllFourBytes) {
  const Wire want = Hex("01 21 0000 00004100 fffffffe");  // SEALED_DATAGRAM, length 16,640 (kMaxPayload)
  std::array<uint8_t, kHeaderSize> out{};
  ASSERT_TRUE(EncodeFrameHeader({1, FrameType::kSealedDatagram, 0, 16640, 0xfffffffe}, out));
  EXPECT_EQ(Wire(out.begin(), out.end()), want);
  FrameHeader h;
  ASSERT_TRUE(ParseFrameHeader(want, &h));
  EXPECT_EQ(h.length, 16640u);
  EXPECT_EQ(h.channel, 0xfffffffeu);
}

// Each type's byte, from the table in docs/protocol.md §2.
TEST(LinkWireFormat, TypeBytes) {
  const std::pair<FrameType, uint8_t> types[] = {
      {FrameType::kHello, 0x01},          {FrameType::kHelloAck, 0x02},       {FrameType::kPing, 0x03},
      {FrameType::kPong, 0x04},           {FrameType::kError, 0x05},          {FrameType::kGoAway, 0x06},
      {FrameType::kSessionRequest, 0x10}, {FrameType::kSessionOffer, 0x11},   {FrameType::kSessionInit, 0x12},
      {FrameType::kSessionAccept, 0x13},  {FrameType::kSessionClose, 0x14},   {FrameType::kSessionCredit, 0x15},
      {FrameType::kSealedStream, 0x20},
      {FrameType::kSealedDatagram, 0x21},
  };
  for (const auto& [type, byte] : types) {
    std::array<uint8_t, kHeaderSize> out{};
    ASSERT_TRUE(EncodeFrameHeader({1, type, 0, 0, 7}, out));
    EXPECT_EQ(Wire(out.begin(), out.end()), Cat({Hex("01"), Wire{byte}, Hex("0000 00000000 00000007")}))
        << FrameTypeName(type);
  }
}

// ---- Link messages (payloads) ----

TEST(LinkWireFormat, Hello) {
  // u8 version_min, u8 version_max, u8 role (2 = connector), str16 credential, 64 proof, str8 preferred_connector
  std::array<uint8_t, kProofBytes> proof{};
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<uint8_t>(0xc0 + i);
  const Wire cred = Ascii("cred"), pref = Ascii("c1");
  const Wire want = Cat({Hex("01 01 02  0004 63726564"),
                         Hex("c0c1c2c3c4c5c6c7 c8c9cacbcccdcecf d0d1d2d3d4d5d6d7 d8d9dadbdcdddedf"
                             "e0e1e2e3e4e5e6e7 e8e9eaebecedeeef f0f1f2f3f4f5f6f7 f8f9fafbfcfdfeff"),
                         Hex("02 6331")});
  Hello m;
  m.version_min = 1;
  m.version_max = 1;
  m.role = LinkRole::kConnector;
  m.credential = cred;
  m.proof = proof;
  m.preferred_connector = pref;
  EXPECT_EQ(Encode(m), want);
  const Hello d = Decode<Hello>(want);
  EXPECT_EQ(d.version_min, 1);
  EXPECT_EQ(d.version_max, 1);
  EXPECT_EQ(d.role, LinkRole::kConnector);
  EXPECT_EQ(Str(d.credential), "cred");
  EXPECT_EQ(d.proof, proof);
  EXPECT_EQ(Str(d.preferred_connector), "c1");
}

TEST(LinkWireFormat, HelloAck) {
  // u8 version, u32 max_payload (16,640), u32 keepalive_ms (15,000), u32 idle_timeout_ms (60,000), str8 relay_id,
  // str16 credential (empty: no proof follows)
  const Wire id = Ascii("r1");
  const Wire want = Hex("01 00004100 00003a98 0000ea60 02 7231 0000");
  EXPECT_EQ(Encode(HelloAck{1, 16640, 15000, 60000, id, {}, {}}), want);
  const HelloAck d = Decode<HelloAck>(want);
  EXPECT_EQ(d.version, 1);
  EXPECT_EQ(d.max_payload, 16640u);
  EXPECT_EQ(d.keepalive_ms, 15000u);
  EXPECT_EQ(d.idle_timeout_ms, 60000u);
  EXPECT_EQ(Str(d.relay_id), "r1");
  EXPECT_TRUE(d.credential.empty());
}

TEST(LinkWireFormat, HelloAckWithTheServersCredentialAndProof) {
  // ... str16 credential ("cred"), then the 64-byte proof
  const Wire id = Ascii("r1");
  const Wire cred = Ascii("cred");
  std::array<uint8_t, kProofBytes> proof{};
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<uint8_t>(0xa0 + i);
  const Wire want = Cat({Hex("01 00004100 00003a98 0000ea60 02 7231 0004 63726564"),
                         Hex("a0a1a2a3a4a5a6a7 a8a9aaabacadaeaf b0b1b2b3b4b5b6b7 b8b9babbbcbdbebf"),
                         Hex("c0c1c2c3c4c5c6c7 c8c9cacbcccdcecf d0d1d2d3d4d5d6d7 d8d9dadbdcdddedf")});
  EXPECT_EQ(Encode(HelloAck{1, 16640, 15000, 60000, id, cred, proof}), want);
  const HelloAck d = Decode<HelloAck>(want);
  EXPECT_EQ(Str(d.credential), "cred");
  EXPECT_EQ(d.proof, proof);
}

TEST(LinkWireFormat, PingAndPong) {
  const Wire want = Hex("0102030405060708");  // u64 opaque
  EXPECT_EQ(Encode(Ping{0x0102030405060708}), want);
  EXPECT_EQ(Decode<Ping>(want).opaque, 0x0102030405060708u);
  const Wire pong = Hex("fedcba9876543210");
  EXPECT_EQ(Encode(Pong{0xfedcba9876543210}), pong);
  EXPECT_EQ(Decode<Pong>(pong).opaque, 0xfedcba9876543210u);
}

TEST(LinkWireFormat, Error) {
  const Wire reason = Ascii("no");
  const Wire want = Hex("0006 0002 6e6f");  // u16 code (6 = bad_proof), str16 reason
  EXPECT_EQ(Encode(ErrorMessage{ErrorCode::kBadProof, reason}), want);
  const ErrorMessage d = Decode<ErrorMessage>(want);
  EXPECT_EQ(d.code, ErrorCode::kBadProof);
  EXPECT_EQ(Str(d.reason), "no");
}

TEST(LinkWireFormat, GoAway) {
  const Wire want = Hex("0010 00007530");  // u16 code (16 = shutting_down), u32 drain_ms (30,000)
  EXPECT_EQ(Encode(GoAway{ErrorCode::kShuttingDown, 30000}), want);
  const GoAway d = Decode<GoAway>(want);
  EXPECT_EQ(d.code, ErrorCode::kShuttingDown);
  EXPECT_EQ(d.drain_ms, 30000u);
}

TEST(LinkWireFormat, SessionRequest) {
  const Wire pref = Ascii("c1");
  const Wire want = Hex("02 6331");  // str8 preferred_connector
  EXPECT_EQ(Encode(SessionRequest{pref}), want);
  EXPECT_EQ(Str(Decode<SessionRequest>(want).preferred_connector), "c1");
  EXPECT_EQ(Encode(SessionRequest{}), Hex("00"));
  EXPECT_TRUE(Decode<SessionRequest>(Hex("00")).preferred_connector.empty());
}

TEST(LinkWireFormat, SessionOffer) {
  const Wire id = Ascii("c1"), cred = Ascii("cred");
  const Wire want = Hex("02 6331  0004 63726564");  // str8 connector_id, str16 connector_credential
  EXPECT_EQ(Encode(SessionOffer{id, cred}), want);
  const SessionOffer d = Decode<SessionOffer>(want);
  EXPECT_EQ(Str(d.connector_id), "c1");
  EXPECT_EQ(Str(d.connector_credential), "cred");
}

TEST(LinkWireFormat, SessionInitAndAcceptCarryTheNoiseMessageAsIs) {
  const Wire noise = Hex("00 01 02 fd fe ff");
  EXPECT_EQ(Encode(NoiseMessage{noise}), noise);
  EXPECT_EQ(Wire(Decode<NoiseMessage>(noise).message.begin(), Decode<NoiseMessage>(noise).message.end()), noise);
}

TEST(LinkWireFormat, SessionClose) {
  const Wire reason = Ascii("gone");
  const Wire want = Hex("000c 04 676f6e65");  // u16 code (12 = connector_gone), str8 reason
  EXPECT_EQ(Encode(SessionClose{ErrorCode::kConnectorGone, reason}), want);
  const SessionClose d = Decode<SessionClose>(want);
  EXPECT_EQ(d.code, ErrorCode::kConnectorGone);
  EXPECT_EQ(Str(d.reason), "gone");
}

TEST(LinkWireFormat, SessionCredit) {
  const Wire want = Hex("00010000");  // u32 increment = 64 KiB
  EXPECT_EQ(Encode(SessionCredit{65536}), want);
  EXPECT_EQ(Decode<SessionCredit>(want).increment, 65536u);
  EXPECT_FALSE(SessionCredit::Decode(Hex("00000000")).ok()) << "an increment of 0 is refused";
  EXPECT_FALSE(SessionCredit::Decode(Hex("0001000000")).ok()) << "exact: no trailing bytes";
}

// The Noise message payloads of SESSION_INIT and SESSION_ACCEPT (docs/protocol.md §6).
TEST(LinkWireFormat, DeviceHandshake) {
  const Wire cred = Ascii("cred");
  // str16 device_credential, u32 initial_session_window (16 MiB), u16 max_streams (4,096),
  // u64 timestamp (1,700,000,000.123456789 s after the Unix epoch, in ns)
  const Wire want = Hex("0004 63726564  01000000  1000  17979cfe3d85cd15");
  EXPECT_EQ(Encode(DeviceHandshake{cred, 16u << 20, 4096, 1'700'000'000'123'456'789}), want);
  const DeviceHandshake d = Decode<DeviceHandshake>(want);
  EXPECT_EQ(Str(d.credential), "cred");
  EXPECT_EQ(d.initial_session_window, 16u << 20);
  EXPECT_EQ(d.max_streams, 4096);
  EXPECT_EQ(d.timestamp, 1'700'000'000'123'456'789u);
  // The timestamp is required (§6): the version-1 payload without it does not decode.
  EXPECT_EQ(DeviceHandshake::Decode(Hex("0004 63726564  01000000  1000")).error(), MessageError::kTruncated);
}

TEST(LinkWireFormat, ConnectorHandshake) {
  const Wire want = Hex("00100000 0100");  // u32 initial_session_window (1 MiB), u16 max_streams (256)
  EXPECT_EQ(Encode(ConnectorHandshake{1u << 20, 256}), want);
  const ConnectorHandshake d = Decode<ConnectorHandshake>(want);
  EXPECT_EQ(d.initial_session_window, 1u << 20);
  EXPECT_EQ(d.max_streams, 256);
}

// Error codes on the wire (docs/protocol.md §10): the numbers are the contract, not the enum's order.
TEST(LinkWireFormat, ErrorCodeNumbers) {
  const std::pair<ErrorCode, uint16_t> codes[] = {
      {ErrorCode::kProtocolError, 1},    {ErrorCode::kUnsupportedVersion, 2}, {ErrorCode::kUnsupportedFrame, 3},
      {ErrorCode::kFrameTooLarge, 4},    {ErrorCode::kBadCredential, 5},      {ErrorCode::kBadProof, 6},
      {ErrorCode::kWrongRole, 7},        {ErrorCode::kUnauthorized, 8},       {ErrorCode::kHandshakeTimeout, 9},
      {ErrorCode::kIdleTimeout, 10},     {ErrorCode::kNoConnector, 11},       {ErrorCode::kConnectorGone, 12},
      {ErrorCode::kDeviceGone, 13},      {ErrorCode::kTooManySessions, 14},   {ErrorCode::kOverloaded, 15},
      {ErrorCode::kShuttingDown, 16},    {ErrorCode::kRevoked, 17},           {ErrorCode::kFlowControl, 18},
      {ErrorCode::kRekeyRequired, 19},   {ErrorCode::kRefusedByPolicy, 20},   {ErrorCode::kConnectFailed, 21},
      {ErrorCode::kDnsFailed, 22},       {ErrorCode::kTimeout, 23},           {ErrorCode::kCancelled, 24},
      {ErrorCode::kInternal, 25},        {ErrorCode::kTooManyStreams, 26},     {ErrorCode::kReplayed, 27},
  };
  for (const auto& [code, number] : codes) {
    const Wire want = {static_cast<uint8_t>(number >> 8), static_cast<uint8_t>(number), 0x00};  // empty reason
    EXPECT_EQ(Encode(SessionClose{code, {}}), want) << ErrorCodeName(code);
    EXPECT_EQ(Decode<SessionClose>(want).code, code) << ErrorCodeName(code);
  }
}

}  // namespace
}  // namespace strait::tunnel
