// Randomness for key generation and nonces. Production: libsodium's CSPRNG. Fuzzing builds
// (-DSTRAIT_FUZZING_BUILD) use a fixed-seed ChaCha20 stream so every fuzz input replays identically
// (BoringSSL's FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION idea). Never ship a fuzzing build.
#include <sodium.h>

#include <atomic>
#include <cstdlib>

#include "crypto/keys.h"

namespace strait::crypto {
namespace {

void InitSodiumOnce() {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) std::abort();  // no entropy source: nothing secure can run
}

}  // namespace

void RandomBytes(std::span<uint8_t> out) {
  InitSodiumOnce();
#ifdef STRAIT_FUZZING_BUILD
  static std::atomic<uint64_t> counter{0};
  static const uint8_t kSeed[randombytes_SEEDBYTES] = {0x5f, 0x75, 0x7a, 0x7a};
  uint8_t seed[randombytes_SEEDBYTES];
  std::copy(std::begin(kSeed), std::end(kSeed), seed);
  const uint64_t c = counter.fetch_add(1, std::memory_order_relaxed);
  for (int i = 0; i < 8; ++i) seed[8 + i] = static_cast<uint8_t>(c >> (8 * i));
  randombytes_buf_deterministic(out.data(), out.size(), seed);
#else
  randombytes_buf(out.data(), out.size());
#endif
}

}  // namespace strait::crypto
