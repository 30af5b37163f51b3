#include "tunnel/e2e_handshake.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <string>
#include <utility>

namespace strait::tunnel {
namespace {

Failure<E2eError> Refuse(ErrorCode code, std::string reason) { return Fail(E2eError{code, std::move(reason)}); }

std::span<const uint8_t> PrologueBytes() {
  return {reinterpret_cast<const uint8_t*>(kE2ePrologue.data()), kE2ePrologue.size()};
}

crypto::HandshakeOptions IkOptions(const E2eIdentity& self, crypto::NoiseRole role) {
  crypto::HandshakeOptions o;
  o.pattern = crypto::NoisePattern::kIK;
  o.role = role;
  o.prologue = PrologueBytes();
  o.local_static = *self.static_key;
  if (self.ephemeral_for_test != nullptr) o.ephemeral_for_test = *self.ephemeral_for_test;
  return o;
}

// A credential failure as a SESSION_CLOSE reason: "<whose> credential: <check name>: <details>".
std::string CredentialReason(std::string_view whose, const crypto::CredentialResultError& e) {
  return fmt::format("{} credential: {}: {}", whose, crypto::CredentialErrorName(e.code), e.reason);
}

// A refused SESSION_INIT timestamp as a SESSION_CLOSE reason: which check, and the numbers it compared.
std::string ReplayReason(std::string_view device, InitCheck check, uint64_t ts, uint64_t now_ns, uint64_t newest,
                         uint64_t floor) {
  switch (check) {
    case InitCheck::kReplayed:
      return fmt::format("device {} session_init timestamp {} not newer than its last accepted {} (replay)", device,
                         ts, newest);
    case InitCheck::kBelowFloor:
      return fmt::format("device {} session_init timestamp {} not newer than the replay record's floor {} "
                         "(below_floor)", device, ts, floor);
    case InitCheck::kTooOld:
    case InitCheck::kTooNew:
      return fmt::format("device {} session_init timestamp {} is {} s {} the connector's clock {} (window {} s, {})",
                         device, ts, (check == InitCheck::kTooOld ? now_ns - ts : ts - now_ns) / kNsPerSecond,
                         check == InitCheck::kTooOld ? "behind" : "ahead of", now_ns,
                         InitReplayRecord::kWindowNs / kNsPerSecond, InitCheckName(check));
    case InitCheck::kAccepted: break;
  }
  return "accepted";
}

}  // namespace

Result<crypto::VerifiedCredential, E2eError> VerifyOfferedConnector(
    std::span<const uint8_t> connector_credential, const E2eIdentity& self,
    const std::optional<std::vector<crypto::X25519PublicKey>>& pinned) {
  crypto::VerifyOptions vo;
  vo.roles = crypto::RoleSet{crypto::Role::kConnector};
  vo.tenant = self.tenant;
  auto verified = crypto::VerifyCredential(connector_credential, *self.root_key, self.now_unix, vo);
  // §5 step 4: every failure of the offered credential is bad_credential, the tenant check included.
  if (!verified) return Refuse(ErrorCode::kBadCredential, CredentialReason("connector", verified.error()));
  if (pinned) {
    bool found = false;
    for (const crypto::X25519PublicKey& k : *pinned) found |= (k == verified->noise_key);  // no early exit
    if (!found) {
      return Refuse(ErrorCode::kBadCredential,
                    fmt::format("connector {} noise key {} is not in the pinned connector set",
                                verified->subject_id, verified->noise_key));
    }
  }
  return std::move(verified).value();
}

Result<InitiatorStarted, E2eError> WriteSessionInit(const E2eIdentity& self,
                                                    const crypto::X25519PublicKey& connector_key,
                                                    const DeviceHandshake& payload, std::span<uint8_t> out) {
  crypto::HandshakeOptions o = IkOptions(self, crypto::NoiseRole::kInitiator);
  // IK pre-message "<- s": the responder's static key, from the verified credential.
  o.remote_static = connector_key;
  auto hs = crypto::HandshakeState::Create(std::move(o));
  if (!hs) return Refuse(ErrorCode::kInternal, "noise set-up: " + hs.error().reason);

  std::array<uint8_t, kMaxDeviceHandshakeBytes> body{};
  auto encoded = payload.Encode(body);
  if (!encoded) {
    return Refuse(ErrorCode::kInternal,
                  fmt::format("device handshake payload: {}", MessageErrorName(encoded.error())));
  }
  const std::span<uint8_t> msg = out.first(std::min(out.size(), kMaxNoiseMessageBytes));
  // -> e, es, s, ss [DeviceHandshake]
  const crypto::HandshakeResult w = hs->WriteMessage(std::span(body).first(*encoded), msg);
  if (!w.ok()) {
    return Refuse(ErrorCode::kInternal, fmt::format("noise message 1: {}", crypto::HandshakeStatusName(w.status)));
  }
  return InitiatorStarted{std::move(hs).value(), w.size};
}

Result<InitiatorDone, E2eError> ReadSessionAccept(crypto::HandshakeState& handshake,
                                                  std::span<const uint8_t> message) {
  auto noise = NoiseMessage::Decode(message);
  if (!noise) {
    return Refuse(ErrorCode::kProtocolError, fmt::format("session_accept: {}", MessageErrorName(noise.error())));
  }
  std::array<uint8_t, kMaxNoiseMessageBytes> body{};
  // <- e, ee, se [ConnectorHandshake]
  const crypto::HandshakeResult r = handshake.ReadMessage(noise->message, body);
  if (!r.ok()) {
    return Refuse(ErrorCode::kProtocolError,
                  fmt::format("noise message 2: {}", crypto::HandshakeStatusName(r.status)));
  }
  auto peer = ConnectorHandshake::Decode(std::span(body).first(r.size));
  if (!peer) {
    return Refuse(ErrorCode::kProtocolError,
                  fmt::format("connector handshake payload: {}", MessageErrorName(peer.error())));
  }
  auto keys = handshake.Split();
  if (!keys) return Refuse(ErrorCode::kInternal, "noise split: " + keys.error().reason);
  return InitiatorDone{std::move(keys).value(), *peer};
}

Result<ResponderDone, E2eError> AnswerSessionInit(const E2eIdentity& self, std::span<const uint8_t> message,
                                                  InitReplayRecord& record, const ConnectorHandshake& ours,
                                                  std::span<uint8_t> out) {
  auto noise = NoiseMessage::Decode(message);
  if (!noise) {
    return Refuse(ErrorCode::kProtocolError, fmt::format("session_init: {}", MessageErrorName(noise.error())));
  }
  auto hs = crypto::HandshakeState::Create(IkOptions(self, crypto::NoiseRole::kResponder));
  if (!hs) return Refuse(ErrorCode::kInternal, "noise set-up: " + hs.error().reason);

  std::array<uint8_t, kMaxNoiseMessageBytes> body{};
  // -> e, es, s, ss [DeviceHandshake]: afterwards rs is the device's Noise static key.
  const crypto::HandshakeResult r = hs->ReadMessage(noise->message, body);
  if (!r.ok()) {
    return Refuse(ErrorCode::kProtocolError,
                  fmt::format("noise message 1: {}", crypto::HandshakeStatusName(r.status)));
  }
  auto device = DeviceHandshake::Decode(std::span(body).first(r.size));
  if (!device) {
    return Refuse(ErrorCode::kProtocolError,
                  fmt::format("device handshake payload: {}", MessageErrorName(device.error())));
  }

  crypto::VerifyOptions vo;
  vo.roles = crypto::RoleSet{crypto::Role::kDevice};
  vo.tenant = self.tenant;
  auto verified = crypto::VerifyCredential(device->credential, *self.root_key, self.now_unix, vo);
  if (!verified) {
    const ErrorCode code = verified.error().code == crypto::CredentialError::kWrongTenant
                               ? ErrorCode::kUnauthorized
                               : ErrorCode::kBadCredential;
    return Refuse(code, CredentialReason("device", verified.error()));
  }
  // §6: the credential must name the key that ran the handshake, so a relay cannot pair a stolen credential
  // with its own Noise key.
  const std::optional<crypto::X25519PublicKey>& rs = hs->remote_static();
  assert(rs.has_value());
  if (!rs || !(verified->noise_key == *rs)) {
    return Refuse(ErrorCode::kBadCredential,
                  fmt::format("device {} credential noise key {} differs from the noise static key {}",
                              verified->subject_id, verified->noise_key,
                              rs ? *rs : crypto::X25519PublicKey{}));
  }
  // §6: only now that the device is known may it touch the replay record, and before message 2 is written.
  const uint64_t now_ns = self.now_unix * kNsPerSecond;
  const std::optional<uint64_t> newest = record.newest(*rs);
  const InitCheck check = record.Check(*rs, device->timestamp, now_ns);
  if (check != InitCheck::kAccepted) {
    return Refuse(ErrorCode::kReplayed, ReplayReason(verified->subject_id, check, device->timestamp, now_ns,
                                                     newest.value_or(0), record.floor()));
  }

  std::array<uint8_t, 16> reply{};
  auto encoded = ours.Encode(reply);
  if (!encoded) {
    return Refuse(ErrorCode::kInternal,
                  fmt::format("connector handshake payload: {}", MessageErrorName(encoded.error())));
  }
  // <- e, ee, se [ConnectorHandshake]
  const crypto::HandshakeResult w =
      hs->WriteMessage(std::span(reply).first(*encoded), out.first(std::min(out.size(), kMaxNoiseMessageBytes)));
  if (!w.ok()) {
    return Refuse(ErrorCode::kInternal, fmt::format("noise message 2: {}", crypto::HandshakeStatusName(w.status)));
  }
  auto keys = hs->Split();
  if (!keys) return Refuse(ErrorCode::kInternal, "noise split: " + keys.error().reason);
  return ResponderDone{std::move(keys).value(), std::move(verified).value(), device->initial_session_window,
                       w.size};
}

}  // namespace strait::tunnel
