// The text codec of crypto/key_pem.h: Strait armour and PEM keys (PKCS#8 / SubjectPublicKeyInfo DER through
// BoringSSL). No I/O.
#include "crypto/key_pem.h"

#include <sodium.h>

#include <algorithm>
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
constexpr std::string_view kPemPrivateKeyLabel = "PRIVATE KEY";  // PKCS#8 PrivateKeyInfo (RFC 5208, RFC 8410)
constexpr std::string_view kPemPublicKeyLabel = "PUBLIC KEY";    // SubjectPublicKeyInfo (RFC 5280, RFC 8410)
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;

Failure<KsError> Err(KeystoreError code, std::string reason) { return Fail(KsError{code, std::move(reason)}); }

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
bool IsKey(ArmorType t) { return t != ArmorType::kTenantCert && t != ArmorType::kCredential; }

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
}  // namespace strait::crypto
