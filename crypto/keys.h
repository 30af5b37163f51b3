// Strong key types (wireguard-go noise-types.go). Every key has its own fixed-size type, so an X25519 secret
// can never be passed where an Ed25519 public key is expected.
//
//   PublicBytes<N, Tag>  : public material. Copyable, comparable, formatted as "<tag>:<first 8 hex>".
//   SecretBytes<N, Tag>  : secret material. Zeroed on destruction and on move-from, compared in constant time,
//                          formatted as "<secret fp=...>" (a domain-separated BLAKE2b fingerprint), never as bytes.
//
// Thread-safety: plain values; no shared state. Generate* draws from libsodium's CSPRNG (sodium_init() is called
// on first use, thread-safe). The fuzz targets link a fixed-seed generator instead (crypto/random_fixed.cc), so fuzz
// runs are reproducible; RandomIsFixed() says which one this executable has.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace strait::crypto {

// Constant-time equality of two equal-length byte strings (sodium_memcmp). Unequal lengths compare unequal.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Zeroes memory in a way the compiler cannot elide (sodium_memzero).
void SecureZero(std::span<uint8_t> b);
// Fills `out` from the CSPRNG (or the deterministic fuzzing generator, see above).
void RandomBytes(std::span<uint8_t> out);
// True when this executable was linked with the fixed-seed fuzzing generator: nothing it makes is secret, so
// daemons and the key tool refuse to run (cli/main.cc).
bool RandomIsFixed();
// First 8 hex digits of BLAKE2b-256(domain || bytes): a short, stable, non-reversible label for logs.
std::string Fingerprint(std::string_view domain, std::span<const uint8_t> bytes);

template <size_t N, class Tag>
class PublicBytes {
 public:
  static constexpr size_t kSize = N;
  PublicBytes() = default;
  explicit PublicBytes(std::span<const uint8_t, N> b) { std::copy(b.begin(), b.end(), b_.begin()); }
  // Returns false (and leaves *out untouched) unless `b` is exactly N bytes.
  static bool FromSpan(std::span<const uint8_t> b, PublicBytes* out) {
    if (b.size() != N) return false;
    std::copy(b.begin(), b.end(), out->b_.begin());
    return true;
  }
  std::span<const uint8_t, N> bytes() const { return b_; }
  std::span<uint8_t, N> mutable_bytes() { return b_; }
  bool operator==(const PublicBytes& o) const { return ConstantTimeEqual(b_, o.b_); }
  bool IsZero() const {
    uint8_t acc = 0;
    for (uint8_t x : b_) acc |= x;
    return acc == 0;
  }
  std::string fingerprint() const { return Fingerprint(Tag::kName, b_); }

 private:
  std::array<uint8_t, N> b_{};
};

template <size_t N, class Tag>
class SecretBytes {
 public:
  static constexpr size_t kSize = N;
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t, N> b) { std::copy(b.begin(), b.end(), b_.begin()); }
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;
  SecretBytes(SecretBytes&& o) noexcept : b_(o.b_) { o.Wipe(); }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) { b_ = o.b_; o.Wipe(); }
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  static bool FromSpan(std::span<const uint8_t> b, SecretBytes* out) {
    if (b.size() != N) return false;
    std::copy(b.begin(), b.end(), out->b_.begin());
    return true;
  }
  static SecretBytes Random() {
    SecretBytes s;
    RandomBytes(s.b_);
    return s;
  }
  std::span<const uint8_t, N> bytes() const { return b_; }
  std::span<uint8_t, N> mutable_bytes() { return b_; }
  bool operator==(const SecretBytes& o) const { return ConstantTimeEqual(b_, o.b_); }
  void Wipe() { SecureZero(b_); }
  std::string fingerprint() const { return Fingerprint(Tag::kName, b_); }

 private:
  std::array<uint8_t, N> b_{};
};

struct X25519PublicTag { static constexpr const char* kName = "x25519"; };
struct X25519SecretTag { static constexpr const char* kName = "x25519-secret"; };
struct Ed25519PublicTag { static constexpr const char* kName = "ed25519"; };
struct Ed25519SecretTag { static constexpr const char* kName = "ed25519-secret"; };
struct SymmetricKeyTag { static constexpr const char* kName = "symmetric"; };
struct Ed25519SignatureTag { static constexpr const char* kName = "ed25519-sig"; };

using X25519PublicKey = PublicBytes<32, X25519PublicTag>;
using X25519SecretKey = SecretBytes<32, X25519SecretTag>;
using Ed25519PublicKey = PublicBytes<32, Ed25519PublicTag>;
using Ed25519Seed = SecretBytes<32, Ed25519SecretTag>;  // the 32-byte seed; the expanded key is derived
using Ed25519Signature = PublicBytes<64, Ed25519SignatureTag>;
using SymmetricKey = SecretBytes<32, SymmetricKeyTag>;


struct X25519KeyPair {
  X25519SecretKey secret;
  X25519PublicKey public_key;

  static X25519KeyPair Generate();
  // Derives the public key from a given secret (X25519 base-point multiplication).
  static X25519KeyPair FromSecret(const X25519SecretKey& secret);
};

struct Ed25519KeyPair {
  Ed25519Seed seed;
  Ed25519PublicKey public_key;

  static Ed25519KeyPair Generate();
  static Ed25519KeyPair FromSeed(const Ed25519Seed& seed);
  // Signs `msg` (pure Ed25519, RFC 8032).
  Ed25519Signature Sign(std::span<const uint8_t> msg) const;
};

// Verifies a pure Ed25519 signature. Returns false on any failure, including a small-order public key.
bool Ed25519Verify(const Ed25519PublicKey& pub, std::span<const uint8_t> msg, const Ed25519Signature& sig);

}  // namespace strait::crypto

template <size_t N, class Tag>
struct fmt::formatter<strait::crypto::PublicBytes<N, Tag>> : fmt::formatter<std::string_view> {
  auto format(const strait::crypto::PublicBytes<N, Tag>& k, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "{}:{}", Tag::kName, k.fingerprint());
  }
};

template <size_t N, class Tag>
struct fmt::formatter<strait::crypto::SecretBytes<N, Tag>> : fmt::formatter<std::string_view> {
  auto format(const strait::crypto::SecretBytes<N, Tag>& k, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "<secret fp={}>", k.fingerprint());
  }
};
