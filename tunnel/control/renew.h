// Renewing a daemon's credential once (docs/control-plane.md §6.5): the blocking exchange `strait ... renew` runs
// and the Renewer's thread repeats. Setup path, never on an io_uring thread.
//
//   read     DIR/control.json (url, kind, tenant, subject), DIR/credential, the keys (crypto::LoadIdentityBundle,
//            so signing.key, and noise.key or tls.key), and the CA: DIR/ca.pem, or for a relay the certificates
//            after the leaf in DIR/tls.crt
//   connect  TLS 1.3 to the url, the server's certificate checked against that CA and the url's host
//   prove    Authorization: Strait-Credential cred=<base64>, proof=<base64 Ed25519 over
//            wire::ControlProofMessage(role name, TLS-Exporter(kControlExporterLabel, "", 32))>
//   POST     RenewPath(kind, tenant, subject) with {} (renewal keeps the keys: new keys mean a new activation)
//   check    200, a Bundle of the same kind, tenant and subject, for the same root (root.pub differs -> refused:
//            root rotation is never automatic) and the same keys, whose credential verifies now
//   write    WriteBundleFiles(kRenew): every file replaced atomically, one at a time, control.json last; the keys
//            are not touched
//
// Thread-safety: a free function with no shared state; two renewals of one directory at once are the caller's to
// avoid (the Renewer runs one at a time; the CLI may race a running daemon's renewer: both write complete files,
// the later one wins, and either credential is valid).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/result.h"
#include "tunnel/control/http_client.h"

namespace strait::control {

// The path of a subject's renew route (§4.8): /v1/tenants/{t}/devices/{d}/renew, .../connectors/{c}/renew,
// /v1/relays/{r}/renew.
std::string RenewPath(crypto::Role kind, std::string_view tenant, std::string_view subject);

// Why a renewal did not happen. What the Renewer does next depends on it (renewer.h).
enum class RenewError : uint8_t {
  kFiles,     // the identity directory cannot be read (no control.json: not enrolled with strait-control)
  kNetwork,   // resolve, connect, TLS (certificate not trusted), timeout, or a broken HTTP answer
  kRefused,   // the control plane answered a problem: `problem` says which (locked, suspended, busy, ...)
  kRejected,  // 401: the credential is not accepted (expired past the grace period, superseded, unknown subject)
  kRevoked,   // 403 device-revoked / connector-revoked / relay-revoked: final, the daemon exits
  kBundle,    // the answer is not a bundle for this directory (kind, subject, root, keys) or was not written
};
std::string_view RenewErrorName(RenewError e);

struct RenewFailure {
  RenewError code = RenewError::kFiles;
  std::string reason;   // one line, for a log or stderr
  ProblemInfo problem;  // kRefused, kRejected, kRevoked: the problem's status, name and detail
};

struct RenewOptions {
  std::chrono::milliseconds timeout = kHttpTimeout;  // connect + handshake, then the exchange
  std::optional<crypto::Role> kind;  // set: a directory of another kind is refused (kFiles) before any exchange
};

// What was renewed: the new credential and the times of the control.json now in the directory.
struct Renewed {
  crypto::Role kind = crypto::Role::kDevice;
  std::string tenant;  // "" for relay
  std::string subject;
  std::vector<uint8_t> credential;
  uint64_t renew_after = 0;  // unix seconds
  uint64_t not_after = 0;
};

// One renewal of the identity directory `dir`, now. `now_unix` is the clock the new credential is checked at.
Result<Renewed, RenewFailure> RenewOnce(const std::string& dir, uint64_t now_unix, const RenewOptions& options = {});

}  // namespace strait::control
