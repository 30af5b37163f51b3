#include "crypto/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/bytestring.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>

#include <fmt/format.h>

namespace strait::crypto {
namespace {

using KsError = KeystoreResultError;

constexpr std::string_view kBeginPrefix = "-----BEGIN ";
constexpr std::string_view kEndPrefix = "-----END ";
constexpr std::string_view kDashes = "-----";
constexpr std::string_view kStraitPrefix = "STRAIT ";
constexpr std::string_view kPemCertificateBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemPrivateKeyLabel = "PRIVATE KEY";  // PKCS#8 PrivateKeyInfo (RFC 5208, RFC 8410)
constexpr std::string_view kPemPublicKeyLabel = "PUBLIC KEY";    // SubjectPublicKeyInfo (RFC 5280, RFC 8410)
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

Failure<KsError> Err(KeystoreError code, std::string reason) { return Fail(KsError{code, std::move(reason)}); }

// Adds the file name to a codec error, so every message says which file was wrong.
Failure<KsError> AtPath(const std::string& path, const KsError& e) {
  return Err(e.code, fmt::format("{}: {}", path, e.reason));
}

std::string Errno(std::string_view what, const std::string& path) {
  return fmt::format("{}: {}: {}", path, what, std::strerror(errno));
}

// Wipes a std::string holding base64 of a secret (capacity included, so a shrink leaves nothing behind).
void WipeString(std::string& s) {
  if (s.capacity() > 0) {
    s.resize(s.capacity());
    SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size()));
  }
  s.clear();
}

// A decoded payload that is wiped when it goes out of scope (secret key bytes pass through one).
struct Payload {
  std::vector<uint8_t> bytes;
  Payload() = default;
  Payload(Payload&& o) noexcept : bytes(std::move(o.bytes)) {}
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;
  Payload& operator=(Payload&&) = delete;
  ~Payload() { SecureZero(bytes); }
};

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
         c == '=';
}

std::optional<ArmorType> TypeForLabel(std::string_view label) {
  for (ArmorType t : kAllArmorTypes) {
    if (ArmorLabel(t) == label) return t;
  }
  return std::nullopt;
}

bool IsKey(ArmorType t) { return t != ArmorType::kTenantCert && t != ArmorType::kCredential; }

// The label of a "-----BEGIN <LABEL>-----" first line (Strait armour or PEM).
Result<std::string_view, KsError> BeginLabel(std::string_view text) {
  const size_t nl = text.find('\n');
  const std::string_view line = nl == std::string_view::npos ? text : text.substr(0, nl);
  if (!line.empty() && line.back() == '\r') {
    return Err(KeystoreError::kBadArmour, "line 1: carriage return (the file must use LF line ends)");
  }
  if (!line.starts_with(kBeginPrefix) || !line.ends_with(kDashes) ||
      line.size() < kBeginPrefix.size() + kDashes.size()) {
    return Err(KeystoreError::kNotArmoured, "not a Strait key or credential file (no -----BEGIN ...----- line)");
  }
  return line.substr(kBeginPrefix.size(), line.size() - kBeginPrefix.size() - kDashes.size());
}

// Classifies a Strait armour label ("STRAIT <TYPE>").
Result<ArmorType, KsError> TypeFromStraitLabel(std::string_view label) {
  auto t = TypeForLabel(label);
  if (!t) return Err(KeystoreError::kWrongType, fmt::format("unknown Strait file type '{}'", label.substr(0, 40)));
  return *t;
}

// What each type's decoder wants, for wrong-type messages.
std::string_view Wanted(ArmorType t) {
  switch (t) {
    case ArmorType::kEd25519SecretKey:
      return "an Ed25519 private key (PEM PRIVATE KEY, or the older STRAIT ED25519 SECRET KEY)";
    case ArmorType::kEd25519PublicKey:
      return "an Ed25519 public key (PEM PUBLIC KEY, or the older STRAIT ED25519 PUBLIC KEY)";
    case ArmorType::kX25519SecretKey:
      return "an X25519 private key (PEM PRIVATE KEY, or the older STRAIT X25519 SECRET KEY)";
    case ArmorType::kX25519PublicKey:
      return "an X25519 public key (PEM PUBLIC KEY, or the older STRAIT X25519 PUBLIC KEY)";
    case ArmorType::kTenantCert: return "a STRAIT TENANT CERT";
    case ArmorType::kCredential: return "a STRAIT CREDENTIAL";
  }
  return "?";
}

// The strict body parser described in keystore.h, for a text whose first line is "-----BEGIN <label>-----" (the
// caller checked it). On success the payload is non-empty.
Result<Payload, KsError> DearmorBody(std::string_view label, std::string_view text) {
  const size_t first_nl = text.find('\n');
  if (first_nl == std::string_view::npos) return Err(KeystoreError::kBadArmour, "truncated after the BEGIN line");

  const std::string end_line = fmt::format("{}{}{}", kEndPrefix, label, kDashes);
  std::string b64;
  struct Wiper {
    std::string& s;
    ~Wiper() { WipeString(s); }
  } wiper{b64};

  std::string_view rest = text.substr(first_nl + 1);
  bool short_line_seen = false;
  for (size_t line_no = 2;; ++line_no) {
    if (rest.empty()) {
      return Err(KeystoreError::kBadArmour, fmt::format("truncated: no {} line", end_line));
    }
    const size_t nl = rest.find('\n');
    const bool has_nl = nl != std::string_view::npos;
    const std::string_view line = has_nl ? rest.substr(0, nl) : rest;
    if (line.find('\r') != std::string_view::npos) {
      return Err(KeystoreError::kBadArmour,
                 fmt::format("line {}: carriage return (the file must use LF line ends)", line_no));
    }
    if (line.starts_with(kEndPrefix)) {
      if (line != end_line) {
        return Err(KeystoreError::kBadArmour,
                   fmt::format("line {}: END line does not match BEGIN (expected {})", line_no, end_line));
      }
      if (!has_nl) return Err(KeystoreError::kBadArmour, "missing newline at the end of the file");
      const std::string_view trailing = rest.substr(nl + 1);
      if (!trailing.empty()) {
        return Err(KeystoreError::kTrailingData, fmt::format("{} bytes of trailing data after the END line",
                                                             trailing.size()));
      }
      break;
    }
    if (!has_nl) return Err(KeystoreError::kBadArmour, fmt::format("truncated: no {} line", end_line));
    if (line.empty()) return Err(KeystoreError::kBadArmour, fmt::format("line {}: empty line", line_no));
    if (line.size() > kArmorLineWidth) {
      return Err(KeystoreError::kBadArmour,
                 fmt::format("line {}: longer than {} characters", line_no, kArmorLineWidth));
    }
    if (short_line_seen) {
      return Err(KeystoreError::kBadArmour,
                 fmt::format("line {}: base64 lines must be {} characters except the last", line_no - 1,
                             kArmorLineWidth));
    }
    if (line.size() < kArmorLineWidth) short_line_seen = true;
    for (char c : line) {
      if (!IsBase64Char(c)) {
        return Err(KeystoreError::kBadBase64,
                   fmt::format("line {}: byte 0x{:02x} is not a base64 character", line_no,
                               static_cast<unsigned>(static_cast<unsigned char>(c))));
      }
    }
    b64.append(line);
    rest = rest.substr(nl + 1);
  }
  if (b64.empty()) return Err(KeystoreError::kBadArmour, "no base64 body between the BEGIN and END lines");

  Payload out;
  out.bytes.resize(b64.size() / 4 * 3 + 3);
  size_t bin_len = 0;
  const char* end = nullptr;
  const int rc = sodium_base642bin(out.bytes.data(), out.bytes.size(), b64.data(), b64.size(), nullptr, &bin_len,
                                   &end, kBase64Variant);
  if (rc != 0 || end != b64.data() + b64.size() || bin_len == 0) {
    return Err(KeystoreError::kBadBase64, "the body is not canonical base64 (bad padding, length or unused bits)");
  }
  SecureZero(std::span<uint8_t>(out.bytes).subspan(bin_len));
  out.bytes.resize(bin_len);
  return out;
}

// "-----BEGIN <label>-----", the payload in standard base64 wrapped at 64 columns, "-----END <label>-----": the
// one form both the Strait armour and PEM (RFC 7468's strict form) take here.
std::string ArmorWithLabel(std::string_view label, std::span<const uint8_t> payload) {
  const size_t encoded_len = sodium_base64_ENCODED_LEN(payload.size(), kBase64Variant);  // includes the NUL
  std::string b64(encoded_len, '\0');
  sodium_bin2base64(b64.data(), b64.size(), payload.data(), payload.size(), kBase64Variant);
  b64.resize(encoded_len - 1);
  std::string out;
  out.reserve(b64.size() + b64.size() / kArmorLineWidth + 2 * (kBeginPrefix.size() + label.size() + 8));
  out.append(kBeginPrefix).append(label).append(kDashes).push_back('\n');
  for (size_t i = 0; i < b64.size(); i += kArmorLineWidth) {
    out.append(std::string_view(b64).substr(i, kArmorLineWidth)).push_back('\n');
  }
  out.append(kEndPrefix).append(label).append(kDashes).push_back('\n');
  WipeString(b64);
  return out;
}

Result<void, KsError> CheckSize(std::string_view text) {
  if (text.size() > kMaxKeystoreFileSize) {
    return Err(KeystoreError::kTooLarge, fmt::format("{} bytes, more than the {} allowed", text.size(),
                                                     kMaxKeystoreFileSize));
  }
  if (text.empty()) return Err(KeystoreError::kNotArmoured, "empty file");
  return {};
}

// A Strait-armoured text of type `expected` (the format of every file before PEM keys, and still of TenantCerts
// and credentials).
Result<Payload, KsError> Dearmor(ArmorType expected, std::string_view text) {
  if (auto r = CheckSize(text); !r) return Fail(r.error());
  auto label = BeginLabel(text);
  if (!label) return Fail(label.error());
  if (!label->starts_with(kStraitPrefix)) {
    return Err(IsKey(expected) ? KeystoreError::kWrongType : KeystoreError::kNotArmoured,
               fmt::format("a PEM '{}' block, expected {}", label->substr(0, 40), Wanted(expected)));
  }
  auto type = TypeFromStraitLabel(*label);
  if (!type) return Fail(type.error());
  if (*type != expected) {
    return Err(KeystoreError::kWrongType,
               fmt::format("this is a {} file, expected {}", ArmorLabel(*type), Wanted(expected)));
  }
  return DearmorBody(*label, text);
}

// --- PEM keys: PKCS#8 PrivateKeyInfo and SubjectPublicKeyInfo (RFC 8410), DER through BoringSSL ---

int NidOf(ArmorType t) {
  return t == ArmorType::kEd25519SecretKey || t == ArmorType::kEd25519PublicKey ? EVP_PKEY_ED25519
                                                                                : EVP_PKEY_X25519;
}
std::string_view PemLabelOf(ArmorType t) { return IsSecret(t) ? kPemPrivateKeyLabel : kPemPublicKeyLabel; }
std::string_view AlgorithmName(int nid) { return nid == EVP_PKEY_ED25519 ? "Ed25519" : "X25519"; }

// The key algorithm named by the AlgorithmIdentifier of a PrivateKeyInfo (`is_private`) or SubjectPublicKeyInfo,
// read without parsing the key: the NID (NID_undef if BoringSSL does not know it) and a name for messages
// ("Ed25519", "EC P-256", "RSA", or "OID " and the dotted form: each takes "an"). nullopt if the DER does not get
// that far.
struct KeyAlgorithm {
  int nid = NID_undef;
  std::string name;
};
std::optional<KeyAlgorithm> ReadKeyAlgorithm(std::span<const uint8_t> der, bool is_private) {
  CBS in, info, alg, oid;
  CBS_init(&in, der.data(), der.size());
  if (!CBS_get_asn1(&in, &info, CBS_ASN1_SEQUENCE) ||
      (is_private && !CBS_get_asn1(&info, nullptr, CBS_ASN1_INTEGER)) ||
      !CBS_get_asn1(&info, &alg, CBS_ASN1_SEQUENCE) || !CBS_get_asn1(&alg, &oid, CBS_ASN1_OBJECT)) {
    return std::nullopt;
  }
  KeyAlgorithm a;
  a.nid = OBJ_cbs2nid(&oid);
  switch (a.nid) {
    case EVP_PKEY_ED25519: a.name = "Ed25519"; break;
    case EVP_PKEY_X25519: a.name = "X25519"; break;
    case EVP_PKEY_RSA: a.name = "RSA"; break;
    case EVP_PKEY_EC: {
      CBS curve;
      const char* nist = nullptr;
      if (CBS_get_asn1(&alg, &curve, CBS_ASN1_OBJECT)) nist = EC_curve_nid2nist(OBJ_cbs2nid(&curve));
      a.name = nist ? fmt::format("EC {}", nist) : "EC";
      break;
    }
    default: {
      char* text = CBS_asn1_oid_to_text(&oid);
      a.name = fmt::format("OID {}", text ? text : "(unreadable)");
      OPENSSL_free(text);
    }
  }
  return a;
}

// Aborts on a BoringSSL allocation failure while encoding (the only way these calls fail for 32-byte keys).
void CheckAlloc(bool ok) {
  if (!ok) std::abort();
}

// The DER Strait writes for a raw key: PKCS#8 v1 (version 0, no attributes, no public key) for a secret,
// SubjectPublicKeyInfo for a public key. The buffer is wiped when the Payload goes.
Payload KeyDer(ArmorType type, std::span<const uint8_t> raw) {
  bssl::UniquePtr<EVP_PKEY> pkey(IsSecret(type)
                                     ? EVP_PKEY_new_raw_private_key(NidOf(type), nullptr, raw.data(), raw.size())
                                     : EVP_PKEY_new_raw_public_key(NidOf(type), nullptr, raw.data(), raw.size()));
  CheckAlloc(pkey != nullptr);
  bssl::ScopedCBB cbb;  // CBB_cleanup frees with OPENSSL_free, which zeroes
  CheckAlloc(CBB_init(cbb.get(), 64) == 1);
  CheckAlloc((IsSecret(type) ? EVP_marshal_private_key(cbb.get(), pkey.get())
                             : EVP_marshal_public_key(cbb.get(), pkey.get())) == 1);
  Payload out;
  out.bytes.assign(CBB_data(cbb.get()), CBB_data(cbb.get()) + CBB_len(cbb.get()));
  return out;
}

// A PEM text of a key type: the raw 32 bytes from its DER, which must be exactly what KeyDer writes.
template <class Key>
Result<Key, KsError> DecodePemKey(ArmorType type, std::string_view label, std::string_view text) {
  auto der = DearmorBody(label, text);
  if (!der) return Fail(der.error());
  const bool is_private = IsSecret(type);
  const std::string_view what = is_private ? "PKCS#8 private key" : "SubjectPublicKeyInfo";
  auto alg = ReadKeyAlgorithm(der->bytes, is_private);
  if (!alg) return Err(KeystoreError::kBadContent, fmt::format("the DER is not a {}", what));
  if (alg->nid != NidOf(type)) {
    return Err(KeystoreError::kWrongType, fmt::format("this PEM {} holds an {} key, expected {}", label, alg->name,
                                                      Wanted(type)));
  }
  CBS cbs;
  CBS_init(&cbs, der->bytes.data(), der->bytes.size());
  // EVP_PKEY_free zeroes the key: BoringSSL's OPENSSL_free wipes every allocation.
  bssl::UniquePtr<EVP_PKEY> pkey(is_private ? EVP_parse_private_key(&cbs) : EVP_parse_public_key(&cbs));
  ERR_clear_error();
  if (!pkey) {
    return Err(KeystoreError::kBadContent,
               fmt::format("the DER is not a valid {} {} (Strait reads the RFC 8410 form that `openssl genpkey` and "
                           "`openssl pkey` write{})",
                           AlgorithmName(NidOf(type)), what, is_private ? ": version 0, no public key" : ""));
  }
  if (CBS_len(&cbs) != 0) {
    return Err(KeystoreError::kTrailingData, fmt::format("{} bytes after the {} in the DER", CBS_len(&cbs), what));
  }
  std::array<uint8_t, Key::kSize> raw{};
  size_t raw_len = raw.size();
  const int got = is_private ? EVP_PKEY_get_raw_private_key(pkey.get(), raw.data(), &raw_len)
                             : EVP_PKEY_get_raw_public_key(pkey.get(), raw.data(), &raw_len);
  Key k;
  const bool sized = got == 1 && Key::FromSpan(std::span<const uint8_t>(raw.data(), raw_len), &k);
  SecureZero(raw);
  if (!sized) return Err(KeystoreError::kBadLength, fmt::format("the key is not {} bytes", Key::kSize));
  // One file form per key: other encodings of the same key (a PKCS#8 v2 with the public key, attributes) are
  // refused rather than silently rewritten.
  if (!ConstantTimeEqual(KeyDer(type, k.bytes()).bytes, der->bytes)) {
    return Err(KeystoreError::kBadContent,
               fmt::format("not the {} form Strait writes (RFC 8410{})", what,
                           is_private ? ": version 0, no attributes, no public key" : ""));
  }
  return k;
}

// A key file in either form: PEM (what Strait writes) or the older Strait armour.
template <class Key>
Result<Key, KsError> DecodeKey(ArmorType type, std::string_view text) {
  if (auto r = CheckSize(text); !r) return Fail(r.error());
  auto label = BeginLabel(text);
  if (!label) return Fail(label.error());
  if (*label == PemLabelOf(type)) return DecodePemKey<Key>(type, *label, text);
  auto p = Dearmor(type, text);  // the older form; its errors name the other labels
  if (!p) return Fail(p.error());
  Key k;
  if (!Key::FromSpan(p->bytes, &k)) {
    return Err(KeystoreError::kBadLength,
               fmt::format("payload is {} bytes, a {} is {}", p->bytes.size(), ArmorLabel(type), Key::kSize));
  }
  return k;
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Moves `tmp` to `path`; with kRefuse, atomically fails with EEXIST if `path` exists.
int Publish(const std::string& tmp, const std::string& path, Overwrite overwrite) {
  if (overwrite == Overwrite::kReplace) return ::rename(tmp.c_str(), path.c_str());
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // The filesystem lacks RENAME_NOREPLACE: link() also refuses an existing target atomically.
  if (::link(tmp.c_str(), path.c_str()) != 0) return -1;
  ::unlink(tmp.c_str());
  return 0;
}

Result<void, KsError> WriteAtomic(const std::string& path, std::string_view contents, mode_t mode,
                                  Overwrite overwrite) {
  if (overwrite == Overwrite::kRefuse && PathExists(path)) {
    return Err(KeystoreError::kExists, fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)",
                                                   path));
  }
  const std::string dir = ParentDir(path);
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    std::array<uint8_t, 6> r{};
    RandomBytes(r);
    tmp = fmt::format("{}/.{}.tmp-{:02x}", dir, BaseName(path), fmt::join(r, ""));
    // The mode applies from creation: a secret is never readable by others, not even briefly.
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno != EEXIST) {
      return Err(errno == ENOENT ? KeystoreError::kNotFound : KeystoreError::kIo,
                 Errno("cannot create a temporary file in the directory", path));
    }
  }
  if (fd < 0) return Err(KeystoreError::kIo, Errno("cannot create a temporary file", path));
  auto fail = [&](std::string what) {
    const std::string reason = Errno(what, path);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return Err(KeystoreError::kIo, reason);
  };
  if (!WriteAll(fd, contents)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) return fail("close");
  if (Publish(tmp, path, overwrite) != 0) {
    if (errno == EEXIST) {
      ::unlink(tmp.c_str());
      return Err(KeystoreError::kExists,
                 fmt::format("{}: already exists; refusing to overwrite it (--force replaces it)", path));
    }
    return fail("rename");
  }
  // Make the rename durable. A directory that cannot be opened for fsync is not an error worth failing over.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
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
  if (secret && (st.st_mode & 077) != 0) {
    return Err(KeystoreError::kInsecurePermissions,
               fmt::format("{}: secret file is accessible by group or others (mode {:04o}); run: chmod 600 {}",
                           path, static_cast<unsigned>(st.st_mode & 07777), path));
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
      WipeString(out);
      return Err(KeystoreError::kIo, Errno("read", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxKeystoreFileSize) {
      SecureZero(std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), sizeof buf));
      WipeString(out);
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

std::string_view KeystoreErrorName(KeystoreError e) {
  switch (e) {
    case KeystoreError::kNotFound: return "not_found";
    case KeystoreError::kIo: return "io";
    case KeystoreError::kExists: return "exists";
    case KeystoreError::kInsecurePermissions: return "insecure_permissions";
    case KeystoreError::kTooLarge: return "too_large";
    case KeystoreError::kNotArmoured: return "not_armoured";
    case KeystoreError::kWrongType: return "wrong_type";
    case KeystoreError::kBadArmour: return "bad_armour";
    case KeystoreError::kBadBase64: return "bad_base64";
    case KeystoreError::kBadLength: return "bad_length";
    case KeystoreError::kTrailingData: return "trailing_data";
    case KeystoreError::kBadContent: return "bad_content";
    case KeystoreError::kMismatch: return "mismatch";
  }
  return "unknown";
}

std::string_view ArmorLabel(ArmorType t) {
  switch (t) {
    case ArmorType::kEd25519SecretKey: return "STRAIT ED25519 SECRET KEY";
    case ArmorType::kEd25519PublicKey: return "STRAIT ED25519 PUBLIC KEY";
    case ArmorType::kX25519SecretKey: return "STRAIT X25519 SECRET KEY";
    case ArmorType::kX25519PublicKey: return "STRAIT X25519 PUBLIC KEY";
    case ArmorType::kTenantCert: return "STRAIT TENANT CERT";
    case ArmorType::kCredential: return "STRAIT CREDENTIAL";
  }
  return "STRAIT UNKNOWN";
}

bool IsSecret(ArmorType t) { return t == ArmorType::kEd25519SecretKey || t == ArmorType::kX25519SecretKey; }

void SecretText::Wipe() { WipeString(s_); }

std::string Armor(ArmorType type, std::span<const uint8_t> payload) {
  return ArmorWithLabel(ArmorLabel(type), payload);
}

Result<FileType, KeystoreResultError> DetectFileType(std::string_view text) {
  if (auto r = CheckSize(text); !r) return Fail(r.error());
  auto label = BeginLabel(text);
  if (!label) return Fail(label.error());
  if (label->starts_with(kStraitPrefix)) {
    auto t = TypeFromStraitLabel(*label);
    if (!t) return Fail(t.error());
    return FileType{*t, FileForm::kStraitArmour};
  }
  const bool is_private = *label == kPemPrivateKeyLabel;
  if (!is_private && *label != kPemPublicKeyLabel) {
    return Err(KeystoreError::kNotArmoured,
               fmt::format("a PEM '{}' block, not a Strait key, TenantCert or credential", label->substr(0, 40)));
  }
  auto der = DearmorBody(*label, text);
  if (!der) return Fail(der.error());
  auto alg = ReadKeyAlgorithm(der->bytes, is_private);
  if (!alg) {
    return Err(KeystoreError::kBadContent,
               fmt::format("the DER is not a {}", is_private ? "PKCS#8 private key" : "SubjectPublicKeyInfo"));
  }
  if (alg->nid == EVP_PKEY_ED25519) {
    return FileType{is_private ? ArmorType::kEd25519SecretKey : ArmorType::kEd25519PublicKey, FileForm::kPem};
  }
  if (alg->nid == EVP_PKEY_X25519) {
    return FileType{is_private ? ArmorType::kX25519SecretKey : ArmorType::kX25519PublicKey, FileForm::kPem};
  }
  return Err(KeystoreError::kWrongType,
             fmt::format("a PEM {} holding an {} key, not an Ed25519 or X25519 key", *label, alg->name));
}

std::string EncodeEd25519PublicKey(const Ed25519PublicKey& key) {
  return ArmorWithLabel(kPemPublicKeyLabel, KeyDer(ArmorType::kEd25519PublicKey, key.bytes()).bytes);
}
std::string EncodeX25519PublicKey(const X25519PublicKey& key) {
  return ArmorWithLabel(kPemPublicKeyLabel, KeyDer(ArmorType::kX25519PublicKey, key.bytes()).bytes);
}
SecretText EncodeEd25519SecretKey(const Ed25519KeyPair& key) {
  return SecretText(ArmorWithLabel(kPemPrivateKeyLabel, KeyDer(ArmorType::kEd25519SecretKey, key.seed.bytes()).bytes));
}
SecretText EncodeX25519SecretKey(const X25519KeyPair& key) {
  return SecretText(ArmorWithLabel(kPemPrivateKeyLabel, KeyDer(ArmorType::kX25519SecretKey, key.secret.bytes()).bytes));
}
std::string EncodeTenantCert(std::span<const uint8_t> tenant_cert) {
  return Armor(ArmorType::kTenantCert, tenant_cert);
}
std::string EncodeCredential(std::span<const uint8_t> credential) {
  return Armor(ArmorType::kCredential, credential);
}

Result<Ed25519PublicKey, KeystoreResultError> DecodeEd25519PublicKey(std::string_view text) {
  auto k = DecodeKey<Ed25519PublicKey>(ArmorType::kEd25519PublicKey, text);
  if (k && k->IsZero()) return Err(KeystoreError::kBadContent, "all-zero public key");
  return k;
}

Result<X25519PublicKey, KeystoreResultError> DecodeX25519PublicKey(std::string_view text) {
  auto k = DecodeKey<X25519PublicKey>(ArmorType::kX25519PublicKey, text);
  if (k && k->IsZero()) return Err(KeystoreError::kBadContent, "all-zero public key");
  return k;
}

Result<Ed25519KeyPair, KeystoreResultError> DecodeEd25519SecretKey(std::string_view text) {
  auto seed = DecodeKey<Ed25519Seed>(ArmorType::kEd25519SecretKey, text);
  if (!seed) return Fail(seed.error());
  return Ed25519KeyPair::FromSeed(*seed);
}

Result<X25519KeyPair, KeystoreResultError> DecodeX25519SecretKey(std::string_view text) {
  auto secret = DecodeKey<X25519SecretKey>(ArmorType::kX25519SecretKey, text);
  if (!secret) return Fail(secret.error());
  X25519KeyPair kp = X25519KeyPair::FromSecret(*secret);
  if (kp.public_key.IsZero()) return Err(KeystoreError::kBadContent, "secret yields an all-zero public key");
  return kp;
}

Result<std::vector<uint8_t>, KeystoreResultError> DecodeTenantCert(std::string_view text) {
  auto p = Dearmor(ArmorType::kTenantCert, text);
  if (!p) return Fail(p.error());
  if (auto v = ParseTenantCert(p->bytes); !v) {
    return Err(KeystoreError::kBadContent, fmt::format("tenant cert does not parse: {}: {}",
                                                       CredentialErrorName(v.error().code), v.error().reason));
  }
  return std::move(p->bytes);
}

Result<std::vector<uint8_t>, KeystoreResultError> DecodeCredential(std::string_view text) {
  auto p = Dearmor(ArmorType::kCredential, text);
  if (!p) return Fail(p.error());
  if (auto v = ParseCredential(p->bytes); !v) {
    return Err(KeystoreError::kBadContent, fmt::format("credential does not parse: {}: {}",
                                                       CredentialErrorName(v.error().code), v.error().reason));
  }
  return std::move(p->bytes);
}

// --- Files ---

Result<void, KeystoreResultError> WritePublicFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite) {
  return WriteAtomic(path, contents, 0644, overwrite);
}

Result<void, KeystoreResultError> WriteSecretFile(const std::string& path, std::string_view contents,
                                                  Overwrite overwrite) {
  return WriteAtomic(path, contents, 0600, overwrite);
}

Result<std::string, KeystoreResultError> ReadPublicFile(const std::string& path) { return ReadBounded(path, false); }

Result<SecretText, KeystoreResultError> ReadSecretFile(const std::string& path) {
  auto r = ReadBounded(path, true);
  if (!r) return Fail(r.error());
  return SecretText(std::move(r).value());
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void, KeystoreResultError> EnsureDirectory(const std::string& path) {
  if (path.empty()) return Err(KeystoreError::kIo, "empty directory path");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Err(KeystoreError::kIo, fmt::format("{}: exists and is not a directory", path));
    return {};
  }
  const std::string parent = ParentDir(path);
  if (parent != path && parent != "." && parent != "/") {
    auto r = EnsureDirectory(parent);
    if (!r) return r;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Err(KeystoreError::kIo, Errno("cannot create directory", path));
  }
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
    const bool armoured = held.view().starts_with(fmt::format("{}{}", kBeginPrefix, kStraitPrefix));
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
