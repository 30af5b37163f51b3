#include "crypto/keys.h"

#include <sodium.h>

#include <cassert>

#include "crypto/hex.h"

namespace strait::crypto {

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecureZero(std::span<uint8_t> b) {
  if (!b.empty()) sodium_memzero(b.data(), b.size());
}

std::string Fingerprint(std::string_view domain, std::span<const uint8_t> bytes) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  crypto_generichash_update(&st, bytes.data(), bytes.size());
  uint8_t h[32];
  crypto_generichash_final(&st, h, sizeof h);
  return HexEncode(std::span<const uint8_t>(h, 4));
}

X25519KeyPair X25519KeyPair::Generate() { return FromSecret(X25519SecretKey::Random()); }

X25519KeyPair X25519KeyPair::FromSecret(const X25519SecretKey& secret) {
  X25519KeyPair kp;
  kp.secret = secret;
  crypto_scalarmult_base(kp.public_key.mutable_bytes().data(), secret.bytes().data());
  return kp;
}

Ed25519KeyPair Ed25519KeyPair::Generate() { return FromSeed(Ed25519Seed::Random()); }

Ed25519KeyPair Ed25519KeyPair::FromSeed(const Ed25519Seed& seed) {
  Ed25519KeyPair kp;
  kp.seed = seed;
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(kp.public_key.mutable_bytes().data(), sk, seed.bytes().data());
  sodium_memzero(sk, sizeof sk);
  return kp;
}

Ed25519Signature Ed25519KeyPair::Sign(std::span<const uint8_t> msg) const {
  // libsodium wants the expanded (seed || public) form; build it on the stack and wipe it.
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  std::copy(seed.bytes().begin(), seed.bytes().end(), sk);
  std::copy(public_key.bytes().begin(), public_key.bytes().end(), sk + 32);
  Ed25519Signature sig;
  crypto_sign_detached(sig.mutable_bytes().data(), nullptr, msg.data(), msg.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return sig;
}

bool Ed25519Verify(const Ed25519PublicKey& pub, std::span<const uint8_t> msg, const Ed25519Signature& sig) {
  return crypto_sign_verify_detached(sig.bytes().data(), msg.data(), msg.size(), pub.bytes().data()) == 0;
}

}  // namespace strait::crypto
