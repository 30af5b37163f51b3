#include "crypto/aead.h"

#include <sodium.h>

#include <cassert>

namespace strait::crypto {

void EncodeNoiseNonce(uint64_t n, std::span<uint8_t, kAeadNonceSize> out) {
  // Noise 12.3: "The 96-bit nonce is formed by encoding 32 bits of zeros followed by little-endian encoding of n."
  for (size_t i = 0; i < 4; ++i) out[i] = 0;
  for (size_t i = 0; i < 8; ++i) out[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

namespace {

// out == in (in place) or disjoint; never a partial overlap (both backends require this).
[[maybe_unused]] bool ExactOrDisjoint(std::span<const uint8_t> in, std::span<const uint8_t> out) {
  if (in.data() == out.data() || in.empty()) return true;
  const auto* a = in.data();
  const auto* b = out.data();
  return a + in.size() <= b || b + out.size() <= a;
}

}  // namespace

void ChaChaPoly::Seal(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      std::span<uint8_t> out, std::span<uint8_t, kAeadTagSize> tag) const {
  assert(out.size() == in.size());
  assert(ExactOrDisjoint(in, out));
  uint8_t nonce[kAeadNonceSize];
  EncodeNoiseNonce(n, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(out.data(), tag.data(), nullptr, in.data(), in.size(),
                                                     ad.data(), ad.size(), nullptr, nonce,
                                                     key_.bytes().data());
}

bool ChaChaPoly::Open(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      std::span<uint8_t> out, std::span<const uint8_t, kAeadTagSize> tag) const {
  assert(out.size() == in.size());
  assert(ExactOrDisjoint(in, out));
  uint8_t nonce[kAeadNonceSize];
  EncodeNoiseNonce(n, nonce);
  // libsodium verifies the tag before decrypting, so a forgery never writes to `out`.
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(out.data(), nullptr, in.data(), in.size(),
                                                            tag.data(), ad.data(), ad.size(), nonce,
                                                            key_.bytes().data()) == 0;
}

}  // namespace strait::crypto
