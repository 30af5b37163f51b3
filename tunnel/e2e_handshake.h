// The end-to-end handshake between a device and a connector (docs/protocol.md §5-§6), as three pure steps over
// caller-owned buffers. tunnel/session.h drives them from its state machine; they hold no state of their own.
//
//   device                                      relay                                     connector
//   SESSION_OFFER (connector credential) ◀──────────
//   VerifyOfferedConnector: root -> tenant -> role connector, own tenant, valid now, [pinned Noise key set]
//   WriteSessionInit: IK message 1 ─── SESSION_INIT ────────────────────────────────────▶ AnswerSessionInit:
//     -> e, es, s, ss   payload DeviceHandshake (+ timestamp)                               read message 1,
//                                                                                           verify the device
//                                                                                           credential (role
//                                                                                           device, own tenant,
//                                                                                           valid now) and that
//                                                                                           its X25519 key == rs,
//                                                                                           timestamp newer than
//                                                                                           rs's last (record),
//   ReadSessionAccept: read message 2 ◀──────────────── SESSION_ACCEPT ────────────────────── write message 2,
//     <- e, ee, se      payload ConnectorHandshake                                          Split()
//   Split()
//
// Noise_IK_25519_ChaChaPoly_BLAKE2b with prologue kE2ePrologue. Because the connector checks the device
// credential's Noise key against the Noise remote static, and the device addresses message 1 to the X25519 key
// of a credential it verified, the relay can neither substitute a key nor impersonate either end.
//
// Errors: each step returns Result<T, E2eError>; E2eError.code is the SESSION_CLOSE code to send and .reason
// the human-readable reason (never secret material). Mapping:
//   credential fails verification, Noise key not pinned, Noise key != rs    -> bad_credential
//   connector: device credential of another tenant                           -> unauthorized
//   connector: message 1 timestamp refused by the InitReplayRecord (§6)      -> replayed
//   Noise message that does not read, handshake payload that does not decode -> protocol_error
//   key set-up failures that cannot happen with valid inputs                  -> internal
// Cost: one X25519 generation and two/three DHs per side plus two Ed25519 verifies per credential; allocation is
// fine here (set-up path), none of this runs per data frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/noise_handshake.h"
#include "crypto/result.h"
#include "tunnel/frame.h"
#include "tunnel/init_replay.h"
#include "tunnel/link_messages.h"

namespace strait::tunnel {

inline constexpr std::string_view kE2ePrologue = "strait/e2e/1";

using E2eError = Error<ErrorCode>;

// Who the local side is and whom it trusts. Views into the owner's memory (tunnel::Session's config); they must
// outlive the call.
struct E2eIdentity {
  const crypto::X25519KeyPair* static_key = nullptr;  // own Noise static key pair
  const crypto::Ed25519PublicKey* root_key = nullptr;
  std::string_view tenant;                            // own tenant; the peer must belong to it
  uint64_t now_unix = 0;                              // credential validity is judged at this time
  // Fixed ephemeral key pair for the Noise e token; fuzzers and benchmarks only (crypto/noise_handshake.h).
  const std::optional<crypto::X25519KeyPair>* ephemeral_for_test = nullptr;
};

// Device, on SESSION_OFFER: verifies the connector credential (root -> tenant -> role connector, own tenant,
// valid at now_unix) and, if `pinned` is set, that its Noise key is in the set (constant-time compares).
Result<crypto::VerifiedCredential, E2eError> VerifyOfferedConnector(
    std::span<const uint8_t> connector_credential, const E2eIdentity& self,
    const std::optional<std::vector<crypto::X25519PublicKey>>& pinned);

// Device: starts IK towards `connector_key` and writes message 1 (payload = `payload`, encoded) into `out`, which
// must hold kMaxNoiseMessageBytes. On success returns the handshake (awaiting message 2) and the message size.
struct InitiatorStarted {
  crypto::HandshakeState handshake;
  size_t message_size = 0;
};
Result<InitiatorStarted, E2eError> WriteSessionInit(const E2eIdentity& self,
                                                    const crypto::X25519PublicKey& connector_key,
                                                    const DeviceHandshake& payload, std::span<uint8_t> out);

// Device: reads message 2 (the SESSION_ACCEPT payload) into `handshake`, decodes the ConnectorHandshake and
// splits. `handshake` is spent either way (complete or failed); the caller destroys it.
struct InitiatorDone {
  crypto::TransportKeys keys;
  ConnectorHandshake peer;
};
Result<InitiatorDone, E2eError> ReadSessionAccept(crypto::HandshakeState& handshake,
                                                  std::span<const uint8_t> message);

// Connector: reads message 1 (the SESSION_INIT payload), decodes DeviceHandshake, verifies the device credential
// (role device, own tenant, valid at now_unix) and that its Noise key equals the Noise remote static, checks the
// payload's timestamp against `record` (refused: replayed; accepted: recorded as the device's newest), then
// writes message 2 (payload = `ours`) into `out` (>= kMaxNoiseMessageBytes) and splits. The handshake state lives
// and dies inside this call.
struct ResponderDone {
  crypto::TransportKeys keys;
  crypto::VerifiedCredential device;
  uint32_t peer_session_window = 0;  // from the DeviceHandshake
  size_t message_size = 0;           // message 2 in `out`
};
Result<ResponderDone, E2eError> AnswerSessionInit(const E2eIdentity& self, std::span<const uint8_t> message,
                                                  InitReplayRecord& record, const ConnectorHandshake& ours,
                                                  std::span<uint8_t> out);

}  // namespace strait::tunnel
