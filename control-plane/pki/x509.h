// The operator's TLS PKI on OpenSSL 3 (docs/control-plane.md §1 pki/, §2): the operator TLS CA, the control plane's
// own server certificate, and relays' TLS certificates. The profile is the data plane's (crypto/x509_issue.h): P-256
// ECDSA, SHA-256, validity backdated one hour for clock skew, leaf SANs for every DNS name and IP an endpoint is dialled
// by, extendedKeyUsage serverAuth. It is written again here on OpenSSL 3 because strait-control may not link BoringSSL
// (design.md "One TLS library per process"); tests/control-plane/pki/x509_test.cc checks the two agree on the profile.
//
// A relay's leaf is issued for a public key the relay made (it never sends its private key): IssueLeafForKey.
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace strait::control::pki {

enum class X509Error : uint8_t {
  kInvalidArgument,  // no names, bad IP literal, bad PEM, not a P-256 key
  kInternal,         // an OpenSSL failure (reason carries its error string)
};
using X509ResultError = Error<X509Error>;

struct PemPair {
  std::string cert_pem;  // one CERTIFICATE block
  std::string key_pem;   // PKCS#8 PRIVATE KEY block (unencrypted); empty from IssueLeafForKey
};

struct CaParams {
  std::string_view common_name = "Strait operator TLS CA";
  int64_t valid_seconds = 10LL * 365 * 24 * 3600;
};

struct LeafParams {
  std::string_view common_name = "strait";
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  int64_t valid_seconds = 90LL * 24 * 3600;
};

// A self-signed CA: basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign, subjectKeyIdentifier.
Result<PemPair, X509ResultError> GenerateCa(const CaParams& params);

// A leaf with a fresh P-256 key, signed by `ca` (cert + key PEM).
Result<PemPair, X509ResultError> IssueLeaf(const PemPair& ca, const LeafParams& params);

// A leaf for a P-256 public key given as SubjectPublicKeyInfo DER (what a relay sends at enrolment); key_pem empty.
Result<PemPair, X509ResultError> IssueLeafForKey(const PemPair& ca, std::string_view spki_der,
                                                 const LeafParams& params);

// notAfter of the first certificate in `cert_pem`, as unix seconds.
Result<int64_t, X509ResultError> CertificateNotAfter(std::string_view cert_pem);

}  // namespace strait::control::pki
