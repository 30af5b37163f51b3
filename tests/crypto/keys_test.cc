#include "crypto/keys.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace strait::crypto {
namespace {

TEST(Keys, X25519FromSecretMatchesGenerate) {
  const X25519KeyPair kp = X25519KeyPair::Generate();
  const X25519KeyPair again = X25519KeyPair::FromSecret(kp.secret);
  EXPECT_EQ(kp.public_key, again.public_key);
  EXPECT_FALSE(kp.public_key.IsZero());
}

TEST(Keys, SecretComparesByValue) {
  const SymmetricKey a = SymmetricKey::Random();
  SymmetricKey b = a;
  EXPECT_TRUE(a == b);
  b.mutable_bytes()[31] ^= 1;
  EXPECT_FALSE(a == b);
}

TEST(Keys, MovedFromSecretIsZeroed) {
  SymmetricKey a = SymmetricKey::Random();
  SymmetricKey b = std::move(a);
  const std::array<uint8_t, 32> zero{};
  EXPECT_TRUE(ConstantTimeEqual(a.bytes(), zero));  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_FALSE(ConstantTimeEqual(b.bytes(), zero));
}

TEST(Keys, FormattingNeverShowsSecretBytes) {
  SymmetricKey k;
  for (size_t i = 0; i < 32; ++i) k.mutable_bytes()[i] = static_cast<uint8_t>(0xa0 + i % 16);
  const std::string s = fmt::format("{}", k);
  EXPECT_EQ(s.rfind("<secret fp=", 0), 0u) << s;
  EXPECT_EQ(s.find("a0a1a2"), std::string::npos) << s;
  EXPECT_EQ(s.size(), std::string("<secret fp=12345678>").size());
}

TEST(Keys, PublicKeyFormatsAsTaggedFingerprint) {
  const X25519KeyPair kp = X25519KeyPair::Generate();
  const std::string s = fmt::format("{}", kp.public_key);
  EXPECT_EQ(s, "x25519:" + kp.public_key.fingerprint());
}

TEST(Keys, Ed25519SignVerifyAndRejectTamper) {
  const Ed25519KeyPair kp = Ed25519KeyPair::Generate();
  const uint8_t msg[] = {1, 2, 3, 4};
  Ed25519Signature sig = kp.Sign(msg);
  EXPECT_TRUE(Ed25519Verify(kp.public_key, msg, sig));
  sig.mutable_bytes()[0] ^= 0x80;
  EXPECT_FALSE(Ed25519Verify(kp.public_key, msg, sig));
}

TEST(Keys, Ed25519FromSeedIsDeterministic) {
  const Ed25519KeyPair kp = Ed25519KeyPair::Generate();
  EXPECT_EQ(Ed25519KeyPair::FromSeed(kp.seed).public_key, kp.public_key);
}

TEST(Keys, FromSpanRejectsWrongLength) {
  X25519PublicKey k;
  const uint8_t short_key[31] = {};
  EXPECT_FALSE(X25519PublicKey::FromSpan(short_key, &k));
}

}  // namespace
}  // namespace strait::crypto
