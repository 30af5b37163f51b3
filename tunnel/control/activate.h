// The daemons' half of redeeming an activation code (docs/control-plane.md §6.2), sans-I/O: the Redeem body from
// the code, the new public keys and the connection's exporter value E; and the check of the answer's
// Strait-Activation-Mac header. The exchange itself (http_client.h) and the files (bundle.h) are the caller's.
//
//   E          TLS-Exporter(wire::kActivateExporterLabel, "", 32) of the connection the request goes over
//   key_proof  Ed25519(signing key, "strait/activate-key/1" || 0x00 || E)
//   mac        HMAC-SHA-256(K, "strait/activate/1" || 0x00 || E || activation || kind || keys...)   (activation_code.h)
//   header     base64(HMAC-SHA-256(K, "strait/activated/1" || 0x00 || E || SHA-256(body))), compared in constant time
//
// The MAC primitives are strait_control_api's (control-plane/api/activation_code.h: libsodium only, no TLS library,
// so the data plane may link it); the field names are control_wire.h's.
//
// Setup-path code: Result-returning, allocation is fine. Thread-safety: free functions, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control-plane/api/activation_code.h"
#include "crypto/keys.h"
#include "crypto/result.h"

namespace strait::control {

// Where to redeem and with which code: from --url + --code, or from --qr (STRAIT1:CODE:HOST:PORT).
struct ActivationTarget {
  std::string url;  // https://HOST[:PORT]
  ActivationCode code;
};
// --url and --code (both given) or --qr (alone). The reason is a usage message.
Result<ActivationTarget, std::string> ResolveActivationTarget(std::string_view url, std::string_view code,
                                                              std::string_view qr);

// What the device tells the control plane about itself (device only; `os` required, the rest optional).
struct DeviceInfo {
  std::string os;
  std::string os_version;
  std::string model;
  std::string name;
};

struct RedeemInput {
  ActivationKind kind = ActivationKind::kDevice;
  const crypto::Ed25519KeyPair* signing_key = nullptr;      // required
  std::optional<crypto::X25519PublicKey> noise_key;          // device, connector
  std::optional<std::vector<uint8_t>> tls_public_key;        // relay: SPKI DER of the P-256 tls.key
  std::optional<DeviceInfo> device;                          // device
};

// The Redeem JSON (compact) for `code`, bound to the exporter value `e`.
std::string BuildRedeemBody(const ActivationCode& code, Exporter e, const RedeemInput& in);

// True when `header` is the Strait-Activation-Mac of `body` under `code`'s K and `e` (constant-time compare).
bool VerifyActivatedMacHeader(const ActivationCode& code, Exporter e, std::string_view body, std::string_view header);

}  // namespace strait::control
