// `strait keys show | verify`: describing and verifying files. Prints public facts only: types, ids, validity,
// fingerprints. Secret key bytes are never formatted (keys.h formats keys as fingerprints only).
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <time.h>

#include <array>
#include <utility>

#include <fmt/format.h>

#include "cli/keys_operations.h"
#include "crypto/hex.h"

namespace strait::cli {
namespace {

using crypto::ArmorType;

Failure<std::string> Oops(std::string message) { return Fail(std::move(message)); }

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Validity(uint64_t not_before, uint64_t not_after, uint64_t now) {
  std::string status;
  if (now < not_before) {
    status = fmt::format("NOT YET VALID (starts in {})", FormatSpan(not_before - now));
  } else if (now > not_after) {
    status = fmt::format("EXPIRED {} ago", FormatSpan(now - not_after));
  } else {
    status = fmt::format("valid, expires in {}", FormatSpan(not_after - now));
  }
  return fmt::format("{} .. {} ({})", FormatUtc(not_before), FormatUtc(not_after), status);
}

std::string Permissions(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "unknown";
  const unsigned mode = st.st_mode & 07777;
  if ((mode & 077) != 0) return fmt::format("{:04o} INSECURE: run chmod 600 {}", mode, path);
  return fmt::format("{:04o} (owner only)", mode);
}

std::string ShowTenantCertFields(const crypto::TenantCertView& tc, uint64_t now, std::string_view indent) {
  return fmt::format("{0}tenant:     {1}\n{0}tenant key: {2}\n{0}valid:      {3}\n", indent, tc.tenant_id,
                     tc.tenant_key, Validity(tc.not_before, tc.not_after, now));
}

std::string ShowCredential(std::span<const uint8_t> bytes, uint64_t now) {
  auto v = crypto::ParseCredential(bytes);
  if (!v) return "  (does not parse)\n";  // DecodeCredential already parsed it
  const bool relay = v->role == crypto::Role::kRelay;
  std::string out = fmt::format("type:       credential ({} bytes)\nrole:       {}\n", bytes.size(),
                                crypto::RoleName(v->role));
  if (!relay) out += fmt::format("tenant:     {}\n", v->tenant_id);
  out += fmt::format("subject:    {}\nserial:     {}\nvalid:      {}\nkey:        {}\n", v->subject_id, v->serial,
                     Validity(v->not_before, v->not_after, now), v->key);
  if (!relay) out += fmt::format("noise key:  {}\n", v->noise_key);
  if (v->tenant_cert) {
    out += "tenant cert (embedded):\n" + ShowTenantCertFields(*v->tenant_cert, now, "  ");
    out += "signed by:  the tenant key above (certified by the operator root)\n";
  } else {
    out += "signed by:  the operator root key\n";
  }
  out += "signatures: not checked here; use `strait keys verify --root root.pub FILE`\n";
  return out;
}

// unix seconds of an ASN1_TIME, via the difference from the epoch.
std::optional<int64_t> AsnTimeToUnix(const ASN1_TIME* t) {
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int secs = 0;
  if (!epoch || !ASN1_TIME_diff(&days, &secs, epoch.get(), t)) return std::nullopt;
  return static_cast<int64_t>(days) * 86400 + secs;
}

Result<std::string, std::string> ShowCertificates(const std::string& path, std::string_view pem, uint64_t now) {
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::string out;
  int count = 0;
  while (bssl::UniquePtr<X509> x{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    ++count;
    bssl::UniquePtr<BIO> mem(BIO_new(BIO_s_mem()));
    auto name = [&](const X509_NAME* n) {
      (void)BIO_reset(mem.get());
      X509_NAME_print_ex(mem.get(), n, 0, XN_FLAG_RFC2253);
      const uint8_t* p = nullptr;
      size_t len = 0;
      BIO_mem_contents(mem.get(), &p, &len);
      return std::string(reinterpret_cast<const char*>(p), len);
    };
    out += fmt::format("certificate {}:\n  subject:  {}\n  issuer:   {}\n  CA:       {}\n", count,
                       name(X509_get_subject_name(x.get())), name(X509_get_issuer_name(x.get())),
                       X509_check_ca(x.get()) > 0 ? "yes" : "no");
    auto nb = AsnTimeToUnix(X509_get0_notBefore(x.get()));
    auto na = AsnTimeToUnix(X509_get0_notAfter(x.get()));
    if (nb && na && *nb >= 0 && *na >= 0) {
      out += fmt::format("  valid:    {}\n", Validity(static_cast<uint64_t>(*nb), static_cast<uint64_t>(*na), now));
    }
    bssl::UniquePtr<GENERAL_NAMES> sans(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
      std::vector<std::string> names;
      for (size_t i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
        if (g->type == GEN_DNS) {
          const ASN1_STRING* s = g->d.dNSName;
          names.push_back(fmt::format("DNS:{}", std::string_view(reinterpret_cast<const char*>(
                                                                     ASN1_STRING_get0_data(s)),
                                                                 static_cast<size_t>(ASN1_STRING_length(s)))));
        } else if (g->type == GEN_IPADD) {
          const ASN1_STRING* s = g->d.iPAddress;
          char buf[INET6_ADDRSTRLEN] = {};
          const int len = ASN1_STRING_length(s);
          const int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
          if (af != 0 && inet_ntop(af, ASN1_STRING_get0_data(s), buf, sizeof buf)) {
            names.push_back(fmt::format("IP:{}", buf));
          }
        }
      }
      out += fmt::format("  names:    {}\n", fmt::join(names, ", "));
    }
    uint8_t* der = nullptr;
    const int der_len = i2d_X509(x.get(), &der);
    if (der_len > 0) {
      std::array<uint8_t, 32> digest{};
      unsigned digest_len = 0;
      EVP_Digest(der, static_cast<size_t>(der_len), digest.data(), &digest_len, EVP_sha256(), nullptr);
      out += fmt::format("  sha256:   {}\n", crypto::HexEncode(std::span<const uint8_t>(digest.data(), digest_len)));
      OPENSSL_free(der);
    }
  }
  ERR_clear_error();
  if (count == 0) return Oops(fmt::format("{}: no readable PEM certificate", path));
  return fmt::format("type:       X.509 certificate(s) (PEM), {} in file\n{}", count, out);
}

// Every file a bundle or operator directory may hold, in the order `show` lists them.
constexpr std::string_view kDirectoryFiles[] = {
    crypto::kBundleCredentialFile, crypto::kBundleSigningKeyFile, crypto::kBundleNoiseKeyFile,
    crypto::kBundleNoisePublicFile, crypto::kRootKeyFile,         crypto::kRootPublicFile,
    crypto::kTenantKeyFile,         crypto::kTenantCertFile,      crypto::kCaCertFile,
    crypto::kCaKeyFile,             crypto::kBundleTlsCertFile,   crypto::kBundleTlsKeyFile};

OpResult ShowFile(const std::string& path, uint64_t now) {
  auto read = crypto::ReadPublicFile(path);  // permissions are reported below, not enforced: show is read-only
  if (!read) return Oops(read.error().reason);
  const crypto::SecretText text(std::move(read).value());
  const std::string header = fmt::format("file:       {}\n", path);

  auto type = crypto::DetectFileType(text.view());
  if (!type) {
    const auto code = type.error().code;
    if (code == crypto::KeystoreError::kNotArmoured || code == crypto::KeystoreError::kWrongType) {
      if (text.view().find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        auto certs = ShowCertificates(path, text.view(), now);
        if (!certs) return Oops(certs.error());
        return header + *certs;
      }
      // A TLS key (EC P-256, from tls-ca / tls-server) or another PEM private key Strait does not use itself.
      if (text.view().find("PRIVATE KEY-----") != std::string_view::npos) {
        return header + fmt::format("type:       TLS private key (PEM); contents not shown\npermissions: {}\n",
                                    Permissions(path));
      }
    }
    return Oops(fmt::format("{}: {}", path, type.error().reason));
  }
  auto failed = [&](const crypto::KeystoreResultError& e) { return Oops(fmt::format("{}: {}", path, e.reason)); };
  const bool pem = type->form == crypto::FileForm::kPem;
  const std::string kind =
      pem ? (crypto::IsSecret(type->type) ? "(PEM PRIVATE KEY, PKCS#8)" : "(PEM PUBLIC KEY)")
          : fmt::format("({}{})", crypto::ArmorLabel(type->type),
                        type->type == ArmorType::kTenantCert || type->type == ArmorType::kCredential
                            ? ""
                            : "; the older format: `strait keys upgrade DIR` rewrites it as PEM");
  switch (type->type) {
    case ArmorType::kEd25519SecretKey: {
      auto k = crypto::DecodeEd25519SecretKey(text.view());
      if (!k) return failed(k.error());
      return header + fmt::format("type:       Ed25519 secret key {}\npublic key: {}\nsecret:     not shown\n"
                                  "permissions: {}\n",
                                  kind, k->public_key, Permissions(path));
    }
    case ArmorType::kX25519SecretKey: {
      auto k = crypto::DecodeX25519SecretKey(text.view());
      if (!k) return failed(k.error());
      return header + fmt::format("type:       X25519 (Noise static) secret key {}\npublic key: {}\n"
                                  "secret:     not shown\npermissions: {}\n",
                                  kind, k->public_key, Permissions(path));
    }
    case ArmorType::kEd25519PublicKey: {
      auto k = crypto::DecodeEd25519PublicKey(text.view());
      if (!k) return failed(k.error());
      return header + fmt::format("type:       Ed25519 public key {}\npublic key: {}\n", kind, *k);
    }
    case ArmorType::kX25519PublicKey: {
      auto k = crypto::DecodeX25519PublicKey(text.view());
      if (!k) return failed(k.error());
      return header + fmt::format("type:       X25519 (Noise static) public key {}\npublic key: {}\n", kind, *k);
    }
    case ArmorType::kTenantCert: {
      auto b = crypto::DecodeTenantCert(text.view());
      if (!b) return failed(b.error());
      auto tc = crypto::ParseTenantCert(*b);
      if (!tc) return Oops(fmt::format("{}: tenant cert does not parse", path));
      return header + fmt::format("type:       tenant certificate {}\n", kind) + ShowTenantCertFields(*tc, now, "") +
             "signed by:  the operator root (not checked here)\n";
    }
    case ArmorType::kCredential: {
      auto b = crypto::DecodeCredential(text.view());
      if (!b) return failed(b.error());
      return header + ShowCredential(*b, now);
    }
  }
  return Oops(fmt::format("{}: unknown type", path));
}

}  // namespace

std::string FormatUtc(uint64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return fmt::format("@{}", unix_seconds);
  char buf[32];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

std::string FormatSpan(uint64_t s) {
  if (s >= 86400) return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m {}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

OpResult Show(const std::string& path, uint64_t now_unix) {
  if (!IsDirectory(path)) return ShowFile(path, now_unix);
  // A bundle or operator directory: every file it may hold, in a fixed order.
  std::string out;
  for (std::string_view name : kDirectoryFiles) {
    const std::string p = crypto::JoinPath(path, name);
    if (!crypto::PathExists(p)) continue;
    auto one = ShowFile(p, now_unix);
    if (!one) return one;
    out += (out.empty() ? "" : "\n") + *one;
  }
  if (out.empty()) return Oops(fmt::format("{}: no Strait key, credential or certificate files here", path));
  return out;
}

OpResult Upgrade(const std::string& path) {
  std::vector<std::string> paths;
  if (IsDirectory(path)) {
    for (std::string_view name : kDirectoryFiles) {
      const std::string p = crypto::JoinPath(path, name);
      if (crypto::PathExists(p)) paths.push_back(p);
    }
  } else {
    paths.push_back(path);
  }
  std::string out;
  for (const std::string& p : paths) {
    auto r = crypto::UpgradeKeyFile(p);
    if (!r) return Oops(r.error().reason);
    if (*r) {
      out += fmt::format("{}: {} -> PEM {}\n", p, crypto::ArmorLabel(**r),
                         crypto::IsSecret(**r) ? "PRIVATE KEY (PKCS#8)" : "PUBLIC KEY");
    }
  }
  if (out.empty()) return fmt::format("{}: no key files in the older format; nothing rewritten\n", path);
  return out;
}

OpResult Verify(const VerifyCommandOptions& o, uint64_t now_unix) {
  const std::string root_path = IsDirectory(o.root) ? crypto::JoinPath(o.root, crypto::kRootPublicFile) : o.root;
  const std::string cred_path =
      IsDirectory(o.credential) ? crypto::JoinPath(o.credential, crypto::kBundleCredentialFile) : o.credential;
  auto root = crypto::LoadEd25519PublicKey(root_path);
  if (!root) return Oops(root.error().reason);
  auto cred = crypto::LoadCredential(cred_path);
  if (!cred) return Oops(cred.error().reason);

  crypto::VerifyOptions vo{o.role ? crypto::RoleSet{*o.role} : crypto::RoleSet::Any(), std::nullopt};
  if (o.tenant) vo.tenant = *o.tenant;
  auto v = crypto::VerifyCredential(*cred, *root, now_unix, vo);
  if (!v) {
    return Oops(fmt::format("{}: credential rejected: {}: {}", cred_path, crypto::CredentialErrorName(v.error().code),
                            v.error().reason));
  }
  const std::string who = v->role == crypto::Role::kRelay
                              ? fmt::format("relay '{}'", v->subject_id)
                              : fmt::format("{} '{}' of tenant '{}'", crypto::RoleName(v->role), v->subject_id,
                                            v->tenant_id);
  return fmt::format("OK: {} (serial {})\nvalid:  {}\nkey:    {}\nroot:   {}\n", who, v->serial,
                     Validity(v->not_before, v->not_after, now_unix), v->key, *root);
}

}  // namespace strait::cli
