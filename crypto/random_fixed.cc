// The fuzzing generator: a fixed-seed ChaCha20 stream (libsodium's randombytes_buf_deterministic), so that every
// fuzz input replays identically (BoringSSL's FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION idea). It is the library
// strait_random_fixed, which only targets that set STRAIT_FIXED_RANDOM link (crypto/CMakeLists.txt: the fuzz
// targets, and the test that checks that `strait` refuses to run with it). Every key it makes is predictable.
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iterator>

#include "crypto/keys.h"

namespace strait::crypto {

void RandomBytes(std::span<uint8_t> out) {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) std::abort();
  static std::atomic<uint64_t> counter{0};
  static const uint8_t kSeed[randombytes_SEEDBYTES] = {0x5f, 0x75, 0x7a, 0x7a};
  uint8_t seed[randombytes_SEEDBYTES];
  std::copy(std::begin(kSeed), std::end(kSeed), seed);
  const uint64_t c = counter.fetch_add(1, std::memory_order_relaxed);
  for (int i = 0; i < 8; ++i) seed[8 + i] = static_cast<uint8_t>(c >> (8 * i));
  randombytes_buf_deterministic(out.data(), out.size(), seed);
}

bool RandomIsFixed() { return true; }

}  // namespace strait::crypto
