// The SQL of the SQLite store. Column lists are shared by the SELECTs and INSERTs of a table (the row readers in
// sqlite_reads.cc read columns in this order). Paging uses `id > ?` (or `id < ?` newest first) and LIMIT n+1, so a
// deleted row under a cursor breaks nothing (§4.4). Optional filters are `(?N IS NULL OR col = ?N)`: one statement
// per list, whatever the filter.
#include "control-plane/store/sqlite_statements.h"

#include <array>

namespace strait::control::store {
namespace {

#define TENANT_COLS                                                                                  \
  "id, display_name, state, signing_key_sealed, signing_public, tenant_cert, tenant_cert_not_after, " \
  "created_at, updated_at"
#define APIKEY_COLS "id, tenant, role, name, secret_hash, created_by, last_used_at, created_at, updated_at"
#define AUDIT_COLS \
  "id, at, tenant, actor_kind, actor_id, action, resource_type, resource_id, request_id, detail"
#define AUDIT_FILTER                                                                                   \
  " AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR resource_type = ?4)"                          \
  " AND (?5 IS NULL OR resource_id = ?5) AND (?6 IS NULL OR at >= ?6) AND (?7 IS NULL OR at <= ?7)"
#define IDEM_COLS "scope, key, fingerprint, status, response_sealed, created_at"
#define CRED_COLS "serial, role, tenant, subject, not_before, not_after, issued_at"
#define DENIAL_COLS "tenant, role, subject, reason, until, created_at, updated_at"
#define USER_COLS "id, email, display_name, created_at, updated_at"
#define GROUP_COLS "id, name, description, created_at, updated_at"
#define DEVICE_COLS                                                                                           \
  "id, user_id, name, os, os_version, model, state, signing_public, noise_public, push_service, push_token, " \
  "push_updated_at, activation_id, activated_at, last_renewed_at, created_at, updated_at"
#define ACTIVATION_COLS                                                                                     \
  "id, tenant, kind, target, os, mac_key_sealed, state, expires_at, used_at, subject, failed_attempts, " \
  "created_by, created_at, updated_at"
#define CONNECTOR_COLS \
  "id, display_name, state, signing_public, noise_public, enrolled_at, created_at, updated_at"
#define RELAY_COLS                                                                                        \
  "id, display_name, device_endpoint, connector_endpoint, tls_names, tls_ips, state, signing_public, " \
  "tls_spki, tls_cert_not_after, created_at, updated_at"
#define POLICY_COLS "id, name, version, is_default, doc_json, toml, created_at, updated_at"
#define ASSIGNMENT_COLS "id, policy_id, target_kind, target_id, priority, created_at, updated_at"

using enum Sql;
using enum SqlScope;

constexpr std::array<SqlStatement, static_cast<size_t>(Sql::kCount)> kStatements = {{
    {kMetaGet, kGlobal, "SELECT key, value FROM meta"},
    {kMetaPut, kGlobal,
     "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"},

    {kTenantGet, kGlobal, "SELECT " TENANT_COLS " FROM tenants WHERE id = ?1"},
    {kTenantList, kGlobal, "SELECT " TENANT_COLS " FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2"},
    {kTenantCount, kGlobal, "SELECT count(*) FROM tenants"},
    {kTenantInsert, kGlobal,
     "INSERT INTO tenants (" TENANT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {kTenantUpdate, kGlobal,
     "UPDATE tenants SET display_name = ?2, state = ?3, tenant_cert = ?4, tenant_cert_not_after = ?5, "
     "updated_at = ?6 WHERE id = ?1"},
    {kTenantDelete, kGlobal, "DELETE FROM tenants WHERE id = ?1"},

    {kLicenceGet, kTenant, "SELECT seats, expires_at, created_at, updated_at FROM licences WHERE tenant = ?1"},
    {kLicencePut, kTenant,
     "INSERT INTO licences (tenant, seats, expires_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
     "ON CONFLICT (tenant) DO UPDATE SET seats = excluded.seats, expires_at = excluded.expires_at, "
     "updated_at = excluded.updated_at"},

    {kApiKeyGet, kGlobal, "SELECT " APIKEY_COLS " FROM api_keys WHERE id = ?1"},
    {kApiKeyListTenant, kTenant,
     "SELECT " APIKEY_COLS " FROM api_keys WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"},
    {kApiKeyListOperator, kGlobal,
     "SELECT " APIKEY_COLS " FROM api_keys WHERE tenant IS NULL AND id > ?1 ORDER BY id LIMIT ?2"},
    {kApiKeyCountTenant, kTenant, "SELECT count(*) FROM api_keys WHERE tenant = ?1"},
    {kApiKeyCountOperator, kGlobal, "SELECT count(*) FROM api_keys WHERE tenant IS NULL"},
    {kApiKeyInsert, kGlobal,
     "INSERT INTO api_keys (" APIKEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {kApiKeyTouch, kGlobal,
     "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2 - 60)"},
    {kApiKeyDeleteTenant, kTenant, "DELETE FROM api_keys WHERE tenant = ?1 AND id = ?2"},
    {kApiKeyDeleteOperator, kGlobal, "DELETE FROM api_keys WHERE tenant IS NULL AND id = ?1"},

    {kAuditInsert, kGlobal,
     "INSERT INTO audit (at, tenant, actor_kind, actor_id, action, resource_type, resource_id, request_id, "
     "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {kAuditListTenant, kTenant,
     "SELECT " AUDIT_COLS " FROM audit WHERE tenant = ?1 AND id < ?2" AUDIT_FILTER " ORDER BY id DESC LIMIT ?8"},
    // Every tenant's and the operator's records; ?1 (the tenant) is not used, so both lists bind alike.
    {kAuditListAll, kGlobal,
     "SELECT " AUDIT_COLS " FROM audit WHERE id < ?2" AUDIT_FILTER " ORDER BY id DESC LIMIT ?8"},
    // Maintenance purges take a batch (?2 or ?3: LIMIT) through a subquery: SQLite's DELETE ... LIMIT is a build
    // option Debian's library does not set.
    {kAuditPurge, kGlobal,
     "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY id LIMIT ?2)"},

    {kEventInsert, kGlobal, "INSERT INTO events (at, tenant, type, body) VALUES (?1, ?2, ?3, ?4)"},
    {kEventRead, kGlobal, "SELECT id, at, tenant, type, body FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"},
    {kEventOldest, kGlobal, "SELECT min(id) FROM events"},
    {kEventPurge, kGlobal,
     "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?1 AND id <= ?2 ORDER BY id LIMIT ?3)"},
    // AUTOINCREMENT keeps the highest id ever given here, also after a purge emptied the table.
    {kEventLastId, kGlobal, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"},

    {kIdempotencyGet, kGlobal, "SELECT " IDEM_COLS " FROM idempotency WHERE scope = ?1 AND key = ?2"},
    {kIdempotencyInsert, kGlobal, "INSERT INTO idempotency (" IDEM_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {kIdempotencyPurge, kGlobal,
     "DELETE FROM idempotency WHERE (scope, key) IN "
     "(SELECT scope, key FROM idempotency WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)"},

    {kCredentialGet, kGlobal, "SELECT " CRED_COLS " FROM credentials WHERE serial = ?1"},
    {kCredentialNewest, kTenant,
     "SELECT " CRED_COLS " FROM credentials WHERE tenant = ?1 AND role = ?2 AND subject = ?3 "
     "ORDER BY serial DESC LIMIT ?4"},
    {kCredentialMaxSerial, kGlobal, "SELECT coalesce(max(serial), 0) FROM credentials"},
    {kCredentialInsert, kGlobal, "INSERT INTO credentials (" CRED_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    // The subject's rows below its ?4 + 1 newest (kCredentialsPerSubject - 1): none while it has fewer (< NULL).
    // Both lookups walk the (tenant, role, subject, serial) index.
    {kCredentialTrim, kTenant,
     "DELETE FROM credentials WHERE tenant = ?1 AND role = ?2 AND subject = ?3 AND serial < "
     "(SELECT serial FROM credentials WHERE tenant = ?1 AND role = ?2 AND subject = ?3 "
     "ORDER BY serial DESC LIMIT 1 OFFSET ?4)"},

    // The relay snapshot: every tenant's denials and the relays'.
    {kDenialListAll, kAllTenants,
     "SELECT " DENIAL_COLS " FROM denials WHERE (tenant, role, subject) > (?1, ?2, ?3) "
     "ORDER BY tenant, role, subject LIMIT ?4"},
    {kDenialListTenant, kTenant,
     "SELECT " DENIAL_COLS " FROM denials WHERE tenant = ?1 AND (role, subject) > (?2, ?3) "
     "ORDER BY role, subject LIMIT ?4"},
    {kDenialGet, kTenant, "SELECT " DENIAL_COLS " FROM denials WHERE tenant = ?1 AND role = ?2 AND subject = ?3"},
    {kDenialPut, kTenant,
     "INSERT INTO denials (" DENIAL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
     "ON CONFLICT (tenant, role, subject) DO UPDATE SET reason = excluded.reason, until = excluded.until, "
     "updated_at = excluded.updated_at"},
    {kDenialDelete, kTenant, "DELETE FROM denials WHERE tenant = ?1 AND role = ?2 AND subject = ?3"},
    // Maintenance: a denial is needed only while a credential of its subject may still verify.
    {kDenialPurge, kAllTenants,
     "DELETE FROM denials WHERE (tenant, role, subject) IN "
     "(SELECT tenant, role, subject FROM denials WHERE until < ?1 ORDER BY until LIMIT ?2)"},

    {kUserGet, kTenant, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 AND id = ?2"},
    {kUserGetByEmail, kTenant, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 AND email = ?2"},
    {kUserList, kTenant, "SELECT " USER_COLS " FROM users WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"},
    {kUserCount, kTenant, "SELECT count(*) FROM users WHERE tenant = ?1"},
    {kUserDeviceCount, kTenant, "SELECT count(*) FROM devices WHERE tenant = ?1 AND user_id = ?2"},
    {kUserInsert, kTenant, "INSERT INTO users (tenant, " USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {kUserUpdate, kTenant,
     "UPDATE users SET email = ?3, display_name = ?4, updated_at = ?5 WHERE tenant = ?1 AND id = ?2"},
    {kUserDelete, kTenant, "DELETE FROM users WHERE tenant = ?1 AND id = ?2"},

    {kGroupGet, kTenant, "SELECT " GROUP_COLS " FROM groups WHERE tenant = ?1 AND id = ?2"},
    {kGroupList, kTenant, "SELECT " GROUP_COLS " FROM groups WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"},
    {kGroupCount, kTenant, "SELECT count(*) FROM groups WHERE tenant = ?1"},
    {kGroupInsert, kTenant, "INSERT INTO groups (tenant, " GROUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {kGroupUpdate, kTenant,
     "UPDATE groups SET name = ?3, description = ?4, updated_at = ?5 WHERE tenant = ?1 AND id = ?2"},
    {kGroupDelete, kTenant, "DELETE FROM groups WHERE tenant = ?1 AND id = ?2"},

    {kMemberCount, kTenant, "SELECT count(*) FROM group_members WHERE tenant = ?1 AND group_id = ?2"},
    {kMemberList, kTenant,
     "SELECT group_id, user_id, added_at FROM group_members WHERE tenant = ?1 AND group_id = ?2 AND user_id > ?3 "
     "ORDER BY user_id LIMIT ?4"},
    {kMemberGroupsOfUser, kTenant,
     "SELECT group_id FROM group_members WHERE tenant = ?1 AND user_id = ?2 ORDER BY group_id"},
    {kMemberInsert, kTenant,
     "INSERT INTO group_members (tenant, group_id, user_id, added_at) VALUES (?1, ?2, ?3, ?4) "
     "ON CONFLICT DO NOTHING"},
    {kMemberDelete, kTenant, "DELETE FROM group_members WHERE tenant = ?1 AND group_id = ?2 AND user_id = ?3"},

    {kDeviceGet, kTenant, "SELECT " DEVICE_COLS " FROM devices WHERE tenant = ?1 AND id = ?2"},
    {kDeviceList, kTenant,
     "SELECT " DEVICE_COLS " FROM devices WHERE tenant = ?1 AND id > ?2 AND (?3 IS NULL OR user_id = ?3) "
     "AND (?4 IS NULL OR state = ?4) AND (?5 IS NULL OR os = ?5) ORDER BY id LIMIT ?6"},
    {kDeviceCount, kTenant, "SELECT count(*) FROM devices WHERE tenant = ?1"},
    {kDeviceSeats, kTenant, "SELECT count(*) FROM devices WHERE tenant = ?1 AND state IN ('active', 'locked')"},
    {kDeviceInsert, kTenant,
     "INSERT INTO devices (tenant, " DEVICE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "?13, ?14, ?15, ?16, ?17, ?18)"},
    {kDeviceUpdate, kTenant,
     "UPDATE devices SET name = ?3, os_version = ?4, model = ?5, state = ?6, push_service = ?7, push_token = ?8, "
     "push_updated_at = ?9, last_renewed_at = ?10, updated_at = ?11 WHERE tenant = ?1 AND id = ?2"},
    {kDeviceDelete, kTenant, "DELETE FROM devices WHERE tenant = ?1 AND id = ?2"},

    // /v1/activate finds an activation by its code's public half; the row names its tenant.
    {kActivationGet, kGlobal, "SELECT " ACTIVATION_COLS " FROM activations WHERE id = ?1"},
    {kActivationGetTenant, kTenant, "SELECT " ACTIVATION_COLS " FROM activations WHERE tenant = ?1 AND id = ?2"},
    {kActivationList, kTenant,
     "SELECT " ACTIVATION_COLS " FROM activations WHERE tenant = ?1 AND id > ?2 AND (?3 IS NULL OR state = ?3) "
     "AND (?4 IS NULL OR kind = ?4) ORDER BY id LIMIT ?5"},
    {kActivationCountPending, kTenant,
     "SELECT count(*) FROM activations WHERE tenant = ?1 AND state = 'pending'"},
    {kActivationInsert, kGlobal,
     "INSERT INTO activations (" ACTIVATION_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "?13, ?14)"},
    // The single-use redeem (§6.1): only one transaction can move a row out of 'pending'.
    {kActivationRedeem, kGlobal,
     "UPDATE activations SET state = 'used', used_at = ?3, subject = ?2, updated_at = ?3 "
     "WHERE id = ?1 AND state = 'pending' AND expires_at > ?3"},
    {kActivationFail, kGlobal,
     "UPDATE activations SET failed_attempts = failed_attempts + 1, updated_at = ?2, "
     "state = CASE WHEN failed_attempts + 1 >= ?3 THEN 'burned' ELSE state END "
     "WHERE id = ?1 AND state = 'pending'"},
    {kActivationCancel, kTenant,
     "UPDATE activations SET state = 'cancelled', updated_at = ?3 WHERE tenant = ?1 AND id = ?2 "
     "AND state = 'pending'"},
    {kActivationExpire, kGlobal,
     "UPDATE activations SET state = 'expired', updated_at = ?1 WHERE id IN "
     "(SELECT id FROM activations WHERE state = 'pending' AND expires_at <= ?1 LIMIT ?2)"},
    {kActivationPurge, kGlobal,
     "DELETE FROM activations WHERE id IN (SELECT id FROM activations "
     "WHERE state IN ('expired', 'cancelled', 'burned') AND expires_at < ?1 LIMIT ?2)"},

    {kConnectorGet, kTenant, "SELECT " CONNECTOR_COLS " FROM connectors WHERE tenant = ?1 AND id = ?2"},
    {kConnectorList, kTenant,
     "SELECT " CONNECTOR_COLS " FROM connectors WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"},
    {kConnectorCount, kTenant, "SELECT count(*) FROM connectors WHERE tenant = ?1"},
    {kConnectorInsert, kTenant,
     "INSERT INTO connectors (tenant, " CONNECTOR_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {kConnectorUpdate, kTenant,
     "UPDATE connectors SET display_name = ?3, state = ?4, signing_public = ?5, noise_public = ?6, "
     "enrolled_at = ?7, updated_at = ?8 WHERE tenant = ?1 AND id = ?2"},

    {kRelayGet, kGlobal, "SELECT " RELAY_COLS " FROM relays WHERE id = ?1"},
    {kRelayList, kGlobal, "SELECT " RELAY_COLS " FROM relays WHERE id > ?1 ORDER BY id LIMIT ?2"},
    {kRelayCount, kGlobal, "SELECT count(*) FROM relays"},
    {kRelayInsert, kGlobal,
     "INSERT INTO relays (" RELAY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
    {kRelayUpdate, kGlobal,
     "UPDATE relays SET display_name = ?2, device_endpoint = ?3, connector_endpoint = ?4, tls_names = ?5, "
     "tls_ips = ?6, state = ?7, signing_public = ?8, tls_spki = ?9, tls_cert_not_after = ?10, updated_at = ?11 "
     "WHERE id = ?1"},

    {kPolicyGet, kTenant, "SELECT " POLICY_COLS " FROM policies WHERE tenant = ?1 AND id = ?2"},
    {kPolicyGetDefault, kTenant, "SELECT " POLICY_COLS " FROM policies WHERE tenant = ?1 AND is_default = 1"},
    {kPolicyList, kTenant,
     "SELECT " POLICY_COLS " FROM policies WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3"},
    {kPolicyCount, kTenant, "SELECT count(*) FROM policies WHERE tenant = ?1"},
    {kPolicyTomlBytes, kTenant, "SELECT coalesce(sum(length(CAST(toml AS BLOB))), 0) FROM policies WHERE tenant = ?1"},
    {kPolicyInsert, kTenant,
     "INSERT INTO policies (tenant, " POLICY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {kPolicyUpdate, kTenant,
     "UPDATE policies SET name = ?4, version = ?3, is_default = ?5, doc_json = ?6, toml = ?7, updated_at = ?8 "
     "WHERE tenant = ?1 AND id = ?2 AND version = ?3 - 1"},
    {kPolicyDelete, kTenant, "DELETE FROM policies WHERE tenant = ?1 AND id = ?2"},
    {kPolicyClearDefault, kTenant,
     "UPDATE policies SET is_default = 0, updated_at = ?2 WHERE tenant = ?1 AND is_default = 1"},

    {kAssignmentGet, kTenant, "SELECT " ASSIGNMENT_COLS " FROM policy_assignments WHERE tenant = ?1 AND id = ?2"},
    {kAssignmentList, kTenant,
     "SELECT " ASSIGNMENT_COLS " FROM policy_assignments WHERE tenant = ?1 AND id > ?2 "
     "AND (?3 IS NULL OR policy_id = ?3) AND (?4 IS NULL OR (target_kind = 'user' AND target_id = ?4)) "
     "AND (?5 IS NULL OR (target_kind = 'group' AND target_id = ?5)) ORDER BY id LIMIT ?6"},
    {kAssignmentCount, kTenant, "SELECT count(*) FROM policy_assignments WHERE tenant = ?1"},
    {kAssignmentForUser, kTenant,
     "SELECT " ASSIGNMENT_COLS " FROM policy_assignments WHERE tenant = ?1 AND "
     "((target_kind = 'user' AND target_id = ?2) OR (target_kind = 'group' AND target_id IN "
     "(SELECT group_id FROM group_members WHERE tenant = ?1 AND user_id = ?2))) ORDER BY priority, policy_id, id"},
    {kAssignmentInsert, kTenant,
     "INSERT INTO policy_assignments (tenant, " ASSIGNMENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {kAssignmentDelete, kTenant, "DELETE FROM policy_assignments WHERE tenant = ?1 AND id = ?2"},
    {kAssignmentDeleteTarget, kTenant,
     "DELETE FROM policy_assignments WHERE tenant = ?1 AND target_kind = ?2 AND target_id = ?3"},
}};

constexpr bool InOrder() {
  for (size_t i = 0; i < kStatements.size(); ++i) {
    if (static_cast<size_t>(kStatements[i].id) != i) return false;
  }
  return true;
}
static_assert(InOrder(), "kStatements must list every Sql in the enum's order");

constexpr std::array<std::string_view, 9> kTenantTables = {
    "licences", "users", "groups", "group_members", "devices", "connectors", "policies", "policy_assignments",
    "denials"};

}  // namespace

std::span<const SqlStatement> Statements() { return kStatements; }
std::span<const std::string_view> TenantTables() { return kTenantTables; }

}  // namespace strait::control::store
