// Noise rev 34 sections 4.2-4.3 (crypto functions), 5.1 (CipherState) and 5.2 (SymmetricState).
// Every step carries the spec text it implements.
#include "crypto/symmetric_state.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace strait::crypto {

static_assert(crypto_generichash_BYTES_MAX == kNoiseHashLen, "BLAKE2b-512 is HASHLEN");
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == kNoiseTagLen);
static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == kNoiseKeyLen);

// ---- 4.3 Hash functions -------------------------------------------------------------------------------------

void NoiseHash(std::span<const uint8_t> a, std::span<const uint8_t> b, std::span<uint8_t, kNoiseHashLen> out) {
  // HASH(data): BLAKE2b with a 64-byte output, unkeyed.
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kNoiseHashLen);
  crypto_generichash_update(&st, a.data(), a.size());
  crypto_generichash_update(&st, b.data(), b.size());
  crypto_generichash_final(&st, out.data(), out.size());
}

void NoiseHmac(std::span<const uint8_t> key, std::span<const uint8_t> data1, std::span<const uint8_t> data2,
               std::span<uint8_t, kNoiseHashLen> out) {
  // HMAC-HASH(key, data): "Applies HMAC from [RFC 2104] using the HASH() function", BLOCKLEN = 128.
  // RFC 2104: K is zero-padded to B bytes (hashed first if longer than B).
  uint8_t k[kNoiseBlockLen] = {};
  if (key.size() > kNoiseBlockLen) {
    NoiseHash(key, {}, std::span<uint8_t, kNoiseHashLen>(k, kNoiseHashLen));
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[kNoiseBlockLen];
  uint8_t inner[kNoiseHashLen];
  crypto_generichash_state st;

  // H(K XOR ipad, text)
  for (size_t i = 0; i < kNoiseBlockLen; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
  crypto_generichash_init(&st, nullptr, 0, kNoiseHashLen);
  crypto_generichash_update(&st, pad, sizeof pad);
  crypto_generichash_update(&st, data1.data(), data1.size());
  crypto_generichash_update(&st, data2.data(), data2.size());
  crypto_generichash_final(&st, inner, sizeof inner);

  // H(K XOR opad, H(K XOR ipad, text))
  for (size_t i = 0; i < kNoiseBlockLen; ++i) pad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  crypto_generichash_init(&st, nullptr, 0, kNoiseHashLen);
  crypto_generichash_update(&st, pad, sizeof pad);
  crypto_generichash_update(&st, inner, sizeof inner);
  crypto_generichash_final(&st, out.data(), out.size());

  SecureZero(k);
  SecureZero(pad);
  SecureZero(inner);
  sodium_memzero(&st, sizeof st);
}

void NoiseHkdf(std::span<const uint8_t, kNoiseHashLen> chaining_key, std::span<const uint8_t> ikm,
               HkdfOutput* out1, HkdfOutput* out2, HkdfOutput* out3) {
  assert(out1 != nullptr && out2 != nullptr);
  // "Sets temp_key = HMAC-HASH(chaining_key, input_key_material)."
  HkdfOutput temp_key;
  NoiseHmac(chaining_key, ikm, {}, temp_key.mutable_bytes());
  // "Sets output1 = HMAC-HASH(temp_key, byte(0x01))."
  static constexpr uint8_t kOne[] = {0x01};
  static constexpr uint8_t kTwo[] = {0x02};
  static constexpr uint8_t kThree[] = {0x03};
  NoiseHmac(temp_key.bytes(), kOne, {}, out1->mutable_bytes());
  // "Sets output2 = HMAC-HASH(temp_key, output1 || byte(0x02))."
  NoiseHmac(temp_key.bytes(), out1->bytes(), kTwo, out2->mutable_bytes());
  // "If num_outputs == 3 sets output3 = HMAC-HASH(temp_key, output2 || byte(0x03))."
  if (out3 != nullptr) NoiseHmac(temp_key.bytes(), out2->bytes(), kThree, out3->mutable_bytes());
  // temp_key is wiped by its destructor.
}

namespace {

// "If HASHLEN is 64, then truncates temp_k to 32 bytes."
SymmetricKey TruncateToKey(const HkdfOutput& temp_k) {
  return SymmetricKey(temp_k.bytes().first<kNoiseKeyLen>());
}

}  // namespace

// ---- 5.1 CipherState ----------------------------------------------------------------------------------------

void CipherState::InitializeKey(const SymmetricKey& k) {
  // InitializeKey(key): "Sets k = key. Sets n = 0."
  cipher_.emplace(k);
  n_ = 0;
}

CipherStatus CipherState::EncryptWithAd(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                                        std::span<uint8_t> out) {
  if (out.size() != in.size() + overhead()) return CipherStatus::kBadLength;
  // "If k is non-empty returns ENCRYPT(k, n++, ad, plaintext). Otherwise returns plaintext."
  if (!cipher_) {
    if (!in.empty() && in.data() != out.data()) std::memmove(out.data(), in.data(), in.size());
    return CipherStatus::kOk;
  }
  if (n_ == kNoiseMaxNonce) return CipherStatus::kNonceExhausted;
  cipher_->Seal(n_, ad, in, out.first(in.size()), out.subspan(in.size()).first<kNoiseTagLen>());
  ++n_;
  return CipherStatus::kOk;
}

CipherStatus CipherState::DecryptWithAd(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                                        std::span<uint8_t> out) {
  if (in.size() < overhead() || out.size() != in.size() - overhead()) return CipherStatus::kBadLength;
  // "If k is non-empty returns DECRYPT(k, n++, ad, ciphertext). Otherwise returns ciphertext. If an
  // authentication failure occurs in DECRYPT() then n is not incremented and an error is signaled."
  if (!cipher_) {
    if (!in.empty() && in.data() != out.data()) std::memmove(out.data(), in.data(), in.size());
    return CipherStatus::kOk;
  }
  if (n_ == kNoiseMaxNonce) return CipherStatus::kNonceExhausted;
  const auto body = in.first(out.size());
  const auto tag = in.subspan(out.size()).first<kNoiseTagLen>();
  if (!cipher_->Open(n_, ad, body, out, tag)) return CipherStatus::kAuthFailed;
  ++n_;
  return CipherStatus::kOk;
}

void CipherState::Rekey() {
  // REKEY(k): "Returns a new 32-byte cipher key as a pseudorandom function of k ... defaults to returning the
  // first 32 bytes from ENCRYPT(k, maxnonce, zerolen, zeros), where zeros is a sequence of 32 bytes filled
  // with zeros."
  if (!cipher_) return;
  uint8_t block[kNoiseKeyLen] = {};
  uint8_t tag[kNoiseTagLen];
  cipher_->Seal(kNoiseMaxNonce, {}, block, block, tag);
  cipher_.emplace(SymmetricKey(std::span<const uint8_t, kNoiseKeyLen>(block)));
  SecureZero(block);
  SecureZero(tag);
}

// ---- 5.2 SymmetricState -------------------------------------------------------------------------------------

SymmetricState::SymmetricState(std::string_view protocol_name) {
  // InitializeSymmetric(protocol_name): "If protocol_name is less than or equal to HASHLEN bytes in length, sets
  // h equal to protocol_name with zero bytes appended to make HASHLEN bytes. Otherwise sets h =
  // HASH(protocol_name)."
  const auto name = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(protocol_name.data()),
                                             protocol_name.size());
  auto h = h_.mutable_bytes();
  if (name.size() <= kNoiseHashLen) {
    std::fill(h.begin(), h.end(), uint8_t{0});
    std::copy(name.begin(), name.end(), h.begin());
  } else {
    NoiseHash(name, {}, h);
  }
  // "Sets ck = h."
  auto ck = ck_.mutable_bytes();
  std::copy(h.begin(), h.end(), ck.begin());
  // "Calls InitializeKey(empty)." (cipher_ is default-constructed empty.)
}

void SymmetricState::MixKey(std::span<const uint8_t> input_key_material) {
  // MixKey(input_key_material): "Sets ck, temp_k = HKDF(ck, input_key_material, 2)."
  HkdfOutput new_ck;
  HkdfOutput temp_k;
  NoiseHkdf(ck_.bytes(), input_key_material, &new_ck, &temp_k, nullptr);
  ck_ = ChainingKey(new_ck.bytes());
  // "If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
  cipher_.InitializeKey(TruncateToKey(temp_k));
}

void SymmetricState::MixHash(std::span<const uint8_t> data) {
  // MixHash(data): "Sets h = HASH(h || data)."
  uint8_t next[kNoiseHashLen];
  NoiseHash(h_.bytes(), data, next);
  std::copy(std::begin(next), std::end(next), h_.mutable_bytes().begin());
}

void SymmetricState::MixKeyAndHash(std::span<const uint8_t> input_key_material) {
  // MixKeyAndHash(input_key_material): "Sets ck, temp_h, temp_k = HKDF(ck, input_key_material, 3)."
  HkdfOutput new_ck;
  HkdfOutput temp_h;
  HkdfOutput temp_k;
  NoiseHkdf(ck_.bytes(), input_key_material, &new_ck, &temp_h, &temp_k);
  ck_ = ChainingKey(new_ck.bytes());
  // "Calls MixHash(temp_h)."
  MixHash(temp_h.bytes());
  // "If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
  cipher_.InitializeKey(TruncateToKey(temp_k));
}

CipherStatus SymmetricState::EncryptAndHash(std::span<const uint8_t> in, std::span<uint8_t> out) {
  // EncryptAndHash(plaintext): "Sets ciphertext = EncryptWithAd(h, plaintext), calls MixHash(ciphertext)."
  const CipherStatus s = cipher_.EncryptWithAd(h_.bytes(), in, out);
  if (s != CipherStatus::kOk) return s;
  MixHash(out);
  return CipherStatus::kOk;
}

CipherStatus SymmetricState::DecryptAndHash(std::span<const uint8_t> in, std::span<uint8_t> out) {
  // DecryptAndHash(ciphertext): "Sets plaintext = DecryptWithAd(h, ciphertext), calls MixHash(ciphertext)."
  const CipherStatus s = cipher_.DecryptWithAd(h_.bytes(), in, out);
  if (s != CipherStatus::kOk) return s;
  MixHash(in);
  return CipherStatus::kOk;
}

std::pair<SymmetricKey, SymmetricKey> SymmetricState::Split() const {
  // Split(): "Sets temp_k1, temp_k2 = HKDF(ck, zerolen, 2). If HASHLEN is 64, then truncates temp_k1 and
  // temp_k2 to 32 bytes. Creates two new CipherState objects c1 and c2. Calls c1.InitializeKey(temp_k1) and
  // c2.InitializeKey(temp_k2). Returns the pair (c1, c2)."
  HkdfOutput temp_k1;
  HkdfOutput temp_k2;
  NoiseHkdf(ck_.bytes(), {}, &temp_k1, &temp_k2, nullptr);
  return {TruncateToKey(temp_k1), TruncateToKey(temp_k2)};
}

void SymmetricState::WipeSecrets() {
  ck_.Wipe();
  cipher_ = CipherState();
}

}  // namespace strait::crypto
