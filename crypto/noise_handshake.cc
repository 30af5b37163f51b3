// Noise rev 34 section 5.3 (HandshakeState), section 7 (pattern tables) and section 9 (psk modifier).
#include "crypto/noise_handshake.h"

#include <sodium.h>

#include <cassert>
#include <utility>

namespace strait::crypto {

enum class NoiseToken : uint8_t { kE, kS, kEE, kES, kSE, kSS, kPsk };

namespace {

constexpr size_t kMaxTokensPerMessage = 5;
constexpr size_t kMaxMessagesPerPattern = 3;

struct MessagePattern {
  uint8_t count;
  std::array<NoiseToken, kMaxTokensPerMessage> tokens;
};

// One row per handshake pattern. Message i is written by the initiator when i is even (Noise 7.1: patterns
// alternate, starting with the initiator).
struct PatternDef {
  NoisePattern id;
  std::string_view protocol_name;
  bool responder_static_premessage;  // "<- s" before "..."
  bool psk;                          // pattern carries a psk modifier (e tokens also MixKey, Noise 9.2)
  uint8_t message_count;
  std::array<MessagePattern, kMaxMessagesPerPattern> messages;
};

using T = NoiseToken;
// Noise 7.4 (interactive patterns) and 9.4 (IKpsk2). None of these has an initiator pre-message.
constexpr PatternDef kPatterns[] = {
    // NK:  <- s  ...  -> e, es   <- e, ee
    {NoisePattern::kNK, "Noise_NK_25519_ChaChaPoly_BLAKE2b", true, false, 2,
     {{{2, {T::kE, T::kES}}, {2, {T::kE, T::kEE}}, {}}}},
    // IK:  <- s  ...  -> e, es, s, ss   <- e, ee, se
    {NoisePattern::kIK, "Noise_IK_25519_ChaChaPoly_BLAKE2b", true, false, 2,
     {{{4, {T::kE, T::kES, T::kS, T::kSS}}, {3, {T::kE, T::kEE, T::kSE}}, {}}}},
    // XX:  -> e   <- e, ee, s, es   -> s, se
    {NoisePattern::kXX, "Noise_XX_25519_ChaChaPoly_BLAKE2b", false, false, 3,
     {{{1, {T::kE}}, {4, {T::kE, T::kEE, T::kS, T::kES}}, {2, {T::kS, T::kSE}}}}},
    // IKpsk2:  <- s  ...  -> e, es, s, ss   <- e, ee, se, psk
    {NoisePattern::kIKpsk2, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b", true, true, 2,
     {{{4, {T::kE, T::kES, T::kS, T::kSS}}, {4, {T::kE, T::kEE, T::kSE, T::kPsk}}, {}}}},
};

const PatternDef& Def(NoisePattern p) {
  for (const auto& d : kPatterns) {
    if (d.id == p) return d;
  }
  assert(false && "pattern missing from kPatterns");
  return kPatterns[0];
}

std::span<const NoiseToken> TokensOf(const PatternDef& d, size_t message_index) {
  const auto& m = d.messages[message_index];
  return std::span<const NoiseToken>(m.tokens.data(), m.count);
}

bool WrittenByInitiator(size_t message_index) { return message_index % 2 == 0; }

// Whether `role` ever transmits its static key in a message, and whether it needs one at all.
bool SendsStatic(const PatternDef& d, NoiseRole role) {
  for (size_t i = 0; i < d.message_count; ++i) {
    if (WrittenByInitiator(i) != (role == NoiseRole::kInitiator)) continue;
    for (NoiseToken t : TokensOf(d, i)) {
      if (t == NoiseToken::kS) return true;
    }
  }
  return false;
}
bool HasStatic(const PatternDef& d, NoiseRole role) {
  return SendsStatic(d, role) || (role == NoiseRole::kResponder && d.responder_static_premessage);
}

Failure<Error<HandshakeSetupError>> SetupFail(HandshakeSetupError code, std::string reason) {
  return Fail(Error<HandshakeSetupError>{code, std::move(reason)});
}

HandshakeStatus FromCipher(CipherStatus s) {
  switch (s) {
    case CipherStatus::kOk: return HandshakeStatus::kOk;
    case CipherStatus::kNonceExhausted: return HandshakeStatus::kNonceExhausted;
    case CipherStatus::kBadLength: return HandshakeStatus::kMalformed;
    case CipherStatus::kAuthFailed: return HandshakeStatus::kDecryptFailed;
  }
  return HandshakeStatus::kMalformed;
}

// DH(key_pair, public_key) for 25519 (Noise 12.1). libsodium refuses an all-zero result (low-order point);
// Noise 12.1 allows rejecting it, and we do.
HandshakeStatus Dh(const X25519KeyPair& kp, const X25519PublicKey& pub, std::span<uint8_t, kNoiseDhLen> out) {
  if (crypto_scalarmult(out.data(), kp.secret.bytes().data(), pub.bytes().data()) != 0) {
    SecureZero(out);
    return HandshakeStatus::kBadPublicKey;
  }
  return HandshakeStatus::kOk;
}

}  // namespace

std::string_view NoiseProtocolName(NoisePattern p) { return Def(p).protocol_name; }

std::optional<NoisePattern> NoisePatternFromName(std::string_view protocol_name) {
  for (const auto& d : kPatterns) {
    if (d.protocol_name == protocol_name) return d.id;
  }
  return std::nullopt;
}

std::string_view HandshakeStatusName(HandshakeStatus s) {
  switch (s) {
    case HandshakeStatus::kOk: return "ok";
    case HandshakeStatus::kWrongPhase: return "wrong_phase";
    case HandshakeStatus::kMessageTooLarge: return "message_too_large";
    case HandshakeStatus::kBufferTooSmall: return "buffer_too_small";
    case HandshakeStatus::kMalformed: return "malformed";
    case HandshakeStatus::kBadPublicKey: return "bad_public_key";
    case HandshakeStatus::kDecryptFailed: return "decrypt_failed";
    case HandshakeStatus::kNonceExhausted: return "nonce_exhausted";
  }
  return "unknown";
}

HandshakeState::HandshakeState(NoisePattern pattern, NoiseRole role, std::string_view protocol_name)
    : pattern_(pattern), role_(role), symmetric_(protocol_name) {}

Result<HandshakeState, Error<HandshakeSetupError>> HandshakeState::Create(HandshakeOptions options) {
  const PatternDef& d = Def(options.pattern);
  const NoiseRole peer = options.role == NoiseRole::kInitiator ? NoiseRole::kResponder : NoiseRole::kInitiator;
  const bool need_s = HasStatic(d, options.role);
  // rs must be given exactly when it is pre-shared (the peer's static pre-message).
  const bool need_rs = peer == NoiseRole::kResponder && d.responder_static_premessage;

  if (need_s && !options.local_static) return SetupFail(HandshakeSetupError::kMissingKey, "local static key (s)");
  if (!need_s && options.local_static) {
    return SetupFail(HandshakeSetupError::kUnexpectedKey, "pattern does not use a local static key (s)");
  }
  if (need_rs && !options.remote_static) {
    return SetupFail(HandshakeSetupError::kMissingKey, "remote static key (rs)");
  }
  if (!need_rs && options.remote_static) {
    return SetupFail(HandshakeSetupError::kUnexpectedKey, "pattern does not pre-share the remote static key (rs)");
  }
  if (d.psk && !options.psk) return SetupFail(HandshakeSetupError::kMissingKey, "pre-shared key (psk)");
  if (!d.psk && options.psk) return SetupFail(HandshakeSetupError::kUnexpectedKey, "pattern has no psk");

  // Initialize(handshake_pattern, initiator, prologue, s, e, rs, re):
  // "Derives a protocol_name byte sequence ... Calls InitializeSymmetric(protocol_name)."
  HandshakeState hs(options.pattern, options.role, d.protocol_name);
  // "Calls MixHash(prologue)."
  hs.symmetric_.MixHash(options.prologue);
  // "Sets the s, e, rs, and re variables to the corresponding arguments."
  hs.s_ = std::move(options.local_static);
  hs.rs_ = options.remote_static;
  hs.psk_ = std::move(options.psk);
  hs.fixed_e_ = std::move(options.ephemeral_for_test);
  // "Calls MixHash() once for each public key listed in the pre-messages from handshake_pattern."
  // Only "<- s" occurs in our patterns: the responder's static key, hashed by both sides.
  if (d.responder_static_premessage) {
    const X25519PublicKey& rs_pub = options.role == NoiseRole::kInitiator ? *hs.rs_ : hs.s_->public_key;
    hs.symmetric_.MixHash(rs_pub.bytes());
  }
  hs.phase_ = options.role == NoiseRole::kInitiator ? Phase::kWriteMessage : Phase::kReadMessage;
  return hs;
}

size_t HandshakeState::NextMessageSize(size_t payload_size) const {
  if (phase_ != Phase::kWriteMessage && phase_ != Phase::kReadMessage) return 0;
  const PatternDef& d = Def(pattern_);
  bool has_key = symmetric_.HasKey();
  size_t n = 0;
  for (NoiseToken t : TokensOf(d, message_index_)) {
    switch (t) {
      case NoiseToken::kE:
        n += kNoiseDhLen;
        if (d.psk) has_key = true;  // MixKey(e.public_key)
        break;
      case NoiseToken::kS:
        n += kNoiseDhLen + (has_key ? kNoiseTagLen : 0);
        break;
      case NoiseToken::kEE:
      case NoiseToken::kES:
      case NoiseToken::kSE:
      case NoiseToken::kSS:
      case NoiseToken::kPsk:
        has_key = true;  // MixKey / MixKeyAndHash
        break;
    }
  }
  return n + payload_size + (has_key ? kNoiseTagLen : 0);
}

HandshakeStatus HandshakeState::Fail(HandshakeStatus s) {
  // Nothing learned from a failed handshake may be used (not even an rs that decrypted before the payload
  // failed), and no secret needs to outlive it.
  phase_ = Phase::kFailed;
  symmetric_.WipeSecrets();
  s_.reset();
  e_.reset();
  fixed_e_.reset();
  psk_.reset();
  rs_.reset();
  re_.reset();
  return s;
}

void HandshakeState::AdvancePhase() {
  ++message_index_;
  if (message_index_ == Def(pattern_).message_count) {
    phase_ = Phase::kComplete;
    return;
  }
  const bool we_write = WrittenByInitiator(message_index_) == (role_ == NoiseRole::kInitiator);
  phase_ = we_write ? Phase::kWriteMessage : Phase::kReadMessage;
}

// ---- tokens -------------------------------------------------------------------------------------------------

HandshakeStatus HandshakeState::WriteTokenE(ByteWriter& w) {
  // "For "e": Sets e (which must be empty) to GENERATE_KEYPAIR(). Appends e.public_key to the buffer. Calls
  // MixHash(e.public_key)."
  assert(!e_);
  e_ = fixed_e_ ? std::move(*fixed_e_) : X25519KeyPair::Generate();
  fixed_e_.reset();
  w.Bytes(e_->public_key.bytes());
  symmetric_.MixHash(e_->public_key.bytes());
  // Noise 9.2: "In a PSK handshake, all of these calls are followed by MixKey(e.public_key)."
  if (Def(pattern_).psk) symmetric_.MixKey(e_->public_key.bytes());
  return HandshakeStatus::kOk;
}

HandshakeStatus HandshakeState::WriteTokenS(ByteWriter& w) {
  // "For "s": Appends EncryptAndHash(s.public_key) to the buffer."
  assert(s_);
  std::span<uint8_t> dst = w.Reserve(kNoiseDhLen + symmetric_.overhead());
  if (!w.ok()) return HandshakeStatus::kBufferTooSmall;
  return FromCipher(symmetric_.EncryptAndHash(s_->public_key.bytes(), dst));
}

HandshakeStatus HandshakeState::ReadTokenE(ByteReader& r) {
  // "For "e": Sets re (which must be empty) to the next DHLEN bytes from the message. Calls MixHash(re.public_key)."
  assert(!re_);
  std::span<const uint8_t> bytes;
  if (!r.ReadBytes(kNoiseDhLen, &bytes)) return HandshakeStatus::kMalformed;
  re_.emplace();
  const bool sized = X25519PublicKey::FromSpan(bytes, &*re_);
  assert(sized);
  (void)sized;
  symmetric_.MixHash(bytes);
  // Noise 9.2: PSK handshakes follow with MixKey(re.public_key).
  if (Def(pattern_).psk) symmetric_.MixKey(bytes);
  return HandshakeStatus::kOk;
}

HandshakeStatus HandshakeState::ReadTokenS(ByteReader& r) {
  // "For "s": Sets temp to the next DHLEN + 16 bytes of the message if HasKey() == True, or to the next DHLEN
  // bytes otherwise. Sets rs (which must be empty) to DecryptAndHash(temp)."
  assert(!rs_);
  std::span<const uint8_t> temp;
  if (!r.ReadBytes(kNoiseDhLen + symmetric_.overhead(), &temp)) return HandshakeStatus::kMalformed;
  X25519PublicKey rs;
  const HandshakeStatus s = FromCipher(symmetric_.DecryptAndHash(temp, rs.mutable_bytes()));
  if (s != HandshakeStatus::kOk) return s;
  rs_ = rs;
  return HandshakeStatus::kOk;
}

HandshakeStatus HandshakeState::TokenDh(NoiseToken token) {
  const bool initiator = role_ == NoiseRole::kInitiator;
  const X25519KeyPair* local = nullptr;
  const X25519PublicKey* remote = nullptr;
  switch (token) {
    // "For "ee": Calls MixKey(DH(e, re))."
    case NoiseToken::kEE: local = e_ ? &*e_ : nullptr; remote = re_ ? &*re_ : nullptr; break;
    // "For "es": Calls MixKey(DH(e, rs)) if initiator, MixKey(DH(s, re)) if responder."
    case NoiseToken::kES:
      local = initiator ? (e_ ? &*e_ : nullptr) : (s_ ? &*s_ : nullptr);
      remote = initiator ? (rs_ ? &*rs_ : nullptr) : (re_ ? &*re_ : nullptr);
      break;
    // "For "se": Calls MixKey(DH(s, re)) if initiator, MixKey(DH(e, rs)) if responder."
    case NoiseToken::kSE:
      local = initiator ? (s_ ? &*s_ : nullptr) : (e_ ? &*e_ : nullptr);
      remote = initiator ? (re_ ? &*re_ : nullptr) : (rs_ ? &*rs_ : nullptr);
      break;
    // "For "ss": Calls MixKey(DH(s, rs))."
    case NoiseToken::kSS: local = s_ ? &*s_ : nullptr; remote = rs_ ? &*rs_ : nullptr; break;
    default: break;
  }
  // The pattern table and Create()'s key checks guarantee both keys are present.
  assert(local != nullptr && remote != nullptr);
  if (local == nullptr || remote == nullptr) return HandshakeStatus::kWrongPhase;
  uint8_t dh[kNoiseDhLen];
  const HandshakeStatus s = Dh(*local, *remote, dh);
  if (s == HandshakeStatus::kOk) symmetric_.MixKey(dh);
  SecureZero(dh);
  return s;
}

HandshakeStatus HandshakeState::TokenPsk() {
  // Noise 9.2: "For "psk": Calls MixKeyAndHash(psk)."
  assert(psk_);
  symmetric_.MixKeyAndHash(psk_->bytes());
  return HandshakeStatus::kOk;
}

// ---- messages -----------------------------------------------------------------------------------------------

HandshakeResult HandshakeState::WriteMessage(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  if (phase_ != Phase::kWriteMessage) return {HandshakeStatus::kWrongPhase, 0};
  const size_t need = NextMessageSize(payload.size());
  // Noise 3: "Noise messages are limited to 65535 bytes in length." Checked before any state changes.
  if (need > kNoiseMaxMessageLen) return {HandshakeStatus::kMessageTooLarge, 0};
  if (out.size() < need) return {HandshakeStatus::kBufferTooSmall, 0};

  // WriteMessage(payload, message_buffer): "Fetches and deletes the next message pattern from
  // message_patterns, then sequentially processes each token from the message pattern."
  ByteWriter w(out.first(need));
  for (NoiseToken t : TokensOf(Def(pattern_), message_index_)) {
    HandshakeStatus s = HandshakeStatus::kOk;
    switch (t) {
      case NoiseToken::kE: s = WriteTokenE(w); break;
      case NoiseToken::kS: s = WriteTokenS(w); break;
      case NoiseToken::kPsk: s = TokenPsk(); break;
      default: s = TokenDh(t); break;
    }
    if (s != HandshakeStatus::kOk) return {Fail(s), 0};
  }
  // "Appends EncryptAndHash(payload) to the buffer."
  std::span<uint8_t> dst = w.Reserve(payload.size() + symmetric_.overhead());
  if (!w.ok()) return {Fail(HandshakeStatus::kBufferTooSmall), 0};
  const HandshakeStatus s = FromCipher(symmetric_.EncryptAndHash(payload, dst));
  if (s != HandshakeStatus::kOk) return {Fail(s), 0};
  assert(w.written() == need);
  // "If there are no more message patterns returns two new CipherState objects by calling Split()." We
  // defer the split itself to Split() so the caller decides when the keys leave this object.
  AdvancePhase();
  return {HandshakeStatus::kOk, w.written()};
}

HandshakeResult HandshakeState::ReadMessage(std::span<const uint8_t> message, std::span<uint8_t> payload_out) {
  if (phase_ != Phase::kReadMessage) return {HandshakeStatus::kWrongPhase, 0};
  if (message.size() > kNoiseMaxMessageLen) return {Fail(HandshakeStatus::kMessageTooLarge), 0};
  // Sizes are checked before any token runs: the expected length follows from the pattern alone.
  const size_t fixed = NextMessageSize(0);
  if (message.size() < fixed) return {Fail(HandshakeStatus::kMalformed), 0};
  const size_t payload_size = message.size() - fixed;
  if (payload_out.size() < payload_size) return {HandshakeStatus::kBufferTooSmall, 0};

  // ReadMessage(message, payload_buffer): "Fetches and deletes the next message pattern from
  // message_patterns, then sequentially processes each token from the message pattern."
  ByteReader r(message);
  for (NoiseToken t : TokensOf(Def(pattern_), message_index_)) {
    HandshakeStatus s = HandshakeStatus::kOk;
    switch (t) {
      case NoiseToken::kE: s = ReadTokenE(r); break;
      case NoiseToken::kS: s = ReadTokenS(r); break;
      case NoiseToken::kPsk: s = TokenPsk(); break;
      default: s = TokenDh(t); break;
    }
    if (s != HandshakeStatus::kOk) return {Fail(s), 0};
  }
  // "Calls DecryptAndHash() on the remaining bytes of the message and stores the output into payload_buffer."
  if (r.remaining() != payload_size + symmetric_.overhead()) return {Fail(HandshakeStatus::kMalformed), 0};
  const HandshakeStatus s = FromCipher(symmetric_.DecryptAndHash(r.rest(), payload_out.first(payload_size)));
  if (s != HandshakeStatus::kOk) {
    SecureZero(payload_out.first(payload_size));
    return {Fail(s), 0};
  }
  AdvancePhase();
  return {HandshakeStatus::kOk, payload_size};
}

Result<TransportKeys, Error<HandshakeSetupError>> HandshakeState::Split() {
  if (phase_ != Phase::kComplete) return SetupFail(HandshakeSetupError::kNotComplete, "handshake not complete");
  if (split_done_) return SetupFail(HandshakeSetupError::kAlreadySplit, "transport keys already taken");
  auto [k1, k2] = symmetric_.Split();
  split_done_ = true;
  // Everything but h and rs is dead now.
  symmetric_.WipeSecrets();
  e_.reset();
  s_.reset();
  psk_.reset();
  // Noise 5.2 Split: c1 encrypts initiator -> responder, c2 responder -> initiator.
  if (role_ == NoiseRole::kInitiator) return TransportKeys{std::move(k1), std::move(k2)};
  return TransportKeys{std::move(k2), std::move(k1)};
}

}  // namespace strait::crypto
