#include "tunnel/link/login.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <string_view>

#include <fmt/format.h>

#include "tunnel/link_messages.h"

namespace strait::link {
namespace {

using tunnel::ErrorCode;

LoginRefusal Refuse(ErrorCode code, std::string reason) {
  if (reason.size() > tunnel::kMaxErrorReasonBytes) reason.resize(tunnel::kMaxErrorReasonBytes);
  return LoginRefusal{code, std::move(reason)};
}

std::uint64_t SystemNowUnix() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::span<const std::uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::uint64_t CredentialNow(const ServerLoginConfig& config) {
  return config.now_unix ? config.now_unix() : SystemNowUnix();
}

Result<crypto::VerifiedCredential, std::string> CheckRenewedCredential(std::span<const std::uint8_t> renewed,
                                                                       std::span<const std::uint8_t> current,
                                                                       const crypto::Ed25519PublicKey& root,
                                                                       std::uint64_t now_unix) {
  auto own = crypto::ParseCredential(current);
  if (!own) return Fail("the credential in service does not parse: " + own.error().reason);
  auto cred = crypto::VerifyCredential(renewed, root, now_unix, {crypto::RoleSet{own->role}, std::nullopt});
  if (!cred) return Fail(std::string(crypto::CredentialErrorName(cred.error().code)) + ": " + cred.error().reason);
  if (cred->tenant_id != own->tenant_id || cred->subject_id != own->subject_id) {
    return Fail(fmt::format("names {}/{}, not {}/{}", cred->tenant_id, cred->subject_id, own->tenant_id,
                            own->subject_id));
  }
  if (!(cred->key == own->key)) return Fail(std::string("names another signing key"));
  if (!(cred->noise_key == own->noise_key)) return Fail(std::string("names another Noise key"));
  return std::move(*cred);
}

ErrorCode ErrorCodeForCredential(crypto::CredentialError e) {
  return e == crypto::CredentialError::kWrongRole ? ErrorCode::kWrongRole : ErrorCode::kBadCredential;
}

Result<std::vector<std::uint8_t>, LoginRefusal> BuildHello(const ClientLoginConfig& config,
                                                           const crypto::HelloExporter& exporter) {
  tunnel::Hello hello;
  hello.version_min = tunnel::kMinProtocolVersion;
  hello.version_max = tunnel::kProtocolVersion;
  hello.role = config.role;
  hello.credential = config.credential;
  hello.preferred_connector = AsBytes(config.preferred_connector);
  const auto role = static_cast<crypto::Role>(config.role);  // same values (frame.h)
  const crypto::Ed25519Signature proof = crypto::SignHelloProof(config.key, role, exporter);
  std::copy(proof.bytes().begin(), proof.bytes().end(), hello.proof.begin());
  std::vector<std::uint8_t> out(hello.EncodedSize());
  auto n = hello.Encode(out);
  if (!n) {
    return Fail(Refuse(ErrorCode::kInternal,
                       std::string("cannot encode HELLO: ") + std::string(tunnel::MessageErrorName(n.error()))));
  }
  out.resize(*n);
  return out;
}

Result<PeerLogin, LoginRefusal> VerifyHello(const ServerLoginConfig& config, const crypto::HelloExporter& exporter,
                                            std::span<const std::uint8_t> payload) {
  auto hello = tunnel::Hello::Decode(payload);
  if (!hello) {
    if (hello.error() == tunnel::MessageError::kBadVersionRange) {
      return Fail(Refuse(ErrorCode::kUnsupportedVersion, "bad HELLO version range"));
    }
    return Fail(Refuse(ErrorCode::kProtocolError,
                       std::string("bad HELLO: ") + std::string(tunnel::MessageErrorName(hello.error()))));
  }
  if (hello->version_min > tunnel::kProtocolVersion || hello->version_max < tunnel::kMinProtocolVersion) {
    return Fail(Refuse(ErrorCode::kUnsupportedVersion, "this relay speaks protocol version 1 only"));
  }
  const std::uint64_t now = CredentialNow(config);
  auto cred = crypto::VerifyCredential(hello->credential, config.root_key, now, {config.roles, std::nullopt});
  if (!cred) {
    const crypto::CredentialError e = cred.error().code;
    return Fail(Refuse(ErrorCodeForCredential(e),
                       std::string(crypto::CredentialErrorName(e)) + ": " + cred.error().reason));
  }
  if (static_cast<std::uint8_t>(cred->role) != static_cast<std::uint8_t>(hello->role)) {
    return Fail(Refuse(ErrorCode::kWrongRole, "HELLO role differs from the credential's role"));
  }
  crypto::Ed25519Signature proof{std::span<const std::uint8_t, tunnel::kProofBytes>(hello->proof)};
  if (auto ok = crypto::VerifyHelloProof(*cred, exporter, proof); !ok) {
    return Fail(Refuse(ErrorCode::kBadProof, ok.error().reason));
  }
  PeerLogin peer;
  peer.version = tunnel::kProtocolVersion;  // the highest version in both ranges (only 1 exists)
  peer.credential = std::move(*cred);
  peer.credential_bytes.assign(hello->credential.begin(), hello->credential.end());
  peer.preferred_connector.assign(hello->preferred_connector.begin(), hello->preferred_connector.end());
  peer.verified_at_unix = now;
  return peer;
}

std::vector<std::uint8_t> BuildHelloAck(const ServerLoginConfig& config, std::uint8_t version,
                                        std::uint32_t keepalive_ms, std::uint32_t idle_timeout_ms,
                                        const crypto::HelloExporter& exporter) {
  tunnel::HelloAck ack;
  ack.version = version;
  ack.max_payload = config.max_payload;
  ack.keepalive_ms = keepalive_ms;
  ack.idle_timeout_ms = idle_timeout_ms;
  ack.relay_id = AsBytes(config.relay_id);
  if (!config.credential.empty()) {
    ack.credential = config.credential;
    // The role signed is the credential's own; a credential that does not parse is shown without a valid proof and
    // the client refuses it (the daemons check their own credential at start).
    auto view = crypto::ParseCredential(config.credential);
    const crypto::Role role = view ? view->role : crypto::Role::kRelay;
    const crypto::Ed25519Signature sig = crypto::SignHelloProof(config.key, role, exporter);
    std::copy(sig.bytes().begin(), sig.bytes().end(), ack.proof.begin());
  }
  std::vector<std::uint8_t> out(ack.EncodedSize());
  auto n = ack.Encode(out);
  assert(n.ok() && "relay_id above 255 bytes, credential above 512 or max_payload above kMaxPayload");
  out.resize(n.ok() ? *n : 0);
  return out;
}

Result<RelayLogin, LoginRefusal> CheckHelloAck(const ClientLoginConfig& config, const crypto::HelloExporter& exporter,
                                               std::span<const std::uint8_t> payload) {
  auto ack = tunnel::HelloAck::Decode(payload);
  if (!ack) {
    return Fail(Refuse(ErrorCode::kProtocolError,
                       std::string("bad HELLO_ACK: ") + std::string(tunnel::MessageErrorName(ack.error()))));
  }
  if (ack->version < tunnel::kMinProtocolVersion || ack->version > tunnel::kProtocolVersion) {
    return Fail(Refuse(ErrorCode::kUnsupportedVersion, "HELLO_ACK chose a version we did not offer"));
  }
  RelayLogin r;
  r.version = ack->version;
  r.max_payload = ack->max_payload;
  r.keepalive_ms = ack->keepalive_ms;
  r.idle_timeout_ms = ack->idle_timeout_ms;
  r.relay_id.assign(ack->relay_id.begin(), ack->relay_id.end());
  if (!config.server_root) return r;
  if (ack->credential.empty()) {
    return Fail(Refuse(ErrorCode::kBadCredential, "the server showed no credential in HELLO_ACK"));
  }
  const std::uint64_t now = config.now_unix ? config.now_unix() : SystemNowUnix();
  auto cred = crypto::VerifyCredential(ack->credential, *config.server_root, now, {config.server_roles, std::nullopt});
  if (!cred) {
    const crypto::CredentialError e = cred.error().code;
    return Fail(Refuse(ErrorCodeForCredential(e), std::string("server credential: ") +
                                                      std::string(crypto::CredentialErrorName(e)) + ": " +
                                                      cred.error().reason));
  }
  if (!config.server_tenant.empty() && cred->tenant_id != config.server_tenant) {
    return Fail(Refuse(ErrorCode::kUnauthorized, "server credential: tenant " + cred->tenant_id + ", not ours"));
  }
  crypto::Ed25519Signature proof{std::span<const std::uint8_t, tunnel::kProofBytes>(ack->proof)};
  if (auto ok = crypto::VerifyHelloProof(*cred, exporter, proof); !ok) {
    return Fail(Refuse(ErrorCode::kBadProof, "server proof: " + ok.error().reason));
  }
  r.server = std::move(*cred);
  return r;
}

}  // namespace strait::link
