// Fixed keys and clock shared by credential_fuzzer and the seed-corpus generator (fuzz/corpus_gen/), so seed
// credentials verify all the way through and the fuzzer explores past the signature checks.
#pragma once

#include <array>
#include <cstdint>

#include "crypto/keys.h"

namespace strait::fuzz {

inline constexpr uint64_t kFuzzNow = 1'700'000'000;

inline crypto::Ed25519KeyPair FuzzKey(uint8_t tag) {
  std::array<uint8_t, 32> seed{};
  seed.fill(tag);
  return crypto::Ed25519KeyPair::FromSeed(crypto::Ed25519Seed(seed));
}
inline crypto::Ed25519KeyPair FuzzRootKey() { return FuzzKey(0x52); }    // 'R'
inline crypto::Ed25519KeyPair FuzzTenantKey() { return FuzzKey(0x54); }  // 'T'

}  // namespace strait::fuzz
