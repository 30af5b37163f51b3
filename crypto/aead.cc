// ChaCha20-Poly1305 over BoringSSL's EVP_AEAD interface.
//
// Why BoringSSL and not libsodium: measured with bench/micro/noise_bench.cc, both bare calls in place with
// 1 byte of AD and the Noise nonce, same run. Debian 12 libsodium 1.0.18 vs android-libboringssl 13.0.0+r24;
// 2-vCPU Xeon (AVX2/AVX-512), shared host under load (so CPU time, not wall time); median of 5 repetitions:
//   strait_noise_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
//   size     libsodium seal / open     BoringSSL seal / open     libsodium time / BoringSSL time
//   64 B       0.15 / 0.15 GB/s          0.27 / 0.27 GB/s          1.77 / 1.87
//   256 B      0.44 / 0.35 GB/s          0.78 / 0.73 GB/s          1.77 / 2.10
//   1 KiB      0.92 / 0.92 GB/s          1.28 / 1.26 GB/s          1.39 / 1.36
//   4 KiB      1.15 / 0.92 GB/s          1.61 / 1.40 GB/s          1.40 / 1.52
//   16 KiB     1.17 / 1.18 GB/s          1.78 / 1.61 GB/s          1.52 / 1.37
//
// BoringSSL's x86-64 assembly (ChaCha20 and Poly1305 interleaved, AVX2) wins at every size, most at the small
// sizes that dominate interactive traffic. The price is ~600 bytes of EVP_AEAD_CTX per direction, paid only
// by devices and connectors, never by the relay. TransportSession::Seal/Open on top of this wrapper measured
// 0.93-1.01x the bare BoringSSL call for >= 1 KiB in the same run (1.03-1.07x at 64-256 B seal).

#include "crypto/aead.h"

#include <cassert>
#include <cstdlib>

namespace strait::crypto {

void EncodeNoiseNonce(uint64_t n, std::span<uint8_t, kAeadNonceSize> out) {
  // Noise 12.3: "The 96-bit nonce is formed by encoding 32 bits of zeros followed by little-endian encoding of n."
  for (size_t i = 0; i < 4; ++i) out[i] = 0;
  for (size_t i = 0; i < 8; ++i) out[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

namespace {

// out == in (in place) or disjoint; never a partial overlap (BoringSSL requires this).
[[maybe_unused]] bool ExactOrDisjoint(std::span<const uint8_t> in, std::span<const uint8_t> out) {
  if (in.data() == out.data() || in.empty()) return true;
  const auto* a = in.data();
  const auto* b = out.data();
  return a + in.size() <= b || b + out.size() <= a;
}

}  // namespace

ChaChaPoly::ChaChaPoly(const SymmetricKey& key) : key_(key) {
  // Fails only for a wrong key or tag length, which the types rule out: a broken invariant.
  if (EVP_AEAD_CTX_init(&ctx_, EVP_aead_chacha20_poly1305(), key_.bytes().data(), key_.kSize, kAeadTagSize,
                        nullptr) != 1) {
    std::abort();
  }
}

ChaChaPoly& ChaChaPoly::operator=(const ChaChaPoly& o) {
  if (this != &o) {
    this->~ChaChaPoly();
    new (this) ChaChaPoly(o.key_);
  }
  return *this;
}

ChaChaPoly::~ChaChaPoly() {
  EVP_AEAD_CTX_cleanup(&ctx_);
  SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&ctx_), sizeof ctx_));
}

void ChaChaPoly::Seal(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      std::span<uint8_t> out, std::span<uint8_t, kAeadTagSize> tag) const {
  assert(out.size() == in.size());
  assert(ExactOrDisjoint(in, out));
  uint8_t nonce[kAeadNonceSize];
  EncodeNoiseNonce(n, nonce);
  size_t tag_len = 0;
  const int ok = EVP_AEAD_CTX_seal_scatter(&ctx_, out.data(), tag.data(), &tag_len, tag.size(), nonce, sizeof nonce,
                                           in.data(), in.size(), nullptr, 0, ad.data(), ad.size());
  // Only fails on length limits far above kNoiseMaxMessageLen (2^38 bytes for this AEAD).
  assert(ok == 1 && tag_len == kAeadTagSize);
  (void)ok;
}

bool ChaChaPoly::Open(uint64_t n, std::span<const uint8_t> ad, std::span<const uint8_t> in,
                      std::span<uint8_t> out, std::span<const uint8_t, kAeadTagSize> tag) const {
  assert(out.size() == in.size());
  assert(ExactOrDisjoint(in, out));
  uint8_t nonce[kAeadNonceSize];
  EncodeNoiseNonce(n, nonce);
  // On failure BoringSSL zeroes `out`, so no unauthenticated plaintext is left behind.
  return EVP_AEAD_CTX_open_gather(&ctx_, out.data(), nonce, sizeof nonce, in.data(), in.size(), tag.data(),
                                  tag.size(), ad.data(), ad.size()) == 1;
}

}  // namespace strait::crypto
