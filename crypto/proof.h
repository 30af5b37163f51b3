// Proof of possession for HELLO (docs/protocol.md §3): the peer signs a value unique to this TLS session with
// its credential's Ed25519 key, so a copied credential, or a recorded HELLO, cannot be replayed on another
// connection.
//
//   exporter = TLS-Exporter(label = "EXPORTER-strait-hello-1", context = empty, length = 32)   (RFC 8446 §7.5)
//   message  = "strait/hello/1" || 0x00 || role (u8) || exporter
//   proof    = Ed25519-Sign(credential key, message)                                            (64 bytes)
//
// The verifier uses the role and key of the credential it has already verified (crypto/credential.h), so the
// proof also binds the role the peer claims. Sans-I/O: the core functions take the exporter bytes; the
// TlsSession overloads compute them. Thread-safety: free functions, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/result.h"

namespace strait::crypto {

class TlsSession;

inline constexpr std::string_view kHelloExporterLabel = "EXPORTER-strait-hello-1";
inline constexpr std::string_view kHelloProofContext = "strait/hello/1";
inline constexpr size_t kHelloExporterSize = 32;
using HelloExporter = std::array<uint8_t, kHelloExporterSize>;

enum class ProofError : uint8_t {
  kBadProof,             // signature does not verify for this session, role and key
  kExporterUnavailable,  // the TLS session has not completed its handshake
};
using ProofResultError = Error<ProofError>;

// The 32-byte exporter value of an established session.
Result<HelloExporter, ProofResultError> HelloExporterValue(const TlsSession& session);

// Signs the hello message with the holder's credential key.
Ed25519Signature SignHelloProof(const Ed25519KeyPair& credential_key, Role role, const HelloExporter& exporter);
Result<Ed25519Signature, ProofResultError> SignHelloProof(const Ed25519KeyPair& credential_key, Role role,
                                                          const TlsSession& session);

// Verifies `proof` against the verified credential's key and role. Returns ok or kBadProof.
Result<void, ProofResultError> VerifyHelloProof(const VerifiedCredential& credential, const HelloExporter& exporter,
                                                const Ed25519Signature& proof);
Result<void, ProofResultError> VerifyHelloProof(const VerifiedCredential& credential, const TlsSession& session,
                                                const Ed25519Signature& proof);

}  // namespace strait::crypto
