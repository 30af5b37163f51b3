#include "tunnel/control/bundle.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "crypto/keystore.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/json_fields.h"

namespace strait::control {
namespace {

using internal::Json;
using internal::Need;
using internal::ObjectReader;

// A PEM text in a bundle (ca.pem, tls.crt) becomes a file the keystore reads with its own bound.
constexpr size_t kMaxPemBytes = crypto::kMaxKeystoreFileSize;
constexpr std::string_view kPemCertificateBegin = "-----BEGIN CERTIFICATE-----";

BundleResultError Err(BundleError code, std::string reason) { return {code, std::move(reason)}; }

std::optional<crypto::Role> KindFromName(std::string_view s) {
  if (s == wire::kKindDevice) return crypto::Role::kDevice;
  if (s == wire::kKindConnector) return crypto::Role::kConnector;
  if (s == wire::kKindRelay) return crypto::Role::kRelay;
  return std::nullopt;
}

// HOST:PORT: printable ASCII without spaces, a non-empty host, a port 1..65535 after the last ':'.
bool IsEndpoint(std::string_view s) {
  if (s.empty() || s.size() > wire::kMaxEndpointBytes) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned v = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v >= 1 && v <= 65535;
}

bool IsHttpsUrl(std::string_view s) {
  if (s.size() <= 8 || s.size() > wire::kMaxUrlBytes || s.substr(0, 8) != "https://") return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c <= '~'; });
}

std::string Str(std::optional<std::string_view> s) { return s ? std::string(*s) : std::string(); }

// kind, tenant and subject, as a bundle and control.json both carry them (relay: tenant absent or "").
void ReadIdentity(ObjectReader& r, crypto::Role* kind, std::string* tenant, std::string* subject) {
  const auto kind_name = r.String(wire::kBundleKindField, Need::kRequired, 16);
  if (kind_name) {
    if (auto k = KindFromName(*kind_name)) {
      *kind = *k;
    } else {
      r.Fail(WireError::kBadValue, wire::kBundleKindField, "expected device, connector or relay");
    }
  }
  if (!r.ok()) return;
  if (*kind == crypto::Role::kRelay) {
    const auto t = r.String(wire::kBundleTenantField, Need::kOptional, wire::kMaxIdBytes);
    if (t && !t->empty()) r.Fail(WireError::kBadValue, wire::kBundleTenantField, "a relay has no tenant");
  } else {
    *tenant = Str(r.TenantId(wire::kBundleTenantField, Need::kRequired));
  }
  *subject = Str(r.SubjectId(wire::kBundleSubjectField, Need::kRequired));
}

// "relays": [{id, device, connector}], ids unique.
void ReadRelays(ObjectReader& r, std::vector<RelayEndpoint>* out) {
  const Json* relays = r.Array(wire::kBundleRelaysField, Need::kOptional, wire::kMaxBundleRelays);
  if (relays == nullptr) return;
  std::set<std::string, std::less<>> ids;
  for (size_t i = 0; i < relays->size() && r.ok(); ++i) {
    ObjectReader e((*relays)[i], r.PointerTo(wire::kBundleRelaysField) + "/" + std::to_string(i));
    RelayEndpoint ep;
    ep.id = Str(e.SubjectId(wire::kRelayIdField, Need::kRequired));
    ep.device = Str(e.String(wire::kRelayDeviceField, Need::kRequired, wire::kMaxEndpointBytes));
    ep.connector = Str(e.String(wire::kRelayConnectorField, Need::kRequired, wire::kMaxEndpointBytes));
    if (e.ok() && !IsEndpoint(ep.device)) e.Fail(WireError::kBadValue, wire::kRelayDeviceField, "expected HOST:PORT");
    if (e.ok() && !IsEndpoint(ep.connector)) {
      e.Fail(WireError::kBadValue, wire::kRelayConnectorField, "expected HOST:PORT");
    }
    if (e.ok() && !ids.insert(ep.id).second) e.Fail(WireError::kBadValue, wire::kRelayIdField, "duplicate relay id");
    r.Adopt(e);
    out->push_back(std::move(ep));
  }
}

// A PEM certificate text field: at most kMaxPemBytes, holding a CERTIFICATE block.
std::string ReadPem(ObjectReader& r, std::string_view name) {
  const auto pem = r.String(name, Need::kRequired, kMaxPemBytes);
  if (pem && pem->find(kPemCertificateBegin) == std::string_view::npos) {
    r.Fail(WireError::kBadValue, name, "no PEM CERTIFICATE block");
  }
  return Str(pem);
}

}  // namespace

std::string_view BundleErrorName(BundleError e) {
  switch (e) {
    case BundleError::kDecode: return "decode";
    case BundleError::kCredentialRefused: return "credential_refused";
    case BundleError::kIdentityMismatch: return "identity_mismatch";
    case BundleError::kKeyMismatch: return "key_mismatch";
    case BundleError::kRootChanged: return "root_changed";
    case BundleError::kFiles: return "files";
  }
  return "unknown";
}

// --- Decoding ---

Result<Bundle, WireResultError> DecodeBundle(std::string_view json) {
  auto parsed = internal::ParseBounded(json, wire::kMaxBundleBytes);
  if (!parsed) return Fail(parsed.error());
  ObjectReader r(*parsed, "");
  Bundle b;

  const auto version = r.Unsigned(wire::kBundleVersionField, Need::kRequired);
  if (version && *version != static_cast<uint64_t>(wire::kBundleVersion)) {
    return Fail(WireResultError{WireError::kUnsupportedVersion,
                                fmt::format("/version: {}; this daemon reads version {}", *version,
                                            wire::kBundleVersion)});
  }
  ReadIdentity(r, &b.kind, &b.tenant, &b.subject);

  if (auto cred = r.Bytes(wire::kBundleCredentialField, Need::kRequired, crypto::kMaxCredentialSize)) {
    if (cred->size() > crypto::kMaxCredentialSize) {
      r.Fail(WireError::kBadValue, wire::kBundleCredentialField, "longer than a credential can be");
    } else if (auto view = crypto::ParseCredential(*cred); !view) {
      r.Fail(WireError::kBadValue, wire::kBundleCredentialField,
             fmt::format("not a credential ({})", crypto::CredentialErrorName(view.error().code)));
    }
    b.credential = std::move(*cred);
  }
  if (auto root = r.Bytes(wire::kBundleRootKeyField, Need::kRequired, crypto::Ed25519PublicKey::kSize)) {
    if (!crypto::Ed25519PublicKey::FromSpan(*root, &b.root_public_key) || b.root_public_key.IsZero()) {
      r.Fail(WireError::kBadValue, wire::kBundleRootKeyField, "expected a 32-byte Ed25519 public key");
    }
  }
  if (!r.ok()) return Fail(r.error());

  if (b.kind == crypto::Role::kRelay) {
    b.tls_cert_pem = ReadPem(r, wire::kBundleTlsCertField);
  } else {
    b.ca_pem = ReadPem(r, wire::kBundleCaPemField);
  }
  ReadRelays(r, &b.relays);

  if (b.kind == crypto::Role::kDevice && r.ok()) {
    if (const Json* cs = r.Array(wire::kBundleConnectorsField, Need::kOptional, wire::kMaxBundleConnectors)) {
      std::set<std::string, std::less<>> ids;
      for (size_t i = 0; i < cs->size() && r.ok(); ++i) {
        ObjectReader e((*cs)[i], r.PointerTo(wire::kBundleConnectorsField) + "/" + std::to_string(i));
        BundleConnector c;
        c.id = Str(e.SubjectId(wire::kConnectorIdField, Need::kRequired));
        if (auto key = e.Bytes(wire::kConnectorNoiseKeyField, Need::kRequired, crypto::X25519PublicKey::kSize)) {
          if (!crypto::X25519PublicKey::FromSpan(*key, &c.noise_key) || c.noise_key.IsZero()) {
            e.Fail(WireError::kBadValue, wire::kConnectorNoiseKeyField, "expected a 32-byte X25519 public key");
          }
        }
        if (e.ok() && !ids.insert(c.id).second) {
          e.Fail(WireError::kBadValue, wire::kConnectorIdField, "duplicate connector id");
        }
        r.Adopt(e);
        b.connectors.push_back(std::move(c));
      }
    }
    if (const Json* policy = r.Object(wire::kBundlePolicyField, Need::kOptional)) {
      // Re-serialised compactly: the parser has checked the UTF-8, so dump cannot meet an invalid string.
      b.policy_json = policy->dump(-1, ' ', false, Json::error_handler_t::replace);
    }
  }

  if (const Json* control = r.Object(wire::kBundleControlField, Need::kRequired)) {
    ObjectReader c(*control, r.PointerTo(wire::kBundleControlField));
    b.url = Str(c.String(wire::kControlUrlField, Need::kRequired, wire::kMaxUrlBytes));
    if (c.ok() && !IsHttpsUrl(b.url)) c.Fail(WireError::kBadValue, wire::kControlUrlField, "expected an https:// URL");
    b.renew_after = c.Time(wire::kControlRenewAfterField, Need::kRequired).value_or(0);
    b.not_after = c.Time(wire::kControlNotAfterField, Need::kRequired).value_or(0);
    if (c.ok() && b.renew_after > b.not_after) {
      c.Fail(WireError::kBadValue, wire::kControlRenewAfterField, "after not_after");
    }
    r.Adopt(c);
  }
  if (!r.ok()) return Fail(r.error());
  return b;
}

std::string CertificatesAfterFirst(const std::string& pem) {
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const size_t end = pem.find(kEnd);
  if (end == std::string::npos) return "";
  const size_t next = pem.find("-----BEGIN", end);
  return next == std::string::npos ? "" : pem.substr(next);
}

// --- control.json ---

std::string EncodeControlFile(const Bundle& bundle) {
  Json relays = Json::array();
  for (const RelayEndpoint& e : bundle.relays) {
    relays.push_back(Json{{std::string(wire::kRelayIdField), e.id},
                          {std::string(wire::kRelayDeviceField), e.device},
                          {std::string(wire::kRelayConnectorField), e.connector}});
  }
  Json j = {{std::string(wire::kBundleVersionField), wire::kControlFileVersion},
            {std::string(wire::kBundleKindField), std::string(crypto::RoleName(bundle.kind))},
            {std::string(wire::kBundleSubjectField), bundle.subject},
            {std::string(wire::kControlFileUrlField), bundle.url},
            {std::string(wire::kControlRenewAfterField), wire::FormatTime(bundle.renew_after)},
            {std::string(wire::kControlNotAfterField), wire::FormatTime(bundle.not_after)},
            {std::string(wire::kBundleRelaysField), std::move(relays)}};
  if (bundle.kind != crypto::Role::kRelay) j[std::string(wire::kBundleTenantField)] = bundle.tenant;
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<ControlFile, WireResultError> DecodeControlFile(std::string_view json) {
  auto parsed = internal::ParseBounded(json, wire::kMaxBundleBytes);
  if (!parsed) return Fail(parsed.error());
  ObjectReader r(*parsed, "");
  ControlFile f;
  const auto version = r.Unsigned(wire::kBundleVersionField, Need::kRequired);
  if (version && *version != static_cast<uint64_t>(wire::kControlFileVersion)) {
    return Fail(WireResultError{WireError::kUnsupportedVersion,
                                fmt::format("/version: {}; this daemon reads version {}", *version,
                                            wire::kControlFileVersion)});
  }
  ReadIdentity(r, &f.kind, &f.tenant, &f.subject);
  f.url = Str(r.String(wire::kControlFileUrlField, Need::kRequired, wire::kMaxUrlBytes));
  if (r.ok() && !IsHttpsUrl(f.url)) r.Fail(WireError::kBadValue, wire::kControlFileUrlField, "expected an https:// URL");
  f.renew_after = r.Time(wire::kControlRenewAfterField, Need::kRequired).value_or(0);
  f.not_after = r.Time(wire::kControlNotAfterField, Need::kRequired).value_or(0);
  ReadRelays(r, &f.relays);
  if (!r.ok()) return Fail(r.error());
  return f;
}

Result<std::optional<ControlFile>, BundleResultError> ReadControlFile(const std::string& dir) {
  const std::string path = crypto::JoinPath(dir, wire::kControlFile);
  auto text = crypto::ReadPublicFile(path);
  if (!text) {
    if (text.error().code == crypto::KeystoreError::kNotFound) return std::optional<ControlFile>();
    return Fail(Err(BundleError::kFiles, text.error().reason));
  }
  auto f = DecodeControlFile(*text);
  if (!f) {
    return Fail(Err(BundleError::kDecode,
                    fmt::format("{}: {} ({})", path, f.error().reason, WireErrorName(f.error().code))));
  }
  return std::optional<ControlFile>(std::move(f).value());
}

// --- Writing ---

Result<LocalKeys, BundleResultError> LoadLocalKeys(const std::string& dir) {
  auto b = crypto::LoadIdentityBundle(dir);
  if (!b) return Fail(Err(BundleError::kFiles, b.error().reason));
  LocalKeys k;
  k.signing_key = b->signing_key;
  k.noise_key = b->noise_key;
  k.tls_key_pem = std::move(b->tls_key_pem);
  return k;
}

namespace {

// The bundle against its own root, the clock and the local keys.
Result<void, BundleResultError> CheckBundle(const Bundle& bundle, const LocalKeys& keys, uint64_t now_unix) {
  crypto::VerifyOptions opts{crypto::RoleSet{bundle.kind}, std::nullopt};
  if (bundle.kind != crypto::Role::kRelay) opts.tenant = bundle.tenant;
  auto v = crypto::VerifyCredential(bundle.credential, bundle.root_public_key, now_unix, opts);
  if (!v) {
    return Fail(Err(BundleError::kCredentialRefused,
                    fmt::format("the bundle's credential does not verify against its root ({}): {}",
                                crypto::CredentialErrorName(v.error().code), v.error().reason)));
  }
  if (v->subject_id != bundle.subject || v->tenant_id != bundle.tenant) {
    return Fail(Err(BundleError::kIdentityMismatch,
                    fmt::format("the bundle names {}/{} but its credential is {}/{}", bundle.tenant, bundle.subject,
                                v->tenant_id, v->subject_id)));
  }
  if (!(v->key == keys.signing_key.public_key)) {
    return Fail(Err(BundleError::kKeyMismatch,
                    fmt::format("the credential certifies signing key {}, the local key is {}", v->key,
                                keys.signing_key.public_key)));
  }
  if (bundle.kind == crypto::Role::kRelay) {
    if (keys.tls_key_pem.empty()) return Fail(Err(BundleError::kKeyMismatch, "a relay bundle needs the local tls.key"));
  } else if (!keys.noise_key || !(keys.noise_key->public_key == v->noise_key)) {
    return Fail(Err(BundleError::kKeyMismatch,
                    fmt::format("the credential certifies Noise key {}, the local key is {}", v->noise_key,
                                keys.noise_key ? keys.noise_key->public_key.fingerprint() : std::string("absent"))));
  }
  return {};
}

// Renewal: the directory's root and identity are the bundle's.
Result<void, BundleResultError> CheckRenewal(const std::string& dir, const Bundle& bundle) {
  auto root = crypto::LoadEd25519PublicKey(crypto::JoinPath(dir, crypto::kRootPublicFile));
  if (!root) return Fail(Err(BundleError::kFiles, root.error().reason));
  if (!(*root == bundle.root_public_key)) {
    return Fail(Err(BundleError::kRootChanged,
                    fmt::format("{}: the bundle's root {} is not this directory's root {}; refusing to change the "
                                "trust root on renewal",
                                dir, bundle.root_public_key, *root)));
  }
  auto cred = crypto::LoadCredential(crypto::JoinPath(dir, crypto::kBundleCredentialFile));
  if (!cred) return Fail(Err(BundleError::kFiles, cred.error().reason));
  auto old = crypto::ParseCredential(*cred);
  if (!old) return Fail(Err(BundleError::kFiles, fmt::format("{}: the current credential does not parse", dir)));
  if (old->role != bundle.kind || old->tenant_id != bundle.tenant || old->subject_id != bundle.subject) {
    return Fail(Err(BundleError::kIdentityMismatch,
                    fmt::format("{}: holds {} {}/{}; the bundle is for {} {}/{}", dir, crypto::RoleName(old->role),
                                old->tenant_id, old->subject_id, crypto::RoleName(bundle.kind), bundle.tenant,
                                bundle.subject)));
  }
  return {};
}

Result<void, BundleResultError> FilesError(const crypto::KeystoreResultError& e) {
  return Fail(Err(BundleError::kFiles, e.reason));
}

}  // namespace

Result<void, BundleResultError> WriteBundleFiles(const std::string& dir, const Bundle& bundle, LocalKeys keys,
                                                 WriteMode mode, uint64_t now_unix) {
  if (auto r = CheckBundle(bundle, keys, now_unix); !r) return r;
  if (mode == WriteMode::kRenew) {
    if (auto r = CheckRenewal(dir, bundle); !r) return r;
  }
  const crypto::Overwrite overwrite =
      mode == WriteMode::kRenew ? crypto::Overwrite::kReplace : crypto::Overwrite::kRefuse;
  const bool device = bundle.kind == crypto::Role::kDevice;
  const std::string connectors_dir = crypto::JoinPath(dir, wire::kConnectorsDir);
  auto connector_path = [&](const std::string& id) {
    return crypto::JoinPath(connectors_dir, id + std::string(wire::kConnectorKeySuffix));
  };
  const std::string policy_path = crypto::JoinPath(dir, wire::kPolicyFile);
  const std::string control_path = crypto::JoinPath(dir, wire::kControlFile);

  // Enrolling: our own files must not exist either (SaveIdentityBundle checks its own before writing any).
  if (mode == WriteMode::kEnroll) {
    std::vector<std::string> ours = {control_path, policy_path};
    for (const BundleConnector& c : bundle.connectors) ours.push_back(connector_path(c.id));
    for (const std::string& p : ours) {
      if (crypto::PathExists(p)) {
        return Fail(Err(BundleError::kFiles, fmt::format("{}: already exists; refusing to enrol over it", p)));
      }
    }
  }

  crypto::IdentityBundle id;
  id.role = bundle.kind;
  id.credential = bundle.credential;
  id.signing_key = keys.signing_key;
  id.noise_key = keys.noise_key;
  id.root_public_key = bundle.root_public_key;
  id.ca_pem = bundle.ca_pem;
  id.tls_cert_pem = bundle.tls_cert_pem;
  id.tls_key_pem = std::move(keys.tls_key_pem);
  if (bundle.kind == crypto::Role::kRelay) id.noise_key.reset();
  if (auto r = crypto::SaveIdentityBundle(dir, id, overwrite); !r) return FilesError(r.error());

  if (device) {
    if (auto r = crypto::EnsureDirectory(connectors_dir); !r) return FilesError(r.error());
    std::set<std::string, std::less<>> keep;
    for (const BundleConnector& c : bundle.connectors) {
      const std::string path = connector_path(c.id);
      if (auto r = crypto::SaveX25519PublicKey(path, c.noise_key, overwrite); !r) return FilesError(r.error());
      keep.insert(c.id + std::string(wire::kConnectorKeySuffix));
    }
    // A connector that left the set must not stay pinned. Only files of the form <id>.pub are ours to remove.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(connectors_dir, ec)) {
      const std::string name = entry.path().filename().string();
      const std::string_view sv(name);
      if (sv.size() <= wire::kConnectorKeySuffix.size() || !sv.ends_with(wire::kConnectorKeySuffix)) continue;
      if (!wire::IsSubjectId(sv.substr(0, sv.size() - wire::kConnectorKeySuffix.size()))) continue;
      if (keep.contains(name)) continue;
      std::error_code rm;
      std::filesystem::remove(entry.path(), rm);
      if (rm) return Fail(Err(BundleError::kFiles, fmt::format("{}: {}", entry.path().string(), rm.message())));
    }
    if (ec) return Fail(Err(BundleError::kFiles, fmt::format("{}: {}", connectors_dir, ec.message())));
  }
  if (device && bundle.policy_json) {
    if (auto r = crypto::WritePublicFile(policy_path, *bundle.policy_json + "\n", overwrite); !r) {
      return FilesError(r.error());
    }
  } else if (mode == WriteMode::kRenew) {
    std::error_code rm;
    std::filesystem::remove(policy_path, rm);  // the bundle has no policy any more
    if (rm) return Fail(Err(BundleError::kFiles, fmt::format("{}: {}", policy_path, rm.message())));
  }
  // Last: its presence says the directory is complete.
  if (auto r = crypto::WritePublicFile(control_path, EncodeControlFile(bundle), overwrite); !r) {
    return FilesError(r.error());
  }
  return {};
}

}  // namespace strait::control
