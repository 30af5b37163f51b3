// Randomness for key generation and nonces: libsodium's CSPRNG. The library strait_random (crypto/CMakeLists.txt);
// its fuzzing twin, with a fixed seed, is crypto/random_fixed.cc (strait_random_fixed), linked only into fuzz/.
#include <sodium.h>

#include <cstdlib>

#include "crypto/keys.h"

namespace strait::crypto {

void RandomBytes(std::span<uint8_t> out) {
  static const bool ok = [] { return sodium_init() >= 0; }();
  if (!ok) std::abort();  // no entropy source: nothing secure can run
  randombytes_buf(out.data(), out.size());
}

bool RandomIsFixed() { return false; }

}  // namespace strait::crypto
