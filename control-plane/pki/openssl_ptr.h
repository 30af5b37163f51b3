// OpenSSL 3 objects owned by std::unique_ptr, and a memory BIO's contents: what pki/x509.cc and pki/key_pem.cc share.
// Header-only; for this folder's .cc files (OpenSSL 3, never BoringSSL).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace strait::control::pki {

template <auto Free>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;

// Everything written to a memory BIO.
inline std::string BioContents(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);  // NOLINT(google-runtime-int): OpenSSL's type
  return n > 0 ? std::string(p, static_cast<size_t>(n)) : std::string();
}

}  // namespace strait::control::pki
