// Throwaway PKI for tests and `strait demo` ("makes its own throwaway CA"): a self-signed P-256 ECDSA CA and
// leaf server certificates for given DNS names and IP addresses, generated in memory with BoringSSL's X509 APIs
// and returned as PEM. Not an operator CA: no revocation, no persistence, keys live only in the returned strings.
//
// Validity starts one hour before the system clock (to tolerate skew) and lasts `valid_seconds`.
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace strait::crypto {

enum class X509IssueError : uint8_t {
  kInvalidArgument,  // no names, bad IP literal, bad CA PEM
  kInternal,         // BoringSSL failure (reason carries its error string)
};
using X509IssueResultError = Error<X509IssueError>;

struct PemCertificate {
  std::string cert_pem;  // one CERTIFICATE block
  std::string key_pem;   // PKCS#8 PRIVATE KEY block (unencrypted)
};

struct CaOptions {
  std::string_view common_name = "Strait throwaway CA";
  int64_t valid_seconds = 7 * 24 * 3600;
};

struct LeafOptions {
  std::string_view common_name = "strait";
  std::vector<std::string> dns_names;     // e.g. {"localhost"}
  std::vector<std::string> ip_addresses;  // e.g. {"127.0.0.1", "::1"}
  int64_t valid_seconds = 7 * 24 * 3600;
};

// A self-signed CA: basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign, subjectKeyIdentifier.
Result<PemCertificate, X509IssueResultError> GenerateCa(const CaOptions& options);

// A leaf for TLS servers signed by `ca`: subjectAltName from the names (at least one required), basicConstraints
// CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth, authorityKeyIdentifier.
Result<PemCertificate, X509IssueResultError> IssueLeafCertificate(const PemCertificate& ca,
                                                                   const LeafOptions& options);

}  // namespace strait::crypto
