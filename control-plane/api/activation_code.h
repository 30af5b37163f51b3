// Activation codes and the QR payload (docs/control-plane.md §6.1), and the MAC inputs of the redeem exchange
// (§6.2) as pure functions over given bytes: the TLS exporter value E is computed by the caller on its connection.
//
//   code     24 Crockford base32 characters = id (8: 40 bits, the public lookup key) + secret (16: 80 bits)
//   shown    XXXX-XXXX-XXXX-XXXX-XXXX-XXXX; input is case-insensitive, '-' and ' ' ignored, I L O read as 1 1 0
//   K        HMAC-SHA-256(key = "strait/activation-key/1", message = the secret's 16 characters, upper case)
//   QR       STRAIT1:<code, 24 characters>:<HOST, upper case>:<port>   (QR alphanumeric mode only)
//   mac      HMAC-SHA-256(K, "strait/activate/1" || 0x00 || E || activation || kind || signing_key ||
//                            noise_key-or-32-zeros || SHA-256(tls_public_key)-or-32-zeros)          client -> server
//   header   Strait-Activation-Mac = base64(HMAC-SHA-256(K, "strait/activated/1" || 0x00 || E || SHA-256(body)))
//   proof    key_proof signs "strait/activate-key/1" || 0x00 || E with the new signing key
//
// The labels and contexts belong in tunnel/control/control_wire.h once it exists (both processes read them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace strait::control {

inline constexpr size_t kActivationCodeChars = 24;
inline constexpr size_t kActivationIdPartChars = 8;
inline constexpr size_t kActivationSecretChars = 16;
inline constexpr size_t kMaxActivationCodeInput = 64;  // with hyphens and spaces, before normalising
inline constexpr size_t kMaxQrHostBytes = 253;
inline constexpr std::string_view kQrPrefix = "STRAIT1:";

inline constexpr std::string_view kActivationKeyLabel = "strait/activation-key/1";
inline constexpr std::string_view kActivateMacContext = "strait/activate/1";
inline constexpr std::string_view kActivatedMacContext = "strait/activated/1";
inline constexpr std::string_view kActivateKeyProofContext = "strait/activate-key/1";
inline constexpr std::string_view kActivateExporterLabel = "EXPORTER-strait-activate-1";
inline constexpr size_t kExporterBytes = 32;
inline constexpr size_t kMacBytes = 32;

// A whole code. Holds a secret: zeroed on destruction, never printed by accident (no operator<<).
class ActivationCode {
 public:
  static ActivationCode Generate();  // 15 bytes from randombytes_buf -> 24 characters
  // Normalises (upper case; '-' and ' ' dropped; I, L -> 1; O -> 0) and requires 24 Crockford characters.
  static std::optional<ActivationCode> Parse(std::string_view input);

  ~ActivationCode();
  ActivationCode(const ActivationCode&) = default;
  ActivationCode& operator=(const ActivationCode&) = default;

  std::string_view id() const { return {chars_.data(), kActivationIdPartChars}; }
  std::string_view secret() const { return {chars_.data() + kActivationIdPartChars, kActivationSecretChars}; }
  std::string Compact() const { return {chars_.data(), chars_.size()}; }  // 24 characters
  std::string Display() const;                                            // XXXX-XXXX-XXXX-XXXX-XXXX-XXXX

 private:
  ActivationCode() = default;
  std::array<char, kActivationCodeChars> chars_{};
};

// K: the per-activation MAC key. Zeroed on destruction, no equality, never printed.
class ActivationKey {
 public:
  static constexpr size_t kSize = 32;
  explicit ActivationKey(std::span<const uint8_t, kSize> bytes);
  ~ActivationKey();
  ActivationKey(const ActivationKey&) = default;
  ActivationKey& operator=(const ActivationKey&) = default;
  std::span<const uint8_t, kSize> bytes() const { return bytes_; }

 private:
  std::array<uint8_t, kSize> bytes_;
};

ActivationKey DeriveActivationKey(const ActivationCode& code);

struct QrPayload {
  ActivationCode code;
  std::string host;  // lower case, as a URL holds it
  uint16_t port;
};

// Refused (the reason in the error): a host that is not a DNS name or IPv4 literal of [A-Za-z0-9.-] (an IPv6
// literal needs brackets, which QR alphanumeric mode lacks), empty labels, over 253 bytes, port 0.
Result<std::string, std::string> MakeQrPayload(const ActivationCode& code, std::string_view host, uint16_t port);
// Refused: anything but QR alphanumeric-mode characters (so no lower case), a wrong prefix, a bad code, host or
// port (decimal 1..65535, no leading zero).
Result<QrPayload, std::string> ParseQrPayload(std::string_view text);

enum class ActivationKind : uint8_t { kDevice, kConnector, kRelay };
std::string_view ActivationKindName(ActivationKind kind);  // "device", "connector", "relay"

using Mac = std::array<uint8_t, kMacBytes>;
using Exporter = std::span<const uint8_t, kExporterBytes>;

// The bytes the client's `mac` covers. `noise_key` (32 bytes) for devices and connectors, `tls_public_key` (SPKI
// DER) for relays; an absent one counts as 32 zero bytes.
std::vector<uint8_t> ActivateMacInput(Exporter e, std::string_view activation_id, ActivationKind kind,
                                      std::span<const uint8_t, 32> signing_key,
                                      std::optional<std::span<const uint8_t, 32>> noise_key,
                                      std::optional<std::span<const uint8_t>> tls_public_key);
Mac ActivateMac(const ActivationKey& key, std::span<const uint8_t> input);
bool VerifyActivateMac(const ActivationKey& key, std::span<const uint8_t> input, std::span<const uint8_t> mac);

// The server's answer MAC over the response body, and its header text (standard base64).
Mac ActivatedMac(const ActivationKey& key, Exporter e, std::string_view body);
std::string ActivatedMacHeader(const ActivationKey& key, Exporter e, std::string_view body);

// What key_proof signs.
std::vector<uint8_t> KeyProofInput(Exporter e);

}  // namespace strait::control
