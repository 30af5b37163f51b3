// A daemon's credentials on the control plane (docs/control-plane.md §3 "Machine credentials"):
//   Authorization: Strait-Credential cred=<base64>, proof=<base64>
// The credential is verified offline against the operator root, the proof (tunnel/control/control_wire.h
// ControlProofMessage) against the credential's key and this connection's TLS exporter, and the subject against the
// store: it exists, is active, and its tenant is not suspended. An expired credential passes only where the route
// allows it (renewal), only within the grace period, and only if it is one of the two newest issued to its subject
// (the `credentials` table). That last check here reads the dispatcher's snapshot, an early answer that costs no
// writer lock; renewal repeats it in its write transaction (handlers/renew.cc), which is the authority.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "control-plane/handlers/context.h"

namespace strait::control {

// How many of a subject's newest credentials may still renew after they expired (§6.5).
inline constexpr size_t kGraceNewest = 2;
static_assert(kGraceNewest <= store::kCredentialsPerSubject, "the store must keep every credential that may renew");

struct MachineAuthOptions {
  int64_t grace_seconds = 0;  // > 0: an expired credential is accepted this long after its not_after
};

// The machine principal, or the problem: 401 unauthenticated (reason: the CredentialError name, "bad_proof",
// "malformed", "unknown_subject", "superseded"), 403 device-locked / device-revoked / connector-revoked /
// relay-revoked / tenant-suspended.
std::variant<Principal, Problem> AuthenticateMachine(std::string_view header_value, const http::Request& request,
                                                     const Services& services, store::ReadTx& tx, int64_t now,
                                                     const MachineAuthOptions& options);

// True if the header starts with the Strait-Credential scheme.
bool IsMachineCredential(std::string_view header_value);

// The `n` newest credentials issued to a machine principal's subject, highest serial first.
store::StoreResult<std::vector<store::CredentialRecord>> NewestCredentialsOf(store::ReadTx& tx, const Principal& p,
                                                                            size_t n);

// The two-newest rule (§6.5): nullopt if `p`'s credential has not expired or its serial is among `newest` (the
// kGraceNewest newest of its subject, NewestCredentialsOf); else 401 unauthenticated, reason "superseded".
std::optional<Problem> SupersededProblem(const Principal& p, std::span<const store::CredentialRecord> newest);

}  // namespace strait::control
