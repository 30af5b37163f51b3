#include "crypto/proof.h"

#include "crypto/byte_reader.h"
#include "crypto/tls_session.h"

namespace strait::crypto {
namespace {

constexpr size_t kMessageSize = kHelloProofContext.size() + 1 + 1 + kHelloExporterSize;
using HelloMessage = std::array<uint8_t, kMessageSize>;

// "strait/hello/1" || 0x00 || role || exporter
HelloMessage BuildMessage(Role role, const HelloExporter& exporter) {
  HelloMessage m;
  ByteWriter w(m);
  w.Bytes(kHelloProofContext);
  w.U8(0);
  w.U8(static_cast<uint8_t>(role));
  w.Bytes(exporter);
  assert(w.ok() && w.written() == kMessageSize);
  return m;
}

}  // namespace

Result<HelloExporter, ProofResultError> HelloExporterValue(const TlsSession& session) {
  HelloExporter e;
  auto r = session.ExportKeyingMaterial(kHelloExporterLabel, {}, e);
  if (!r) return Fail(ProofResultError{ProofError::kExporterUnavailable, r.error().reason});
  return e;
}

Ed25519Signature SignHelloProof(const Ed25519KeyPair& credential_key, Role role, const HelloExporter& exporter) {
  return credential_key.Sign(BuildMessage(role, exporter));
}

Result<Ed25519Signature, ProofResultError> SignHelloProof(const Ed25519KeyPair& credential_key, Role role,
                                                          const TlsSession& session) {
  auto e = HelloExporterValue(session);
  if (!e) return Fail(e.error());
  return SignHelloProof(credential_key, role, *e);
}

Result<void, ProofResultError> VerifyHelloProof(const VerifiedCredential& credential, const HelloExporter& exporter,
                                                const Ed25519Signature& proof) {
  if (!Ed25519Verify(credential.key, BuildMessage(credential.role, exporter), proof)) {
    return Fail(ProofResultError{ProofError::kBadProof,
                                 "hello proof does not verify for this TLS session, role and credential key"});
  }
  return {};
}

Result<void, ProofResultError> VerifyHelloProof(const VerifiedCredential& credential, const TlsSession& session,
                                                const Ed25519Signature& proof) {
  auto e = HelloExporterValue(session);
  if (!e) return Fail(e.error());
  return VerifyHelloProof(credential, *e, proof);
}

}  // namespace strait::crypto
