// ChaCha20-Poly1305 known answers from RFC 8439 ("ChaCha20 and Poly1305 for IETF Protocols"), for the AEAD every
// Strait seal goes through (crypto/aead.h, over BoringSSL's EVP_aead_chacha20_poly1305), and the sealed-message
// layout of docs/protocol.md §7 / crypto/transport.h built from the same vector.
//
//   §2.8.2  the AEAD example ("Ladies and Gentlemen of the class of '99 ..."). Its nonce, 07 00 00 00 || IV, is not
//           a Noise nonce (those start with four zero bytes), so ChaChaPoly cannot express it: it is checked against
//           the backend call ChaChaPoly makes, with the same key size and tag length.
//   A.5     the AEAD decryption example. Its nonce, 00 00 00 00 || 01 02 .. 08, is the Noise encoding of the counter
//           0x0807060504030201, so it runs through ChaChaPoly, CipherState and TransportSession themselves.
#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "crypto/symmetric_state.h"
#include "crypto/transport.h"
#include "tests/testing/hex.h"

namespace strait::crypto {
namespace {

using testing::Ascii;
using testing::Cat;
using testing::Hex;
using testing::Wire;

SymmetricKey Key(const Wire& b) {
  SymmetricKey k;
  EXPECT_TRUE(SymmetricKey::FromSpan(b, &k));
  return k;
}

// ---- RFC 8439 §2.8.2 ----
const Wire kKey282 = Hex(
    "80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f "
    "90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f");
const Wire kNonce282 = Hex("07 00 00 00 40 41 42 43 44 45 46 47");  // constant 07 00 00 00 || IV
const Wire kAad282 = Hex("50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7");
const Wire kPlain282 = Ascii(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would "
    "be it.");
const Wire kCipher282 = Hex(
    "d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 "
    "a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6 "
    "3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b "
    "1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36 "
    "92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 "
    "fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc "
    "3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b "
    "61 16");
const Wire kTag282 = Hex("1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91");

// ---- RFC 8439 A.5 ----
const Wire kKeyA5 = Hex(
    "1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 "
    "47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0");
const Wire kNonceA5 = Hex("00 00 00 00 01 02 03 04 05 06 07 08");
constexpr uint64_t kCounterA5 = 0x0807060504030201;  // the nonce's last 8 bytes, little-endian (Noise §5.1)
const Wire kAadA5 = Hex("f3 33 88 86 00 00 00 00 00 00 4e 91");
const Wire kCipherA5 = Hex(
    "64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd "
    "5e 80 5c fd 34 5c f3 89 f1 08 67 0a c7 6c 8c b2 "
    "4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 "
    "bd b7 b7 3c 32 1b 01 00 d4 f0 3b 7f 35 58 94 cf "
    "33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b 94 81 "
    "14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55 "
    "97 97 a0 6e f4 f0 ef 61 c1 86 32 4e 2b 35 06 38 "
    "36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4 "
    "b9 16 6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 "
    "90 40 c5 a4 04 33 22 5e e2 82 a1 b0 a0 6c 52 3e "
    "af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a "
    "0d 07 2b 04 b3 56 4e ea 1b 42 22 73 f5 48 27 1a "
    "0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e "
    "ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10 "
    "49 e6 17 d9 1d 36 10 94 fa 68 f0 ff 77 98 71 30 "
    "30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29 "
    "a6 ad 5c b4 02 2b 02 70 9b");
const Wire kTagA5 = Hex("ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38");
// "Internet-Drafts are draft documents valid for a maximum of six months ..." (265 bytes, UTF-8 quotes).
const Wire kPlainA5 = Hex(
    "49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 "
    "61 72 65 20 64 72 61 66 74 20 64 6f 63 75 6d 65 "
    "6e 74 73 20 76 61 6c 69 64 20 66 6f 72 20 61 20 "
    "6d 61 78 69 6d 75 6d 20 6f 66 20 73 69 78 20 6d "
    "6f 6e 74 68 73 20 61 6e 64 20 6d 61 79 20 62 65 "
    "20 75 70 64 61 74 65 64 2c 20 72 65 70 6c 61 63 "
    "65 64 2c 20 6f 72 20 6f 62 73 6f 6c 65 74 65 64 "
    "20 62 79 20 6f 74 68 65 72 20 64 6f 63 75 6d 65 "
    "6e 74 73 20 61 74 20 61 6e 79 20 74 69 6d 65 2e "
    "20 49 74 20 69 73 20 69 6e 61 70 70 72 6f 70 72 "
    "69 61 74 65 20 74 6f 20 75 73 65 20 49 6e 74 65 "
    "72 6e 65 74 2d 44 72 61 66 74 73 20 61 73 20 72 "
    "65 66 65 72 65 6e 63 65 20 6d 61 74 65 72 69 61 "
    "6c 20 6f 72 20 74 6f 20 63 69 74 65 20 74 68 65 "
    "6d 20 6f 74 68 65 72 20 74 68 61 6e 20 61 73 20 "
    "2f e2 80 9c 77 6f 72 6b 20 69 6e 20 70 72 6f 67 "
    "72 65 73 73 2e 2f e2 80 9d");

TEST(Rfc8439, Section2_8_2ThroughTheBackendChaChaPolyUses) {
  ASSERT_EQ(kPlain282.size(), 114u);
  EVP_AEAD_CTX ctx;
  ASSERT_EQ(EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), kKey282.data(), kKey282.size(), kAeadTagSize,
                              nullptr),
            1);
  Wire out(kPlain282.size() + kAeadTagSize);
  size_t n = 0;
  ASSERT_EQ(EVP_AEAD_CTX_seal(&ctx, out.data(), &n, out.size(), kNonce282.data(), kNonce282.size(), kPlain282.data(),
                              kPlain282.size(), kAad282.data(), kAad282.size()),
            1);
  EXPECT_EQ(out, Cat({kCipher282, kTag282}));
  Wire back(out.size());
  ASSERT_EQ(EVP_AEAD_CTX_open(&ctx, back.data(), &n, back.size(), kNonce282.data(), kNonce282.size(), out.data(),
                              out.size(), kAad282.data(), kAad282.size()),
            1);
  back.resize(n);
  EXPECT_EQ(back, kPlain282);
  EVP_AEAD_CTX_cleanup(&ctx);
}

TEST(Rfc8439, NoiseNonceOfTheA5CounterIsTheA5Nonce) {
  std::array<uint8_t, kAeadNonceSize> nonce{};
  EncodeNoiseNonce(kCounterA5, nonce);
  EXPECT_EQ(Wire(nonce.begin(), nonce.end()), kNonceA5);
}

TEST(Rfc8439, AppendixA5SealAndOpenThroughChaChaPoly) {
  ASSERT_EQ(kPlainA5.size(), 265u);
  ASSERT_EQ(kCipherA5.size(), 265u);
  const ChaChaPoly aead(Key(kKeyA5));
  Wire out(kPlainA5.size());
  std::array<uint8_t, kAeadTagSize> tag{};
  aead.Seal(kCounterA5, kAadA5, kPlainA5, out, tag);
  EXPECT_EQ(out, kCipherA5);
  EXPECT_EQ(Wire(tag.begin(), tag.end()), kTagA5);

  Wire plain(kCipherA5.size());
  ASSERT_TRUE(aead.Open(kCounterA5, kAadA5, kCipherA5, plain, std::span<const uint8_t, kAeadTagSize>(kTagA5)));
  EXPECT_EQ(plain, kPlainA5);
  // One flipped bit of tag, ciphertext or AAD, or another nonce: refused.
  Wire bad_tag = kTagA5;
  bad_tag[15] ^= 1;
  EXPECT_FALSE(aead.Open(kCounterA5, kAadA5, kCipherA5, plain, std::span<const uint8_t, kAeadTagSize>(bad_tag)));
  Wire bad_cipher = kCipherA5;
  bad_cipher[0] ^= 0x80;
  EXPECT_FALSE(aead.Open(kCounterA5, kAadA5, bad_cipher, plain, std::span<const uint8_t, kAeadTagSize>(kTagA5)));
  Wire bad_aad = kAadA5;
  bad_aad[11] ^= 1;
  EXPECT_FALSE(aead.Open(kCounterA5, bad_aad, kCipherA5, plain, std::span<const uint8_t, kAeadTagSize>(kTagA5)));
  EXPECT_FALSE(aead.Open(kCounterA5 + 1, kAadA5, kCipherA5, plain, std::span<const uint8_t, kAeadTagSize>(kTagA5)));
}

// Noise CipherState (handshake and plain Noise transport): ciphertext || tag, nonce n.
TEST(Rfc8439, AppendixA5ThroughNoiseCipherState) {
  CipherState cs(Key(kKeyA5));
  cs.SetNonce(kCounterA5);
  Wire out(kPlainA5.size() + kNoiseTagLen);
  ASSERT_EQ(cs.EncryptWithAd(kAadA5, kPlainA5, out), CipherStatus::kOk);
  EXPECT_EQ(out, Cat({kCipherA5, kTagA5}));
  EXPECT_EQ(cs.nonce(), kCounterA5 + 1);

  CipherState rx(Key(kKeyA5));
  rx.SetNonce(kCounterA5);
  Wire plain(kPlainA5.size());
  ASSERT_EQ(rx.DecryptWithAd(kAadA5, out, plain), CipherStatus::kOk);
  EXPECT_EQ(plain, kPlainA5);
}

// A sealed message (docs/protocol.md §7): counter u64 big-endian || ciphertext || tag, nonce = Noise encoding of
// the counter. With the A.5 key, counter and AAD, the whole message is known from the RFC alone.
TEST(Rfc8439, AppendixA5AsASealedMessage) {
  const Wire want = Cat({Hex("08 07 06 05 04 03 02 01"), kCipherA5, kTagA5});
  TransportSession sender(TransportKeys{Key(kKeyA5), Key(kKeyA5)});
  sender.SetSendCounterForTest(kCounterA5);
  Wire buffer(kTransportOverhead + kPlainA5.size());
  std::copy(kPlainA5.begin(), kPlainA5.end(), buffer.begin() + kTransportHeaderSize);
  const Sealed s = sender.Seal(kAadA5, buffer, kPlainA5.size());
  ASSERT_EQ(s.status, SealStatus::kOk) << SealStatusName(s.status);
  EXPECT_EQ(Wire(s.wire.begin(), s.wire.end()), want);

  TransportSession receiver(TransportKeys{Key(kKeyA5), Key(kKeyA5)});
  Wire message = want;
  const Opened o = receiver.Open(kAadA5, message);
  ASSERT_EQ(o.status, OpenStatus::kOk) << OpenStatusName(o.status);
  EXPECT_EQ(o.counter, kCounterA5);
  EXPECT_EQ(Wire(o.plaintext.begin(), o.plaintext.end()), kPlainA5);
}

}  // namespace
}  // namespace strait::crypto
