// The rows of strait-control's store (docs/control-plane.md §5.2), as plain structs the handlers fill and read.
// No SQL and no sqlite3 type here: a PostgreSQL store returns the same structs.
//
// Conventions: times are unix seconds (int64_t); an absent time or value is std::optional; bytes (public keys,
// sealed blobs, hashes, credentials) are Bytes; ids are the strings of §4.1, checked by the caller (api/) before
// they reach the store. States and kinds are enums, stored as the lower-case words of §4.9.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strait::control::store {

using Bytes = std::vector<uint8_t>;
using EventId = int64_t;  // > 0; 0 means "before every event"
using AuditId = int64_t;  // > 0

// One page of a list (§4.4): items in the list's fixed order, and whether more follow the last one.
template <class T>
struct Page {
  std::vector<T> items;
  bool more = false;
};

// ---- enums and their words ------------------------------------------------------------------------------------

enum class TenantState : uint8_t { kActive, kSuspended };
enum class ApiKeyRole : uint8_t { kOperator, kAdmin, kReadOnly };
enum class SubjectRole : uint8_t { kDevice, kConnector, kRelay };  // credential roles; also activation kinds
enum class DeviceState : uint8_t { kActive, kLocked, kRevoked };
enum class DeviceOs : uint8_t { kIos, kMacos, kAndroid, kWindows10, kBlackberry10, kLinux };
enum class PushService : uint8_t { kApns, kFcm, kWns, kNone };
enum class EnrolState : uint8_t { kPending, kActive, kRevoked };  // connectors and relays
enum class ActivationState : uint8_t { kPending, kUsed, kExpired, kCancelled, kBurned };
enum class DenialReason : uint8_t { kRevoked, kLocked, kDeleted };
enum class ActorKind : uint8_t { kApiKey, kDevice, kConnector, kRelay, kActivation, kSystem };
enum class TargetKind : uint8_t { kUser, kGroup };

// The word each value is stored and shown as ("active", "read_only", "windows10", ...). Parse* return nullopt
// for a word that is not one of them.
std::string_view ToString(TenantState v);
std::string_view ToString(ApiKeyRole v);
std::string_view ToString(SubjectRole v);
std::string_view ToString(DeviceState v);
std::string_view ToString(DeviceOs v);
std::string_view ToString(PushService v);
std::string_view ToString(EnrolState v);
std::string_view ToString(ActivationState v);
std::string_view ToString(DenialReason v);
std::string_view ToString(ActorKind v);
std::string_view ToString(TargetKind v);
// The push service a device's token is for follows its OS (§4.9 PushToken): Apple's for iOS and macOS, Google's for
// Android, Microsoft's for Windows 10, none for BlackBerry 10 and Linux.
PushService PushServiceFor(DeviceOs os);

std::optional<TenantState> ParseTenantState(std::string_view s);
std::optional<ApiKeyRole> ParseApiKeyRole(std::string_view s);
std::optional<SubjectRole> ParseSubjectRole(std::string_view s);
std::optional<DeviceState> ParseDeviceState(std::string_view s);
std::optional<DeviceOs> ParseDeviceOs(std::string_view s);
std::optional<PushService> ParsePushService(std::string_view s);
std::optional<EnrolState> ParseEnrolState(std::string_view s);
std::optional<ActivationState> ParseActivationState(std::string_view s);
std::optional<DenialReason> ParseDenialReason(std::string_view s);
std::optional<ActorKind> ParseActorKind(std::string_view s);
std::optional<TargetKind> ParseTargetKind(std::string_view s);

// ---- operator-level rows --------------------------------------------------------------------------------------

// The `meta` table: key/value rows written by `init` with WriteTx::PutMeta (initialised_at as decimal unix
// seconds). initialised_at is written last, so its absence means a crashed init (§2).
struct MetaRecord {
  std::optional<std::string> store_id;
  std::optional<std::string> root_fingerprint;
  std::optional<std::string> public_url;
  std::optional<int64_t> initialised_at;
  bool operator==(const MetaRecord&) const = default;
};
inline constexpr std::string_view kMetaStoreId = "store_id";
inline constexpr std::string_view kMetaRootFingerprint = "root_fingerprint";
inline constexpr std::string_view kMetaPublicUrl = "public_url";
inline constexpr std::string_view kMetaInitialisedAt = "initialised_at";

struct TenantRecord {
  std::string id;
  std::string display_name;
  TenantState state = TenantState::kActive;
  Bytes signing_key_sealed;  // sealed.h, context kTenantKey: opens only for this tenant id
  Bytes signing_public;      // Ed25519, 32 bytes
  Bytes tenant_cert;         // the TenantCert's wire bytes
  int64_t tenant_cert_not_after = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const TenantRecord&) const = default;
};

struct LicenceRecord {
  int64_t seats = 0;
  std::optional<int64_t> expires_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const LicenceRecord&) const = default;
};

struct ApiKeyRecord {
  std::string id;                     // the 12-character public half of `sk_<id>_<secret>`
  std::optional<std::string> tenant;  // nullopt: an operator key
  ApiKeyRole role = ApiKeyRole::kReadOnly;
  std::string name;
  Bytes secret_hash;  // sealed.h ApiKeyHash: keyed BLAKE2b-256 of the secret, 32 bytes
  std::string created_by;
  std::optional<int64_t> last_used_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const ApiKeyRecord&) const = default;
};

struct AuditRecord {
  AuditId id = 0;  // assigned by AppendAudit
  int64_t at = 0;
  std::optional<std::string> tenant;  // nullopt: the operator's own change
  ActorKind actor_kind = ActorKind::kSystem;
  std::string actor_id;
  std::string action;  // `<resource>.<verb>`
  std::string resource_type;
  std::string resource_id;
  std::string request_id;
  std::string detail;  // JSON text, <= kMaxAuditDetail bytes; never secrets
  bool operator==(const AuditRecord&) const = default;
};
inline constexpr size_t kMaxAuditDetail = 4096;

// Filters of GET /audit (§4.6); an absent field does not filter. since/until are inclusive bounds on `at`.
struct AuditFilter {
  std::optional<std::string> action;
  std::optional<std::string> resource_type;
  std::optional<std::string> resource_id;
  std::optional<int64_t> since;
  std::optional<int64_t> until;
  bool operator==(const AuditFilter&) const = default;
};

struct EventRecord {
  EventId id = 0;  // assigned by AppendEvent
  int64_t at = 0;
  std::optional<std::string> tenant;  // nullopt: not a tenant's event (relay.revoked, a global resync)
  std::string type;                   // "device.revoked", ... (§7.3)
  std::string body;                   // the NDJSON line, without its LF
  bool operator==(const EventRecord&) const = default;
};

// An Idempotency-Key record (§4.5): written in the same write transaction as the change it answers.
struct IdempotencyRecord {
  std::string scope;  // the principal id: API key id, machine subject, or activation id
  std::string key;
  Bytes fingerprint;  // SHA-256 of method, route and body
  int status = 0;
  Bytes response_sealed;  // sealed.h, context kIdempotentReply
  int64_t created_at = 0;
  bool operator==(const IdempotencyRecord&) const = default;
};

// Every credential issued (§5.2): renewal checks (the two newest per subject) and denial bounds.
struct CredentialRecord {
  int64_t serial = 0;  // from NextSerial(), > 0
  SubjectRole role = SubjectRole::kDevice;
  std::string tenant;  // "" for relays
  std::string subject;
  int64_t not_before = 0;
  int64_t not_after = 0;
  int64_t issued_at = 0;
  bool operator==(const CredentialRecord&) const = default;
};

// A subject relays and connectors refuse until `until` (the last not_after issued to it, §7.2).
struct DenialRecord {
  std::string tenant;  // "" for relays
  SubjectRole role = SubjectRole::kDevice;
  std::string subject;
  DenialReason reason = DenialReason::kRevoked;
  int64_t until = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const DenialRecord&) const = default;
};
// The paging key of ListDenials: (tenant, role, subject) of the last row seen.
struct DenialKey {
  std::string tenant;
  SubjectRole role = SubjectRole::kDevice;
  std::string subject;
  bool operator==(const DenialKey&) const = default;
};

// ---- tenant rows ----------------------------------------------------------------------------------------------

struct UserRecord {
  std::string id;
  std::string email;  // lower-cased by the caller; unique per tenant (conflict field "email")
  std::string display_name;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const UserRecord&) const = default;
};

struct GroupRecord {
  std::string id;
  std::string name;  // unique per tenant (conflict field "name")
  std::string description;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const GroupRecord&) const = default;
};

struct GroupMemberRecord {
  std::string group_id;
  std::string user_id;
  int64_t added_at = 0;
  bool operator==(const GroupMemberRecord&) const = default;
};

struct DeviceRecord {
  std::string id;  // the credential subject
  std::string user_id;
  std::string name;
  DeviceOs os = DeviceOs::kLinux;
  std::string os_version;
  std::string model;
  DeviceState state = DeviceState::kActive;
  Bytes signing_public;
  Bytes noise_public;
  PushService push_service = PushService::kNone;
  std::optional<std::string> push_token;
  std::optional<int64_t> push_updated_at;
  std::string activation_id;
  int64_t activated_at = 0;
  std::optional<int64_t> last_renewed_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const DeviceRecord&) const = default;
};

// Filters of GET /devices; an absent field does not filter.
struct DeviceFilter {
  std::optional<std::string> user_id;
  std::optional<DeviceState> state;
  std::optional<DeviceOs> os;
  bool operator==(const DeviceFilter&) const = default;
};

struct ConnectorRecord {
  std::string id;
  std::string display_name;
  EnrolState state = EnrolState::kPending;
  std::optional<Bytes> signing_public;
  std::optional<Bytes> noise_public;
  std::optional<int64_t> enrolled_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const ConnectorRecord&) const = default;
};

struct RelayRecord {
  std::string id;
  std::string display_name;
  std::string device_endpoint;     // HOST:PORT
  std::string connector_endpoint;  // HOST:PORT
  std::string tls_names;           // JSON array text
  std::string tls_ips;             // JSON array text
  EnrolState state = EnrolState::kPending;
  std::optional<Bytes> signing_public;
  std::optional<Bytes> tls_spki;
  std::optional<int64_t> tls_cert_not_after;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const RelayRecord&) const = default;
};

struct ActivationRecord {
  std::string id;                     // 8 Crockford base32 characters
  std::optional<std::string> tenant;  // nullopt: a relay's activation
  SubjectRole kind = SubjectRole::kDevice;
  std::string target;  // the user (device), connector or relay id
  std::optional<DeviceOs> os;
  Bytes mac_key_sealed;  // sealed.h, context kActivationKey
  ActivationState state = ActivationState::kPending;
  int64_t expires_at = 0;
  std::optional<int64_t> used_at;
  std::optional<std::string> subject;  // the device id it made
  int64_t failed_attempts = 0;
  std::string created_by;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const ActivationRecord&) const = default;
};
inline constexpr int64_t kActivationMaxFailedAttempts = 10;  // the 10th wrong MAC burns it (§6.1)

struct ActivationFilter {
  std::optional<ActivationState> state;
  std::optional<SubjectRole> kind;
  bool operator==(const ActivationFilter&) const = default;
};

struct PolicyRecord {
  std::string id;
  std::string name;  // unique per tenant (conflict field "name")
  int64_t version = 1;
  bool is_default = false;  // at most one per tenant (conflict field "default")
  std::string doc_json;
  std::string toml;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const PolicyRecord&) const = default;
};

struct PolicyAssignmentRecord {
  std::string id;
  std::string policy_id;
  TargetKind target_kind = TargetKind::kUser;
  std::string target_id;
  int64_t priority = 0;  // 0..1000, lower wins
  int64_t created_at = 0;
  int64_t updated_at = 0;
  bool operator==(const PolicyAssignmentRecord&) const = default;
};

struct AssignmentFilter {
  std::optional<std::string> policy_id;
  std::optional<std::string> user_id;   // target_kind user
  std::optional<std::string> group_id;  // target_kind group
  bool operator==(const AssignmentFilter&) const = default;
};

}  // namespace strait::control::store
