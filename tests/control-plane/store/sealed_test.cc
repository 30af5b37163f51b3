// Sealed secrets and API key hashes (docs/control-plane.md §5.3, §3): what opens, and everything that must not.
#include "control-plane/store/sealed.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strait::control::store {
namespace {

const std::string kKeyText = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

std::vector<uint8_t> Seed() {
  std::vector<uint8_t> seed(32);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(0xa0 + i);
  return seed;
}

MasterKey Key(const std::string& text = kKeyText) {
  auto key = MasterKey::FromText(text);
  EXPECT_TRUE(key.ok());
  return std::move(*key);
}

TEST(MasterKey, ParsesTheKeyFileTextWithOrWithoutItsNewline) {
  EXPECT_TRUE(MasterKey::FromText(kKeyText).ok());
  EXPECT_TRUE(MasterKey::FromText(kKeyText.substr(0, 64)).ok());
  const std::string text = std::string(reinterpret_cast<const char*>(Key().ToText().data()), 65);
  EXPECT_EQ(text, kKeyText);
}

TEST(MasterKey, RefusesAnythingButSixtyFourLowercaseHexDigits) {
  const std::vector<std::string> bad = {
      "",
      kKeyText.substr(0, 63),                                                // short
      kKeyText.substr(0, 64) + "0",                                          // long
      "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f",    // upper case
      "000102030405060708090g0b0c0d0e0f101112131415161718191a1b1c1d1e1f",    // not hex
      kKeyText.substr(0, 64) + "\n\n",                                       // two newlines
      " " + kKeyText.substr(0, 64),                                          // leading space
  };
  for (const auto& text : bad) {
    auto key = MasterKey::FromText(text);
    ASSERT_FALSE(key.ok()) << text;
    EXPECT_EQ(key.error(), SealError::kBadKeyText);
  }
}

TEST(MasterKey, SubkeysDifferByIdAndByMasterAndAreStable) {
  const MasterKey a = Key();
  const MasterKey generated = MasterKey::Generate();
  EXPECT_TRUE(a.Derive(Subkey::kTenantKeys).Equals(Key().Derive(Subkey::kTenantKeys).span()));
  EXPECT_FALSE(a.Derive(Subkey::kTenantKeys).Equals(a.Derive(Subkey::kApiKeyHash).span()));
  EXPECT_FALSE(a.Derive(Subkey::kActivationAndReplies).Equals(a.Derive(Subkey::kCursorMac).span()));
  EXPECT_FALSE(a.Derive(Subkey::kTenantKeys).Equals(generated.Derive(Subkey::kTenantKeys).span()));
  EXPECT_EQ(a.Derive(Subkey::kCursorMac).size(), kSubkeySize);
}

TEST(Sealer, SealsAndOpensATenantKey) {
  const Sealer sealer(Key());
  const auto seed = Seed();
  const auto sealed = sealer.Seal(SealContext::kTenantKey, "acme", seed);
  EXPECT_EQ(sealed[0], kSealVersion);
  EXPECT_EQ(sealed[1], kSealKeyId);
  EXPECT_EQ(sealed.size(), kSealOverhead + std::string("strait/tenant-key/1").size() + 1 + 4 + 1 + seed.size());
  auto opened = sealer.Open(SealContext::kTenantKey, "acme", sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->Equals(seed));
  // A fresh nonce each time: the same secret never seals to the same bytes.
  EXPECT_NE(sealer.Seal(SealContext::kTenantKey, "acme", seed), sealed);
}

TEST(Sealer, AKeyCopiedToAnotherTenantsRowDoesNotOpen) {
  const Sealer sealer(Key());
  const auto sealed = sealer.Seal(SealContext::kTenantKey, "acme", Seed());
  for (const char* other : {"globex", "acm", "acme2", ""}) {
    auto opened = sealer.Open(SealContext::kTenantKey, other, sealed);
    ASSERT_FALSE(opened.ok()) << other;
    EXPECT_EQ(opened.error(), SealError::kWrongOwner) << other;
  }
}

TEST(Sealer, AValueSealedForAnotherPurposeDoesNotOpen) {
  const Sealer sealer(Key());
  // Activation keys and replies share subkey 3; the context keeps them apart.
  const auto reply = sealer.Seal(SealContext::kIdempotentReply, IdempotentReplyOwner("k3m9x2p4q7ta", "k1"), Seed());
  auto as_activation = sealer.Open(SealContext::kActivationKey, IdempotentReplyOwner("k3m9x2p4q7ta", "k1"), reply);
  ASSERT_FALSE(as_activation.ok());
  EXPECT_EQ(as_activation.error(), SealError::kWrongContext);
  // A tenant key under subkey 1 does not even open under subkey 3.
  const auto tenant_key = sealer.Seal(SealContext::kTenantKey, "acme", Seed());
  auto as_reply = sealer.Open(SealContext::kIdempotentReply, "acme", tenant_key);
  ASSERT_FALSE(as_reply.ok());
  EXPECT_EQ(as_reply.error(), SealError::kForged);
  // A reply for another key of the same principal does not open either.
  auto other_key = sealer.Open(SealContext::kIdempotentReply, IdempotentReplyOwner("k3m9x2p4q7ta", "k2"), reply);
  ASSERT_FALSE(other_key.ok());
  EXPECT_EQ(other_key.error(), SealError::kWrongOwner);
}

TEST(Sealer, AnotherKeyFileDoesNotOpen) {
  const auto sealed = Sealer(Key()).Seal(SealContext::kTenantKey, "acme", Seed());
  auto opened = Sealer(MasterKey::Generate()).Open(SealContext::kTenantKey, "acme", sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), SealError::kForged);
}

TEST(Sealer, EveryTamperedByteIsRefused) {
  const Sealer sealer(Key());
  const auto sealed = sealer.Seal(SealContext::kActivationKey, "7K3M9X2P", Seed());
  for (size_t i = 0; i < sealed.size(); ++i) {
    auto copy = sealed;
    copy[i] ^= 0x01;
    auto opened = sealer.Open(SealContext::kActivationKey, "7K3M9X2P", copy);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    const SealError expected = i == 0 ? SealError::kWrongVersion : i == 1 ? SealError::kUnknownKey : SealError::kForged;
    EXPECT_EQ(opened.error(), expected) << "byte " << i;
  }
}

TEST(Sealer, TruncatedOrEmptyInputIsMalformed) {
  const Sealer sealer(Key());
  const auto sealed = sealer.Seal(SealContext::kTenantKey, "acme", Seed());
  for (size_t n : {size_t{0}, size_t{1}, kSealOverhead - 1}) {
    auto opened = sealer.Open(SealContext::kTenantKey, "acme", std::span(sealed).first(n));
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error(), SealError::kMalformed);
  }
  // Longer than the overhead but cut short: the MAC fails.
  auto cut = sealer.Open(SealContext::kTenantKey, "acme", std::span(sealed).first(sealed.size() - 1));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error(), SealError::kForged);
}

TEST(ApiKeyHasher, MatchesOnlyTheRightSecretUnderTheRightKey) {
  const MasterKey key = Key();
  const ApiKeyHasher hasher(key);
  const std::string secret = "7hqabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopq";
  const auto stored = hasher.Hash(secret);
  ASSERT_EQ(stored.size(), kApiKeyHashSize);
  EXPECT_TRUE(hasher.Matches(secret, stored));
  EXPECT_FALSE(hasher.Matches(secret + "a", stored));
  EXPECT_FALSE(hasher.Matches(secret.substr(1), stored));
  EXPECT_FALSE(hasher.Matches(secret, std::span(stored).first(31)));
  EXPECT_FALSE(ApiKeyHasher(MasterKey::Generate()).Matches(secret, stored));
  // Keyed: not the plain BLAKE2b of the secret, and stable for one key.
  EXPECT_EQ(ApiKeyHasher(Key()).Hash(secret), stored);
}

TEST(SecretBytes, MovesLeaveNothingBehindAndCompareByValue) {
  const uint8_t raw[4] = {1, 2, 3, 4};
  SecretBytes a(raw, 4);
  SecretBytes b = std::move(a);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_TRUE(b.Equals(std::span<const uint8_t>(raw, 4)));
  EXPECT_FALSE(b.Equals(std::span<const uint8_t>(raw, 3)));
  const uint8_t other[4] = {1, 2, 3, 5};
  EXPECT_FALSE(b.Equals(std::span<const uint8_t>(other, 4)));
}

}  // namespace
}  // namespace strait::control::store
