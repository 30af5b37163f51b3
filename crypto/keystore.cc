// Key and credential files on disk, identity bundles and the daemons' own-credential check (crypto/keystore.h).
// The text codec they read and write is crypto/key_pem.cc.
#include "crypto/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace strait::crypto {
namespace {

using KsError = KeystoreResultError;

constexpr std::string_view kPemCertificateBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kStraitArmourBegin = "-----BEGIN STRAIT ";

Failure<KsError> Err(KeystoreError code, std::string reason) { return Fail(KsError{code, std::move(reason)}); }

// Adds the file name to a codec error, so every message says which file was wrong.
Failure<KsError> AtPath(const std::string& path, const KsError& e) {
  return Err(e.code, fmt::format("{}: {}", path, e.reason));
}

std::string Errno(std::string_view what, const std::string& path) {
  return fmt::format("{}: {}: {}", path, what, std::strerror(errno));
}

// The shared file layer's errors (crypto/secret_file.h) keep their code and reason.
Failure<KsError> FromFile(const FileResultError& e) {
  switch (e.code) {
    case FileError::kNotFound: return Err(KeystoreError::kNotFound, e.reason);
    case FileError::kIo: return Err(KeystoreError::kIo, e.reason);
    case FileError::kExists: return Err(KeystoreError::kExists, e.reason);
    case FileError::kInsecurePermissions: return Err(KeystoreError::kInsecurePermissions, e.reason);
  }
  return Err(KeystoreError::kIo, e.reason);
}

Result<void, KsError> WriteAtomic(const std::string& path, std::string_view contents, FileAccess access,
                                  Overwrite overwrite) {
  if (auto r = WriteFileAtomic(path, contents, access, overwrite); !r) return FromFile(r.error());
  return {};
}

Result<std::string, KsError> ReadBounded(const std::string& path, bool secret) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Err(KeystoreError::kNotFound, fmt::format("{}: no such file", path));
    return Err(KeystoreError::kIo, Errno("cannot open", path));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Err(KeystoreError::kIo, Errno("fstat", path));
  if (!S_ISREG(st.st_mode)) return Err(KeystoreError::kIo, fmt::format("{}: not a regular file", path));
  if (secret) {
    if (auto r = CheckSecretFileMode(path, st.st_mode); !r) return FromFile(r.error());
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeystoreFileSize) {
    return Err(KeystoreError::kTooLarge,
               fmt::format("{}: {} bytes, more than the {} allowed", path, st.st_size, kMaxKeystoreFileSize));
  }
  // Reserve once so the buffer never reallocates (a reallocation would leave an unwiped copy of a secret).
  std::string out;
  out.reserve(kMaxKeystoreFileSize + 1);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), sizeof buf));
      SecretText(std::move(out)).Wipe();
      return Err(KeystoreError::kIo, Errno("read", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxKeystoreFileSize) {
      SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), sizeof buf));
      SecretText(std::move(out)).Wipe();
      return Err(KeystoreError::kTooLarge, fmt::format("{}: more than {} bytes", path, kMaxKeystoreFileSize));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), sizeof buf));
  return out;
}

template <class T>
Result<T, KsError> WithPath(const std::string& path, Result<T, KsError> r) {
  if (!r) return AtPath(path, r.error());
  return std::move(r).value();
}

bool LooksLikePemCertificate(std::string_view pem) { return pem.find(kPemCertificateBegin) != std::string_view::npos; }

}  // namespace

// --- Files ---

Result<void, KeystoreResultError> WritePublicFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite) {
  return WriteAtomic(path, contents, FileAccess::kPublic, overwrite);
}

Result<void, KeystoreResultError> WriteSecretFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite) {
  return WriteAtomic(path, contents, FileAccess::kSecret, overwrite);
}

Result<std::string, KeystoreResultError> ReadPublicFile(const std::string& path) { return ReadBounded(path, false); }

Result<SecretText, KeystoreResultError> ReadSecretFile(const std::string& path) {
  auto r = ReadBounded(path, true);
  if (!r) return Fail(r.error());
  return SecretText(std::move(r).value());
}

Result<void, KeystoreResultError> EnsureDirectory(const std::string& path) {
  if (auto r = EnsurePrivateDirectory(path); !r) return FromFile(r.error());
  return {};
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return fmt::format("{}{}", dir, name);
  return fmt::format("{}/{}", dir, name);
}

Result<void, KeystoreResultError> SaveEd25519SecretKey(const std::string& path, const Ed25519KeyPair& key,
                                                       Overwrite overwrite) {
  const SecretText text = EncodeEd25519SecretKey(key);
  return WriteSecretFile(path, text.view(), overwrite);  // its errors name the path
}

Result<void, KeystoreResultError> SaveX25519SecretKey(const std::string& path, const X25519KeyPair& key,
                                                      Overwrite overwrite) {
  const SecretText text = EncodeX25519SecretKey(key);
  return WriteSecretFile(path, text.view(), overwrite);  // its errors name the path
}

Result<void, KeystoreResultError> SaveEd25519PublicKey(const std::string& path, const Ed25519PublicKey& key,
                                                       Overwrite overwrite) {
  return WritePublicFile(path, EncodeEd25519PublicKey(key), overwrite);
}

Result<void, KeystoreResultError> SaveX25519PublicKey(const std::string& path, const X25519PublicKey& key,
                                                      Overwrite overwrite) {
  return WritePublicFile(path, EncodeX25519PublicKey(key), overwrite);
}

Result<void, KeystoreResultError> SaveTenantCert(const std::string& path, std::span<const uint8_t> tenant_cert,
                                                 Overwrite overwrite) {
  return WritePublicFile(path, EncodeTenantCert(tenant_cert), overwrite);
}

Result<void, KeystoreResultError> SaveCredential(const std::string& path, std::span<const uint8_t> credential,
                                                 Overwrite overwrite) {
  return WritePublicFile(path, EncodeCredential(credential), overwrite);
}

Result<Ed25519KeyPair, KeystoreResultError> LoadEd25519SecretKey(const std::string& path) {
  auto text = ReadSecretFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeEd25519SecretKey(text->view()));
}

Result<X25519KeyPair, KeystoreResultError> LoadX25519SecretKey(const std::string& path) {
  auto text = ReadSecretFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeX25519SecretKey(text->view()));
}

Result<Ed25519PublicKey, KeystoreResultError> LoadEd25519PublicKey(const std::string& path) {
  auto text = ReadPublicFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeEd25519PublicKey(*text));
}

Result<X25519PublicKey, KeystoreResultError> LoadX25519PublicKey(const std::string& path) {
  auto text = ReadPublicFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeX25519PublicKey(*text));
}

Result<std::vector<uint8_t>, KeystoreResultError> LoadTenantCert(const std::string& path) {
  auto text = ReadPublicFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeTenantCert(*text));
}

Result<std::vector<uint8_t>, KeystoreResultError> LoadCredential(const std::string& path) {
  auto text = ReadPublicFile(path);
  if (!text) return Fail(text.error());
  return WithPath(path, DecodeCredential(*text));
}

Result<std::optional<ArmorType>, KeystoreResultError> UpgradeKeyFile(const std::string& path) {
  std::optional<FileType> type;
  {
    auto text = ReadPublicFile(path);  // the typed loaders below re-read it, checking a secret's mode
    if (!text) return Fail(text.error());
    const SecretText held(std::move(text).value());
    const bool armoured = held.view().starts_with(kStraitArmourBegin);
    auto t = DetectFileType(held.view());
    if (!t && armoured) return AtPath(path, t.error());
    if (!t) return std::optional<ArmorType>();  // a certificate, a TLS key, not a key file at all: not ours to touch
    type = *t;
  }
  if (type->form != FileForm::kStraitArmour || !IsKey(type->type)) return std::optional<ArmorType>();
  Result<void, KsError> saved;
  switch (type->type) {
    case ArmorType::kEd25519SecretKey: {
      auto k = LoadEd25519SecretKey(path);
      if (!k) return Fail(k.error());
      saved = SaveEd25519SecretKey(path, *k, Overwrite::kReplace);
      break;
    }
    case ArmorType::kX25519SecretKey: {
      auto k = LoadX25519SecretKey(path);
      if (!k) return Fail(k.error());
      saved = SaveX25519SecretKey(path, *k, Overwrite::kReplace);
      break;
    }
    case ArmorType::kEd25519PublicKey: {
      auto k = LoadEd25519PublicKey(path);
      if (!k) return Fail(k.error());
      saved = SaveEd25519PublicKey(path, *k, Overwrite::kReplace);
      break;
    }
    case ArmorType::kX25519PublicKey: {
      auto k = LoadX25519PublicKey(path);
      if (!k) return Fail(k.error());
      saved = SaveX25519PublicKey(path, *k, Overwrite::kReplace);
      break;
    }
    case ArmorType::kTenantCert:
    case ArmorType::kCredential: break;  // not keys (ruled out above)
  }
  if (!saved) return Fail(saved.error());
  return std::optional<ArmorType>(type->type);
}

// --- Identity bundles ---

Result<void, KeystoreResultError> SaveIdentityBundle(const std::string& dir, const IdentityBundle& bundle,
                                                     Overwrite overwrite) {
  const bool has_noise = bundle.role != Role::kRelay;
  if (has_noise && !bundle.noise_key) {
    return Err(KeystoreError::kMismatch, fmt::format("{}: a {} bundle needs a Noise key", dir, RoleName(bundle.role)));
  }
  if (bundle.tls_cert_pem.empty() != bundle.tls_key_pem.empty()) {
    return Err(KeystoreError::kMismatch, fmt::format("{}: tls.crt and tls.key come together", dir));
  }

  struct Entry {
    std::string_view name;
    std::string_view contents;
    bool secret;
  };
  const std::string credential_text = EncodeCredential(bundle.credential);
  const SecretText signing_text = EncodeEd25519SecretKey(bundle.signing_key);
  const std::string root_text = EncodeEd25519PublicKey(bundle.root_public_key);
  SecretText noise_text;
  std::string noise_pub_text;
  std::vector<Entry> entries = {
      {kBundleCredentialFile, credential_text, false},
      {kBundleSigningKeyFile, signing_text.view(), true},
      {kRootPublicFile, root_text, false},
  };
  if (has_noise) {
    noise_text = EncodeX25519SecretKey(*bundle.noise_key);
    noise_pub_text = EncodeX25519PublicKey(bundle.noise_key->public_key);
    entries.push_back({kBundleNoiseKeyFile, noise_text.view(), true});
    entries.push_back({kBundleNoisePublicFile, noise_pub_text, false});
  }
  if (!bundle.ca_pem.empty()) entries.push_back({kCaCertFile, bundle.ca_pem, false});
  if (!bundle.tls_cert_pem.empty()) {
    entries.push_back({kBundleTlsCertFile, bundle.tls_cert_pem, false});
    entries.push_back({kBundleTlsKeyFile, bundle.tls_key_pem.view(), true});
  }

  if (auto r = EnsureDirectory(dir); !r) return r;
  if (overwrite == Overwrite::kRefuse) {
    for (const Entry& e : entries) {
      const std::string path = JoinPath(dir, e.name);
      if (PathExists(path)) {
        return Err(KeystoreError::kExists,
                   fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)", path));
      }
    }
  }
  for (const Entry& e : entries) {
    const std::string path = JoinPath(dir, e.name);
    auto r = e.secret ? WriteSecretFile(path, e.contents, overwrite) : WritePublicFile(path, e.contents, overwrite);
    if (!r) return r;
  }
  return {};
}

OwnCredentialCheck CheckOwnCredential(const IdentityBundle& bundle, Role role, uint64_t now_unix) {
  OwnCredentialCheck c;
  auto v = VerifyCredential(bundle.credential, bundle.root_public_key, now_unix, {RoleSet{role}, std::nullopt});
  if (!v) {
    c.error = fmt::format("own credential refused ({}): {}", CredentialErrorName(v.error().code), v.error().reason);
    if (v.error().code == CredentialError::kTenantCertBadSignature ||
        v.error().code == CredentialError::kCredentialBadSignature) {
      c.error += " (is root.pub the root that issued it?)";
    }
    return c;
  }
  constexpr uint64_t kDay = 24 * 3600;
  const uint64_t left = v->not_after - now_unix;  // VerifyCredential checked now <= not_after
  const uint64_t window = std::min(kDay, (v->not_after - v->not_before) / 4);
  if (left < window) {
    c.warning = fmt::format("own credential expires in {} min (serial {}): reissue it and restart", left / 60,
                            v->serial);
  }
  return c;
}

Result<IdentityBundle, KeystoreResultError> LoadIdentityBundle(const std::string& dir) {
  IdentityBundle b;
  auto cred = LoadCredential(JoinPath(dir, kBundleCredentialFile));
  if (!cred) return Fail(cred.error());
  b.credential = std::move(cred).value();
  auto view = ParseCredential(b.credential);
  if (!view) return Err(KeystoreError::kBadContent, "credential does not parse");  // DecodeCredential checked it
  b.role = view->role;

  const std::string signing_path = JoinPath(dir, kBundleSigningKeyFile);
  auto signing = LoadEd25519SecretKey(signing_path);
  if (!signing) return Fail(signing.error());
  b.signing_key = std::move(signing).value();
  if (!(b.signing_key.public_key == view->key)) {
    return Err(KeystoreError::kMismatch,
               fmt::format("{}: its public key {} is not the credential's key {}", signing_path,
                           b.signing_key.public_key, view->key));
  }

  if (b.role != Role::kRelay) {
    const std::string noise_path = JoinPath(dir, kBundleNoiseKeyFile);
    auto noise = LoadX25519SecretKey(noise_path);
    if (!noise) return Fail(noise.error());
    if (!(noise->public_key == view->noise_key)) {
      return Err(KeystoreError::kMismatch, fmt::format("{}: its public key {} is not the credential's Noise key {}",
                                                       noise_path, noise->public_key, view->noise_key));
    }
    b.noise_key = std::move(noise).value();
  }

  auto root = LoadEd25519PublicKey(JoinPath(dir, kRootPublicFile));
  if (!root) return Fail(root.error());
  b.root_public_key = *root;

  const std::string ca_path = JoinPath(dir, kCaCertFile);
  if (PathExists(ca_path)) {
    auto ca = ReadPublicFile(ca_path);
    if (!ca) return Fail(ca.error());
    if (!LooksLikePemCertificate(*ca)) {
      return Err(KeystoreError::kBadContent, fmt::format("{}: no PEM CERTIFICATE block", ca_path));
    }
    b.ca_pem = std::move(ca).value();
  }

  const std::string crt_path = JoinPath(dir, kBundleTlsCertFile);
  const std::string key_path = JoinPath(dir, kBundleTlsKeyFile);
  const bool has_crt = PathExists(crt_path);
  if (has_crt != PathExists(key_path)) {
    return Err(KeystoreError::kMismatch,
               fmt::format("{}: {} without {}", dir, has_crt ? "tls.crt" : "tls.key", has_crt ? "tls.key" : "tls.crt"));
  }
  if (has_crt) {
    auto crt = ReadPublicFile(crt_path);
    if (!crt) return Fail(crt.error());
    if (!LooksLikePemCertificate(*crt)) {
      return Err(KeystoreError::kBadContent, fmt::format("{}: no PEM CERTIFICATE block", crt_path));
    }
    b.tls_cert_pem = std::move(crt).value();
    auto key = ReadSecretFile(key_path);
    if (!key) return Fail(key.error());
    b.tls_key_pem = std::move(key).value();
  }
  return b;
}

}  // namespace strait::crypto
