// Credentials and the trust chain (design.md "Identity and security model"; docs/protocol.md §4 tells the story,
// this header is the authority for the byte layout).
//
//   operator root key (Ed25519; verifiers know only its public key)
//     ├── signs TenantCert(tenant_id, tenant key, validity)
//     │      └── tenant key signs Credential(role = device | connector, tenant_id, subject, keys, validity)
//     └── signs Credential(role = relay)                      (no tenant, no TenantCert, no Noise key)
//
// Wire format, version 1. All integers big-endian; read only through ByteReader, written only through ByteWriter.
//
//   TenantCert:
//     u8    version = 1
//     str8  tenant_id          1..64 bytes of [a-z0-9-]
//     32    tenant Ed25519 public key
//     u64   not_before         unix seconds
//     u64   not_after          unix seconds
//     64    root signature over  "strait/tenant-cert/1" || 0x00 || all preceding TenantCert bytes
//
//   Credential:
//     u8    version = 1
//     u8    role               1 device, 2 connector, 3 relay
//     str8  tenant_id          [a-z0-9-], 1..64 bytes; empty for relay
//     str8  subject_id         1..64 bytes of [a-z0-9._-]
//     32    Ed25519 public key (the holder proves possession over TLS, crypto/proof.h)
//     32    X25519 Noise static public key (device/connector: non-zero; relay: all zero)
//     u64   serial
//     u64   not_before
//     u64   not_after
//     str16 tenant_cert        TenantCert bytes; empty for relay
//     64    signature by the tenant key (relay: the root key) over
//           "strait/credential/1" || 0x00 || all preceding Credential bytes
//
// Validity is inclusive at both ends (X.509's convention): valid iff not_before <= now <= not_after.
// A credential may not outlive its TenantCert: tc.not_before <= cred.not_before and cred.not_after <= tc.not_after.
//
// Versions: 1 — initial format. A new version is a new layout; version 1 verifiers reject other versions.
//
// Thread-safety: free functions over caller-owned bytes; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "crypto/result.h"

namespace strait::crypto {

inline constexpr uint8_t kCredentialVersion = 1;
inline constexpr uint8_t kTenantCertVersion = 1;
inline constexpr std::string_view kTenantCertContext = "strait/tenant-cert/1";
inline constexpr std::string_view kCredentialContext = "strait/credential/1";
inline constexpr size_t kMaxIdLength = 64;

// Fixed parts of the layout above, so size bounds are checked at compile time.
inline constexpr size_t kTenantCertFixedSize = 1 + 1 + 32 + 8 + 8 + 64;            // without tenant_id bytes
inline constexpr size_t kMaxTenantCertSize = kTenantCertFixedSize + kMaxIdLength;  // 178
inline constexpr size_t kCredentialFixedSize = 1 + 1 + 1 + 1 + 32 + 32 + 8 + 8 + 8 + 2 + 64;
// The largest credential any issuer can produce is 464 bytes; the bound leaves room and is checked before parsing.
inline constexpr size_t kMaxCredentialSize = 512;
static_assert(kMaxTenantCertSize == 178);
static_assert(kCredentialFixedSize + 2 * kMaxIdLength + kMaxTenantCertSize <= kMaxCredentialSize);

enum class Role : uint8_t {
  kDevice = 1,
  kConnector = 2,
  kRelay = 3,
};
std::string_view RoleName(Role r);  // "device", "connector", "relay", or "unknown"

// A set of roles a verifier accepts, e.g. RoleSet{Role::kDevice} on the device port.
class RoleSet {
 public:
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) bits_ = static_cast<uint8_t>(bits_ | Bit(r));
  }
  static constexpr RoleSet Any() { return RoleSet{Role::kDevice, Role::kConnector, Role::kRelay}; }
  constexpr bool Contains(Role r) const { return (bits_ & Bit(r)) != 0; }

 private:
  static constexpr uint8_t Bit(Role r) { return static_cast<uint8_t>(1u << static_cast<uint8_t>(r)); }
  uint8_t bits_ = 0;
};

// One code per way a credential can be refused (or refused to be issued). CredentialErrorName gives the stable
// snake_case name used in docs, metrics and ERROR frames.
enum class CredentialError : uint8_t {
  kTooLarge,                 // more than kMaxCredentialSize bytes
  kMalformed,                // truncated, a length past the end, or trailing bytes
  kUnsupportedVersion,       // credential or TenantCert version is not 1
  kUnknownRole,              // role byte is not 1, 2 or 3
  kBadId,                    // tenant_id or subject_id empty, too long, or outside its alphabet
  kBadValidity,              // not_before > not_after (credential or TenantCert)
  kMissingTenantCert,        // device/connector without a TenantCert
  kRelayWithTenantCert,      // relay credential carrying a tenant id or TenantCert
  kRelayWithNoiseKey,        // relay credential with a non-zero Noise key
  kMissingNoiseKey,          // device/connector with an all-zero Noise key
  kTenantMismatch,           // credential tenant_id differs from its TenantCert's
  kTenantCertBadSignature,   // TenantCert not signed by the root key
  kTenantCertExpired,
  kTenantCertNotYetValid,
  kCredentialBadSignature,   // credential not signed by the tenant key (relay: the root key)
  kExpired,
  kNotYetValid,
  kOutlivesTenantCert,       // credential validity not inside its TenantCert's validity
  kWrongRole,                // role not in VerifyOptions::roles
  kWrongTenant,              // tenant differs from VerifyOptions::tenant
  kIssuerKeyMismatch,        // Issue*: the signing key is not the key the TenantCert certifies
};
std::string_view CredentialErrorName(CredentialError e);

using CredentialResultError = Error<CredentialError>;

// Structural views. Every span / string_view points into the bytes given to Parse*, so a view lives no longer
// than those bytes. Fields are exactly the wire fields; Serialize* re-encodes them byte for byte.
struct TenantCertView {
  uint8_t version = 0;
  std::string_view tenant_id;
  Ed25519PublicKey tenant_key;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
  Ed25519Signature signature;
  std::span<const uint8_t> signed_part;  // every byte before the signature
};

struct CredentialView {
  uint8_t version = 0;
  Role role = Role::kDevice;
  std::string_view tenant_id;
  std::string_view subject_id;
  Ed25519PublicKey key;
  X25519PublicKey noise_key;
  uint64_t serial = 0;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
  std::span<const uint8_t> tenant_cert_bytes;  // empty for relay
  std::optional<TenantCertView> tenant_cert;   // parsed tenant_cert_bytes; nullopt for relay
  Ed25519Signature signature;
  std::span<const uint8_t> signed_part;
};

// Parses everything that needs neither a key nor a clock: size bound, structure, trailing bytes, versions, role,
// id syntax, validity order, the role's shape (relay: no tenant, no TenantCert, zero Noise key; device and
// connector: a TenantCert of the same tenant, a non-zero Noise key) and the embedded TenantCert. Signatures and
// times are NOT checked: never trust a view from Parse; use Verify. No allocation.
Result<TenantCertView, CredentialResultError> ParseTenantCert(std::span<const uint8_t> bytes);
Result<CredentialView, CredentialResultError> ParseCredential(std::span<const uint8_t> bytes);

// Re-encodes a view (the inverse of Parse; used by the round-trip fuzzer and tests). The signature is copied,
// not recomputed. The result is empty if a field does not fit its length prefix.
std::vector<uint8_t> SerializeTenantCert(const TenantCertView& v);
std::vector<uint8_t> SerializeCredential(const CredentialView& v);

struct VerifyOptions {
  RoleSet roles = RoleSet::Any();
  std::optional<std::string_view> tenant;  // if set, the credential must belong to this tenant (relays never do)
};

// An owned, verified credential. Validity is the credential's own (already inside its TenantCert's).
struct VerifiedCredential {
  Role role = Role::kDevice;
  std::string tenant_id;  // empty for relay
  std::string subject_id;
  Ed25519PublicKey key;
  X25519PublicKey noise_key;
  uint64_t serial = 0;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
  Ed25519PublicKey tenant_key;  // the key that signed the credential (relay: the root key)
};

// Full offline verification against the operator root key at time `now_unix`, in docs/protocol.md §4's order:
// Parse, the TenantCert's root signature and validity, the credential's signature and validity, containment in
// the TenantCert's validity, then the expected roles and tenant. Costs two Ed25519 verifies (relay: one).
Result<VerifiedCredential, CredentialResultError> VerifyCredential(std::span<const uint8_t> bytes,
                                                                   const Ed25519PublicKey& root_public_key,
                                                                   uint64_t now_unix, const VerifyOptions& options);

// --- Issuing (the control plane's job; `strait keys` until it exists) ---

struct TenantCertParams {
  std::string_view tenant_id;
  Ed25519PublicKey tenant_key;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
};
// The root signs a tenant's key. Fails with kBadId or kBadValidity.
Result<std::vector<uint8_t>, CredentialResultError> IssueTenantCert(const Ed25519KeyPair& root,
                                                                    const TenantCertParams& params);

struct CredentialParams {
  Role role = Role::kDevice;
  std::string_view subject_id;
  Ed25519PublicKey key;
  X25519PublicKey noise_key;  // must be zero for relay, non-zero otherwise
  uint64_t serial = 0;
  uint64_t not_before = 0;
  uint64_t not_after = 0;
};
// A tenant key signs a device or connector credential. The tenant id comes from `tenant_cert`, which must parse
// and certify `tenant_key`'s public key; the validity must lie inside the TenantCert's. Does not check the
// TenantCert's root signature (the issuer holds it from a trusted source).
Result<std::vector<uint8_t>, CredentialResultError> IssueCredential(const Ed25519KeyPair& tenant_key,
                                                                    std::span<const uint8_t> tenant_cert,
                                                                    const CredentialParams& params);
// The root signs a relay credential (role must be kRelay).
Result<std::vector<uint8_t>, CredentialResultError> IssueRelayCredential(const Ed25519KeyPair& root,
                                                                         const CredentialParams& params);

}  // namespace strait::crypto
