// The write transaction (sqlite_tx.h): the writes of WriteTx on the writer connection, inside BEGIN IMMEDIATE.
// Count bounds (Limits) are checked here, in the inserting transaction, so concurrent creates cannot overshoot
// (the writer mutex serialises them).
#include <cinttypes>
#include <string>

#include "control-plane/store/sqlite_store_internal.h"
#include "control-plane/store/sqlite_tx.h"

namespace strait::control::store {
namespace {

StoreResult<void> Done(const StoreResult<int64_t>& r) {
  if (!r) return Fail(r.error());
  return {};
}

StoreResult<bool> Changed(const StoreResult<int64_t>& r) {
  if (!r) return Fail(r.error());
  return *r > 0;
}

}  // namespace

SqliteWriteTx::~SqliteWriteTx() {
  // Not committed (or a failed Commit left the transaction open): roll back every change.
  if (sqlite3_get_autocommit(conn_.db()) == 0) (void)conn_.Exec("ROLLBACK");
}

StoreResult<void> SqliteWriteTx::Commit() {
  if (finished_) return Fail(StoreError{StoreErrorCode::kIo, "", 0, "the transaction has finished"});
  finished_ = true;
  auto r = conn_.Exec("COMMIT");
  if (!r) return r;  // the destructor rolls back
  // Still under the writer mutex: ids are published in commit order.
  if (last_event_ > 0) store_.EventsCommitted(last_event_);
  return {};
}

StoreResult<void> SqliteWriteTx::Below(const StoreResult<int64_t>& count, std::string_view name, int64_t max) {
  if (!count) return Fail(count.error());
  if (*count >= max) {
    return Fail(StoreError{StoreErrorCode::kLimit, std::string(name), max,
                           std::string(name) + " is at its bound of " + std::to_string(max)});
  }
  return {};
}

StoreResult<void> SqliteWriteTx::PutMeta(std::string_view key, std::string_view value) {
  return Done(Execute(Sql::kMetaPut, key, value));
}

StoreResult<void> SqliteWriteTx::InsertTenant(const TenantRecord& t) {
  if (auto r = Below(CountTenants(), "tenants", limits_.tenants); !r) return r;
  return Done(Execute(Sql::kTenantInsert, t.id, t.display_name, t.state, t.signing_key_sealed, t.signing_public,
                      t.tenant_cert, t.tenant_cert_not_after, t.created_at, t.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateTenant(const TenantScope& scope, const TenantRecord& t) {
  return Changed(Execute(Sql::kTenantUpdate, scope.tenant(), t.display_name, t.state, t.tenant_cert,
                         t.tenant_cert_not_after, t.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeleteTenant(const TenantScope& scope) {
  return Changed(Execute(Sql::kTenantDelete, scope.tenant()));
}

StoreResult<void> SqliteWriteTx::PutLicence(const TenantScope& scope, const LicenceRecord& l) {
  return Done(Execute(Sql::kLicencePut, scope.tenant(), l.seats, l.expires_at, l.created_at, l.updated_at));
}

StoreResult<void> SqliteWriteTx::InsertApiKey(const ApiKeyRecord& k) {
  if (k.tenant) {
    if (auto r = Below(CountApiKeys(TenantScope(*k.tenant)), "api_keys", limits_.api_keys); !r) return r;
  } else {
    if (auto r = Below(CountOperatorApiKeys(), "operator_api_keys", limits_.operator_api_keys); !r) return r;
  }
  return Done(Execute(Sql::kApiKeyInsert, k.id, k.tenant, k.role, k.name, k.secret_hash, k.created_by,
                      k.last_used_at, k.created_at, k.updated_at));
}

StoreResult<bool> SqliteWriteTx::TouchApiKey(std::string_view id, int64_t at) {
  return Changed(Execute(Sql::kApiKeyTouch, id, at));
}

StoreResult<bool> SqliteWriteTx::DeleteApiKey(const TenantScope& scope, std::string_view id) {
  return Changed(Execute(Sql::kApiKeyDeleteTenant, scope.tenant(), id));
}

StoreResult<bool> SqliteWriteTx::DeleteOperatorApiKey(std::string_view id) {
  return Changed(Execute(Sql::kApiKeyDeleteOperator, id));
}

StoreResult<AuditId> SqliteWriteTx::AppendAudit(const AuditRecord& a) {
  if (a.detail.size() > kMaxAuditDetail) {
    return Fail(StoreError{StoreErrorCode::kLimit, "audit_detail", static_cast<int64_t>(kMaxAuditDetail),
                           "audit detail over 4 KiB"});
  }
  auto r = Execute(Sql::kAuditInsert, a.at, a.tenant, a.actor_kind, a.actor_id, a.action, a.resource_type,
                   a.resource_id, a.request_id, a.detail);
  if (!r) return Fail(r.error());
  return static_cast<AuditId>(sqlite3_last_insert_rowid(conn_.db()));
}

StoreResult<int64_t> SqliteWriteTx::PurgeAuditBefore(int64_t at, size_t limit) {
  return Execute(Sql::kAuditPurge, at, static_cast<int64_t>(limit));
}

StoreResult<EventId> SqliteWriteTx::AppendEvent(const EventRecord& e) {
  auto r = Execute(Sql::kEventInsert, e.at, e.tenant, e.type, e.body);
  if (!r) return Fail(r.error());
  // AUTOINCREMENT: never reuses an id, also after a purge; one writer: ids are in commit order.
  last_event_ = sqlite3_last_insert_rowid(conn_.db());
  return last_event_;
}

StoreResult<int64_t> SqliteWriteTx::PurgeEventsBefore(int64_t at, EventId up_to, size_t limit) {
  return Execute(Sql::kEventPurge, at, up_to, static_cast<int64_t>(limit));
}

StoreResult<void> SqliteWriteTx::PutIdempotency(const IdempotencyRecord& i) {
  return Done(Execute(Sql::kIdempotencyInsert, i.scope, i.key, i.fingerprint, i.status, i.response_sealed,
                      i.created_at));
}

StoreResult<int64_t> SqliteWriteTx::PurgeIdempotencyBefore(int64_t at, size_t limit) {
  return Execute(Sql::kIdempotencyPurge, at, static_cast<int64_t>(limit));
}

StoreResult<int64_t> SqliteWriteTx::NextSerial() {
  auto max = QueryInt(Sql::kCredentialMaxSerial);
  if (!max) return Fail(max.error());
  return *max + 1;
}

StoreResult<void> SqliteWriteTx::InsertCredential(const CredentialRecord& c) {
  auto inserted = Execute(Sql::kCredentialInsert, c.serial, c.role, c.tenant, c.subject, c.not_before, c.not_after,
                          c.issued_at);
  if (!inserted) return Fail(inserted.error());
  static_assert(kCredentialsPerSubject >= 1);
  return Done(Execute(Sql::kCredentialTrim, c.tenant, c.role, c.subject,
                      static_cast<int64_t>(kCredentialsPerSubject - 1)));
}

StoreResult<void> SqliteWriteTx::PutDenial(const TenantScope& scope, SubjectRole role, std::string_view subject,
                                           DenialReason reason, int64_t until, int64_t now) {
  return Done(Execute(Sql::kDenialPut, scope.tenant(), role, subject, reason, until, now));
}

StoreResult<void> SqliteWriteTx::PutRelayDenial(std::string_view relay, DenialReason reason, int64_t until,
                                                int64_t now) {
  return Done(Execute(Sql::kDenialPut, "", SubjectRole::kRelay, relay, reason, until, now));
}

StoreResult<bool> SqliteWriteTx::DeleteDenial(const TenantScope& scope, SubjectRole role, std::string_view subject) {
  return Changed(Execute(Sql::kDenialDelete, scope.tenant(), role, subject));
}

StoreResult<int64_t> SqliteWriteTx::PurgeDenials(int64_t now, size_t limit) {
  return Execute(Sql::kDenialPurge, now, static_cast<int64_t>(limit));
}

StoreResult<void> SqliteWriteTx::InsertUser(const TenantScope& scope, const UserRecord& u) {
  if (auto r = Below(CountUsers(scope), "users", limits_.users); !r) return r;
  return Done(Execute(Sql::kUserInsert, scope.tenant(), u.id, u.email, u.display_name, u.created_at, u.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateUser(const TenantScope& scope, const UserRecord& u) {
  return Changed(Execute(Sql::kUserUpdate, scope.tenant(), u.id, u.email, u.display_name, u.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeleteUser(const TenantScope& scope, std::string_view id) {
  // Assignments name their target without a foreign key (a user or a group); memberships and devices cascade.
  if (auto r = Execute(Sql::kAssignmentDeleteTarget, scope.tenant(), TargetKind::kUser, id); !r) {
    return Fail(r.error());
  }
  return Changed(Execute(Sql::kUserDelete, scope.tenant(), id));
}

StoreResult<void> SqliteWriteTx::InsertGroup(const TenantScope& scope, const GroupRecord& g) {
  if (auto r = Below(QueryInt(Sql::kGroupCount, scope.tenant()), "groups", limits_.groups); !r) return r;
  return Done(Execute(Sql::kGroupInsert, scope.tenant(), g.id, g.name, g.description, g.created_at, g.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateGroup(const TenantScope& scope, const GroupRecord& g) {
  return Changed(Execute(Sql::kGroupUpdate, scope.tenant(), g.id, g.name, g.description, g.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeleteGroup(const TenantScope& scope, std::string_view id) {
  if (auto r = Execute(Sql::kAssignmentDeleteTarget, scope.tenant(), TargetKind::kGroup, id); !r) {
    return Fail(r.error());
  }
  return Changed(Execute(Sql::kGroupDelete, scope.tenant(), id));
}

StoreResult<bool> SqliteWriteTx::PutGroupMember(const TenantScope& scope, std::string_view group,
                                                std::string_view user, int64_t at) {
  if (auto r = Below(CountGroupMembers(scope, group), "group_members", limits_.group_members); !r) {
    return Fail(r.error());
  }
  return Changed(Execute(Sql::kMemberInsert, scope.tenant(), group, user, at));
}

StoreResult<bool> SqliteWriteTx::DeleteGroupMember(const TenantScope& scope, std::string_view group,
                                                   std::string_view user) {
  return Changed(Execute(Sql::kMemberDelete, scope.tenant(), group, user));
}

StoreResult<void> SqliteWriteTx::InsertDevice(const TenantScope& scope, const DeviceRecord& d) {
  if (auto r = Below(QueryInt(Sql::kDeviceCount, scope.tenant()), "devices", limits_.devices); !r) return r;
  return Done(Execute(Sql::kDeviceInsert, scope.tenant(), d.id, d.user_id, d.name, d.os, d.os_version, d.model,
                      d.state, d.signing_public, d.noise_public, d.push_service, d.push_token, d.push_updated_at,
                      d.activation_id, d.activated_at, d.last_renewed_at, d.created_at, d.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateDevice(const TenantScope& scope, const DeviceRecord& d) {
  return Changed(Execute(Sql::kDeviceUpdate, scope.tenant(), d.id, d.name, d.os_version, d.model, d.state,
                         d.push_service, d.push_token, d.push_updated_at, d.last_renewed_at, d.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeleteDevice(const TenantScope& scope, std::string_view id) {
  return Changed(Execute(Sql::kDeviceDelete, scope.tenant(), id));
}

StoreResult<void> SqliteWriteTx::InsertActivation(const ActivationRecord& a) {
  if (a.tenant) {
    if (auto r = Below(QueryInt(Sql::kActivationCountPending, *a.tenant), "pending_activations",
                       limits_.pending_activations);
        !r) {
      return r;
    }
  }
  return Done(Execute(Sql::kActivationInsert, a.id, a.tenant, a.kind, a.target, a.os, a.mac_key_sealed, a.state,
                      a.expires_at, a.used_at, a.subject, a.failed_attempts, a.created_by, a.created_at,
                      a.updated_at));
}

StoreResult<bool> SqliteWriteTx::RedeemActivation(std::string_view id, std::string_view subject, int64_t at) {
  return Changed(Execute(Sql::kActivationRedeem, id, subject, at));
}

StoreResult<std::optional<ActivationState>> SqliteWriteTx::RecordFailedActivation(std::string_view id,
                                                                                  int64_t at) {
  if (auto r = Execute(Sql::kActivationFail, id, at, kActivationMaxFailedAttempts); !r) return Fail(r.error());
  auto a = GetActivation(id);
  if (!a) return Fail(a.error());
  if (!*a) return std::optional<ActivationState>();
  return std::optional<ActivationState>((*a)->state);
}

StoreResult<bool> SqliteWriteTx::CancelActivation(const TenantScope& scope, std::string_view id, int64_t at) {
  return Changed(Execute(Sql::kActivationCancel, scope.tenant(), id, at));
}

StoreResult<int64_t> SqliteWriteTx::ExpireActivations(int64_t now, size_t limit) {
  return Execute(Sql::kActivationExpire, now, static_cast<int64_t>(limit));
}

StoreResult<int64_t> SqliteWriteTx::PurgeActivationsBefore(int64_t before, size_t limit) {
  return Execute(Sql::kActivationPurge, before, static_cast<int64_t>(limit));
}

StoreResult<void> SqliteWriteTx::InsertConnector(const TenantScope& scope, const ConnectorRecord& c) {
  if (auto r = Below(QueryInt(Sql::kConnectorCount, scope.tenant()), "connectors", limits_.connectors); !r) {
    return r;
  }
  return Done(Execute(Sql::kConnectorInsert, scope.tenant(), c.id, c.display_name, c.state, c.signing_public,
                      c.noise_public, c.enrolled_at, c.created_at, c.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateConnector(const TenantScope& scope, const ConnectorRecord& c) {
  return Changed(Execute(Sql::kConnectorUpdate, scope.tenant(), c.id, c.display_name, c.state, c.signing_public,
                         c.noise_public, c.enrolled_at, c.updated_at));
}

StoreResult<void> SqliteWriteTx::InsertRelay(const RelayRecord& r) {
  if (auto b = Below(QueryInt(Sql::kRelayCount), "relays", limits_.relays); !b) return b;
  return Done(Execute(Sql::kRelayInsert, r.id, r.display_name, r.device_endpoint, r.connector_endpoint, r.tls_names,
                      r.tls_ips, r.state, r.signing_public, r.tls_spki, r.tls_cert_not_after, r.created_at,
                      r.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdateRelay(const RelayRecord& r) {
  return Changed(Execute(Sql::kRelayUpdate, r.id, r.display_name, r.device_endpoint, r.connector_endpoint,
                         r.tls_names, r.tls_ips, r.state, r.signing_public, r.tls_spki, r.tls_cert_not_after,
                         r.updated_at));
}

StoreResult<void> SqliteWriteTx::InsertPolicy(const TenantScope& scope, const PolicyRecord& p) {
  if (auto r = Below(QueryInt(Sql::kPolicyCount, scope.tenant()), "policies", limits_.policies); !r) return r;
  auto bytes = QueryInt(Sql::kPolicyTomlBytes, scope.tenant());
  if (!bytes) return Fail(bytes.error());
  if (*bytes + static_cast<int64_t>(p.toml.size()) > limits_.policy_toml_bytes) {
    return Fail(StoreError{StoreErrorCode::kLimit, "policy_toml_bytes", limits_.policy_toml_bytes,
                           "the tenant's policies would exceed their TOML bound"});
  }
  return Done(Execute(Sql::kPolicyInsert, scope.tenant(), p.id, p.name, p.version, p.is_default, p.doc_json,
                      p.toml, p.created_at, p.updated_at));
}

StoreResult<bool> SqliteWriteTx::UpdatePolicy(const TenantScope& scope, const PolicyRecord& p) {
  auto old = GetPolicy(scope, p.id);
  if (!old) return Fail(old.error());
  if (!*old) return false;
  auto bytes = QueryInt(Sql::kPolicyTomlBytes, scope.tenant());
  if (!bytes) return Fail(bytes.error());
  const int64_t after = *bytes - static_cast<int64_t>((*old)->toml.size()) + static_cast<int64_t>(p.toml.size());
  if (after > limits_.policy_toml_bytes) {
    return Fail(StoreError{StoreErrorCode::kLimit, "policy_toml_bytes", limits_.policy_toml_bytes,
                           "the tenant's policies would exceed their TOML bound"});
  }
  return Changed(Execute(Sql::kPolicyUpdate, scope.tenant(), p.id, p.version, p.name, p.is_default, p.doc_json,
                         p.toml, p.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeletePolicy(const TenantScope& scope, std::string_view id) {
  return Changed(Execute(Sql::kPolicyDelete, scope.tenant(), id));
}

StoreResult<std::optional<std::string>> SqliteWriteTx::ClearDefaultPolicy(const TenantScope& scope, int64_t at) {
  auto current = GetDefaultPolicy(scope);
  if (!current) return Fail(current.error());
  if (!*current) return std::optional<std::string>();
  if (auto r = Execute(Sql::kPolicyClearDefault, scope.tenant(), at); !r) return Fail(r.error());
  return std::optional<std::string>((*current)->id);
}

StoreResult<void> SqliteWriteTx::InsertAssignment(const TenantScope& scope, const PolicyAssignmentRecord& a) {
  if (auto r = Below(QueryInt(Sql::kAssignmentCount, scope.tenant()), "policy_assignments",
                     limits_.policy_assignments);
      !r) {
    return r;
  }
  return Done(Execute(Sql::kAssignmentInsert, scope.tenant(), a.id, a.policy_id, a.target_kind, a.target_id,
                      a.priority, a.created_at, a.updated_at));
}

StoreResult<bool> SqliteWriteTx::DeleteAssignment(const TenantScope& scope, std::string_view id) {
  return Changed(Execute(Sql::kAssignmentDelete, scope.tenant(), id));
}

}  // namespace strait::control::store
