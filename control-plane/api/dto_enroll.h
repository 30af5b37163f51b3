// Request decoding for enrolment (docs/control-plane.md §4.9, §6.2): activations, connectors, relays and the
// Redeem body of POST /v1/activate, read through dto.h's ObjectReader (every field once, typed, bounded, unknown
// fields refused). Pure functions: no store, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"

namespace strait::control {

inline constexpr int64_t kMinActivationLifetime = 600;         // 10 minutes
inline constexpr int64_t kMaxActivationLifetime = 2'592'000;   // 30 days
inline constexpr int64_t kDefaultActivationLifetime = 86'400;  // a day
inline constexpr size_t kMaxTlsNames = 16;
inline constexpr size_t kMaxTlsIps = 16;
inline constexpr size_t kMaxEndpointBytes = 261;  // control_wire.h kMaxEndpointBytes
inline constexpr size_t kMaxTlsSpkiBytes = 256;   // a P-256 SPKI is 91 bytes
inline constexpr TextBounds kOsVersionBounds{0, 64, false};  // Device.os_version (§4.9): redeem and renew

enum class EnrolKind : uint8_t { kDevice, kConnector, kRelay };
std::string_view EnrolKindName(EnrolKind kind);  // "device", "connector", "relay"

// The six OS words of §4.9 Device.os.
enum class OsName : uint8_t { kIos, kMacos, kAndroid, kWindows10, kBlackberry10, kLinux };
std::string_view OsWord(OsName os);

// POST /v1/tenants/{tenant}/activations: kind device (user required, os optional) or connector (connector required).
// POST /v1/relays/{relay}/activations: only expires_in_s (DecodeRelayActivationCreate; kind relay).
struct ActivationCreate {
  EnrolKind kind = EnrolKind::kDevice;
  std::string target;  // the user id (device) or connector id
  std::optional<OsName> os;
  int64_t expires_in_s = kDefaultActivationLifetime;
  friend bool operator==(const ActivationCreate&, const ActivationCreate&) = default;
};
Result<ActivationCreate, Problem> DecodeActivationCreate(const nlohmann::json& body);
Result<ActivationCreate, Problem> DecodeRelayActivationCreate(const nlohmann::json& body);

// POST/PATCH /v1/tenants/{tenant}/connectors[/{connector}]
struct ConnectorCreate {
  std::string id;
  std::string display_name;
  friend bool operator==(const ConnectorCreate&, const ConnectorCreate&) = default;
};
struct ConnectorPatch {
  std::optional<std::string> display_name;
};
Result<ConnectorCreate, Problem> DecodeConnectorCreate(const nlohmann::json& body);
Result<ConnectorPatch, Problem> DecodeConnectorPatch(const nlohmann::json& body);

// POST/PATCH /v1/relays[/{relay}]. Each endpoint's host must be among tls_names / tls_ips (the relay's certificate
// carries every address its clients dial, docs/keys.md): the create checks it here; a patch in the handler, on the
// merged record.
struct RelayCreate {
  std::string id;
  std::string display_name;
  std::string device_endpoint;     // HOST:PORT
  std::string connector_endpoint;  // HOST:PORT
  std::vector<std::string> tls_names;
  std::vector<std::string> tls_ips;
  friend bool operator==(const RelayCreate&, const RelayCreate&) = default;
};
struct RelayPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> device_endpoint;
  std::optional<std::string> connector_endpoint;
  std::optional<std::vector<std::string>> tls_names;
  std::optional<std::vector<std::string>> tls_ips;
};
Result<RelayCreate, Problem> DecodeRelayCreate(const nlohmann::json& body);
Result<RelayPatch, Problem> DecodeRelayPatch(const nlohmann::json& body);
nlohmann::json EncodeRelayCreate(const RelayCreate& v);

// "HOST:PORT" with HOST a DNS name, an IPv4 literal or a bracketed IPv6 literal and PORT 1..65535: the host (IPv6
// without brackets), or nullopt.
std::optional<std::string> EndpointHost(std::string_view endpoint);
// The field error (pointer, detail) when an endpoint's host is not among the names and IPs; nullopt when it is.
std::optional<std::string> EndpointNotCovered(std::string_view endpoint, const std::vector<std::string>& tls_names,
                                              const std::vector<std::string>& tls_ips);

// POST /v1/activate (§6.2 Redeem).
struct RedeemDevice {
  OsName os = OsName::kLinux;
  std::string os_version;  // <= 64
  std::string model;       // <= 128
  std::optional<std::string> name;
  std::optional<std::string> push_token;
  friend bool operator==(const RedeemDevice&, const RedeemDevice&) = default;
};
struct Redeem {
  std::string activation;  // 8 Crockford characters
  EnrolKind kind = EnrolKind::kDevice;
  std::vector<uint8_t> signing_key;     // 32
  std::vector<uint8_t> noise_key;       // 32 (device, connector); empty for relay
  std::vector<uint8_t> tls_public_key;  // SPKI DER (relay); empty otherwise
  std::vector<uint8_t> key_proof;       // 64
  std::vector<uint8_t> mac;             // 32
  std::optional<RedeemDevice> device;   // device only (required there)
  friend bool operator==(const Redeem&, const Redeem&) = default;
};
Result<Redeem, Problem> DecodeRedeem(const nlohmann::json& body);
nlohmann::json EncodeRedeem(const Redeem& v);

}  // namespace strait::control
