#include "control-plane/pki/x509.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "control-plane/pki/openssl_ptr.h"

namespace strait::control::pki {
namespace {

using Cert = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using Bignum = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

constexpr long kBackdateSeconds = 3600;  // NOLINT(google-runtime-int): X509_gmtime_adj takes long

std::string TakeErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {  // NOLINT(google-runtime-int)
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

Failure<X509ResultError> Internal(std::string_view what) {
  return Fail(X509ResultError{X509Error::kInternal, fmt::format("{}: {}", what, TakeErrors())});
}
Failure<X509ResultError> Invalid(std::string reason) {
  ERR_clear_error();
  return Fail(X509ResultError{X509Error::kInvalidArgument, std::move(reason)});
}

Bio MemBuf(std::string_view s) { return Bio(BIO_new_mem_buf(s.data(), static_cast<int>(s.size()))); }

// Version 3, random positive 127-bit serial, subject CN, validity, public key.
Cert NewCertificate(std::string_view common_name, int64_t valid_seconds, EVP_PKEY* key) {
  Cert x(X509_new());
  Bignum serial(BN_new());
  if (!x || !serial || !X509_set_version(x.get(), 2) || !BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) ||
      !X509_gmtime_adj(X509_getm_notBefore(x.get()), -kBackdateSeconds) ||
      !X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(valid_seconds)) ||  // NOLINT
      !X509_set_pubkey(x.get(), key)) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(x.get());
  if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(common_name.data()),
                                  static_cast<int>(common_name.size()), -1, 0)) {
    return nullptr;
  }
  return x;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1);
}

Result<std::string, X509ResultError> SubjectAltNames(const LeafParams& params) {
  if (params.dns_names.empty() && params.ip_addresses.empty()) {
    return Invalid("a leaf certificate needs at least one DNS name or IP address");
  }
  std::string san;
  for (const std::string& d : params.dns_names) {
    if (d.empty() || d.find_first_of(",:\n ") != std::string::npos) return Invalid(fmt::format("bad DNS name '{}'", d));
    san += fmt::format("{}DNS:{}", san.empty() ? "" : ",", d);
  }
  for (const std::string& ip : params.ip_addresses) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
    if (parsed == nullptr) return Invalid(fmt::format("bad IP address literal '{}'", ip));
    ASN1_OCTET_STRING_free(parsed);
    san += fmt::format("{}IP:{}", san.empty() ? "" : ",", ip);
  }
  return san;
}

bool IsP256(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256; }

Result<PemPair, X509ResultError> SignLeaf(const PemPair& ca, EVP_PKEY* key, const LeafParams& params) {
  if (params.valid_seconds <= 0) return Invalid("valid_seconds must be positive");
  auto san = SubjectAltNames(params);
  if (!san) return Fail(san.error());
  Bio cab = MemBuf(ca.cert_pem);
  Cert ca_cert(PEM_read_bio_X509(cab.get(), nullptr, nullptr, nullptr));
  Bio kb = MemBuf(ca.key_pem);
  Pkey ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) return Invalid(fmt::format("bad CA PEM: {}", TakeErrors()));
  Cert x = NewCertificate(params.common_name, params.valid_seconds, key);
  if (!x) return Internal("leaf certificate fields");
  if (!X509_set_issuer_name(x.get(), X509_get_subject_name(ca_cert.get())) ||
      !AddExtension(x.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(x.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(x.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(x.get(), ca_cert.get(), NID_subject_alt_name, *san) ||
      !AddExtension(x.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always")) {
    return Internal("leaf certificate extensions");
  }
  if (!X509_sign(x.get(), ca_key.get(), EVP_sha256())) return Internal("leaf signature");
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_X509(out.get(), x.get())) return Internal("leaf PEM encoding");
  return PemPair{BioContents(out.get()), {}};
}

Result<std::string, X509ResultError> KeyPem(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_PKCS8PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return Internal("key PEM encoding");
  }
  return BioContents(out.get());
}

}  // namespace

Result<PemPair, X509ResultError> GenerateCa(const CaParams& params) {
  ERR_clear_error();
  if (params.valid_seconds <= 0) return Invalid("valid_seconds must be positive");
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return Internal("P-256 key generation");
  Cert x = NewCertificate(params.common_name, params.valid_seconds, key.get());
  if (!x) return Internal("CA certificate fields");
  if (!X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) ||
      !AddExtension(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(x.get(), x.get(), NID_subject_key_identifier, "hash")) {
    return Internal("CA certificate extensions");
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) return Internal("CA self-signature");
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_X509(out.get(), x.get())) return Internal("CA PEM encoding");
  auto key_pem = KeyPem(key.get());
  if (!key_pem) return Fail(key_pem.error());
  return PemPair{BioContents(out.get()), std::move(*key_pem)};
}

Result<PemPair, X509ResultError> IssueLeaf(const PemPair& ca, const LeafParams& params) {
  ERR_clear_error();
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return Internal("P-256 key generation");
  auto leaf = SignLeaf(ca, key.get(), params);
  if (!leaf) return leaf;
  auto key_pem = KeyPem(key.get());
  if (!key_pem) return Fail(key_pem.error());
  leaf->key_pem = std::move(*key_pem);
  return leaf;
}

Result<PemPair, X509ResultError> IssueLeafForKey(const PemPair& ca, std::string_view spki_der,
                                                 const LeafParams& params) {
  ERR_clear_error();
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));  // NOLINT(google-runtime-int)
  if (!key || p != reinterpret_cast<const unsigned char*>(spki_der.data() + spki_der.size())) {
    return Invalid("the TLS public key is not a SubjectPublicKeyInfo");
  }
  if (!IsP256(key.get())) return Invalid("the TLS public key is not a P-256 key");
  return SignLeaf(ca, key.get(), params);
}

Result<int64_t, X509ResultError> CertificateNotAfter(std::string_view cert_pem) {
  ERR_clear_error();
  Bio b = MemBuf(cert_pem);
  Cert x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!x) return Invalid("not a PEM certificate");
  struct tm t {};
  if (!ASN1_TIME_to_tm(X509_get0_notAfter(x.get()), &t)) return Invalid("unreadable notAfter");
  return static_cast<int64_t>(timegm(&t));
}

}  // namespace strait::control::pki
