// What `strait keys` does, behind options structs (keys_command.cc maps flags onto them). Until the control plane
// exists these play its part: the operator root, tenant keys, credentials and the relays' TLS CA, all as files in
// the layouts of crypto/keystore.h (docs/keys.md tells the story).
//
// Each operation takes the current time (unix seconds) as a parameter and returns either a short human summary
// for stdout or a one-line error for stderr. Nothing here prints or reads flags; nothing prints secret bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keystore.h"
#include "crypto/result.h"

namespace strait::cli {

// Validity bounds (docs/keys.md "Validity"). not_before is backdated by kClockSkewSeconds so a peer whose clock
// is a little behind still accepts a fresh credential.
inline constexpr uint64_t kClockSkewSeconds = 5 * 60;
inline constexpr uint32_t kMinCredentialHours = 1;
inline constexpr uint32_t kMaxCredentialHours = 30 * 24;
inline constexpr uint32_t kDefaultCredentialHours = 24;
inline constexpr uint32_t kMaxTenantCertDays = 400;
inline constexpr uint32_t kDefaultTenantCertDays = 90;
inline constexpr uint32_t kMaxTlsCaDays = 3650;
inline constexpr uint32_t kDefaultTlsCaDays = 3650;
inline constexpr uint32_t kMaxTlsServerDays = 400;
inline constexpr uint32_t kDefaultTlsServerDays = 90;

using OpResult = Result<std::string, std::string>;  // success: summary for stdout; failure: one-line message

struct InitRootOptions {
  std::string out_dir;
  crypto::Overwrite overwrite = crypto::Overwrite::kRefuse;
};
// <out>/root.key (0600), <out>/root.pub.
OpResult InitRoot(const InitRootOptions& o);

struct TenantOptions {
  std::string root_dir;  // holds root.key and root.pub
  std::string tenant_id;
  uint32_t days = kDefaultTenantCertDays;
  std::string out_dir;
  crypto::Overwrite overwrite = crypto::Overwrite::kRefuse;
};
// <out>/tenant.key (0600), <out>/tenant.cert (signed by the root), <out>/root.pub (copied).
OpResult MakeTenant(const TenantOptions& o, uint64_t now_unix);

struct TlsCaOptions {
  std::string out_dir;
  std::string common_name = "Strait operator TLS CA";
  uint32_t days = kDefaultTlsCaDays;
  crypto::Overwrite overwrite = crypto::Overwrite::kRefuse;
};
// <out>/ca.pem, <out>/ca.key (0600): a P-256 CA for relay TLS server certificates (crypto/x509_issue.h).
OpResult MakeTlsCa(const TlsCaOptions& o);

struct TlsServerOptions {
  std::string ca_dir;                     // holds ca.pem and ca.key
  std::vector<std::string> dns_names;     // at least one name or address
  std::vector<std::string> ip_addresses;
  uint32_t days = kDefaultTlsServerDays;
  std::string out_dir;
  crypto::Overwrite overwrite = crypto::Overwrite::kRefuse;
};
// <out>/tls.crt, <out>/tls.key (0600).
OpResult MakeTlsServer(const TlsServerOptions& o);

struct IssueOptions {
  crypto::Role role = crypto::Role::kDevice;
  std::string subject;
  uint32_t hours = kDefaultCredentialHours;
  std::string out_dir;
  crypto::Overwrite overwrite = crypto::Overwrite::kRefuse;
  // device / connector
  std::string tenant_dir;  // tenant.key, tenant.cert, root.pub
  std::string ca;          // optional: a tls-ca directory or a CA PEM file, copied to <out>/ca.pem
  // relay
  std::string root_dir;                   // root.key, root.pub
  std::string tls_ca_dir;                 // optional: an existing tls-ca directory to sign tls.crt with
  std::string new_tls_ca_dir;             // optional: make a new TLS CA there first, then sign with it
  std::vector<std::string> dns_names;     // the relay's TLS names (needed with either CA option)
  std::vector<std::string> ip_addresses;
  uint32_t tls_days = kDefaultTlsServerDays;
};
// An identity bundle (crypto/keystore.h layout) with fresh keys and a credential valid from now - skew to
// now + hours; the credential is verified against root.pub before anything is written.
OpResult Issue(const IssueOptions& o, uint64_t now_unix);

// Describes a key, TenantCert, credential, certificate or PEM private key file (or every file of a bundle
// directory): type, role, tenant, subject, validity in ISO 8601 UTC, key fingerprints. Never secret bytes.
OpResult Show(const std::string& path, uint64_t now_unix);

// Rewrites key files written before PEM keys (Strait armour) as PEM holding the same keys: one file, or the key
// files of a bundle or operator directory (crypto::UpgradeKeyFile). Lists what it rewrote; a second run changes
// nothing. Secret files must be 0600, as for loading.
OpResult Upgrade(const std::string& path);

struct VerifyCommandOptions {
  std::string root;        // root.pub, or a directory holding it
  std::string credential;  // a credential file, or a bundle directory holding one
  std::optional<crypto::Role> role;
  std::optional<std::string> tenant;
};
// Full offline verification (crypto::VerifyCredential). Failure message: "credential rejected: <code>: <reason>".
OpResult Verify(const VerifyCommandOptions& o, uint64_t now_unix);

// "2024-05-01T12:00:00Z".
std::string FormatUtc(uint64_t unix_seconds);
// "3d 4h", "5h 12m", "42s": a rough human span.
std::string FormatSpan(uint64_t seconds);

}  // namespace strait::cli
