#include "crypto/credential.h"

#include <array>

#include <fmt/format.h>

#include "crypto/byte_reader.h"

namespace strait::crypto {
namespace {

Failure<CredentialResultError> Err(CredentialError code, std::string reason) {
  return Fail(CredentialResultError{code, std::move(reason)});
}

std::string_view AsString(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool IdCharOk(char c, bool allow_dot_underscore) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') return true;
  return allow_dot_underscore && (c == '.' || c == '_');
}
// tenant_id: 1..64 of [a-z0-9-]; subject_id: 1..64 of [a-z0-9._-].
bool ValidId(std::string_view id, bool allow_dot_underscore) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    if (!IdCharOk(c, allow_dot_underscore)) return false;
  }
  return true;
}
bool ValidTenantId(std::string_view id) { return ValidId(id, false); }
bool ValidSubjectId(std::string_view id) { return ValidId(id, true); }

// Ed25519 over  context || 0x00 || signed_part. The message is assembled on the stack: signed_part is bounded by
// kMaxCredentialSize, checked by the caller before parsing.
constexpr size_t kMaxSignedMessage = kTenantCertContext.size() + kCredentialContext.size() + 1 + kMaxCredentialSize;

size_t BuildSignedMessage(std::string_view context, std::span<const uint8_t> signed_part,
                          std::array<uint8_t, kMaxSignedMessage>& buf) {
  ByteWriter w(buf);
  w.Bytes(context);
  w.U8(0);
  w.Bytes(signed_part);
  return w.ok() ? w.written() : 0;
}

bool VerifyOver(const Ed25519PublicKey& key, std::string_view context, std::span<const uint8_t> signed_part,
                const Ed25519Signature& sig) {
  std::array<uint8_t, kMaxSignedMessage> buf;
  const size_t n = BuildSignedMessage(context, signed_part, buf);
  return n != 0 && Ed25519Verify(key, std::span<const uint8_t>(buf).first(n), sig);
}

Ed25519Signature SignOver(const Ed25519KeyPair& key, std::string_view context, std::span<const uint8_t> signed_part) {
  std::array<uint8_t, kMaxSignedMessage> buf;
  const size_t n = BuildSignedMessage(context, signed_part, buf);
  return key.Sign(std::span<const uint8_t>(buf).first(n));
}

bool ReadKey32(ByteReader& r, PublicBytes<32, Ed25519PublicTag>* out) { return r.CopyBytes(out->mutable_bytes()); }

// Everything before the signature. Used by Serialize* and Issue* alike, so issued bytes and re-encoded bytes
// cannot drift apart.
void WriteTenantCertBody(ByteWriter& w, const TenantCertView& v) {
  w.U8(v.version);
  w.Prefixed8(AsBytes(v.tenant_id));
  w.Bytes(v.tenant_key.bytes());
  w.U64(v.not_before);
  w.U64(v.not_after);
}

void WriteCredentialBody(ByteWriter& w, const CredentialView& v) {
  w.U8(v.version);
  w.U8(static_cast<uint8_t>(v.role));
  w.Prefixed8(AsBytes(v.tenant_id));
  w.Prefixed8(AsBytes(v.subject_id));
  w.Bytes(v.key.bytes());
  w.Bytes(v.noise_key.bytes());
  w.U64(v.serial);
  w.U64(v.not_before);
  w.U64(v.not_after);
  w.Prefixed16(v.tenant_cert_bytes);
}

}  // namespace

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kDevice: return "device";
    case Role::kConnector: return "connector";
    case Role::kRelay: return "relay";
  }
  return "unknown";
}

std::string_view CredentialErrorName(CredentialError e) {
  switch (e) {
    case CredentialError::kTooLarge: return "too_large";
    case CredentialError::kMalformed: return "malformed";
    case CredentialError::kUnsupportedVersion: return "unsupported_version";
    case CredentialError::kUnknownRole: return "unknown_role";
    case CredentialError::kBadId: return "bad_id";
    case CredentialError::kBadValidity: return "bad_validity";
    case CredentialError::kMissingTenantCert: return "missing_tenant_cert";
    case CredentialError::kRelayWithTenantCert: return "relay_with_tenant_cert";
    case CredentialError::kRelayWithNoiseKey: return "relay_with_noise_key";
    case CredentialError::kMissingNoiseKey: return "missing_noise_key";
    case CredentialError::kTenantMismatch: return "tenant_mismatch";
    case CredentialError::kTenantCertBadSignature: return "tenant_cert_bad_signature";
    case CredentialError::kTenantCertExpired: return "tenant_cert_expired";
    case CredentialError::kTenantCertNotYetValid: return "tenant_cert_not_yet_valid";
    case CredentialError::kCredentialBadSignature: return "credential_bad_signature";
    case CredentialError::kExpired: return "expired";
    case CredentialError::kNotYetValid: return "not_yet_valid";
    case CredentialError::kOutlivesTenantCert: return "outlives_tenant_cert";
    case CredentialError::kWrongRole: return "wrong_role";
    case CredentialError::kWrongTenant: return "wrong_tenant";
    case CredentialError::kIssuerKeyMismatch: return "issuer_key_mismatch";
  }
  return "unknown";
}

Result<TenantCertView, CredentialResultError> ParseTenantCert(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxTenantCertSize) {
    return Err(CredentialError::kTooLarge, fmt::format("tenant cert is {} bytes, max {}", bytes.size(),
                                                       kMaxTenantCertSize));
  }
  TenantCertView v;
  ByteReader r(bytes);
  if (!r.ReadU8(&v.version)) return Err(CredentialError::kMalformed, "tenant cert is empty");
  // The version decides the layout, so it is checked before anything else is read.
  if (v.version != kTenantCertVersion) {
    return Err(CredentialError::kUnsupportedVersion, fmt::format("tenant cert version {} (want 1)", v.version));
  }
  std::span<const uint8_t> id;
  if (!r.ReadPrefixed8(&id) || !ReadKey32(r, &v.tenant_key) || !r.ReadU64(&v.not_before) ||
      !r.ReadU64(&v.not_after)) {
    return Err(CredentialError::kMalformed, "tenant cert truncated");
  }
  v.signed_part = bytes.first(bytes.size() - r.remaining());
  if (!r.CopyBytes(v.signature.mutable_bytes())) {
    return Err(CredentialError::kMalformed, "tenant cert truncated in signature");
  }
  if (!r.empty()) return Err(CredentialError::kMalformed, fmt::format("tenant cert has {} trailing bytes",
                                                                      r.remaining()));
  v.tenant_id = AsString(id);
  if (!ValidTenantId(v.tenant_id)) {
    return Err(CredentialError::kBadId, "tenant cert tenant_id must be 1..64 bytes of [a-z0-9-]");
  }
  if (v.not_before > v.not_after) {
    return Err(CredentialError::kBadValidity, "tenant cert not_before is after not_after");
  }
  return v;
}

Result<CredentialView, CredentialResultError> ParseCredential(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxCredentialSize) {
    return Err(CredentialError::kTooLarge,
               fmt::format("credential is {} bytes, max {}", bytes.size(), kMaxCredentialSize));
  }
  CredentialView v;
  ByteReader r(bytes);
  if (!r.ReadU8(&v.version)) return Err(CredentialError::kMalformed, "credential is empty");
  if (v.version != kCredentialVersion) {
    return Err(CredentialError::kUnsupportedVersion, fmt::format("credential version {} (want 1)", v.version));
  }
  uint8_t role = 0;
  std::span<const uint8_t> tenant_id;
  std::span<const uint8_t> subject_id;
  if (!r.ReadU8(&role) || !r.ReadPrefixed8(&tenant_id) || !r.ReadPrefixed8(&subject_id) || !ReadKey32(r, &v.key) ||
      !r.CopyBytes(v.noise_key.mutable_bytes()) || !r.ReadU64(&v.serial) || !r.ReadU64(&v.not_before) ||
      !r.ReadU64(&v.not_after) || !r.ReadPrefixed16(&v.tenant_cert_bytes)) {
    return Err(CredentialError::kMalformed, "credential truncated");
  }
  v.signed_part = bytes.first(bytes.size() - r.remaining());
  if (!r.CopyBytes(v.signature.mutable_bytes())) {
    return Err(CredentialError::kMalformed, "credential truncated in signature");
  }
  if (!r.empty()) {
    return Err(CredentialError::kMalformed, fmt::format("credential has {} trailing bytes", r.remaining()));
  }

  if (role < static_cast<uint8_t>(Role::kDevice) || role > static_cast<uint8_t>(Role::kRelay)) {
    return Err(CredentialError::kUnknownRole, fmt::format("unknown role {}", role));
  }
  v.role = static_cast<Role>(role);
  v.tenant_id = AsString(tenant_id);
  v.subject_id = AsString(subject_id);
  const bool relay = v.role == Role::kRelay;

  if (relay && !v.tenant_id.empty()) {
    return Err(CredentialError::kRelayWithTenantCert, "relay credential carries a tenant_id");
  }
  if (!relay && !ValidTenantId(v.tenant_id)) {
    return Err(CredentialError::kBadId, "tenant_id must be 1..64 bytes of [a-z0-9-]");
  }
  if (!ValidSubjectId(v.subject_id)) {
    return Err(CredentialError::kBadId, "subject_id must be 1..64 bytes of [a-z0-9._-]");
  }
  if (v.not_before > v.not_after) return Err(CredentialError::kBadValidity, "not_before is after not_after");

  if (relay) {
    if (!v.tenant_cert_bytes.empty()) {
      return Err(CredentialError::kRelayWithTenantCert, "relay credential carries a tenant cert");
    }
    if (!v.noise_key.IsZero()) return Err(CredentialError::kRelayWithNoiseKey, "relay credential has a Noise key");
    return v;
  }
  if (v.tenant_cert_bytes.empty()) {
    return Err(CredentialError::kMissingTenantCert,
               fmt::format("{} credential has no tenant cert", RoleName(v.role)));
  }
  if (v.noise_key.IsZero()) {
    return Err(CredentialError::kMissingNoiseKey, fmt::format("{} credential has no Noise key", RoleName(v.role)));
  }
  auto tc = ParseTenantCert(v.tenant_cert_bytes);
  if (!tc) return Fail(CredentialResultError{tc.error().code, tc.error().reason});
  if (tc->tenant_id != v.tenant_id) {
    return Err(CredentialError::kTenantMismatch, "credential tenant_id differs from its tenant cert's");
  }
  v.tenant_cert = *tc;
  return v;
}

std::vector<uint8_t> SerializeTenantCert(const TenantCertView& v) {
  std::array<uint8_t, kMaxTenantCertSize + 256> buf;  // a view may hold an oversize id; the writer bounds it
  ByteWriter w(buf);
  WriteTenantCertBody(w, v);
  w.Bytes(v.signature.bytes());
  if (!w.ok()) return {};
  return {w.data().begin(), w.data().end()};
}

std::vector<uint8_t> SerializeCredential(const CredentialView& v) {
  std::vector<uint8_t> buf(kCredentialFixedSize + v.tenant_id.size() + v.subject_id.size() +
                           v.tenant_cert_bytes.size());
  ByteWriter w(buf);
  WriteCredentialBody(w, v);
  w.Bytes(v.signature.bytes());
  if (!w.ok()) return {};
  buf.resize(w.written());
  return buf;
}

Result<VerifiedCredential, CredentialResultError> VerifyCredential(std::span<const uint8_t> bytes,
                                                                   const Ed25519PublicKey& root_public_key,
                                                                   uint64_t now_unix, const VerifyOptions& options) {
  auto parsed = ParseCredential(bytes);
  if (!parsed) return Fail(parsed.error());
  const CredentialView& v = *parsed;

  const Ed25519PublicKey* signer = &root_public_key;
  if (v.tenant_cert) {
    const TenantCertView& tc = *v.tenant_cert;
    if (!VerifyOver(root_public_key, kTenantCertContext, tc.signed_part, tc.signature)) {
      return Err(CredentialError::kTenantCertBadSignature, "tenant cert is not signed by the root key");
    }
    if (now_unix < tc.not_before) {
      return Err(CredentialError::kTenantCertNotYetValid,
                 fmt::format("tenant cert not valid before {} (now {})", tc.not_before, now_unix));
    }
    if (now_unix > tc.not_after) {
      return Err(CredentialError::kTenantCertExpired,
                 fmt::format("tenant cert expired at {} (now {})", tc.not_after, now_unix));
    }
    signer = &tc.tenant_key;
  }
  if (!VerifyOver(*signer, kCredentialContext, v.signed_part, v.signature)) {
    return Err(CredentialError::kCredentialBadSignature,
               v.tenant_cert ? "credential is not signed by its tenant key"
                             : "relay credential is not signed by the root key");
  }
  if (now_unix < v.not_before) {
    return Err(CredentialError::kNotYetValid,
               fmt::format("credential not valid before {} (now {})", v.not_before, now_unix));
  }
  if (now_unix > v.not_after) {
    return Err(CredentialError::kExpired, fmt::format("credential expired at {} (now {})", v.not_after, now_unix));
  }
  if (v.tenant_cert && (v.not_before < v.tenant_cert->not_before || v.not_after > v.tenant_cert->not_after)) {
    return Err(CredentialError::kOutlivesTenantCert, "credential validity is not inside its tenant cert's");
  }
  if (!options.roles.Contains(v.role)) {
    return Err(CredentialError::kWrongRole, fmt::format("role {} not accepted here", RoleName(v.role)));
  }
  if (options.tenant && v.tenant_id != *options.tenant) {
    return Err(CredentialError::kWrongTenant,
               v.role == Role::kRelay ? std::string("relay credential has no tenant")
                                      : fmt::format("credential belongs to tenant {}", v.tenant_id));
  }

  VerifiedCredential out;
  out.role = v.role;
  out.tenant_id = std::string(v.tenant_id);
  out.subject_id = std::string(v.subject_id);
  out.key = v.key;
  out.noise_key = v.noise_key;
  out.serial = v.serial;
  out.not_before = v.not_before;
  out.not_after = v.not_after;
  out.tenant_key = *signer;
  return out;
}

Result<std::vector<uint8_t>, CredentialResultError> IssueTenantCert(const Ed25519KeyPair& root,
                                                                    const TenantCertParams& params) {
  if (!ValidTenantId(params.tenant_id)) {
    return Err(CredentialError::kBadId, "tenant_id must be 1..64 bytes of [a-z0-9-]");
  }
  if (params.not_before > params.not_after) {
    return Err(CredentialError::kBadValidity, "not_before is after not_after");
  }
  TenantCertView v;
  v.version = kTenantCertVersion;
  v.tenant_id = params.tenant_id;
  v.tenant_key = params.tenant_key;
  v.not_before = params.not_before;
  v.not_after = params.not_after;

  std::array<uint8_t, kMaxTenantCertSize> buf;
  ByteWriter w(buf);
  WriteTenantCertBody(w, v);
  const size_t body = w.written();
  w.Bytes(SignOver(root, kTenantCertContext, std::span<const uint8_t>(buf).first(body)).bytes());
  assert(w.ok());
  return std::vector<uint8_t>(w.data().begin(), w.data().end());
}

namespace {

Result<std::vector<uint8_t>, CredentialResultError> SignCredential(const Ed25519KeyPair& signer, CredentialView v) {
  if (!ValidSubjectId(v.subject_id)) {
    return Err(CredentialError::kBadId, "subject_id must be 1..64 bytes of [a-z0-9._-]");
  }
  if (v.not_before > v.not_after) return Err(CredentialError::kBadValidity, "not_before is after not_after");
  std::array<uint8_t, kMaxCredentialSize> buf;
  ByteWriter w(buf);
  WriteCredentialBody(w, v);
  const size_t body = w.written();
  if (!w.ok()) return Err(CredentialError::kTooLarge, "credential would exceed the size bound");
  w.Bytes(SignOver(signer, kCredentialContext, std::span<const uint8_t>(buf).first(body)).bytes());
  if (!w.ok()) return Err(CredentialError::kTooLarge, "credential would exceed the size bound");
  return std::vector<uint8_t>(w.data().begin(), w.data().end());
}

CredentialView ViewFromParams(const CredentialParams& p) {
  CredentialView v;
  v.version = kCredentialVersion;
  v.role = p.role;
  v.subject_id = p.subject_id;
  v.key = p.key;
  v.noise_key = p.noise_key;
  v.serial = p.serial;
  v.not_before = p.not_before;
  v.not_after = p.not_after;
  return v;
}

}  // namespace

Result<std::vector<uint8_t>, CredentialResultError> IssueCredential(const Ed25519KeyPair& tenant_key,
                                                                    std::span<const uint8_t> tenant_cert,
                                                                    const CredentialParams& params) {
  if (params.role != Role::kDevice && params.role != Role::kConnector) {
    return Err(CredentialError::kWrongRole, "a tenant key issues only device and connector credentials");
  }
  auto tc = ParseTenantCert(tenant_cert);
  if (!tc) return Fail(tc.error());
  if (!(tc->tenant_key == tenant_key.public_key)) {
    return Err(CredentialError::kIssuerKeyMismatch, "the tenant cert certifies a different key");
  }
  if (params.noise_key.IsZero()) {
    return Err(CredentialError::kMissingNoiseKey, "device and connector credentials need a Noise key");
  }
  if (params.not_before < tc->not_before || params.not_after > tc->not_after) {
    return Err(CredentialError::kOutlivesTenantCert, "validity is not inside the tenant cert's");
  }
  CredentialView v = ViewFromParams(params);
  v.tenant_id = tc->tenant_id;
  v.tenant_cert_bytes = tenant_cert;
  return SignCredential(tenant_key, v);
}

Result<std::vector<uint8_t>, CredentialResultError> IssueRelayCredential(const Ed25519KeyPair& root,
                                                                         const CredentialParams& params) {
  if (params.role != Role::kRelay) {
    return Err(CredentialError::kWrongRole, "the root key issues only relay credentials directly");
  }
  if (!params.noise_key.IsZero()) {
    return Err(CredentialError::kRelayWithNoiseKey, "relay credentials carry no Noise key");
  }
  return SignCredential(root, ViewFromParams(params));
}

}  // namespace strait::crypto
