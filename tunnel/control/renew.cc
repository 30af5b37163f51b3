#include "tunnel/control/renew.h"

#include <utility>

#include <fmt/format.h>

#include "crypto/keystore.h"
#include "tunnel/control/bundle.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/subscriber.h"

namespace strait::control {
namespace {

RenewFailure Failure(RenewError code, std::string reason) { return RenewFailure{code, std::move(reason), {}}; }

// The control plane's CA as this directory trusts it: ca.pem, or for a relay (no ca.pem) the certificates after
// the leaf of tls.crt, as the enrolment checked the server against.
Result<std::string, RenewFailure> TrustedCa(const std::string& dir, crypto::Role kind) {
  if (kind != crypto::Role::kRelay) {
    auto ca = crypto::ReadPublicFile(crypto::JoinPath(dir, crypto::kCaCertFile));
    if (!ca) return Fail(Failure(RenewError::kFiles, ca.error().reason));
    return std::move(*ca);
  }
  const std::string path = crypto::JoinPath(dir, crypto::kBundleTlsCertFile);
  auto chain = crypto::ReadPublicFile(path);
  if (!chain) return Fail(Failure(RenewError::kFiles, chain.error().reason));
  std::string ca = CertificatesAfterFirst(*chain);
  if (ca.empty()) return Fail(Failure(RenewError::kFiles, path + ": no CA certificate after the leaf"));
  return ca;
}

}  // namespace

std::string_view RenewErrorName(RenewError e) {
  switch (e) {
    case RenewError::kFiles: return "files";
    case RenewError::kNetwork: return "network";
    case RenewError::kRefused: return "refused";
    case RenewError::kRejected: return "rejected";
    case RenewError::kRevoked: return "revoked";
    case RenewError::kBundle: return "bundle";
  }
  return "unknown";
}

std::string RenewPath(crypto::Role kind, std::string_view tenant, std::string_view subject) {
  switch (kind) {
    case crypto::Role::kRelay: return fmt::format("/v1/relays/{}/renew", subject);
    case crypto::Role::kConnector: return fmt::format("/v1/tenants/{}/connectors/{}/renew", tenant, subject);
    default: return fmt::format("/v1/tenants/{}/devices/{}/renew", tenant, subject);
  }
}

Result<Renewed, RenewFailure> RenewOnce(const std::string& dir, uint64_t now_unix, const RenewOptions& options) {
  // 1. The directory: where to go, as whom, with which keys, trusting which CA.
  auto control = ReadControlFile(dir);
  if (!control) return Fail(Failure(RenewError::kFiles, control.error().reason));
  if (!*control) {
    return Fail(Failure(RenewError::kFiles,
                        fmt::format("{}: no {}: not enrolled with strait-control", dir, wire::kControlFile)));
  }
  const ControlFile& cf = **control;
  if (options.kind && *options.kind != cf.kind) {
    return Fail(Failure(RenewError::kFiles, fmt::format("{} holds a {}'s identity, not a {}'s", dir,
                                                        crypto::RoleName(cf.kind), crypto::RoleName(*options.kind))));
  }
  auto credential = crypto::LoadCredential(crypto::JoinPath(dir, crypto::kBundleCredentialFile));
  if (!credential) return Fail(Failure(RenewError::kFiles, credential.error().reason));
  auto keys = LoadLocalKeys(dir);
  if (!keys) return Fail(Failure(RenewError::kFiles, keys.error().reason));
  auto ca = TrustedCa(dir, cf.kind);
  if (!ca) return Fail(std::move(ca.error()));
  auto url = ParseHttpsUrl(cf.url);
  if (!url) {
    return Fail(Failure(RenewError::kFiles, fmt::format("{}: url: {}", wire::kControlFile, url.error().reason)));
  }

  // 2. The connection, checked against the CA and the url's host, and the proof bound to it.
  HttpsClientOptions http;
  http.ca_pem = *ca;
  http.timeout = options.timeout;
  // With ca_pem set, the handshake itself checks the chain and the url's host (crypto::TlsSession).
  auto conn = HttpsConnection::Connect(*url, http);
  if (!conn) return Fail(Failure(RenewError::kNetwork, fmt::format("{}: {}", cf.url, conn.error().reason)));
  auto auth = MachineAuthorization(*conn, cf.kind, *credential, keys->signing_key);
  if (!auth) return Fail(Failure(RenewError::kNetwork, auth.error().reason));

  HttpRequest req;
  req.method = "POST";
  req.target = RenewPath(cf.kind, cf.tenant, cf.subject);
  req.headers = {{"Content-Type", "application/json"},
                 {"Accept", "application/json"},
                 {"Authorization", std::move(*auth)}};
  req.body = "{}";
  auto resp = conn->Exchange(req);
  if (!resp) return Fail(Failure(RenewError::kNetwork, fmt::format("{}: {}", cf.url, resp.error().reason)));

  // 3. The answer: a problem, or a bundle for this very directory.
  if (resp->status != 200) {
    RenewFailure f;
    f.problem = DecodeProblem(resp->status, resp->body);
    f.code = resp->status == 401        ? RenewError::kRejected
             : IsRevocation(f.problem) ? RenewError::kRevoked
                                       : RenewError::kRefused;
    f.reason = fmt::format("refused ({}): {}", f.problem.name,
                           f.problem.detail.empty() ? fmt::format("HTTP {}", resp->status) : f.problem.detail);
    return Fail(std::move(f));
  }
  auto bundle = DecodeBundle(resp->body);
  if (!bundle) return Fail(Failure(RenewError::kBundle, "the bundle does not decode: " + bundle.error().reason));
  if (bundle->kind != cf.kind || bundle->subject != cf.subject || bundle->tenant != cf.tenant) {
    return Fail(Failure(RenewError::kBundle,
                        fmt::format("the bundle is {} {}'s, not this directory's {} {}", crypto::RoleName(bundle->kind),
                                    bundle->subject, crypto::RoleName(cf.kind), cf.subject)));
  }
  Renewed out;
  out.kind = bundle->kind;
  out.tenant = bundle->tenant;
  out.subject = bundle->subject;
  out.credential = bundle->credential;
  out.renew_after = bundle->renew_after;
  out.not_after = bundle->not_after;
  // Same root (kRootChanged otherwise), same identity, same keys, a credential valid now: then every file.
  if (auto w = WriteBundleFiles(dir, *bundle, std::move(*keys), WriteMode::kRenew, now_unix); !w) {
    return Fail(Failure(RenewError::kBundle,
                        fmt::format("{} ({})", w.error().reason, BundleErrorName(w.error().code))));
  }
  return out;
}

}  // namespace strait::control
