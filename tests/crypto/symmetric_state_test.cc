// CipherState / SymmetricState (Noise rev 34 sections 4.3, 5.1, 5.2). Known answers for HMAC-BLAKE2b, HKDF
// and the AEAD were produced with Python's hmac/hashlib.blake2b and the `cryptography` package (OpenSSL), i.e.
// independently of libsodium.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/symmetric_state.h"
#include "tests/testing/hex.h"

namespace strait::crypto {
namespace {

using Bytes = std::vector<uint8_t>;

using testing::Hex;
Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes Range(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i);
  return b;
}
template <class S>
Bytes Of(const S& s) { return Bytes(s.begin(), s.end()); }

SymmetricKey KeyOf(uint8_t fill) {
  SymmetricKey k;
  for (auto& b : k.mutable_bytes()) b = fill;
  return k;
}

TEST(NoiseHmac, MatchesRfc2104WithBlake2b) {
  std::array<uint8_t, kNoiseHashLen> out;
  NoiseHmac(Range(64), Str("Strait HMAC-"), Str("BLAKE2b"), out);  // data split across the two parts
  EXPECT_EQ(Of(out), Hex("68d80f77636aebd3f84a995b00206d0cb6fa5c2a2dd69d03d68267ad7f19850a34ae89fdeb2045be2b40f5db69f3fd1fa8c8bf54ee8556f33e2e8122d69d42c0"));
}

TEST(NoiseHmac, HashesKeysLongerThanTheBlock) {
  std::array<uint8_t, kNoiseHashLen> out;
  NoiseHmac(Range(200), Str("Strait HMAC-BLAKE2b"), {}, out);
  EXPECT_EQ(Of(out), Hex("bd245c62e5a38cae9ae2817f40992e4a45ffdc4dc9aa58956ff341dd7263105b1dfd8f0f96ed457367d24d603004414fd1ffa3cec85381d43d50164fb8c3b55e"));
}

TEST(NoiseHkdf, ThreeOutputsMatchKnownAnswer) {
  const Bytes ck(64, 0xa5);
  HkdfOutput o1, o2, o3;
  NoiseHkdf(std::span<const uint8_t, 64>(ck.data(), 64), Str("input key material"), &o1, &o2, &o3);
  EXPECT_EQ(Of(o1.bytes()), Hex("816fb22045aea0b9683d1f0d4f25887a22cf7e2958ddc966f9623df874343f9bf4a20c018c7662f7da3d84cf362ef90a2d29cdca5526b883b46e8056e00010c4"));
  EXPECT_EQ(Of(o2.bytes()), Hex("7a4b3414952f13d703fdc2b5cba843a8a46609076e4d1bf666da64875ec38934ae5ca3298e6d5362077a680dc0d7137902e50953b48f6f4c6d76ff0a5a40603e"));
  EXPECT_EQ(Of(o3.bytes()), Hex("fc15b7e4037b03665b57dae925f6928928474f0eab54dc07e46efdb2f5aceaa4e249012fffcc11aab41ab87ce307e668e77b388ac9463f1a9987ba18e6b42b1a"));
  HkdfOutput t1, t2;
  NoiseHkdf(std::span<const uint8_t, 64>(ck.data(), 64), Str("input key material"), &t1, &t2, nullptr);
  EXPECT_TRUE(t1 == o1);
  EXPECT_TRUE(t2 == o2);
}

TEST(SymmetricState, ShortProtocolNameIsZeroPadded) {
  SymmetricState ss("Noise_IK_25519_ChaChaPoly_BLAKE2b");
  EXPECT_EQ(Of(ss.GetHandshakeHash().bytes()),
            Hex("4e6f6973655f494b5f32353531395f436861436861506f6c795f424c414b45326200000000000000000000000000000000000000000000000000000000000000"));
  EXPECT_FALSE(ss.HasKey());
}

TEST(SymmetricState, LongProtocolNameIsHashed) {
  const std::string name(80, 'N');
  SymmetricState ss(name);
  std::array<uint8_t, kNoiseHashLen> expect;
  NoiseHash(Str(name), {}, expect);
  EXPECT_EQ(Of(ss.GetHandshakeHash().bytes()), Of(expect));
}

TEST(SymmetricState, EncryptAndHashPassesThroughWithoutKey) {
  SymmetricState a("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  const Bytes pt = Str("hello");
  Bytes ct(pt.size());
  ASSERT_EQ(a.EncryptAndHash(pt, ct), CipherStatus::kOk);
  EXPECT_EQ(ct, pt);
}

TEST(SymmetricState, TwoSidesInLockStepAgreeOnHashAndKeys) {
  SymmetricState a("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  SymmetricState b("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  for (SymmetricState* s : {&a, &b}) {
    s->MixHash(Str("prologue"));
    s->MixKey(Str("dh output"));
    s->MixKeyAndHash(Str("psk"));
  }
  EXPECT_TRUE(a.GetHandshakeHash() == b.GetHandshakeHash());
  const Bytes pt = Str("payload");
  Bytes ct(pt.size() + a.overhead());
  ASSERT_EQ(a.EncryptAndHash(pt, ct), CipherStatus::kOk);
  Bytes back(pt.size());
  ASSERT_EQ(b.DecryptAndHash(ct, back), CipherStatus::kOk);
  EXPECT_EQ(back, pt);
  EXPECT_TRUE(a.GetHandshakeHash() == b.GetHandshakeHash());
  auto [a1, a2] = a.Split();
  auto [b1, b2] = b.Split();
  EXPECT_TRUE(a1 == b1);
  EXPECT_TRUE(a2 == b2);
  EXPECT_FALSE(a1 == a2);
}

TEST(SymmetricState, DecryptAndHashRejectsTamperingAndWrongLength) {
  SymmetricState a("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  SymmetricState b("Noise_NN_25519_ChaChaPoly_BLAKE2b");
  a.MixKey(Str("k"));
  b.MixKey(Str("k"));
  const Bytes pt = Str("payload");
  Bytes ct(pt.size() + kNoiseTagLen);
  ASSERT_EQ(a.EncryptAndHash(pt, ct), CipherStatus::kOk);
  Bytes out(pt.size());
  Bytes short_ct(ct.begin(), ct.begin() + 10);
  EXPECT_EQ(b.DecryptAndHash(short_ct, out), CipherStatus::kBadLength);
  ct[0] ^= 1;
  EXPECT_EQ(b.DecryptAndHash(ct, out), CipherStatus::kAuthFailed);
}

TEST(CipherState, MatchesChaChaPolyKnownAnswerWithNoiseNonce) {
  SymmetricKey k;
  ASSERT_TRUE(SymmetricKey::FromSpan(Range(32), &k));
  CipherState c(k);
  c.SetNonce(0x0102030405060708);
  const Bytes pt = Str("Noise nonce encoding: 32 zero bits then LE64(n).");
  const Bytes ad = {0x07};
  Bytes ct(pt.size() + kNoiseTagLen);
  ASSERT_EQ(c.EncryptWithAd(ad, pt, ct), CipherStatus::kOk);
  EXPECT_EQ(ct, Hex("be26c497ce1984770ac84fec161602d7846f9ca3b26476ac774fc22f8622c5b42d0f20c9ba5767d95c7150c4ea0ec948d363ee7ebc560dbde22afa1b82752295"));
  EXPECT_EQ(c.nonce(), 0x0102030405060709u);
}

TEST(CipherState, FailedDecryptDoesNotAdvanceNonce) {
  CipherState tx(KeyOf(1)), rx(KeyOf(1));
  const Bytes pt = Str("x");
  Bytes ct(pt.size() + kNoiseTagLen);
  ASSERT_EQ(tx.EncryptWithAd({}, pt, ct), CipherStatus::kOk);
  Bytes out(pt.size());
  Bytes bad = ct;
  bad.back() ^= 0x80;
  EXPECT_EQ(rx.DecryptWithAd({}, bad, out), CipherStatus::kAuthFailed);
  EXPECT_EQ(rx.nonce(), 0u);
  EXPECT_EQ(rx.DecryptWithAd({}, ct, out), CipherStatus::kOk);
  EXPECT_EQ(rx.nonce(), 1u);
}

TEST(CipherState, InPlaceEncryptAndDecrypt) {
  CipherState tx(KeyOf(2)), rx(KeyOf(2));
  Bytes buf = Str("in place please");
  const Bytes pt = buf;
  buf.resize(pt.size() + kNoiseTagLen);
  ASSERT_EQ(tx.EncryptWithAd({}, std::span(buf).first(pt.size()), buf), CipherStatus::kOk);
  EXPECT_NE(Bytes(buf.begin(), buf.begin() + static_cast<long>(pt.size())), pt);
  ASSERT_EQ(rx.DecryptWithAd({}, buf, std::span(buf).first(pt.size())), CipherStatus::kOk);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + static_cast<long>(pt.size())), pt);
}

TEST(CipherState, RefusesTheReservedMaximumNonce) {
  CipherState c(KeyOf(3));
  c.SetNonce(kNoiseMaxNonce - 1);
  Bytes ct(kNoiseTagLen);
  EXPECT_EQ(c.EncryptWithAd({}, {}, ct), CipherStatus::kOk);
  EXPECT_EQ(c.EncryptWithAd({}, {}, ct), CipherStatus::kNonceExhausted);
  Bytes out;
  EXPECT_EQ(c.DecryptWithAd({}, ct, out), CipherStatus::kNonceExhausted);
}

TEST(CipherState, RekeyChangesTheKeyOnBothSidesAlike) {
  CipherState a(KeyOf(4)), b(KeyOf(4)), stale(KeyOf(4));
  a.Rekey();
  b.Rekey();
  const Bytes pt = Str("after rekey");
  Bytes ct(pt.size() + kNoiseTagLen), out(pt.size());
  ASSERT_EQ(a.EncryptWithAd({}, pt, ct), CipherStatus::kOk);
  EXPECT_EQ(stale.DecryptWithAd({}, ct, out), CipherStatus::kAuthFailed);
  ASSERT_EQ(b.DecryptWithAd({}, ct, out), CipherStatus::kOk);
  EXPECT_EQ(out, pt);
}

TEST(CipherState, RejectsWrongOutputSize) {
  CipherState c(KeyOf(5));
  const Bytes pt = Str("abc");
  Bytes ct(pt.size());  // no room for the tag
  EXPECT_EQ(c.EncryptWithAd({}, pt, ct), CipherStatus::kBadLength);
  EXPECT_EQ(c.nonce(), 0u);
}

}  // namespace
}  // namespace strait::crypto
