// Fixed keys and clock shared by the fuzzers (credential, session, session_device) and the seed-corpus generator
// (fuzz/corpus_gen/), so seed credentials verify all the way through and the fuzzers explore past the signature
// checks, and every input replays the same handshake bytes.
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
// A Noise (X25519) key pair whose secret is 32 bytes of `tag`.
inline crypto::X25519KeyPair FuzzNoiseKey(uint8_t tag) {
  std::array<uint8_t, 32> secret{};
  secret.fill(tag);
  return crypto::X25519KeyPair::FromSecret(crypto::X25519SecretKey(secret));
}
inline crypto::Ed25519KeyPair FuzzRootKey() { return FuzzKey(0x52); }    // 'R'
inline crypto::Ed25519KeyPair FuzzTenantKey() { return FuzzKey(0x54); }  // 'T'

}  // namespace strait::fuzz
