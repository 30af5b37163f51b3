// Noise CipherState and SymmetricState (Noise Protocol Framework, revision 34, sections 4 and 5), fixed to the
// one suite Strait speaks: DH=25519, cipher=ChaChaPoly, HASH=BLAKE2b (HASHLEN=64, BLOCKLEN=128).
//
//   CipherState    : k (32 bytes, optional) and the 64-bit nonce n. EncryptWithAd/DecryptWithAd, Rekey.
//   SymmetricState : ck (chaining key, secret), h (handshake hash, public) and a CipherState.
//
// HMAC-BLAKE2b and HKDF are exactly the spec's section 4.3 constructions (RFC 2104 HMAC with the 128-byte
// BLAKE2b block; HKDF with 2 or 3 outputs, no "info"), not BLAKE2b's keyed mode.
//
// Buffers: every output span has an exact required size, stated per function; nothing allocates. Secrets live
// in SecretBytes (wiped on destruction) and every temporary on the stack is wiped before return.
// Thread-safety: plain values, one owner at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "crypto/aead.h"
#include "crypto/keys.h"

namespace strait::crypto {

inline constexpr size_t kNoiseHashLen = 64;    // BLAKE2b HASHLEN
inline constexpr size_t kNoiseBlockLen = 128;  // BLAKE2b BLOCKLEN (HMAC block)
inline constexpr size_t kNoiseKeyLen = 32;     // cipher key
inline constexpr size_t kNoiseTagLen = kAeadTagSize;
inline constexpr size_t kNoiseDhLen = 32;      // X25519 DHLEN
inline constexpr size_t kNoiseMaxMessageLen = 65535;
// Noise 5.1: "the maximum n value (2^64-1) is reserved for other use" (Rekey).
inline constexpr uint64_t kNoiseMaxNonce = UINT64_MAX;
static_assert(kNoiseTagLen == 16);
static_assert(kNoiseHashLen >= kNoiseKeyLen, "MixKey truncates HKDF output to the key length");

struct ChainingKeyTag { static constexpr const char* kName = "noise-ck"; };
struct HkdfOutputTag { static constexpr const char* kName = "noise-hkdf"; };
struct HandshakeHashTag { static constexpr const char* kName = "noise-h"; };
using ChainingKey = SecretBytes<kNoiseHashLen, ChainingKeyTag>;
using HkdfOutput = SecretBytes<kNoiseHashLen, HkdfOutputTag>;
// h is not secret (it is safe to expose for channel binding) but it is still a fixed-size, typed value.
using HandshakeHash = PublicBytes<kNoiseHashLen, HandshakeHashTag>;

// HASH(a || b) with BLAKE2b-512.
void NoiseHash(std::span<const uint8_t> a, std::span<const uint8_t> b, std::span<uint8_t, kNoiseHashLen> out);
// HMAC-HASH(key, data1 || data2), RFC 2104 with BLOCKLEN=128.
void NoiseHmac(std::span<const uint8_t> key, std::span<const uint8_t> data1, std::span<const uint8_t> data2,
               std::span<uint8_t, kNoiseHashLen> out);
// HKDF(chaining_key, input_key_material, num_outputs) per Noise 4.3; num_outputs is 2 when out3 is null.
void NoiseHkdf(std::span<const uint8_t, kNoiseHashLen> chaining_key, std::span<const uint8_t> ikm,
               HkdfOutput* out1, HkdfOutput* out2, HkdfOutput* out3);

enum class CipherStatus : uint8_t {
  kOk,
  kNonceExhausted,  // n reached 2^64-1; the CipherState cannot be used any more (Noise 5.1)
  kBadLength,       // output span has the wrong size, or input shorter than the tag
  kAuthFailed,      // DecryptWithAd: tag mismatch
};

class CipherState {
 public:
  CipherState() = default;  // InitializeKey(empty)
  explicit CipherState(const SymmetricKey& k) { InitializeKey(k); }

  // InitializeKey(key): k = key, n = 0.
  void InitializeKey(const SymmetricKey& k);
  // HasKey(): true iff k is not empty.
  bool HasKey() const { return cipher_.has_value(); }
  // SetNonce(nonce): n = nonce.
  void SetNonce(uint64_t n) { n_ = n; }
  uint64_t nonce() const { return n_; }
  // Bytes EncryptWithAd adds to a plaintext: the tag when there is a key, else 0.
  size_t overhead() const { return HasKey() ? kNoiseTagLen : 0; }

  // EncryptWithAd(ad, plaintext). Requires out.size() == in.size() + overhead(); `out` may start at in.data()
  // (in place) or be disjoint from `in`. Without a key, copies in to out. Increments n on success.
  [[nodiscard]] CipherStatus EncryptWithAd(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                                           std::span<uint8_t> out);
  // DecryptWithAd(ad, ciphertext). Requires out.size() + overhead() == in.size(); same aliasing rule.
  // On kAuthFailed n is unchanged (Noise 5.1: "the nonce is not incremented"). Increments n on success.
  [[nodiscard]] CipherStatus DecryptWithAd(std::span<const uint8_t> ad, std::span<const uint8_t> in,
                                           std::span<uint8_t> out);
  // Rekey(): k = REKEY(k) = ENCRYPT(k, maxnonce, zerolen, zeros) truncated to 32 bytes (Noise 4.2, 11.3).
  void Rekey();

 private:
  std::optional<ChaChaPoly> cipher_;  // k; nullopt is the spec's "empty"
  uint64_t n_ = 0;
};

class SymmetricState {
 public:
  // InitializeSymmetric(protocol_name).
  explicit SymmetricState(std::string_view protocol_name);

  void MixKey(std::span<const uint8_t> input_key_material);
  void MixHash(std::span<const uint8_t> data);
  void MixKeyAndHash(std::span<const uint8_t> input_key_material);
  const HandshakeHash& GetHandshakeHash() const { return h_; }
  bool HasKey() const { return cipher_.HasKey(); }
  size_t overhead() const { return cipher_.overhead(); }

  // EncryptAndHash(plaintext): out.size() must be in.size() + overhead(); same aliasing rule as CipherState.
  [[nodiscard]] CipherStatus EncryptAndHash(std::span<const uint8_t> in, std::span<uint8_t> out);
  // DecryptAndHash(ciphertext): out.size() must be in.size() - overhead(). `in` must not be modified by the
  // decryption (out disjoint from in) because h absorbs the ciphertext afterwards.
  [[nodiscard]] CipherStatus DecryptAndHash(std::span<const uint8_t> in, std::span<uint8_t> out);

  // Split(): the two transport keys (k1 for initiator->responder, k2 for responder->initiator).
  std::pair<SymmetricKey, SymmetricKey> Split() const;
  // Wipes ck and the cipher key; h stays readable. For use after Split().
  void WipeSecrets();

 private:
  ChainingKey ck_;
  HandshakeHash h_;
  CipherState cipher_;
};

}  // namespace strait::crypto
