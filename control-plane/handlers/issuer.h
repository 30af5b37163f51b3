// Issuing machine credentials (docs/control-plane.md §6, docs/keys.md "Validity"): a device or connector credential
// signed by its tenant's key (unsealed for this one issuance, never cached), a relay credential signed by the root
// with a TLS leaf from the operator TLS CA for the relay's own P-256 key, each with its `credentials` row in the
// caller's write transaction (so the serial and the row commit with the change they belong to), and the Bundle of
// §6.3 that carries it (field names from tunnel/control/control_wire.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/handlers/context.h"

namespace strait::control {

// A credential starts an hour early, as `strait keys` makes them (docs/keys.md "Validity").
inline constexpr int64_t kCredentialBackdateSeconds = 3600;

struct Issued {
  std::vector<uint8_t> credential;  // crypto/credential.h wire bytes
  int64_t serial = 0;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::string tls_cert_pem;  // relay only: leaf + CA
  int64_t tls_not_after = 0;
};

// A device or connector credential of `tenant` for (subject, keys): lifetime from ServiceConfig, not_after clipped
// to the TenantCert's. Inserts the credential row into `tx`.
Result<Issued, Problem> IssueTenantSubject(const Context& ctx, store::WriteTx& tx, const store::TenantRecord& tenant,
                                           store::SubjectRole role, std::string_view subject,
                                           std::span<const uint8_t> signing_key, std::span<const uint8_t> noise_key);

// A relay credential by the root, and a TLS leaf for `tls_spki` (SubjectPublicKeyInfo DER, P-256) with the relay's
// tls_names / tls_ips. Inserts the credential row into `tx`.
Result<Issued, Problem> IssueRelay(const Context& ctx, store::WriteTx& tx, const store::RelayRecord& relay,
                                   std::span<const uint8_t> signing_key, std::span<const uint8_t> tls_spki);

// The Bundle (§6.3) for what was just issued, read in `tx`: every active relay with its endpoints; for a device, its
// tenant's active connectors' Noise keys and the tenant's default policy (or null); `ca_pem` for devices and
// connectors, `tls_cert_pem` for relays.
Result<nlohmann::json, Problem> BundleJson(const Context& ctx, store::ReadTx& tx, store::SubjectRole role,
                                           std::string_view tenant, std::string_view subject, const Issued& issued);

// The JSON of a credential in Device, Connector and Relay: {serial (a decimal string), not_after}.
nlohmann::json CredentialJson(int64_t serial, int64_t not_after);

}  // namespace strait::control
