#include "control-plane/pki/key_pem.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

#include "control-plane/pki/openssl_ptr.h"

namespace strait::control::pki {
namespace {

Failure<KeyPemResultError> Err(KeyPemError code, std::string reason) {
  ERR_clear_error();
  return Fail(KeyPemResultError{code, std::move(reason)});
}

Result<std::string, KeyPemResultError> Encode(EVP_PKEY* key, bool private_key) {
  Bio out(BIO_new(BIO_s_mem()));
  int ok = private_key ? PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(out.get(), key);
  if (!out || ok != 1) return Err(KeyPemError::kInternal, "PEM encoding failed");
  return BioContents(out.get());
}

}  // namespace

Result<std::string, KeyPemResultError> EncodeEd25519PrivatePem(const Ed25519SeedBytes& seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return Err(KeyPemError::kInternal, "Ed25519 key from seed failed");
  return Encode(key.get(), true);
}

Result<std::string, KeyPemResultError> EncodeEd25519PublicPem(const Ed25519PublicBytes& public_key) {
  Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  if (!key) return Err(KeyPemError::kInternal, "Ed25519 public key failed");
  return Encode(key.get(), false);
}

Result<Ed25519SeedBytes, KeyPemResultError> DecodeEd25519PrivatePem(std::string_view pem) {
  if (pem.find("-----BEGIN PRIVATE KEY-----") == std::string_view::npos) {
    return Err(pem.find("-----BEGIN") == std::string_view::npos ? KeyPemError::kNotPem : KeyPemError::kWrongType,
               "expected a PEM PRIVATE KEY holding an Ed25519 key");
  }
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  if (!key) return Err(KeyPemError::kNotPem, "unreadable PEM PRIVATE KEY");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Err(KeyPemError::kWrongType, "this PEM PRIVATE KEY is not an Ed25519 key");
  }
  Ed25519SeedBytes seed{};
  size_t n = seed.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), seed.data(), &n) != 1 || n != seed.size()) {
    return Err(KeyPemError::kInternal, "Ed25519 seed unreadable");
  }
  auto again = Encode(key.get(), true);
  if (!again) return Fail(again.error());
  bool canonical = *again == pem;
  OPENSSL_cleanse(again->data(), again->size());
  if (!canonical) {
    OPENSSL_cleanse(seed.data(), seed.size());
    return Err(KeyPemError::kNotCanonical, "the PEM PRIVATE KEY is not in canonical form (LF line ends, 64-column "
                                           "base64, PKCS#8 v0 without a public key, one final newline)");
  }
  return seed;
}

Result<Ed25519PublicBytes, KeyPemResultError> DecodeEd25519PublicPem(std::string_view pem) {
  if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string_view::npos) {
    return Err(pem.find("-----BEGIN") == std::string_view::npos ? KeyPemError::kNotPem : KeyPemError::kWrongType,
               "expected a PEM PUBLIC KEY holding an Ed25519 key");
  }
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (!key) return Err(KeyPemError::kNotPem, "unreadable PEM PUBLIC KEY");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Err(KeyPemError::kWrongType, "this PEM PUBLIC KEY is not an Ed25519 key");
  }
  Ed25519PublicBytes pub{};
  size_t n = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &n) != 1 || n != pub.size()) {
    return Err(KeyPemError::kInternal, "Ed25519 public key unreadable");
  }
  auto again = Encode(key.get(), false);
  if (!again) return Fail(again.error());
  if (*again != pem) return Err(KeyPemError::kNotCanonical, "the PEM PUBLIC KEY is not in canonical form");
  return pub;
}

}  // namespace strait::control::pki
