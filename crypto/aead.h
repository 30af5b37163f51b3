// ChaCha20-Poly1305 (RFC 8439, IETF variant: 96-bit nonce, 128-bit tag) with the Noise nonce encoding
// (Noise spec rev 34, section 12.3: 32 bits of zeros followed by the little-endian 64-bit counter n).
//
// One ChaChaPoly object holds one key. Seal/Open work in place or out of place: `out` either is exactly `in`
// (same data pointer) or does not overlap it at all; partial overlap is a broken invariant. The tag is
// detached so callers decide where it lives (the transport puts it right after the ciphertext).
//
// Backend choice (measured with bench/micro/noise_bench.cc, see the numbers in crypto/aead.cc): libsodium's
// crypto_aead_chacha20poly1305_ietf_*_detached vs BoringSSL's EVP_AEAD_CTX with EVP_aead_chacha20_poly1305.
//
// Cost: no allocation, no locking. Thread-safety: const methods may run concurrently on one object.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/keys.h"

namespace strait::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
static_assert(kAeadKeySize == SymmetricKey::kSize);

// Noise nonce encoding of counter n: 4 zero bytes || LE64(n).
void EncodeNoiseNonce(uint64_t n, std::span<uint8_t, kAeadNonceSize> out);

class ChaChaPoly {
 public:
  explicit ChaChaPoly(const SymmetricKey& key) : key_(key) {}

  // Encrypts in.size() bytes of `in` into `out` (out.size() == in.size()) under nonce n and writes the tag.
  void Seal(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in, std::span<uint8_t> out,
            std::span<uint8_t, kAeadTagSize> tag) const;

  // Authenticates `in` + `tag` + `ad` under nonce n; on success writes the plaintext to `out`
  // (out.size() == in.size()) and returns true. On failure returns false; `out` then holds no plaintext
  // (it is untouched or zeroed, depending on the backend).
  [[nodiscard]] bool Open(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                          std::span<uint8_t> out, std::span<const uint8_t, kAeadTagSize> tag) const;

 private:
  SymmetricKey key_;  // wiped on destruction (SecretBytes)
};

}  // namespace strait::crypto
