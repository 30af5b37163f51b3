// Secrets at rest in strait-control's store (docs/control-plane.md §5.3), under `secretbox.key` (§2):
//
//   secretbox.key   64 lowercase hex digits + LF: the 32-byte master key (the file is read by the caller)
//   subkeys         crypto_kdf_derive_from_key(master, id, context "straitcp"):
//                     1 sealing tenant signing keys      2 hashing API key secrets
//                     3 sealing activation MAC keys and idempotent replies      4 cursor MACs (api/cursor)
//   sealed blob     u8 version=1 | u8 key_id=1 | 24-byte nonce | crypto_secretbox_easy(plaintext)  (MAC 16 + body)
//   plaintext       context string || 0x00 || owner || 0x00 || secret
//
// The owner (a tenant id; for an idempotent reply its scope) is inside the box, so a sealed value copied into
// another tenant's row does not open (kWrongOwner), nor one sealed for another purpose (kWrongContext). key_id leaves
// room for a later rekey (a new key file, rows resealed). Nothing here does file I/O; nothing is logged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace strait::control::store {

// Bytes that hold a secret: move-only, zeroed (sodium_memzero) when destroyed or moved from. Never printed.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);  // zero-filled
  SecretBytes(const uint8_t* data, size_t size);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }
  // Constant-time comparison (sodium_memcmp); different sizes are unequal.
  bool Equals(std::span<const uint8_t> other) const;

 private:
  void Wipe();
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

enum class SealError : uint8_t {
  kBadKeyText,     // secretbox.key is not 64 lowercase hex digits (+ LF)
  kMalformed,      // shorter than header + MAC
  kWrongVersion,   // version byte is not 1
  kUnknownKey,     // key_id is not 1
  kForged,         // the box does not open: tampered, or sealed under another key
  kWrongContext,   // sealed for another purpose
  kWrongOwner,     // sealed for another tenant (or scope)
};
std::string_view ToString(SealError e);

template <class T>
using SealResult = strait::Result<T, SealError>;

// The subkeys of §2; the numbers are the KDF subkey ids and never change.
enum class Subkey : uint64_t {
  kTenantKeys = 1,
  kApiKeyHash = 2,
  kActivationAndReplies = 3,
  kCursorMac = 4,
};

inline constexpr size_t kMasterKeySize = 32;
inline constexpr size_t kSubkeySize = 32;

class MasterKey {
 public:
  // The text of secretbox.key: exactly 64 lowercase hex digits, then an optional single LF.
  static SealResult<MasterKey> FromText(std::string_view text);
  // 32 random bytes (`strait-control init`).
  static MasterKey Generate();
  // The file's text: 64 lowercase hex digits + LF, held as secret bytes.
  SecretBytes ToText() const;
  SecretBytes Derive(Subkey id) const;

 private:
  explicit MasterKey(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// What a sealed value is for: each has its own context string (and subkey) so one cannot pass for another.
enum class SealContext : uint8_t {
  kTenantKey,        // "strait/tenant-key/1", subkey 1, owner: the tenant id
  kActivationKey,    // "strait/activation-key-sealed/1", subkey 3, owner: the activation id
  kIdempotentReply,  // "strait/idempotent-reply/1", subkey 3, owner: IdempotentReplyOwner(scope, key)
};

// The owner of a sealed idempotent reply: scope || ' ' || key. A scope (an API key id, a machine subject, an
// activation id) holds no space, so the first space splits the two unambiguously.
inline std::string IdempotentReplyOwner(std::string_view scope, std::string_view key) {
  std::string owner;
  owner.reserve(scope.size() + 1 + key.size());
  owner.append(scope).append(1, ' ').append(key);
  return owner;
}

inline constexpr uint8_t kSealVersion = 1;
inline constexpr uint8_t kSealKeyId = 1;
inline constexpr size_t kSealHeaderSize = 2 + 24;  // version, key_id, nonce
inline constexpr size_t kSealOverhead = kSealHeaderSize + 16;  // + the secretbox MAC

// Seals and opens under subkeys 1 and 3. Immutable after construction; thread-safe.
class Sealer {
 public:
  explicit Sealer(const MasterKey& master);
  // A fresh random nonce each call. `owner` must not contain a 0x00 byte (ids never do; asserted).
  std::vector<uint8_t> Seal(SealContext context, std::string_view owner, std::span<const uint8_t> secret) const;
  SealResult<SecretBytes> Open(SealContext context, std::string_view owner, std::span<const uint8_t> sealed) const;

 private:
  SecretBytes tenant_keys_;  // subkey 1
  SecretBytes activation_;   // subkey 3
};

inline constexpr size_t kApiKeyHashSize = 32;

// The stored form of an API key's secret half (§3): BLAKE2b-256 keyed with subkey 2. Thread-safe.
class ApiKeyHasher {
 public:
  explicit ApiKeyHasher(const MasterKey& master);
  std::vector<uint8_t> Hash(std::string_view secret) const;
  // Whether `secret` hashes to `stored`, compared in constant time (sodium_memcmp).
  bool Matches(std::string_view secret, std::span<const uint8_t> stored) const;

 private:
  SecretBytes key_;  // subkey 2
};

}  // namespace strait::control::store
