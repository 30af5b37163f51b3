// Shared by the key-file tests (key_pem_test.cc, keystore_test.cc): a chain of real credentials and armour
// written by hand, independently of crypto/key_pem.cc's encoder.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"

namespace strait::crypto::testing {

inline constexpr uint64_t kNow = 1'700'000'000;
inline constexpr uint64_t kDay = 86'400;
using Bytes = std::vector<uint8_t>;

// A root, a tenant "acme" and one credential of each role.
struct Chain {
  Ed25519KeyPair root = Ed25519KeyPair::Generate();
  Ed25519KeyPair tenant = Ed25519KeyPair::Generate();
  Ed25519KeyPair device_key = Ed25519KeyPair::Generate();
  X25519KeyPair device_noise = X25519KeyPair::Generate();
  Ed25519KeyPair relay_key = Ed25519KeyPair::Generate();
  Bytes tenant_cert;
  Bytes device;
  Bytes relay;

  Chain() {
    tenant_cert = IssueTenantCert(root, {"acme", tenant.public_key, kNow - 10 * kDay, kNow + 10 * kDay}).value();
    CredentialParams p{Role::kDevice, "phone-1", device_key.public_key, device_noise.public_key, 1,
                       kNow - kDay, kNow + kDay};
    device = IssueCredential(tenant, tenant_cert, p).value();
    CredentialParams r{Role::kRelay, "relay-1", relay_key.public_key, {}, 2, kNow - kDay, kNow + kDay};
    relay = IssueRelayCredential(root, r).value();
  }
};

inline const Chain& TheChain() {
  static const Chain* c = new Chain();
  return *c;
}
// "-----BEGIN <label>-----", base64 at 64 columns, "-----END <label>-----", written here with libsodium rather than
// key_pem.cc's own encoder: fixtures in the older Strait armour, and hand-made PEM.
inline std::string HandArmour(std::string_view label, const Bytes& payload) {
  std::string b64(sodium_base64_ENCODED_LEN(payload.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), payload.data(), payload.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

}  // namespace strait::crypto::testing
