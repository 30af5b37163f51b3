// The read methods of both transaction kinds (sqlite_tx.h), and the row readers: each reads the columns of its
// table's column list in sqlite_statements.cc, in that order.
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "control-plane/store/sqlite_tx.h"

namespace strait::control::store {
namespace {

TenantRecord ReadTenant(Query& q) {
  TenantRecord r;
  r.id = q.Text(0);
  r.display_name = q.Text(1);
  r.state = q.Enum(2, ParseTenantState);
  r.signing_key_sealed = q.Blob(3);
  r.signing_public = q.Blob(4);
  r.tenant_cert = q.Blob(5);
  r.tenant_cert_not_after = q.Int(6);
  r.created_at = q.Int(7);
  r.updated_at = q.Int(8);
  return r;
}

LicenceRecord ReadLicence(Query& q) {
  return LicenceRecord{q.Int(0), q.OptInt(1), q.Int(2), q.Int(3)};
}

ApiKeyRecord ReadApiKey(Query& q) {
  ApiKeyRecord r;
  r.id = q.Text(0);
  r.tenant = q.OptText(1);
  r.role = q.Enum(2, ParseApiKeyRole);
  r.name = q.Text(3);
  r.secret_hash = q.Blob(4);
  r.created_by = q.Text(5);
  r.last_used_at = q.OptInt(6);
  r.created_at = q.Int(7);
  r.updated_at = q.Int(8);
  return r;
}

AuditRecord ReadAudit(Query& q) {
  AuditRecord r;
  r.id = q.Int(0);
  r.at = q.Int(1);
  r.tenant = q.OptText(2);
  r.actor_kind = q.Enum(3, ParseActorKind);
  r.actor_id = q.Text(4);
  r.action = q.Text(5);
  r.resource_type = q.Text(6);
  r.resource_id = q.Text(7);
  r.request_id = q.Text(8);
  r.detail = q.Text(9);
  return r;
}

EventRecord ReadEvent(Query& q) { return EventRecord{q.Int(0), q.Int(1), q.OptText(2), q.Text(3), q.Text(4)}; }

IdempotencyRecord ReadIdempotency(Query& q) {
  return IdempotencyRecord{q.Text(0), q.Text(1), q.Blob(2), static_cast<int>(q.Int(3)), q.Blob(4), q.Int(5)};
}

CredentialRecord ReadCredential(Query& q) {
  CredentialRecord r;
  r.serial = q.Int(0);
  r.role = q.Enum(1, ParseSubjectRole);
  r.tenant = q.Text(2);
  r.subject = q.Text(3);
  r.not_before = q.Int(4);
  r.not_after = q.Int(5);
  r.issued_at = q.Int(6);
  return r;
}

DenialRecord ReadDenial(Query& q) {
  DenialRecord r;
  r.tenant = q.Text(0);
  r.role = q.Enum(1, ParseSubjectRole);
  r.subject = q.Text(2);
  r.reason = q.Enum(3, ParseDenialReason);
  r.until = q.Int(4);
  r.created_at = q.Int(5);
  r.updated_at = q.Int(6);
  return r;
}

UserRecord ReadUser(Query& q) { return UserRecord{q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)}; }
GroupRecord ReadGroup(Query& q) { return GroupRecord{q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)}; }
GroupMemberRecord ReadMember(Query& q) { return GroupMemberRecord{q.Text(0), q.Text(1), q.Int(2)}; }
std::string ReadFirstText(Query& q) { return q.Text(0); }

DeviceRecord ReadDevice(Query& q) {
  DeviceRecord r;
  r.id = q.Text(0);
  r.user_id = q.Text(1);
  r.name = q.Text(2);
  r.os = q.Enum(3, ParseDeviceOs);
  r.os_version = q.Text(4);
  r.model = q.Text(5);
  r.state = q.Enum(6, ParseDeviceState);
  r.signing_public = q.Blob(7);
  r.noise_public = q.Blob(8);
  r.push_service = q.Enum(9, ParsePushService);
  r.push_token = q.OptText(10);
  r.push_updated_at = q.OptInt(11);
  r.activation_id = q.Text(12);
  r.activated_at = q.Int(13);
  r.last_renewed_at = q.OptInt(14);
  r.created_at = q.Int(15);
  r.updated_at = q.Int(16);
  return r;
}

ActivationRecord ReadActivation(Query& q) {
  ActivationRecord r;
  r.id = q.Text(0);
  r.tenant = q.OptText(1);
  r.kind = q.Enum(2, ParseSubjectRole);
  r.target = q.Text(3);
  r.os = q.OptEnum(4, ParseDeviceOs);
  r.mac_key_sealed = q.Blob(5);
  r.state = q.Enum(6, ParseActivationState);
  r.expires_at = q.Int(7);
  r.used_at = q.OptInt(8);
  r.subject = q.OptText(9);
  r.failed_attempts = q.Int(10);
  r.created_by = q.Text(11);
  r.created_at = q.Int(12);
  r.updated_at = q.Int(13);
  return r;
}

ConnectorRecord ReadConnector(Query& q) {
  ConnectorRecord r;
  r.id = q.Text(0);
  r.display_name = q.Text(1);
  r.state = q.Enum(2, ParseEnrolState);
  r.signing_public = q.OptBlob(3);
  r.noise_public = q.OptBlob(4);
  r.enrolled_at = q.OptInt(5);
  r.created_at = q.Int(6);
  r.updated_at = q.Int(7);
  return r;
}

RelayRecord ReadRelay(Query& q) {
  RelayRecord r;
  r.id = q.Text(0);
  r.display_name = q.Text(1);
  r.device_endpoint = q.Text(2);
  r.connector_endpoint = q.Text(3);
  r.tls_names = q.Text(4);
  r.tls_ips = q.Text(5);
  r.state = q.Enum(6, ParseEnrolState);
  r.signing_public = q.OptBlob(7);
  r.tls_spki = q.OptBlob(8);
  r.tls_cert_not_after = q.OptInt(9);
  r.created_at = q.Int(10);
  r.updated_at = q.Int(11);
  return r;
}

PolicyRecord ReadPolicy(Query& q) {
  PolicyRecord r;
  r.id = q.Text(0);
  r.name = q.Text(1);
  r.version = q.Int(2);
  r.is_default = q.Int(3) != 0;
  r.doc_json = q.Text(4);
  r.toml = q.Text(5);
  r.created_at = q.Int(6);
  r.updated_at = q.Int(7);
  return r;
}

PolicyAssignmentRecord ReadAssignment(Query& q) {
  PolicyAssignmentRecord r;
  r.id = q.Text(0);
  r.policy_id = q.Text(1);
  r.target_kind = q.Enum(2, ParseTargetKind);
  r.target_id = q.Text(3);
  r.priority = q.Int(4);
  r.created_at = q.Int(5);
  r.updated_at = q.Int(6);
  return r;
}

struct MetaRow {
  std::string key;
  std::string value;
};
MetaRow ReadMetaRow(Query& q) { return MetaRow{q.Text(0), q.Text(1)}; }

// The audit lists' `before`: none means newer than every id.
int64_t AuditBefore(std::optional<AuditId> before) { return before.value_or(std::numeric_limits<int64_t>::max()); }

}  // namespace

template <class I>
StoreResult<MetaRecord> SqliteReads<I>::GetMeta() {
  auto rows = QueryAll(ReadMetaRow, Sql::kMetaGet);
  if (!rows) return Fail(rows.error());
  MetaRecord meta;
  for (auto& row : *rows) {
    if (row.key == kMetaStoreId) meta.store_id = std::move(row.value);
    if (row.key == kMetaRootFingerprint) meta.root_fingerprint = std::move(row.value);
    if (row.key == kMetaPublicUrl) meta.public_url = std::move(row.value);
    if (row.key == kMetaInitialisedAt) {
      char* end = nullptr;
      const long long v = std::strtoll(row.value.c_str(), &end, 10);
      if (row.value.empty() || *end != '\0') return Fail(Corrupt(Sql::kMetaGet));
      meta.initialised_at = v;
    }
  }
  return meta;
}

template <class I>
StoreResult<std::optional<TenantRecord>> SqliteReads<I>::GetTenant(const TenantScope& scope) {
  return QueryOne(ReadTenant, Sql::kTenantGet, scope.tenant());
}
template <class I>
StoreResult<Page<TenantRecord>> SqliteReads<I>::ListTenants(std::string_view after, size_t limit) {
  return QueryPage(ReadTenant, limit, Sql::kTenantList, after);
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountTenants() {
  return QueryInt(Sql::kTenantCount);
}
template <class I>
StoreResult<std::optional<LicenceRecord>> SqliteReads<I>::GetLicence(const TenantScope& scope) {
  return QueryOne(ReadLicence, Sql::kLicenceGet, scope.tenant());
}

template <class I>
StoreResult<std::optional<ApiKeyRecord>> SqliteReads<I>::GetApiKey(std::string_view id) {
  return QueryOne(ReadApiKey, Sql::kApiKeyGet, id);
}
template <class I>
StoreResult<Page<ApiKeyRecord>> SqliteReads<I>::ListApiKeys(const TenantScope& scope, std::string_view after,
                                                             size_t limit) {
  return QueryPage(ReadApiKey, limit, Sql::kApiKeyListTenant, scope.tenant(), after);
}
template <class I>
StoreResult<Page<ApiKeyRecord>> SqliteReads<I>::ListOperatorApiKeys(std::string_view after, size_t limit) {
  return QueryPage(ReadApiKey, limit, Sql::kApiKeyListOperator, after);
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountApiKeys(const TenantScope& scope) {
  return QueryInt(Sql::kApiKeyCountTenant, scope.tenant());
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountOperatorApiKeys() {
  return QueryInt(Sql::kApiKeyCountOperator);
}

template <class I>
StoreResult<Page<AuditRecord>> SqliteReads<I>::ListAudit(const TenantScope& scope, const AuditFilter& f,
                                                          std::optional<AuditId> before, size_t limit) {
  return QueryPage(ReadAudit, limit, Sql::kAuditListTenant, scope.tenant(), AuditBefore(before), f.action,
                   f.resource_type, f.resource_id, f.since, f.until);
}
template <class I>
StoreResult<Page<AuditRecord>> SqliteReads<I>::ListAllAudit(const AuditFilter& f, std::optional<AuditId> before,
                                                             size_t limit) {
  return QueryPage(ReadAudit, limit, Sql::kAuditListAll, std::nullopt, AuditBefore(before), f.action,
                   f.resource_type, f.resource_id, f.since, f.until);
}

template <class I>
StoreResult<std::vector<EventRecord>> SqliteReads<I>::ReadEvents(EventId after, size_t limit) {
  return QueryAll(ReadEvent, Sql::kEventRead, after, limit);
}
template <class I>
StoreResult<std::optional<EventId>> SqliteReads<I>::OldestEventId() {
  auto q = Prepare(Sql::kEventOldest);
  if (!q) return Fail(q.error());
  auto row = q->Step();
  if (!row) return Fail(row.error());
  return *row ? q->OptInt(0) : std::nullopt;
}

template <class I>
StoreResult<std::optional<IdempotencyRecord>> SqliteReads<I>::GetIdempotency(std::string_view scope,
                                                                              std::string_view key) {
  return QueryOne(ReadIdempotency, Sql::kIdempotencyGet, scope, key);
}

template <class I>
StoreResult<std::optional<CredentialRecord>> SqliteReads<I>::GetCredential(int64_t serial) {
  return QueryOne(ReadCredential, Sql::kCredentialGet, serial);
}
template <class I>
StoreResult<std::vector<CredentialRecord>> SqliteReads<I>::NewestCredentials(const TenantScope& scope,
                                                                              SubjectRole role,
                                                                              std::string_view subject, size_t n) {
  return QueryAll(ReadCredential, Sql::kCredentialNewest, scope.tenant(), role, subject, n);
}
template <class I>
StoreResult<std::vector<CredentialRecord>> SqliteReads<I>::NewestRelayCredentials(std::string_view relay,
                                                                                   size_t n) {
  return QueryAll(ReadCredential, Sql::kCredentialNewest, "", SubjectRole::kRelay, relay, n);
}

template <class I>
StoreResult<Page<DenialRecord>> SqliteReads<I>::ListDenials(const std::optional<DenialKey>& after, size_t limit) {
  // From the start: ("", "", "") sorts before every row (a row's role is never empty).
  if (!after) return QueryPage(ReadDenial, limit, Sql::kDenialListAll, "", "", "");
  return QueryPage(ReadDenial, limit, Sql::kDenialListAll, after->tenant, after->role, after->subject);
}
template <class I>
StoreResult<Page<DenialRecord>> SqliteReads<I>::ListTenantDenials(const TenantScope& scope,
                                                                   const std::optional<DenialKey>& after,
                                                                   size_t limit) {
  if (!after) return QueryPage(ReadDenial, limit, Sql::kDenialListTenant, scope.tenant(), "", "");
  return QueryPage(ReadDenial, limit, Sql::kDenialListTenant, scope.tenant(), after->role, after->subject);
}
template <class I>
StoreResult<std::optional<DenialRecord>> SqliteReads<I>::GetDenial(const TenantScope& scope, SubjectRole role,
                                                                    std::string_view subject) {
  return QueryOne(ReadDenial, Sql::kDenialGet, scope.tenant(), role, subject);
}

template <class I>
StoreResult<std::optional<UserRecord>> SqliteReads<I>::GetUser(const TenantScope& scope, std::string_view id) {
  return QueryOne(ReadUser, Sql::kUserGet, scope.tenant(), id);
}
template <class I>
StoreResult<std::optional<UserRecord>> SqliteReads<I>::GetUserByEmail(const TenantScope& scope,
                                                                       std::string_view email) {
  return QueryOne(ReadUser, Sql::kUserGetByEmail, scope.tenant(), email);
}
template <class I>
StoreResult<Page<UserRecord>> SqliteReads<I>::ListUsers(const TenantScope& scope, std::string_view after,
                                                         size_t limit) {
  return QueryPage(ReadUser, limit, Sql::kUserList, scope.tenant(), after);
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountUsers(const TenantScope& scope) {
  return QueryInt(Sql::kUserCount, scope.tenant());
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountUserDevices(const TenantScope& scope, std::string_view user) {
  return QueryInt(Sql::kUserDeviceCount, scope.tenant(), user);
}

template <class I>
StoreResult<std::optional<GroupRecord>> SqliteReads<I>::GetGroup(const TenantScope& scope, std::string_view id) {
  return QueryOne(ReadGroup, Sql::kGroupGet, scope.tenant(), id);
}
template <class I>
StoreResult<Page<GroupRecord>> SqliteReads<I>::ListGroups(const TenantScope& scope, std::string_view after,
                                                           size_t limit) {
  return QueryPage(ReadGroup, limit, Sql::kGroupList, scope.tenant(), after);
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountGroupMembers(const TenantScope& scope, std::string_view group) {
  return QueryInt(Sql::kMemberCount, scope.tenant(), group);
}
template <class I>
StoreResult<Page<GroupMemberRecord>> SqliteReads<I>::ListGroupMembers(const TenantScope& scope,
                                                                       std::string_view group,
                                                                       std::string_view after, size_t limit) {
  return QueryPage(ReadMember, limit, Sql::kMemberList, scope.tenant(), group, after);
}
template <class I>
StoreResult<std::vector<std::string>> SqliteReads<I>::ListUserGroups(const TenantScope& scope,
                                                                      std::string_view user) {
  return QueryAll(ReadFirstText, Sql::kMemberGroupsOfUser, scope.tenant(), user);
}

template <class I>
StoreResult<std::optional<DeviceRecord>> SqliteReads<I>::GetDevice(const TenantScope& scope, std::string_view id) {
  return QueryOne(ReadDevice, Sql::kDeviceGet, scope.tenant(), id);
}
template <class I>
StoreResult<Page<DeviceRecord>> SqliteReads<I>::ListDevices(const TenantScope& scope, const DeviceFilter& f,
                                                             std::string_view after, size_t limit) {
  return QueryPage(ReadDevice, limit, Sql::kDeviceList, scope.tenant(), after, f.user_id, f.state, f.os);
}
template <class I>
StoreResult<int64_t> SqliteReads<I>::CountSeatsUsed(const TenantScope& scope) {
  return QueryInt(Sql::kDeviceSeats, scope.tenant());
}

template <class I>
StoreResult<std::optional<ActivationRecord>> SqliteReads<I>::GetActivation(std::string_view id) {
  return QueryOne(ReadActivation, Sql::kActivationGet, id);
}
template <class I>
StoreResult<std::optional<ActivationRecord>> SqliteReads<I>::GetTenantActivation(const TenantScope& scope,
                                                                                  std::string_view id) {
  return QueryOne(ReadActivation, Sql::kActivationGetTenant, scope.tenant(), id);
}
template <class I>
StoreResult<Page<ActivationRecord>> SqliteReads<I>::ListActivations(const TenantScope& scope,
                                                                     const ActivationFilter& f,
                                                                     std::string_view after, size_t limit) {
  return QueryPage(ReadActivation, limit, Sql::kActivationList, scope.tenant(), after, f.state, f.kind);
}

template <class I>
StoreResult<std::optional<ConnectorRecord>> SqliteReads<I>::GetConnector(const TenantScope& scope,
                                                                          std::string_view id) {
  return QueryOne(ReadConnector, Sql::kConnectorGet, scope.tenant(), id);
}
template <class I>
StoreResult<Page<ConnectorRecord>> SqliteReads<I>::ListConnectors(const TenantScope& scope, std::string_view after,
                                                                   size_t limit) {
  return QueryPage(ReadConnector, limit, Sql::kConnectorList, scope.tenant(), after);
}
template <class I>
StoreResult<std::optional<RelayRecord>> SqliteReads<I>::GetRelay(std::string_view id) {
  return QueryOne(ReadRelay, Sql::kRelayGet, id);
}
template <class I>
StoreResult<Page<RelayRecord>> SqliteReads<I>::ListRelays(std::string_view after, size_t limit) {
  return QueryPage(ReadRelay, limit, Sql::kRelayList, after);
}

template <class I>
StoreResult<std::optional<PolicyRecord>> SqliteReads<I>::GetPolicy(const TenantScope& scope, std::string_view id) {
  return QueryOne(ReadPolicy, Sql::kPolicyGet, scope.tenant(), id);
}
template <class I>
StoreResult<std::optional<PolicyRecord>> SqliteReads<I>::GetDefaultPolicy(const TenantScope& scope) {
  return QueryOne(ReadPolicy, Sql::kPolicyGetDefault, scope.tenant());
}
template <class I>
StoreResult<Page<PolicyRecord>> SqliteReads<I>::ListPolicies(const TenantScope& scope, std::string_view after,
                                                              size_t limit) {
  return QueryPage(ReadPolicy, limit, Sql::kPolicyList, scope.tenant(), after);
}
template <class I>
StoreResult<std::optional<PolicyAssignmentRecord>> SqliteReads<I>::GetAssignment(const TenantScope& scope,
                                                                                  std::string_view id) {
  return QueryOne(ReadAssignment, Sql::kAssignmentGet, scope.tenant(), id);
}
template <class I>
StoreResult<Page<PolicyAssignmentRecord>> SqliteReads<I>::ListAssignments(const TenantScope& scope,
                                                                           const AssignmentFilter& f,
                                                                           std::string_view after, size_t limit) {
  return QueryPage(ReadAssignment, limit, Sql::kAssignmentList, scope.tenant(), after, f.policy_id, f.user_id,
                   f.group_id);
}
template <class I>
StoreResult<std::vector<PolicyAssignmentRecord>> SqliteReads<I>::ListAssignmentsForUser(const TenantScope& scope,
                                                                                        std::string_view user) {
  return QueryAll(ReadAssignment, Sql::kAssignmentForUser, scope.tenant(), user);
}

template class SqliteReads<ReadTx>;
template class SqliteReads<WriteTx>;

}  // namespace strait::control::store
