// The operator root's key files, as `strait keys init-root` writes them (docs/keys.md "File formats"): root.key is a
// PEM PRIVATE KEY (PKCS#8 holding the 32-byte Ed25519 seed), root.pub a PEM PUBLIC KEY (SubjectPublicKeyInfo). The
// data plane reads them with BoringSSL (crypto/key_pem.h); strait-control may not link BoringSSL, so this is the same
// format through OpenSSL 3. Decoding is canonical: the text must be exactly what encoding its key gives back (one
// form per key, as the data plane requires), so a file either side accepts, the other accepts too.
// Pure functions over text; the files are read and written by the caller (crypto/secret_file.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace strait::control::pki {

enum class KeyPemError : uint8_t {
  kNotPem,        // no PEM block OpenSSL can read
  kWrongType,     // a key of another type (P-256, RSA, X25519...) or a public key where a private one belongs
  kNotCanonical,  // readable, but not the exact form Strait and `openssl pkey` write (CRLF, other line widths...)
  kInternal,
};
using KeyPemResultError = Error<KeyPemError>;

using Ed25519SeedBytes = std::array<uint8_t, 32>;
using Ed25519PublicBytes = std::array<uint8_t, 32>;

Result<std::string, KeyPemResultError> EncodeEd25519PrivatePem(const Ed25519SeedBytes& seed);
Result<std::string, KeyPemResultError> EncodeEd25519PublicPem(const Ed25519PublicBytes& public_key);
Result<Ed25519SeedBytes, KeyPemResultError> DecodeEd25519PrivatePem(std::string_view pem);
Result<Ed25519PublicBytes, KeyPemResultError> DecodeEd25519PublicPem(std::string_view pem);

}  // namespace strait::control::pki
