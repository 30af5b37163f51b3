// ChaCha20-Poly1305 (RFC 8439, IETF variant: 96-bit nonce, 128-bit tag) with the Noise nonce encoding
// (Noise spec rev 34, section 12.3: 32 bits of zeros followed by the little-endian 64-bit counter n).
//
// One ChaChaPoly object holds one key. Seal/Open work in place or out of place: `out` either is exactly `in`
// (same data pointer) or does not overlap it at all; partial overlap is a broken invariant. The tag is
// detached so callers decide where it lives (the transport puts it right after the ciphertext).
//
// Backend: BoringSSL's EVP_AEAD_CTX with EVP_aead_chacha20_poly1305, chosen over libsodium's
// crypto_aead_chacha20poly1305_ietf_*_detached by measurement (bench/micro/noise_bench.cc; numbers in aead.cc).
//
// Cost: no allocation, no locking. Memory: the key plus one EVP_AEAD_CTX (~600 bytes) per object, i.e. about
// 1.3 KiB per transport session (two directions); only devices and connectors hold these, never the relay.
// Thread-safety: const methods may run concurrently on one object (BoringSSL documents this for seal/open).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <openssl/aead.h>

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
  explicit ChaChaPoly(const SymmetricKey& key);
  // Copies re-key a fresh context from the key (an EVP_AEAD_CTX is never copied bytewise).
  ChaChaPoly(const ChaChaPoly& o) : ChaChaPoly(o.key_) {}
  ChaChaPoly& operator=(const ChaChaPoly& o);
  ~ChaChaPoly();

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
  EVP_AEAD_CTX ctx_;  // holds a copy of the key; cleaned and wiped in the destructor
};

}  // namespace strait::crypto
