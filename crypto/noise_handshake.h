// Noise HandshakeState (Noise Protocol Framework rev 34, section 5.3) as a sans-I/O state machine.
//
// Suite: 25519 / ChaChaPoly / BLAKE2b only. Patterns: IK (what Strait runs between device and connector),
// plus NK, XX and IKpsk2, which cost one table row each and are checked against the cacophony vectors.
//
// Protocol flow of IK (device = initiator, connector = responder):
//
//     <- s                       (pre-message: the device already knows the connector's static key)
//     ...
//     -> e, es, s, ss  [payload]  message 1: 32 + (32+16) + payload + 16 bytes
//     <- e, ee, se     [payload]  message 2: 32 + payload + 16 bytes
//     Split() -> transport keys; GetHandshakeHash() binds the session; remote_static() is the peer.
//
// State machine (style.md item 13): Phase says whose turn it is; WriteMessage/ReadMessage run one message and
// advance it; each token of the pattern is one function. A failed ReadMessage poisons the object (kFailed):
// h has already absorbed attacker bytes, so the only safe continuation is a new handshake. Calling out of turn
// returns kWrongPhase and changes nothing.
//
// Bounds: messages larger than the Noise maximum (65535 bytes) are rejected before any work; short or trailing
// input is kMalformed; an all-zero DH output (low-order point) is kBadPublicKey.
//
// Secrets: the local static and ephemeral key pairs and the chaining key are SecretBytes (wiped on
// destruction); the ephemeral secret is wiped as soon as the last DH that needs it has run (at Split()).
// Thread-safety: one owner at a time; no shared state. Allocation: only at Create().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/byte_reader.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/symmetric_state.h"

namespace strait::crypto {

enum class NoisePattern : uint8_t { kNK, kIK, kXX, kIKpsk2 };
enum class NoiseToken : uint8_t;  // e, s, ee, es, se, ss, psk (defined in noise_handshake.cc)
enum class NoiseRole : uint8_t { kInitiator, kResponder };

// "Noise_IK_25519_ChaChaPoly_BLAKE2b" etc.
std::string_view NoiseProtocolName(NoisePattern p);
// Parses a full protocol name; nullopt for anything this implementation does not speak.
std::optional<NoisePattern> NoisePatternFromName(std::string_view protocol_name);

// Per-message status: small enum, no allocation (style.md item 8). Every failure has a name.
enum class HandshakeStatus : uint8_t {
  kOk,
  kWrongPhase,        // not this side's turn, handshake already complete, or failed earlier
  kMessageTooLarge,   // message (or the one it would produce) exceeds kNoiseMaxMessageLen
  kBufferTooSmall,    // caller's output span cannot hold the result
  kMalformed,         // input too short for the pattern's tokens, or payload length inconsistent
  kBadPublicKey,      // DH produced all zeros (low-order or zero public key)
  kDecryptFailed,     // AEAD authentication failed on s or payload
  kNonceExhausted,    // cannot happen inside a handshake; mapped for completeness
};
std::string_view HandshakeStatusName(HandshakeStatus s);

struct [[nodiscard]] HandshakeResult {
  HandshakeStatus status;
  size_t size;  // bytes written to the output span (message for Write, payload for Read)
  bool ok() const { return status == HandshakeStatus::kOk; }
};

enum class HandshakeSetupError : uint8_t { kMissingKey, kUnexpectedKey, kNotComplete, kAlreadySplit };

struct HandshakeOptions {
  NoisePattern pattern = NoisePattern::kIK;
  NoiseRole role = NoiseRole::kInitiator;
  std::span<const uint8_t> prologue;
  std::optional<X25519KeyPair> local_static;     // s: required where the pattern sends or pre-shares it
  std::optional<X25519PublicKey> remote_static;  // rs: required where the pattern pre-shares the peer's s
  std::optional<SymmetricKey> psk;               // required for psk patterns, rejected otherwise
  // Fixed ephemeral key pair; only the known-answer vectors and the fuzzers set this. Production leaves it
  // empty and the ephemeral is drawn from RandomBytes (crypto/keys.h) when the e token is written.
  std::optional<X25519KeyPair> ephemeral_for_test;
};

// Keys from Split(), already oriented for this side: `send` encrypts what this side writes.
struct TransportKeys {
  SymmetricKey send;
  SymmetricKey recv;
};

class HandshakeState {
 public:
  enum class Phase : uint8_t { kWriteMessage, kReadMessage, kComplete, kFailed };

  // Initialize(): validates the keys against the pattern, runs InitializeSymmetric, MixHash(prologue) and the
  // pre-messages. Errors: kMissingKey / kUnexpectedKey with a reason naming the key.
  static Result<HandshakeState, Error<HandshakeSetupError>> Create(HandshakeOptions options);

  // WriteMessage(payload, message_buffer): writes the next message into `out` (which must hold
  // MessageSize(payload.size()) bytes). On kOk, size is the message length.
  HandshakeResult WriteMessage(std::span<const uint8_t> payload, std::span<uint8_t> out);
  // ReadMessage(message, payload_buffer): `payload_out` must not overlap `message` and must hold
  // message.size() - (token bytes + tag); on kOk, size is the payload length. Any failure moves to kFailed.
  HandshakeResult ReadMessage(std::span<const uint8_t> message, std::span<uint8_t> payload_out);

  // Length of the next message for a given payload length (WriteMessage's side); 0 if none is due.
  size_t NextMessageSize(size_t payload_size) const;

  Phase phase() const { return phase_; }
  bool IsComplete() const { return phase_ == Phase::kComplete; }
  NoiseRole role() const { return role_; }
  // h; final and safe to use for channel binding once IsComplete().
  const HandshakeHash& GetHandshakeHash() const { return symmetric_.GetHandshakeHash(); }
  // The peer's static key once it is known (pre-message or received s token), else nullopt; nullopt again after
  // any failure. A responder checks it against policy after ReadMessage returned kOk for the message that
  // carries it, and before acting on that message's payload.
  const std::optional<X25519PublicKey>& remote_static() const { return rs_; }

  // Split(): transport keys for this side; only after completion (else kNotComplete). Wipes the handshake's
  // secrets (ephemeral, chaining key); the object keeps only h and rs afterwards.
  Result<TransportKeys, Error<HandshakeSetupError>> Split();

 private:
  HandshakeState(NoisePattern pattern, NoiseRole role, std::string_view protocol_name);

  // One function per token (Noise 5.3, WriteMessage/ReadMessage token rules).
  HandshakeStatus WriteTokenE(ByteWriter& w);
  HandshakeStatus WriteTokenS(ByteWriter& w);
  HandshakeStatus ReadTokenE(ByteReader& r);
  HandshakeStatus ReadTokenS(ByteReader& r);
  HandshakeStatus TokenDh(NoiseToken token);
  HandshakeStatus TokenPsk();
  HandshakeStatus Fail(HandshakeStatus s);
  void AdvancePhase();

  // Immutable after Create().
  NoisePattern pattern_;
  NoiseRole role_;
  // Mutated by each message.
  Phase phase_ = Phase::kFailed;
  uint8_t message_index_ = 0;
  SymmetricState symmetric_;
  std::optional<X25519KeyPair> s_;
  std::optional<X25519KeyPair> e_;
  std::optional<X25519PublicKey> rs_;
  std::optional<X25519PublicKey> re_;
  std::optional<SymmetricKey> psk_;
  std::optional<X25519KeyPair> fixed_e_;
  bool split_done_ = false;
};

}  // namespace strait::crypto
