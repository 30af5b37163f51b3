// Key and credential texts: the codec for every file Strait reads and writes (docs/keys.md tells the story;
// this header and crypto/keystore.h are the authority). No I/O: the file functions are in crypto/keystore.h.
// Setup-path code: Result-returning, no exceptions, allocation is fine.
//
// Keys are standard PEM, so other tools read them (`openssl pkey -in signing.key -noout -text`):
//
//   what                 PEM label      DER (RFC 8410)                                           DER size
//   Ed25519 secret key   PRIVATE KEY    PKCS#8 PrivateKeyInfo, version 0, OID 1.3.101.112, the       48
//                                       32-byte seed in an OCTET STRING; no attributes, no public key
//   X25519 secret key    PRIVATE KEY    the same with OID 1.3.101.110 and the 32-byte secret          48
//   Ed25519 public key   PUBLIC KEY     SubjectPublicKeyInfo, OID 1.3.101.112, no parameters          44
//   X25519 public key    PUBLIC KEY     the same with OID 1.3.101.110                                 44
//
// TenantCerts and credentials keep Strait's own armour (nothing else reads them), one block per file:
//
//   -----BEGIN STRAIT <LABEL>-----\n
//   <standard base64 with '=' padding, 64 characters a line, the last line 1..64>\n
//   -----END STRAIT <LABEL>-----\n
//
//   label                        payload
//   STRAIT TENANT CERT           TenantCert bytes (crypto/credential.h), structure checked by ParseTenantCert
//   STRAIT CREDENTIAL            Credential bytes (crypto/credential.h), structure checked by ParseCredential
//
// Older key files. Until PEM keys, keys had the armour too, and the key decoders still read it:
//   STRAIT ED25519 SECRET KEY    32-byte Ed25519 seed (the public key is derived)
//   STRAIT ED25519 PUBLIC KEY    32-byte Ed25519 public key
//   STRAIT X25519 SECRET KEY     32-byte X25519 secret (Noise static key; the public key is derived)
//   STRAIT X25519 PUBLIC KEY     32-byte X25519 public key
// Keys are written only as PEM. DetectFileType tells the two forms apart; UpgradeKeyFile in crypto/keystore.h
// (`strait keys upgrade DIR`) rewrites an older key file as PEM holding the same key.
//
// Parsing is strict and canonical: exactly the text the encoders write is accepted (LF line ends, the 64-column
// wrapping, canonical base64, one final newline, nothing after the END line; for PEM keys, exactly the DER above),
// so every value has one file form and a parsed file re-serialises to the same bytes (fuzz/keystore_fuzzer.cc
// checks this). `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write that form. A PEM of another
// key type (RSA, EC, an X25519 key where an Ed25519 key belongs, an ENCRYPTED PRIVATE KEY) is kWrongType, named.
// The PEM keys' DER goes through BoringSSL (EVP_parse_private_key / EVP_marshal_private_key and the public-key
// pair); everything else, and the PEM text around the DER, is key_pem.cc's parser. Decoding never checks signatures
// or times: load, then VerifyCredential.
//
// Thread-safety: free functions; no shared state. Errors say what was wrong, never secrets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/result.h"

namespace strait::crypto {

enum class KeystoreError : uint8_t {
  kNotFound,             // the file or directory does not exist
  kIo,                   // a system call failed (reason carries strerror)
  kExists,               // refusing to overwrite an existing file
  kInsecurePermissions,  // a secret file that group or others may access, or not a regular file
  kTooLarge,             // larger than kMaxKeystoreFileSize
  kNotArmoured,          // no "-----BEGIN ...-----" first line, or a PEM block of no Strait type (a certificate)
  kWrongType,            // a file of another type (a public key where a secret key belongs, an RSA or EC key)
  kBadArmour,            // malformed armour: line shape, CR, missing or mismatched END line, missing final newline
  kBadBase64,            // not canonical standard base64
  kBadLength,            // the payload has the wrong length for its type
  kTrailingData,         // bytes after the END line
  kBadContent,           // invalid payload (all-zero key, credential that does not parse, DER not in the form above)
  kMismatch,             // bundle files that do not belong together (key is not the credential's key)
};
std::string_view KeystoreErrorName(KeystoreError e);  // stable snake_case, e.g. "insecure_permissions"
using KeystoreResultError = Error<KeystoreError>;

// What a file holds (the name is older than PEM keys: the key types are PEM now, or the older armour).
enum class ArmorType : uint8_t {
  kEd25519SecretKey,
  kEd25519PublicKey,
  kX25519SecretKey,
  kX25519PublicKey,
  kTenantCert,
  kCredential,
};
inline constexpr ArmorType kAllArmorTypes[] = {ArmorType::kEd25519SecretKey, ArmorType::kEd25519PublicKey,
                                               ArmorType::kX25519SecretKey,  ArmorType::kX25519PublicKey,
                                               ArmorType::kTenantCert,       ArmorType::kCredential};
std::string_view ArmorLabel(ArmorType t);  // its Strait armour label, e.g. "STRAIT ED25519 SECRET KEY"
bool IsSecret(ArmorType t);
bool IsKey(ArmorType t);  // a key type (not a TenantCert or a credential)

inline constexpr size_t kArmorLineWidth = 64;
// Bound on every file this module reads (the largest armoured credential is about 760 bytes; PEM chains fit).
inline constexpr size_t kMaxKeystoreFileSize = 64 * 1024;

// Text that holds secret material (an armoured secret key, a PEM private key): zeroed on destruction and on
// move-from. Copying is not offered, so a secret lives in one place.
class SecretText {
 public:
  SecretText() = default;
  explicit SecretText(std::string s) : s_(std::move(s)) {}
  SecretText(SecretText&& o) noexcept : s_(std::move(o.s_)) { o.Wipe(); }
  SecretText& operator=(SecretText&& o) noexcept {
    if (this != &o) { Wipe(); s_ = std::move(o.s_); o.Wipe(); }
    return *this;
  }
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() { Wipe(); }

  std::string_view view() const { return s_; }
  bool empty() const { return s_.empty(); }
  void Wipe();

 private:
  std::string s_;
};

// --- Text codec (no I/O; what the fuzzer drives) ---

// Armours `payload` under `type`'s Strait label. Does not check the payload (the typed Encode* below take typed
// values). For keys this is the older form, which Strait no longer writes (tests and the fuzzer use it).
std::string Armor(ArmorType type, std::span<const uint8_t> payload);

enum class FileForm : uint8_t {
  kPem,           // a key as PKCS#8 / SubjectPublicKeyInfo PEM
  kStraitArmour,  // "-----BEGIN STRAIT ...": TenantCerts, credentials, and keys written before PEM keys
};
struct FileType {
  ArmorType type;
  FileForm form;
};
// What a text holds: for Strait armour, from its BEGIN line alone; for a PEM PRIVATE KEY or PUBLIC KEY, from the
// algorithm its DER names (which takes decoding the PEM: its errors come back). kNotArmoured: no BEGIN line or
// another PEM label (CERTIFICATE, ...); kWrongType: an unknown Strait label or a PEM key that is not Ed25519 or
// X25519 (the reason names its algorithm, e.g. "EC P-256").
Result<FileType, KeystoreResultError> DetectFileType(std::string_view text);

std::string EncodeEd25519PublicKey(const Ed25519PublicKey& key);  // PEM PUBLIC KEY
std::string EncodeX25519PublicKey(const X25519PublicKey& key);    // PEM PUBLIC KEY
SecretText EncodeEd25519SecretKey(const Ed25519KeyPair& key);     // PEM PRIVATE KEY holding the seed
SecretText EncodeX25519SecretKey(const X25519KeyPair& key);       // PEM PRIVATE KEY holding the secret
std::string EncodeTenantCert(std::span<const uint8_t> tenant_cert);
std::string EncodeCredential(std::span<const uint8_t> credential);

// Each decoder accepts exactly its own type's canonical text; the key decoders also the older armour of their
// type. All-zero public keys are refused (kBadContent); TenantCert and credential payloads must pass
// ParseTenantCert / ParseCredential (structure only, kBadContent).
Result<Ed25519PublicKey, KeystoreResultError> DecodeEd25519PublicKey(std::string_view text);
Result<X25519PublicKey, KeystoreResultError> DecodeX25519PublicKey(std::string_view text);
Result<Ed25519KeyPair, KeystoreResultError> DecodeEd25519SecretKey(std::string_view text);
Result<X25519KeyPair, KeystoreResultError> DecodeX25519SecretKey(std::string_view text);
Result<std::vector<uint8_t>, KeystoreResultError> DecodeTenantCert(std::string_view text);
Result<std::vector<uint8_t>, KeystoreResultError> DecodeCredential(std::string_view text);

}  // namespace strait::crypto
