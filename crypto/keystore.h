// Key and credential files: reading and writing them, identity bundles and the daemons' own-credential check
// (docs/keys.md tells the story; this header is the authority for the files, crypto/key_pem.h for what is in
// them: the PEM keys, the Strait armour and their strict parsing).
//
// Files. Secret files (secret keys, TLS private keys) are created 0600 from the start (O_CREAT|O_EXCL in the same
// directory, fsync, rename, fsync of the directory) and refused on load if group or others have any access.
// Public files are written the same way with mode 0644 (less the umask). Nothing is overwritten unless the caller
// passes Overwrite::kReplace; the refusal is atomic (renameat2 RENAME_NOREPLACE), not check-then-write. The writer
// and the mode check live in crypto/secret_file.h (strait_crypto_core, TLS-free, shared with strait-control); the
// functions here add the keystore's error codes, the size bound and the file formats.
//
// Identity bundle: one directory per device, connector or relay (kBundle* names below; docs/keys.md):
//   credential     STRAIT CREDENTIAL                    all roles
//   signing.key    PEM PRIVATE KEY (Ed25519), 0600      all roles; its public key is the credential's key
//   noise.key      PEM PRIVATE KEY (X25519), 0600       device, connector; public key = credential's Noise key
//   noise.pub      PEM PUBLIC KEY (X25519)              device, connector (for collecting a connector set)
//   root.pub       PEM PUBLIC KEY (Ed25519)             all roles: the operator root that verifies credentials
//   ca.pem         PEM CERTIFICATE(s)                   device, connector (optional): the relays' TLS CA
//   tls.crt        PEM CERTIFICATE                      relay (optional, with tls.key): its TLS server chain
//   tls.key        PEM PRIVATE KEY, 0600                relay (optional, with tls.crt)
//
// Thread-safety: free functions; no shared state. Errors carry the file path and what was wrong, never secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/key_pem.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/secret_file.h"

namespace strait::crypto {

// --- Files ---

// Atomic writes as described at the top (WriteFileAtomic). The directory must exist. On failure no temporary file
// is left behind and an existing file at `path` is untouched.
Result<void, KeystoreResultError> WritePublicFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite);
Result<void, KeystoreResultError> WriteSecretFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite);
// Reads at most kMaxKeystoreFileSize bytes of a regular file. ReadSecretFile refuses files with any group/other
// permission bits, with a reason that says `chmod 600 <path>`.
Result<std::string, KeystoreResultError> ReadPublicFile(const std::string& path);
Result<SecretText, KeystoreResultError> ReadSecretFile(const std::string& path);
// Creates `path` with mode 0700 if it does not exist; fails if it exists and is not a directory
// (EnsurePrivateDirectory).
Result<void, KeystoreResultError> EnsureDirectory(const std::string& path);
// PathExists, Overwrite: crypto/secret_file.h.

// Typed file helpers: Write*File + Encode*, Read*File + Decode*, with the path prefixed to any error reason.
Result<void, KeystoreResultError> SaveEd25519SecretKey(const std::string& path, const Ed25519KeyPair& key,
                                                       Overwrite overwrite);
Result<void, KeystoreResultError> SaveX25519SecretKey(const std::string& path, const X25519KeyPair& key,
                                                      Overwrite overwrite);
Result<void, KeystoreResultError> SaveEd25519PublicKey(const std::string& path, const Ed25519PublicKey& key,
                                                       Overwrite overwrite);
Result<void, KeystoreResultError> SaveX25519PublicKey(const std::string& path, const X25519PublicKey& key,
                                                      Overwrite overwrite);
Result<void, KeystoreResultError> SaveTenantCert(const std::string& path, std::span<const uint8_t> tenant_cert,
                                                 Overwrite overwrite);
Result<void, KeystoreResultError> SaveCredential(const std::string& path, std::span<const uint8_t> credential,
                                                 Overwrite overwrite);

Result<Ed25519KeyPair, KeystoreResultError> LoadEd25519SecretKey(const std::string& path);
Result<X25519KeyPair, KeystoreResultError> LoadX25519SecretKey(const std::string& path);
Result<Ed25519PublicKey, KeystoreResultError> LoadEd25519PublicKey(const std::string& path);
Result<X25519PublicKey, KeystoreResultError> LoadX25519PublicKey(const std::string& path);
Result<std::vector<uint8_t>, KeystoreResultError> LoadTenantCert(const std::string& path);
Result<std::vector<uint8_t>, KeystoreResultError> LoadCredential(const std::string& path);

// Rewrites a key file written in the older Strait armour as PEM holding the same key (atomically, as Save* does;
// a secret stays 0600 and must be 0600 to be read). Returns the type it held, or nullopt for a file that is not an
// older key file (a PEM key or certificate, a TenantCert, a credential, any other file: left as they are). Errors
// as the Load* functions' (a damaged older key file is one).
Result<std::optional<ArmorType>, KeystoreResultError> UpgradeKeyFile(const std::string& path);

// --- Directory layouts ---

// Operator directories written by `strait keys` (docs/keys.md).
inline constexpr std::string_view kRootKeyFile = "root.key";        // init-root: root Ed25519 secret, 0600
inline constexpr std::string_view kRootPublicFile = "root.pub";     // init-root, tenant dir, every bundle
inline constexpr std::string_view kTenantKeyFile = "tenant.key";    // tenant: tenant Ed25519 secret, 0600
inline constexpr std::string_view kTenantCertFile = "tenant.cert";  // tenant: TenantCert signed by the root
inline constexpr std::string_view kCaCertFile = "ca.pem";           // tls-ca dir and client bundles
inline constexpr std::string_view kCaKeyFile = "ca.key";            // tls-ca dir only: PEM private key, 0600
// Identity bundle (see the top of this file).
inline constexpr std::string_view kBundleCredentialFile = "credential";
inline constexpr std::string_view kBundleSigningKeyFile = "signing.key";
inline constexpr std::string_view kBundleNoiseKeyFile = "noise.key";
inline constexpr std::string_view kBundleNoisePublicFile = "noise.pub";
inline constexpr std::string_view kBundleTlsCertFile = "tls.crt";
inline constexpr std::string_view kBundleTlsKeyFile = "tls.key";

// `dir` + "/" + `name`.
std::string JoinPath(std::string_view dir, std::string_view name);

struct IdentityBundle {
  Role role = Role::kDevice;
  std::vector<uint8_t> credential;
  Ed25519KeyPair signing_key;
  std::optional<X25519KeyPair> noise_key;  // device and connector; nullopt for relay
  Ed25519PublicKey root_public_key;
  std::string ca_pem;        // the relays' TLS CA (device, connector); empty if the bundle has none
  std::string tls_cert_pem;  // relay; empty if the bundle has none
  SecretText tls_key_pem;    // relay; empty if the bundle has none
};

// Writes every file of `bundle` that applies to its role (empty PEMs are skipped), creating `dir` (0700) if needed.
// With Overwrite::kRefuse nothing is written if any of those files exists. Not atomic across files: a failure
// part-way leaves the files already written.
Result<void, KeystoreResultError> SaveIdentityBundle(const std::string& dir, const IdentityBundle& bundle,
                                                     Overwrite overwrite);
// Loads and cross-checks a bundle: the credential parses, signing.key's public key is the credential's key,
// noise.key's public key is its Noise key (device/connector), root.pub exists, tls.crt and tls.key come
// together. Does NOT verify signatures or validity: call VerifyCredential with the bundle's root key and a clock.
Result<IdentityBundle, KeystoreResultError> LoadIdentityBundle(const std::string& dir);

// What a daemon checks about its own bundle before it starts (docs/keys.md): the credential verifies against the
// bundle's root.pub with the daemon's role (signatures, tenant certificate) and is valid at `now_unix`.
// error: why it must not start (empty: it may). warning: set when it expires soon: within 24 h, or within a quarter
// of its validity if that is shorter (a one-hour credential is short on purpose and warns at 15 min).
struct OwnCredentialCheck {
  std::string error;
  std::string warning;
};
OwnCredentialCheck CheckOwnCredential(const IdentityBundle& bundle, Role role, uint64_t now_unix);

}  // namespace strait::crypto
