// Resource ids of the REST API (docs/control-plane.md §4.1, the id table). Path parameters and body fields are
// checked against these before any lookup; the router answers 404 for a path parameter that does not match.
//
//   tenant                                  [a-z0-9-]{1,64}       chosen by the operator (the credential's tenant)
//   connector, relay                        [a-z0-9._-]{1,64}     chosen by admin / operator (credential subject)
//   user, group, device, policy, assignment u-, g-, d-, p-, pa- + 16 of [a-z2-7] (80 random bits)   server
//   API key                                 12 of [a-z2-7] (60 random bits)                           server
//   activation                              8 of Crockford base32, upper case (the code's public half, §6.1)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strait::control {

enum class IdKind : uint8_t {
  kTenant,
  kConnector,
  kRelay,
  kUser,
  kGroup,
  kDevice,
  kPolicy,
  kAssignment,
  kApiKey,
  kActivation,
};

inline constexpr size_t kMaxChosenIdBytes = 64;   // tenant, connector, relay
inline constexpr size_t kServerIdRandomChars = 16;  // after the prefix: 80 bits of [a-z2-7]
inline constexpr size_t kApiKeyIdChars = 12;
inline constexpr size_t kApiKeySecretChars = 52;  // 260 bits of base32; §3 promises 256
inline constexpr size_t kActivationIdChars = 8;

bool IsValidId(IdKind kind, std::string_view id);

// The kind a path parameter of this name holds ("tenant", "device", "key", "activation", ...), or nullopt.
std::optional<IdKind> IdKindForParam(std::string_view param_name);
std::string_view IdKindName(IdKind kind);  // "tenant", "api_key", ...

// A fresh random id of a server-chosen kind (user, group, device, policy, assignment, API key), from
// randombytes_buf. Tenant, connector and relay ids are chosen by people; activation ids come with their code
// (activation_code.h). Asserts on those kinds.
std::string GenerateId(IdKind kind);

// `n` random characters of kBase32Lower (5 bits of entropy each), from randombytes_buf: server ids, API key secrets,
// store ids.
std::string RandomBase32(size_t n);

// RFC 4648 base32 alphabet in lower case ("a-z2-7"), as API keys and server ids use.
inline constexpr std::string_view kBase32Lower = "abcdefghijklmnopqrstuvwxyz234567";
// Crockford's base32 alphabet (no I L O U), as activation codes use.
inline constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

}  // namespace strait::control
