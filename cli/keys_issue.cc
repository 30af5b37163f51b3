// `strait keys init-root | tenant | tls-ca | tls-server | issue`: making keys, certificates and bundles.
#include <sys/stat.h>

#include <algorithm>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "crypto/x509_issue.h"
#include "cli/keys_operations.h"

namespace strait::cli {
namespace {

using crypto::Overwrite;
using crypto::Role;

constexpr uint64_t kHour = 3600;
constexpr uint64_t kDay = 24 * kHour;

Failure<std::string> Oops(std::string message) { return Fail(std::move(message)); }

std::string CredentialMessage(const crypto::CredentialResultError& e) {
  return fmt::format("{}: {}", crypto::CredentialErrorName(e.code), e.reason);
}

// With Overwrite::kRefuse, fails naming the first of `paths` that exists, before anything is generated or written.
Result<void, std::string> RefuseExisting(Overwrite overwrite, std::initializer_list<std::string> paths) {
  if (overwrite == Overwrite::kReplace) return {};
  for (const std::string& p : paths) {
    if (crypto::PathExists(p)) return Oops(fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)", p));
  }
  return {};
}

// Wipes a PEM private key held in a plain string (x509_issue returns them that way).
void WipePem(std::string& s) {
  crypto::SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()));
  s.clear();
}

struct PemGuard {
  crypto::PemCertificate pem;
  ~PemGuard() { WipePem(pem.key_pem); }
};

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t RandomSerial() {
  std::array<uint8_t, 8> b{};
  crypto::RandomBytes(b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v;
}

Result<std::string, std::string> ReadCaPem(const std::string& path) {
  auto pem = crypto::ReadPublicFile(path);
  if (!pem) return Oops(pem.error().reason);
  if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Oops(fmt::format("{}: no PEM CERTIFICATE block", path));
  }
  return std::move(pem).value();
}

// Loads <dir>/ca.pem and <dir>/ca.key (0600) into `out`.
Result<void, std::string> LoadTlsCa(const std::string& dir, PemGuard* out) {
  auto cert = ReadCaPem(crypto::JoinPath(dir, crypto::kCaCertFile));
  if (!cert) return Oops(cert.error());
  auto key = crypto::ReadSecretFile(crypto::JoinPath(dir, crypto::kCaKeyFile));
  if (!key) return Oops(key.error().reason);
  out->pem.cert_pem = std::move(cert).value();
  out->pem.key_pem = std::string(key->view());
  return {};
}

Result<void, std::string> WriteTlsCa(const std::string& dir, const std::string& common_name, uint32_t days,
                                     Overwrite overwrite, PemGuard* out) {
  const std::string cert_path = crypto::JoinPath(dir, crypto::kCaCertFile);
  const std::string key_path = crypto::JoinPath(dir, crypto::kCaKeyFile);
  if (auto r = RefuseExisting(overwrite, {cert_path, key_path}); !r) return r;
  if (auto r = crypto::EnsureDirectory(dir); !r) return Oops(r.error().reason);
  auto ca = crypto::GenerateCa({common_name, static_cast<int64_t>(days) * static_cast<int64_t>(kDay)});
  if (!ca) return Oops(fmt::format("TLS CA generation failed: {}", ca.error().reason));
  out->pem = std::move(ca).value();
  if (auto r = crypto::WriteSecretFile(key_path, out->pem.key_pem, overwrite); !r) return Oops(r.error().reason);
  if (auto r = crypto::WritePublicFile(cert_path, out->pem.cert_pem, overwrite); !r) return Oops(r.error().reason);
  return {};
}

Result<PemGuard, std::string> IssueLeaf(const PemGuard& ca, const std::vector<std::string>& dns_names,
                                        const std::vector<std::string>& ips, uint32_t days) {
  crypto::LeafOptions lo;
  lo.common_name = !dns_names.empty() ? std::string_view(dns_names.front()) : std::string_view(ips.front());
  lo.dns_names = dns_names;
  lo.ip_addresses = ips;
  lo.valid_seconds = static_cast<int64_t>(days) * static_cast<int64_t>(kDay);
  auto leaf = crypto::IssueLeafCertificate(ca.pem, lo);
  if (!leaf) return Oops(fmt::format("TLS certificate: {}", leaf.error().reason));
  PemGuard g;
  g.pem = std::move(leaf).value();
  return g;
}

std::string Names(const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
  std::vector<std::string> all = dns;
  all.insert(all.end(), ips.begin(), ips.end());
  return fmt::format("{}", fmt::join(all, ", "));
}

}  // namespace

OpResult InitRoot(const InitRootOptions& o) {
  const std::string key_path = crypto::JoinPath(o.out_dir, crypto::kRootKeyFile);
  const std::string pub_path = crypto::JoinPath(o.out_dir, crypto::kRootPublicFile);
  if (auto r = RefuseExisting(o.overwrite, {key_path, pub_path}); !r) return Oops(r.error());
  if (auto r = crypto::EnsureDirectory(o.out_dir); !r) return Oops(r.error().reason);
  const crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();
  if (auto r = crypto::SaveEd25519SecretKey(key_path, root, o.overwrite); !r) return Oops(r.error().reason);
  if (auto r = crypto::SaveEd25519PublicKey(pub_path, root.public_key, o.overwrite); !r) {
    return Oops(r.error().reason);
  }
  return fmt::format(
      "operator root key {}\nwrote {} (0600, keep it offline) and {} (give it to relays, connectors, devices)\n",
      root.public_key, key_path, pub_path);
}

OpResult MakeTenant(const TenantOptions& o, uint64_t now_unix) {
  const std::string key_path = crypto::JoinPath(o.out_dir, crypto::kTenantKeyFile);
  const std::string cert_path = crypto::JoinPath(o.out_dir, crypto::kTenantCertFile);
  const std::string pub_path = crypto::JoinPath(o.out_dir, crypto::kRootPublicFile);
  if (auto r = RefuseExisting(o.overwrite, {key_path, cert_path, pub_path}); !r) return Oops(r.error());
  auto root = crypto::LoadEd25519SecretKey(crypto::JoinPath(o.root_dir, crypto::kRootKeyFile));
  if (!root) return Oops(root.error().reason);

  const crypto::Ed25519KeyPair tenant = crypto::Ed25519KeyPair::Generate();
  const uint64_t not_before = now_unix - kClockSkewSeconds;
  const uint64_t not_after = now_unix + o.days * kDay;
  auto cert = crypto::IssueTenantCert(*root, {o.tenant_id, tenant.public_key, not_before, not_after});
  if (!cert) return Oops(fmt::format("tenant cert: {}", CredentialMessage(cert.error())));

  if (auto r = crypto::EnsureDirectory(o.out_dir); !r) return Oops(r.error().reason);
  if (auto r = crypto::SaveEd25519SecretKey(key_path, tenant, o.overwrite); !r) return Oops(r.error().reason);
  if (auto r = crypto::SaveTenantCert(cert_path, *cert, o.overwrite); !r) return Oops(r.error().reason);
  if (auto r = crypto::SaveEd25519PublicKey(pub_path, root->public_key, o.overwrite); !r) {
    return Oops(r.error().reason);
  }
  return fmt::format("tenant '{}' key {} certified by root {}\nvalid {} .. {}\nwrote {} (0600), {}, {}\n",
                     o.tenant_id, tenant.public_key, root->public_key, FormatUtc(not_before), FormatUtc(not_after),
                     key_path, cert_path, pub_path);
}

OpResult MakeTlsCa(const TlsCaOptions& o) {
  PemGuard ca;
  if (auto r = WriteTlsCa(o.out_dir, o.common_name, o.days, o.overwrite, &ca); !r) return Oops(r.error());
  return fmt::format("TLS CA '{}' valid {} days\nwrote {} and {} (0600, keep it off the relays)\n", o.common_name,
                     o.days, crypto::JoinPath(o.out_dir, crypto::kCaCertFile),
                     crypto::JoinPath(o.out_dir, crypto::kCaKeyFile));
}

OpResult MakeTlsServer(const TlsServerOptions& o) {
  const std::string crt_path = crypto::JoinPath(o.out_dir, crypto::kBundleTlsCertFile);
  const std::string key_path = crypto::JoinPath(o.out_dir, crypto::kBundleTlsKeyFile);
  if (o.dns_names.empty() && o.ip_addresses.empty()) return Oops("give at least one --name or --ip");
  if (auto r = RefuseExisting(o.overwrite, {crt_path, key_path}); !r) return Oops(r.error());
  PemGuard ca;
  if (auto r = LoadTlsCa(o.ca_dir, &ca); !r) return Oops(r.error());
  auto leaf = IssueLeaf(ca, o.dns_names, o.ip_addresses, o.days);
  if (!leaf) return Oops(leaf.error());
  if (auto r = crypto::EnsureDirectory(o.out_dir); !r) return Oops(r.error().reason);
  if (auto r = crypto::WriteSecretFile(key_path, leaf->pem.key_pem, o.overwrite); !r) return Oops(r.error().reason);
  if (auto r = crypto::WritePublicFile(crt_path, leaf->pem.cert_pem, o.overwrite); !r) return Oops(r.error().reason);
  return fmt::format("TLS server certificate for {} valid {} days\nwrote {} and {} (0600)\n",
                     Names(o.dns_names, o.ip_addresses), o.days, crt_path, key_path);
}

OpResult Issue(const IssueOptions& o, uint64_t now_unix) {
  if (o.hours < kMinCredentialHours || o.hours > kMaxCredentialHours) {
    return Oops(fmt::format("validity must be {}..{} hours", kMinCredentialHours, kMaxCredentialHours));
  }
  const bool relay = o.role == Role::kRelay;
  const bool want_tls = relay && (!o.tls_ca_dir.empty() || !o.new_tls_ca_dir.empty());
  if (want_tls && o.dns_names.empty() && o.ip_addresses.empty()) {
    return Oops("a relay TLS certificate needs at least one --name or --ip");
  }

  // Refuse before generating anything if the bundle's files exist.
  const auto in_out = [&](std::string_view name) { return crypto::JoinPath(o.out_dir, name); };
  if (auto r = RefuseExisting(o.overwrite, {in_out(crypto::kBundleCredentialFile),
                                            in_out(crypto::kBundleSigningKeyFile), in_out(crypto::kRootPublicFile)});
      !r) {
    return Oops(r.error());
  }
  if (!relay) {
    if (auto r = RefuseExisting(o.overwrite, {in_out(crypto::kBundleNoiseKeyFile),
                                              in_out(crypto::kBundleNoisePublicFile)});
        !r) {
      return Oops(r.error());
    }
    if (!o.ca.empty()) {
      if (auto r = RefuseExisting(o.overwrite, {in_out(crypto::kCaCertFile)}); !r) return Oops(r.error());
    }
  } else if (want_tls) {
    if (auto r = RefuseExisting(o.overwrite, {in_out(crypto::kBundleTlsCertFile),
                                              in_out(crypto::kBundleTlsKeyFile)});
        !r) {
      return Oops(r.error());
    }
  }

  crypto::IdentityBundle b;
  b.role = o.role;
  b.signing_key = crypto::Ed25519KeyPair::Generate();
  crypto::CredentialParams p;
  p.role = o.role;
  p.subject_id = o.subject;
  p.key = b.signing_key.public_key;
  p.serial = RandomSerial();
  p.not_before = now_unix - kClockSkewSeconds;
  p.not_after = now_unix + o.hours * kHour;

  if (relay) {
    auto root = crypto::LoadEd25519SecretKey(crypto::JoinPath(o.root_dir, crypto::kRootKeyFile));
    if (!root) return Oops(root.error().reason);
    b.root_public_key = root->public_key;
    auto cred = crypto::IssueRelayCredential(*root, p);
    if (!cred) return Oops(fmt::format("relay credential: {}", CredentialMessage(cred.error())));
    b.credential = std::move(cred).value();
  } else {
    const std::string cert_path = crypto::JoinPath(o.tenant_dir, crypto::kTenantCertFile);
    auto tenant_key = crypto::LoadEd25519SecretKey(crypto::JoinPath(o.tenant_dir, crypto::kTenantKeyFile));
    if (!tenant_key) return Oops(tenant_key.error().reason);
    auto tenant_cert = crypto::LoadTenantCert(cert_path);
    if (!tenant_cert) return Oops(tenant_cert.error().reason);
    auto root_pub = crypto::LoadEd25519PublicKey(crypto::JoinPath(o.tenant_dir, crypto::kRootPublicFile));
    if (!root_pub) return Oops(root_pub.error().reason);
    b.root_public_key = *root_pub;
    auto tc = crypto::ParseTenantCert(*tenant_cert);
    if (!tc) return Oops(fmt::format("{}: {}", cert_path, CredentialMessage(tc.error())));
    if (now_unix > tc->not_after) {
      return Oops(fmt::format("{}: the tenant certificate expired at {}; renew it with `strait keys tenant`",
                              cert_path, FormatUtc(tc->not_after)));
    }
    if (p.not_after > tc->not_after) {
      return Oops(fmt::format("{}: the credential would outlive the tenant certificate (expires {}); use --hours "
                              "{} or less, or renew the tenant",
                              cert_path, FormatUtc(tc->not_after), (tc->not_after - now_unix) / kHour));
    }
    p.not_before = std::max(p.not_before, tc->not_before);
    b.noise_key = crypto::X25519KeyPair::Generate();
    p.noise_key = b.noise_key->public_key;
    auto cred = crypto::IssueCredential(*tenant_key, *tenant_cert, p);
    if (!cred) return Oops(fmt::format("{} credential: {}", crypto::RoleName(o.role), CredentialMessage(cred.error())));
    b.credential = std::move(cred).value();
    if (!o.ca.empty()) {
      auto ca = ReadCaPem(IsDirectory(o.ca) ? crypto::JoinPath(o.ca, crypto::kCaCertFile) : o.ca);
      if (!ca) return Oops(ca.error());
      b.ca_pem = std::move(ca).value();
    }
  }

  // Self-check: what we hand out must verify against the root it ships with (catches a tenant dir whose
  // tenant.cert was signed by another root than its root.pub).
  crypto::VerifyOptions vo{crypto::RoleSet{o.role}, std::nullopt};
  auto verified = crypto::VerifyCredential(b.credential, b.root_public_key, now_unix, vo);
  if (!verified) {
    return Oops(fmt::format("the issued credential does not verify against {}: {}",
                            relay ? crypto::JoinPath(o.root_dir, crypto::kRootPublicFile)
                                  : crypto::JoinPath(o.tenant_dir, crypto::kRootPublicFile),
                            CredentialMessage(verified.error())));
  }

  std::string tls_note;
  if (want_tls) {
    PemGuard ca;
    if (!o.new_tls_ca_dir.empty()) {
      if (auto r = WriteTlsCa(o.new_tls_ca_dir, "Strait operator TLS CA", kDefaultTlsCaDays, o.overwrite, &ca); !r) {
        return Oops(r.error());
      }
      tls_note = fmt::format("new TLS CA in {} (give its ca.pem to devices and connectors: --ca {})\n",
                             o.new_tls_ca_dir, o.new_tls_ca_dir);
    } else if (auto r = LoadTlsCa(o.tls_ca_dir, &ca); !r) {
      return Oops(r.error());
    }
    auto leaf = IssueLeaf(ca, o.dns_names, o.ip_addresses, o.tls_days);
    if (!leaf) return Oops(leaf.error());
    b.tls_cert_pem = leaf->pem.cert_pem;
    b.tls_key_pem = crypto::SecretText(leaf->pem.key_pem);
    tls_note += fmt::format("TLS server certificate for {} valid {} days\n", Names(o.dns_names, o.ip_addresses),
                            o.tls_days);
  } else if (relay) {
    tls_note = "no TLS certificate (give --tls-ca-dir or --new-tls-ca with --name/--ip, or run `strait keys "
               "tls-server`)\n";
  }

  if (auto r = crypto::SaveIdentityBundle(o.out_dir, b, o.overwrite); !r) return Oops(r.error().reason);

  std::string keys = fmt::format("key {}", b.signing_key.public_key);
  if (b.noise_key) keys += fmt::format(", noise key {}", b.noise_key->public_key);
  const std::string who = relay ? fmt::format("relay '{}'", o.subject)
                                : fmt::format("{} '{}' of tenant '{}'", crypto::RoleName(o.role), o.subject,
                                              verified->tenant_id);
  return fmt::format("issued credential for {}, serial {}\nvalid {} .. {}\n{}\n{}wrote bundle {}\n",
                     who, verified->serial, FormatUtc(verified->not_before),
                     FormatUtc(verified->not_after), keys, tls_note, o.out_dir);
}

}  // namespace strait::cli
