#include "crypto/x509_issue.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "crypto/tls_context.h"

namespace strait::crypto {
namespace {

constexpr long kBackdateSeconds = 3600;  // NOLINT(google-runtime-int): X509_gmtime_adj takes long

Failure<X509IssueResultError> Internal(std::string_view what) {
  return Fail(X509IssueResultError{X509IssueError::kInternal, fmt::format("{}: {}", what,
                                                                          TakeBoringSslErrors("failed"))});
}
Failure<X509IssueResultError> Invalid(std::string reason) {
  ERR_clear_error();
  return Fail(X509IssueResultError{X509IssueError::kInvalidArgument, std::move(reason)});
}

bssl::UniquePtr<EVP_PKEY> NewP256Key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return nullptr;
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (!pkey || !EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release())) return nullptr;
  return pkey;
}

// Version 3, random positive 127-bit serial, subject CN, validity, public key.
bssl::UniquePtr<X509> NewCertificate(std::string_view common_name, int64_t valid_seconds, EVP_PKEY* key) {
  bssl::UniquePtr<X509> x(X509_new());
  bssl::UniquePtr<BIGNUM> serial(BN_new());
  if (!x || !serial || !X509_set_version(x.get(), X509_VERSION_3) ||
      !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(x.get()), -kBackdateSeconds) ||
      !X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(valid_seconds)) ||  // NOLINT
      !X509_set_pubkey(x.get(), key)) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(x.get());
  if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0)) {
    return nullptr;
  }
  return x;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1);
}

bool ToPem(X509* cert, EVP_PKEY* key, PemCertificate* out) {
  bssl::UniquePtr<BIO> cb(BIO_new(BIO_s_mem()));
  bssl::UniquePtr<BIO> kb(BIO_new(BIO_s_mem()));
  if (!cb || !kb || !PEM_write_bio_X509(cb.get(), cert) ||
      !PEM_write_bio_PKCS8PrivateKey(kb.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return false;
  }
  const uint8_t* p = nullptr;
  size_t n = 0;
  if (!BIO_mem_contents(cb.get(), &p, &n)) return false;
  out->cert_pem.assign(reinterpret_cast<const char*>(p), n);
  if (!BIO_mem_contents(kb.get(), &p, &n)) return false;
  out->key_pem.assign(reinterpret_cast<const char*>(p), n);
  return true;
}

}  // namespace

Result<PemCertificate, X509IssueResultError> GenerateCa(const CaOptions& options) {
  ERR_clear_error();
  if (options.valid_seconds <= 0) return Invalid("valid_seconds must be positive");
  bssl::UniquePtr<EVP_PKEY> key = NewP256Key();
  if (!key) return Internal("P-256 key generation");
  bssl::UniquePtr<X509> x = NewCertificate(options.common_name, options.valid_seconds, key.get());
  if (!x) return Internal("CA certificate fields");
  if (!X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) ||
      !AddExtension(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(x.get(), x.get(), NID_subject_key_identifier, "hash")) {
    return Internal("CA certificate extensions");
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) return Internal("CA self-signature");
  PemCertificate out;
  if (!ToPem(x.get(), key.get(), &out)) return Internal("CA PEM encoding");
  return out;
}

Result<PemCertificate, X509IssueResultError> IssueLeafCertificate(const PemCertificate& ca,
                                                                   const LeafOptions& options) {
  ERR_clear_error();
  if (options.dns_names.empty() && options.ip_addresses.empty()) {
    return Invalid("a leaf certificate needs at least one DNS name or IP address");
  }
  if (options.valid_seconds <= 0) return Invalid("valid_seconds must be positive");
  std::string san;
  for (const std::string& d : options.dns_names) {
    if (d.empty() || d.find_first_of(",:\n") != std::string::npos) return Invalid(fmt::format("bad DNS name"));
    san += fmt::format("{}DNS:{}", san.empty() ? "" : ",", d);
  }
  for (const std::string& ip : options.ip_addresses) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
    if (parsed == nullptr) return Invalid(fmt::format("bad IP address literal '{}'", ip));
    ASN1_OCTET_STRING_free(parsed);
    san += fmt::format("{}IP:{}", san.empty() ? "" : ",", ip);
  }

  bssl::UniquePtr<BIO> cab(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  bssl::UniquePtr<X509> ca_cert(PEM_read_bio_X509(cab.get(), nullptr, nullptr, nullptr));
  bssl::UniquePtr<BIO> kb(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  bssl::UniquePtr<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) return Invalid(fmt::format("bad CA PEM: {}", TakeBoringSslErrors("unreadable")));

  bssl::UniquePtr<EVP_PKEY> key = NewP256Key();
  if (!key) return Internal("P-256 key generation");
  bssl::UniquePtr<X509> x = NewCertificate(options.common_name, options.valid_seconds, key.get());
  if (!x) return Internal("leaf certificate fields");
  if (!X509_set_issuer_name(x.get(), X509_get_subject_name(ca_cert.get())) ||
      !AddExtension(x.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(x.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(x.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(x.get(), ca_cert.get(), NID_subject_alt_name, san) ||
      !AddExtension(x.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always")) {
    return Internal("leaf certificate extensions");
  }
  if (!X509_sign(x.get(), ca_key.get(), EVP_sha256())) return Internal("leaf signature");
  PemCertificate out;
  if (!ToPem(x.get(), key.get(), &out)) return Internal("leaf PEM encoding");
  return out;
}

}  // namespace strait::crypto
