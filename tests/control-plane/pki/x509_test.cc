// The operator's TLS PKI on OpenSSL 3 (control-plane/pki/x509.h): chains verify, SANs and validity are as asked, and a
// relay's own P-256 public key is certified without its private key.
#include "control-plane/pki/x509.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include <gtest/gtest.h>

namespace strait::control::pki {
namespace {

std::unique_ptr<X509, decltype(&X509_free)> ReadCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return {PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr), X509_free};
}

bool Verifies(const PemPair& ca, const std::string& leaf_pem, const char* host) {
  auto ca_cert = ReadCert(ca.cert_pem);
  auto leaf = ReadCert(leaf_pem);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca_cert.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), host, 0);
  return X509_verify_cert(ctx.get()) == 1;
}

TEST(X509Test, ALeafChainsToItsCaForEveryNameAndOnlyThose) {
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok()) << ca.error().reason;
  LeafParams lp;
  lp.dns_names = {"cp.example.com", "localhost"};
  lp.ip_addresses = {"127.0.0.1"};
  auto leaf = IssueLeaf(*ca, lp);
  ASSERT_TRUE(leaf.ok()) << leaf.error().reason;
  EXPECT_NE(leaf->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(Verifies(*ca, leaf->cert_pem, "cp.example.com"));
  EXPECT_TRUE(Verifies(*ca, leaf->cert_pem, "localhost"));
  EXPECT_FALSE(Verifies(*ca, leaf->cert_pem, "evil.example.com"));
  auto other_ca = GenerateCa({});
  EXPECT_FALSE(Verifies(*other_ca, leaf->cert_pem, "localhost"));
}

TEST(X509Test, NotAfterIsTheAskedLifetime) {
  auto ca = GenerateCa({});
  LeafParams lp;
  lp.dns_names = {"a"};
  lp.valid_seconds = 90LL * 24 * 3600;
  auto leaf = IssueLeaf(*ca, lp);
  auto not_after = CertificateNotAfter(leaf->cert_pem);
  ASSERT_TRUE(not_after.ok());
  int64_t expected = static_cast<int64_t>(std::time(nullptr)) + lp.valid_seconds;
  EXPECT_NEAR(static_cast<double>(*not_after), static_cast<double>(expected), 5.0);
  EXPECT_FALSE(CertificateNotAfter("junk").ok());
}

TEST(X509Test, ARelaysOwnP256KeyIsCertifiedAndOtherKeysAreRefused) {
  auto ca = GenerateCa({});
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.get(), &der);
  ASSERT_GT(n, 0);
  std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  LeafParams lp;
  lp.dns_names = {"relay1.example.com"};
  auto leaf = IssueLeafForKey(*ca, spki, lp);
  ASSERT_TRUE(leaf.ok()) << leaf.error().reason;
  EXPECT_TRUE(leaf->key_pem.empty());
  EXPECT_TRUE(Verifies(*ca, leaf->cert_pem, "relay1.example.com"));
  auto cert = ReadCert(leaf->cert_pem);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()), 1);

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                                                          EVP_PKEY_free);
  der = nullptr;
  n = i2d_PUBKEY(ed.get(), &der);
  std::string ed_spki(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  auto refused = IssueLeafForKey(*ca, ed_spki, lp);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, X509Error::kInvalidArgument);
  EXPECT_FALSE(IssueLeafForKey(*ca, spki + "x", lp).ok());  // trailing bytes
  EXPECT_FALSE(IssueLeafForKey(*ca, "", lp).ok());
}

TEST(X509Test, BadNamesAreRefused) {
  auto ca = GenerateCa({});
  LeafParams none;
  EXPECT_FALSE(IssueLeaf(*ca, none).ok());
  LeafParams bad_ip;
  bad_ip.ip_addresses = {"300.1.1.1"};
  EXPECT_FALSE(IssueLeaf(*ca, bad_ip).ok());
  LeafParams bad_dns;
  bad_dns.dns_names = {"a,DNS:evil"};
  EXPECT_FALSE(IssueLeaf(*ca, bad_dns).ok());
}

}  // namespace
}  // namespace strait::control::pki
