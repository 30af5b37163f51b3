// HandshakeState behaviour beyond the known-answer vectors: fresh-key round trips, tampering, wrong keys,
// bounds, out-of-turn calls and setup validation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/noise_handshake.h"

namespace strait::crypto {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }
const Bytes kPrologue = Str("strait e2e v1");

struct Keys {
  X25519KeyPair device = X25519KeyPair::Generate();
  X25519KeyPair connector = X25519KeyPair::Generate();
};

HandshakeState Initiator(const Keys& k, const X25519PublicKey& responder_static) {
  HandshakeOptions o;
  o.pattern = NoisePattern::kIK;
  o.role = NoiseRole::kInitiator;
  o.prologue = kPrologue;
  o.local_static = k.device;
  o.remote_static = responder_static;
  auto hs = HandshakeState::Create(std::move(o));
  EXPECT_TRUE(hs.ok());
  return std::move(hs).value();
}

HandshakeState Responder(const X25519KeyPair& s) {
  HandshakeOptions o;
  o.pattern = NoisePattern::kIK;
  o.role = NoiseRole::kResponder;
  o.prologue = kPrologue;
  o.local_static = s;
  auto hs = HandshakeState::Create(std::move(o));
  EXPECT_TRUE(hs.ok());
  return std::move(hs).value();
}

Bytes Write(HandshakeState& hs, const Bytes& payload) {
  Bytes out(kNoiseMaxMessageLen);
  const HandshakeResult r = hs.WriteMessage(payload, out);
  EXPECT_TRUE(r.ok()) << HandshakeStatusName(r.status);
  out.resize(r.size);
  return out;
}

HandshakeResult Read(HandshakeState& hs, const Bytes& msg, Bytes* payload) {
  payload->assign(msg.size(), 0);
  const HandshakeResult r = hs.ReadMessage(msg, *payload);
  payload->resize(r.ok() ? r.size : 0);
  return r;
}

TEST(NoiseIK, RoundTripWithFreshKeys) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  HandshakeState resp = Responder(k.connector);
  EXPECT_EQ(init.phase(), HandshakeState::Phase::kWriteMessage);
  EXPECT_EQ(resp.phase(), HandshakeState::Phase::kReadMessage);

  const Bytes m1 = Write(init, Str("device hello"));
  EXPECT_EQ(m1.size(), 32 + 48 + 12 + 16u);
  Bytes p;
  ASSERT_TRUE(Read(resp, m1, &p).ok());
  EXPECT_EQ(p, Str("device hello"));
  ASSERT_TRUE(resp.remote_static().has_value());
  EXPECT_TRUE(*resp.remote_static() == k.device.public_key);

  const Bytes m2 = Write(resp, Str("connector hello"));
  EXPECT_EQ(m2.size(), 32 + 15 + 16u);
  ASSERT_TRUE(Read(init, m2, &p).ok());
  EXPECT_EQ(p, Str("connector hello"));

  ASSERT_TRUE(init.IsComplete());
  ASSERT_TRUE(resp.IsComplete());
  EXPECT_TRUE(init.GetHandshakeHash() == resp.GetHandshakeHash());
  auto ik = init.Split();
  auto rk = resp.Split();
  ASSERT_TRUE(ik.ok() && rk.ok());
  EXPECT_TRUE(ik->send == rk->recv);
  EXPECT_TRUE(ik->recv == rk->send);
  EXPECT_FALSE(ik->send == ik->recv);
}

TEST(NoiseIK, EphemeralKeysAreFreshPerHandshake) {
  Keys k;
  HandshakeState a = Initiator(k, k.connector.public_key);
  HandshakeState b = Initiator(k, k.connector.public_key);
  EXPECT_NE(Write(a, {}), Write(b, {}));
}

TEST(NoiseIK, EveryTamperedByteOfMessage1IsRejected) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  const Bytes m1 = Write(init, Str("payload"));
  for (size_t i = 0; i < m1.size(); ++i) {
    Bytes bad = m1;
    bad[i] ^= 0x01;
    HandshakeState resp = Responder(k.connector);
    Bytes p;
    const HandshakeResult r = Read(resp, bad, &p);
    EXPECT_FALSE(r.ok()) << "byte " << i;
    EXPECT_TRUE(r.status == HandshakeStatus::kDecryptFailed || r.status == HandshakeStatus::kBadPublicKey)
        << "byte " << i << ": " << HandshakeStatusName(r.status);
    EXPECT_EQ(resp.phase(), HandshakeState::Phase::kFailed);
    EXPECT_FALSE(resp.remote_static().has_value()) << "byte " << i << ": nothing from a failed read is exposed";
  }
}

TEST(NoiseIK, TamperedMessage2IsRejected) {
  Keys k;
  HandshakeState resp = Responder(k.connector);
  HandshakeState init = Initiator(k, k.connector.public_key);
  Bytes p;
  ASSERT_TRUE(Read(resp, Write(init, {}), &p).ok());
  Bytes m2 = Write(resp, Str("x"));
  m2[40] ^= 0x80;
  EXPECT_EQ(Read(init, m2, &p).status, HandshakeStatus::kDecryptFailed);
  EXPECT_EQ(init.phase(), HandshakeState::Phase::kFailed);
  EXPECT_FALSE(init.Split().ok());
}

TEST(NoiseIK, WrongResponderStaticKeyFails) {
  Keys k;
  const X25519KeyPair impostor = X25519KeyPair::Generate();
  // The device believes the connector's key is `impostor`; the real connector cannot read message 1.
  HandshakeState init = Initiator(k, impostor.public_key);
  HandshakeState resp = Responder(k.connector);
  Bytes p;
  EXPECT_EQ(Read(resp, Write(init, Str("secret")), &p).status, HandshakeStatus::kDecryptFailed);
  EXPECT_FALSE(resp.remote_static().has_value());
}

TEST(NoiseIK, PrologueMismatchFails) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  HandshakeOptions o;
  o.pattern = NoisePattern::kIK;
  o.role = NoiseRole::kResponder;
  const Bytes other = Str("strait e2e v2");
  o.prologue = other;
  o.local_static = k.connector;
  auto resp = HandshakeState::Create(std::move(o));
  ASSERT_TRUE(resp.ok());
  Bytes p;
  EXPECT_EQ(Read(*resp, Write(init, {}), &p).status, HandshakeStatus::kDecryptFailed);
}

TEST(NoiseIK, LowOrderEphemeralIsRejectedByName) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  Bytes m1 = Write(init, {});
  std::fill(m1.begin(), m1.begin() + 32, uint8_t{0});  // e = 0, a low-order point
  HandshakeState resp = Responder(k.connector);
  Bytes p;
  EXPECT_EQ(Read(resp, m1, &p).status, HandshakeStatus::kBadPublicKey);
}

TEST(NoiseIK, TruncatedAndEmptyMessagesAreMalformed) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  const Bytes m1 = Write(init, {});
  for (size_t len : {size_t{0}, size_t{1}, size_t{31}, size_t{32}, m1.size() - 1}) {
    HandshakeState resp = Responder(k.connector);
    Bytes p;
    EXPECT_EQ(Read(resp, Bytes(m1.begin(), m1.begin() + static_cast<long>(len)), &p).status,
              HandshakeStatus::kMalformed) << "length " << len;
    EXPECT_EQ(resp.phase(), HandshakeState::Phase::kFailed);
  }
}

TEST(NoiseIK, RejectsMessagesAboveTheNoiseMaximum) {
  Keys k;
  HandshakeState resp = Responder(k.connector);
  Bytes huge(kNoiseMaxMessageLen + 1), p(huge.size());
  EXPECT_EQ(resp.ReadMessage(huge, p).status, HandshakeStatus::kMessageTooLarge);

  HandshakeState init = Initiator(k, k.connector.public_key);
  const Bytes payload(kNoiseMaxMessageLen - 96 + 1);  // one byte over with 96 bytes of tokens and tags
  Bytes out(2 * kNoiseMaxMessageLen);
  EXPECT_EQ(init.WriteMessage(payload, out).status, HandshakeStatus::kMessageTooLarge);
  EXPECT_EQ(init.phase(), HandshakeState::Phase::kWriteMessage) << "a refused write changes nothing";
  const Bytes fits(kNoiseMaxMessageLen - 96);
  EXPECT_TRUE(init.WriteMessage(fits, out).ok());
}

TEST(NoiseIK, SmallBuffersAreRefusedWithoutSideEffects) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  Bytes small(50);
  EXPECT_EQ(init.WriteMessage({}, small).status, HandshakeStatus::kBufferTooSmall);
  EXPECT_EQ(init.phase(), HandshakeState::Phase::kWriteMessage);
  const Bytes m1 = Write(init, Str("twelve bytes"));

  HandshakeState resp = Responder(k.connector);
  Bytes tiny(3);
  EXPECT_EQ(resp.ReadMessage(m1, tiny).status, HandshakeStatus::kBufferTooSmall);
  EXPECT_EQ(resp.phase(), HandshakeState::Phase::kReadMessage);
  Bytes p;
  EXPECT_TRUE(Read(resp, m1, &p).ok());
}

TEST(NoiseIK, OutOfTurnCallsAreRefusedAndHarmless) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  HandshakeState resp = Responder(k.connector);
  Bytes out(256), p;
  EXPECT_EQ(resp.WriteMessage({}, out).status, HandshakeStatus::kWrongPhase);
  EXPECT_EQ(init.ReadMessage(out, out).status, HandshakeStatus::kWrongPhase);
  const Bytes m1 = Write(init, {});
  EXPECT_EQ(init.WriteMessage({}, out).status, HandshakeStatus::kWrongPhase);
  ASSERT_TRUE(Read(resp, m1, &p).ok());
  ASSERT_TRUE(Read(init, Write(resp, {}), &p).ok());
  EXPECT_EQ(init.WriteMessage({}, out).status, HandshakeStatus::kWrongPhase);
  EXPECT_EQ(resp.ReadMessage(m1, out).status, HandshakeStatus::kWrongPhase) << "replayed message 1 after completion";
}

TEST(NoiseIK, FailedHandshakeStaysFailed) {
  Keys k;
  HandshakeState resp = Responder(k.connector);
  Bytes p;
  EXPECT_FALSE(Read(resp, Bytes(10), &p).ok());
  HandshakeState init = Initiator(k, k.connector.public_key);
  EXPECT_EQ(Read(resp, Write(init, {}), &p).status, HandshakeStatus::kWrongPhase);
}

TEST(NoiseIK, SplitOnlyOnceAndOnlyWhenComplete) {
  Keys k;
  HandshakeState init = Initiator(k, k.connector.public_key);
  auto early = init.Split();
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, HandshakeSetupError::kNotComplete);
  HandshakeState resp = Responder(k.connector);
  Bytes p;
  ASSERT_TRUE(Read(resp, Write(init, {}), &p).ok());
  ASSERT_TRUE(Read(init, Write(resp, {}), &p).ok());
  ASSERT_TRUE(init.Split().ok());
  auto again = init.Split();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, HandshakeSetupError::kAlreadySplit);
}

TEST(HandshakeSetup, RejectsMissingAndUnexpectedKeys) {
  Keys k;
  struct Case {
    const char* name;
    NoisePattern pattern;
    NoiseRole role;
    bool s, rs, psk;
    std::optional<HandshakeSetupError> want;
  };
  const Case cases[] = {
      {"IK initiator ok", NoisePattern::kIK, NoiseRole::kInitiator, true, true, false, std::nullopt},
      {"IK initiator without rs", NoisePattern::kIK, NoiseRole::kInitiator, true, false, false, HandshakeSetupError::kMissingKey},
      {"IK initiator without s", NoisePattern::kIK, NoiseRole::kInitiator, false, true, false, HandshakeSetupError::kMissingKey},
      {"IK responder with rs", NoisePattern::kIK, NoiseRole::kResponder, true, true, false, HandshakeSetupError::kUnexpectedKey},
      {"IK with psk", NoisePattern::kIK, NoiseRole::kResponder, true, false, true, HandshakeSetupError::kUnexpectedKey},
      {"IKpsk2 without psk", NoisePattern::kIKpsk2, NoiseRole::kResponder, true, false, false, HandshakeSetupError::kMissingKey},
      {"NK initiator with s", NoisePattern::kNK, NoiseRole::kInitiator, true, true, false, HandshakeSetupError::kUnexpectedKey},
      {"NK initiator ok", NoisePattern::kNK, NoiseRole::kInitiator, false, true, false, std::nullopt},
      {"XX initiator with rs", NoisePattern::kXX, NoiseRole::kInitiator, true, true, false, HandshakeSetupError::kUnexpectedKey},
      {"XX responder ok", NoisePattern::kXX, NoiseRole::kResponder, true, false, false, std::nullopt},
  };
  for (const Case& c : cases) {
    HandshakeOptions o;
    o.pattern = c.pattern;
    o.role = c.role;
    if (c.s) o.local_static = k.device;
    if (c.rs) o.remote_static = k.connector.public_key;
    if (c.psk) o.psk = SymmetricKey::Random();
    auto hs = HandshakeState::Create(std::move(o));
    if (!c.want) {
      EXPECT_TRUE(hs.ok()) << c.name;
    } else {
      ASSERT_FALSE(hs.ok()) << c.name;
      EXPECT_EQ(hs.error().code, *c.want) << c.name;
      EXPECT_FALSE(hs.error().reason.empty()) << c.name;
    }
  }
}

TEST(NoiseXX, RoundTripWithFreshKeysLearnsBothStatics) {
  Keys k;
  HandshakeOptions io, ro;
  io.pattern = ro.pattern = NoisePattern::kXX;
  io.role = NoiseRole::kInitiator;
  ro.role = NoiseRole::kResponder;
  io.local_static = k.device;
  ro.local_static = k.connector;
  auto init = HandshakeState::Create(std::move(io));
  auto resp = HandshakeState::Create(std::move(ro));
  ASSERT_TRUE(init.ok() && resp.ok());
  Bytes p;
  ASSERT_TRUE(Read(*resp, Write(*init, {}), &p).ok());
  ASSERT_TRUE(Read(*init, Write(*resp, {}), &p).ok());
  ASSERT_TRUE(Read(*resp, Write(*init, Str("last")), &p).ok());
  EXPECT_EQ(p, Str("last"));
  EXPECT_TRUE(*init->remote_static() == k.connector.public_key);
  EXPECT_TRUE(*resp->remote_static() == k.device.public_key);
  EXPECT_TRUE(init->GetHandshakeHash() == resp->GetHandshakeHash());
}

TEST(NoiseProtocolName, RoundTripsForEveryPattern) {
  for (NoisePattern p : {NoisePattern::kNK, NoisePattern::kIK, NoisePattern::kXX, NoisePattern::kIKpsk2}) {
    EXPECT_EQ(NoisePatternFromName(NoiseProtocolName(p)), p);
  }
  EXPECT_FALSE(NoisePatternFromName("Noise_IK_25519_AESGCM_SHA256").has_value());
}

}  // namespace
}  // namespace strait::crypto
