// Bundles (docs/control-plane.md §6.3, §6.4; the JSON is control_wire.h's): what activation and renewal answer,
// decoded, checked against the local keys, and written as the identity directory the daemons already load
// (crypto::LoadIdentityBundle) plus the control plane's three files:
//
//   credential, signing.key, noise.key, noise.pub, root.pub, ca.pem, tls.crt, tls.key   crypto::SaveIdentityBundle
//   connectors/<id>.pub   device: the pinned connector set, PEM X25519 public keys
//   policy.json           device: the bundle's policy object (informational; the connector enforces)
//   control.json          every kind: url, renew_after, not_after, tenant, subject, relays. Written LAST, so its
//                         presence means the rest of the directory is complete
//
// Reading rules: unknown fields are ignored (a newer server keeps working with an older daemon), the fields this
// code uses are required and checked. Decoding needs no key or clock; WriteBundleFiles checks the bundle against
// the root it carries, the clock and the keys the caller made, before it writes anything.
//
// Setup-path code: Result-returning, allocation is fine. Thread-safety: free functions, no shared state. Secrets
// (private keys) never pass through here except to be written by crypto/keystore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/key_pem.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "tunnel/control/wire_error.h"

namespace strait::control {

struct RelayEndpoint {
  std::string id;
  std::string device;     // HOST:PORT devices dial
  std::string connector;  // HOST:PORT connectors dial
  bool operator==(const RelayEndpoint&) const = default;
};

struct BundleConnector {
  std::string id;
  crypto::X25519PublicKey noise_key;
};

struct Bundle {
  crypto::Role kind = crypto::Role::kDevice;
  std::string tenant;  // "" for relay
  std::string subject;
  std::vector<uint8_t> credential;  // structure checked (ParseCredential); not verified
  crypto::Ed25519PublicKey root_public_key;
  std::string ca_pem;                       // device, connector: required
  std::string tls_cert_pem;                 // relay: required
  std::vector<RelayEndpoint> relays;        // absent = none
  std::vector<BundleConnector> connectors;  // device (absent = none); ignored for other kinds
  std::optional<std::string> policy_json;   // device: the policy object, compact JSON; nullopt when absent or null
  std::string url;                          // https://...
  uint64_t renew_after = 0;                 // unix seconds, <= not_after
  uint64_t not_after = 0;
};

// Decodes a Bundle body (at most wire::kMaxBundleBytes). Checks the JSON, each used field's type and syntax (ids,
// times, base64, key lengths, PEM shape, endpoints, no duplicate relay or connector ids), the version, and that the
// credential parses. No key, no clock, no files: what the fuzzer drives.
Result<Bundle, WireResultError> DecodeBundle(std::string_view json);

// Why a bundle is not written (or control.json not read). One name per reason.
enum class BundleError : uint8_t {
  kDecode,             // control.json does not decode (the reason names the WireError and field)
  kCredentialRefused,  // the credential does not verify against the bundle's root at `now` with its kind and tenant
  kIdentityMismatch,   // kind / tenant / subject differ from the credential's, or on renewal from the directory's
  kKeyMismatch,        // the credential certifies another signing or Noise key than the local ones; no tls.key
  kRootChanged,        // renewal: root_public_key is not the directory's root.pub (root rotation is not automatic)
  kFiles,              // reading or writing the directory failed, or enrolling over existing files
};
std::string_view BundleErrorName(BundleError e);
using BundleResultError = Error<BundleError>;

// The private keys, made by the caller (activation: before the request; they never leave the machine) or loaded
// from the directory (renewal: the keys stay, LoadLocalKeys).
struct LocalKeys {
  crypto::Ed25519KeyPair signing_key;
  std::optional<crypto::X25519KeyPair> noise_key;  // device, connector
  crypto::SecretText tls_key_pem;                  // relay: PEM PRIVATE KEY (P-256), the key of tls_cert_pem
};
// The keys of the identity directory `dir` (crypto::LoadIdentityBundle, so the same cross-checks).
Result<LocalKeys, BundleResultError> LoadLocalKeys(const std::string& dir);

enum class WriteMode : uint8_t {
  kEnroll,  // a new directory (made 0700 if absent): nothing is written if any file of the bundle exists
  kRenew,   // an enrolled directory: same root, same kind / tenant / subject; every file replaced atomically, one
            // at a time (control.json last); connectors/<id>.pub no longer in the set and a dropped policy.json
            // are removed
};

// Checks `bundle` (the credential verifies against bundle.root_public_key at `now_unix` with role = kind and its
// tenant; its kind, tenant and subject are the bundle's; its keys are `keys`'), then, for kRenew, that the
// directory's root.pub and credential agree (root unchanged, same identity), and only then writes the files.
// Not atomic across files (crypto::SaveIdentityBundle's caveat): a failure part-way leaves the files already
// written. A kRenew retry completes them; a kEnroll retry into that directory refuses (its files exist), so an
// enrolment writes into a fresh directory and moves it into place on success. control.json, written last, is the
// mark of a complete directory.
Result<void, BundleResultError> WriteBundleFiles(const std::string& dir, const Bundle& bundle, LocalKeys keys,
                                                 WriteMode mode, uint64_t now_unix);

// The certificates of a PEM text after its first: the CA of a relay's tls_cert_pem (leaf + CA), which a relay
// trusts for the control plane's certificate (it has no ca.pem). "" when there is none.
std::string CertificatesAfterFirst(const std::string& pem);

// --- control.json (control_wire.h): what the daemons read to find the control plane and the relays ---

struct ControlFile {
  crypto::Role kind = crypto::Role::kDevice;
  std::string tenant;  // "" for relay
  std::string subject;
  std::string url;
  uint64_t renew_after = 0;
  uint64_t not_after = 0;
  std::vector<RelayEndpoint> relays;
};
// control.json's text for `bundle` (what WriteBundleFiles writes).
std::string EncodeControlFile(const Bundle& bundle);
// The inverse: decodes control.json's text (unknown fields ignored, like a bundle).
Result<ControlFile, WireResultError> DecodeControlFile(std::string_view json);
// Reads DIR/control.json: nullopt when the directory has none (an identity from `strait keys`: the daemon runs
// without the control plane, as before), kFiles when it cannot be read, kDecode when it does not decode.
Result<std::optional<ControlFile>, BundleResultError> ReadControlFile(const std::string& dir);

}  // namespace strait::control
