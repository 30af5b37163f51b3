// The narrow store interface of strait-control (docs/control-plane.md §5.1). Handlers see Store and its
// transactions; nothing else knows SQL. sqlite_store.h implements it; a PostgreSQL store would implement the same
// contract (tests/control-plane/store/store_contract_test.cc runs against every backend):
//   - tenant isolation: every method on a tenant resource takes a TenantScope and touches only that tenant's rows;
//   - event ids strictly increasing in commit order: a reader that has seen id N never later sees an id < N;
//   - idempotency records atomic with their change (both commit or neither);
//   - a committed write survives a process kill (SQLite: synchronous=FULL).
//
// Threads: Store is thread-safe. A transaction belongs to the thread that opened it and must be destroyed before the
// Store. Read transactions see one consistent snapshot; write transactions are serialised (one at a time, the
// others wait up to 5 s, then kBusy). A WriteTx that is destroyed without Commit() rolls back everything it did.
//
// Errors: not-found is an empty optional (or `false` from an update/delete), never an error. StoreError is for
// conflicts (unique keys: kConflict with the field), bounds (kLimit with the limit's name and maximum), the writer
// lock (kBusy), and the store itself (kCorrupt, kIo: a 500, logged).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control-plane/store/records.h"
#include "crypto/result.h"  // header-only, standard library only: no TLS library comes with it

namespace strait::control::store {

enum class StoreErrorCode : uint8_t {
  kConflict,  // a unique key or reference: `field` names the column ("id", "email", "name", "default", "key")
  kBusy,      // the writer lock was not had in 5 s (-> 503 store-busy)
  kLimit,     // a count bound of §8: `field` names it ("users", "api_keys", ...), `max` is the bound
  kCorrupt,   // the store is not what this binary expects (bad row, newer schema, not a database)
  kIo,        // anything else the database reports
};
std::string_view ToString(StoreErrorCode code);

struct StoreError {
  StoreErrorCode code = StoreErrorCode::kIo;
  std::string field;  // kConflict: the column; kLimit: the limit's name
  int64_t max = 0;    // kLimit: the bound
  std::string reason;  // for logs; never a secret
};

template <class T>
using StoreResult = Result<T, StoreError>;

// A tenant the caller is allowed to act in. Made by the dispatcher from the path after the auth check (§3) and
// passed to every method on a tenant resource, so a handler cannot express an unscoped query. Never empty.
class TenantScope {
 public:
  explicit TenantScope(std::string tenant) : tenant_(std::move(tenant)) { assert(!tenant_.empty()); }
  const std::string& tenant() const { return tenant_; }
  bool operator==(const TenantScope&) const = default;

 private:
  std::string tenant_;
};

// The count bounds of §8 the store enforces inside the inserting transaction (so concurrent creates cannot overshoot).
// Each is checked before an insert that would pass it: kLimit{field = the member's name, max}.
struct Limits {
  int64_t tenants = 10'000;
  int64_t operator_api_keys = 100;
  int64_t relays = 256;
  int64_t api_keys = 100;  // per tenant
  int64_t users = 200'000;
  int64_t groups = 10'000;
  int64_t group_members = 200'000;  // per group
  int64_t devices = 200'000;
  int64_t connectors = 64;
  int64_t policies = 64;
  int64_t policy_toml_bytes = 16 << 20;  // the sum over a tenant's policies
  int64_t policy_assignments = 10'000;
  int64_t pending_activations = 10'000;
};

// Paging (§4.4): lists take the key of the last item of the previous page ("" or nullopt: from the start) and a
// limit (1..kMaxPageLimit, checked by the caller); they return up to `limit` items and whether more follow.
// Order: by id ascending, except audit (newest first, by id descending).
inline constexpr size_t kMaxPageLimit = 500;

// How many `credentials` rows one subject keeps (§6.5, §8 "credentials per subject"): InsertCredential removes the
// subject's older rows in the inserting transaction, so the table holds at most this many per subject at every
// moment, however often a subject renews or is re-enrolled. Two is what the readers need: renewal accepts an expired
// credential only if it is one of its subject's two newest (handlers/machine_auth.h kGraceNewest), and the Device,
// Connector and Relay bodies and a denial's `until` read the newest.
inline constexpr size_t kCredentialsPerSubject = 2;

class ReadTx {
 public:
  virtual ~ReadTx() = default;

  // ---- operator level ----
  virtual StoreResult<MetaRecord> GetMeta() = 0;
  virtual StoreResult<std::optional<TenantRecord>> GetTenant(const TenantScope& scope) = 0;
  virtual StoreResult<Page<TenantRecord>> ListTenants(std::string_view after, size_t limit) = 0;
  virtual StoreResult<int64_t> CountTenants() = 0;
  virtual StoreResult<std::optional<LicenceRecord>> GetLicence(const TenantScope& scope) = 0;

  // Any API key by its public id: the authentication lookup (the key names its own tenant).
  virtual StoreResult<std::optional<ApiKeyRecord>> GetApiKey(std::string_view id) = 0;
  virtual StoreResult<Page<ApiKeyRecord>> ListApiKeys(const TenantScope& scope, std::string_view after,
                                                      size_t limit) = 0;
  virtual StoreResult<Page<ApiKeyRecord>> ListOperatorApiKeys(std::string_view after, size_t limit) = 0;
  virtual StoreResult<int64_t> CountApiKeys(const TenantScope& scope) = 0;
  virtual StoreResult<int64_t> CountOperatorApiKeys() = 0;

  // Audit, newest first. `before`: the id of the last record of the previous page (nullopt: the newest).
  virtual StoreResult<Page<AuditRecord>> ListAudit(const TenantScope& scope, const AuditFilter& filter,
                                                   std::optional<AuditId> before, size_t limit) = 0;
  // GET /v1/audit: every tenant's records and the operator's own.
  virtual StoreResult<Page<AuditRecord>> ListAllAudit(const AuditFilter& filter, std::optional<AuditId> before,
                                                      size_t limit) = 0;

  // Events with id > after, oldest first, at most `limit`.
  virtual StoreResult<std::vector<EventRecord>> ReadEvents(EventId after, size_t limit) = 0;
  // The oldest retained event's id (nullopt: none retained; then nothing older than LastEventId() is readable).
  virtual StoreResult<std::optional<EventId>> OldestEventId() = 0;

  virtual StoreResult<std::optional<IdempotencyRecord>> GetIdempotency(std::string_view scope,
                                                                       std::string_view key) = 0;

  virtual StoreResult<std::optional<CredentialRecord>> GetCredential(int64_t serial) = 0;
  // The `n` newest credentials issued to a subject (highest serial first): renewal accepts the two newest.
  virtual StoreResult<std::vector<CredentialRecord>> NewestCredentials(const TenantScope& scope, SubjectRole role,
                                                                       std::string_view subject, size_t n) = 0;
  virtual StoreResult<std::vector<CredentialRecord>> NewestRelayCredentials(std::string_view relay, size_t n) = 0;

  // Denials in (tenant, role, subject) order: every tenant's and the relays' (the relay snapshot), or one tenant's
  // (the connector snapshot).
  virtual StoreResult<Page<DenialRecord>> ListDenials(const std::optional<DenialKey>& after, size_t limit) = 0;
  virtual StoreResult<Page<DenialRecord>> ListTenantDenials(const TenantScope& scope,
                                                            const std::optional<DenialKey>& after, size_t limit) = 0;
  virtual StoreResult<std::optional<DenialRecord>> GetDenial(const TenantScope& scope, SubjectRole role,
                                                             std::string_view subject) = 0;

  // ---- users, groups, members ----
  virtual StoreResult<std::optional<UserRecord>> GetUser(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<std::optional<UserRecord>> GetUserByEmail(const TenantScope& scope, std::string_view email) = 0;
  virtual StoreResult<Page<UserRecord>> ListUsers(const TenantScope& scope, std::string_view after,
                                                  size_t limit) = 0;
  virtual StoreResult<int64_t> CountUsers(const TenantScope& scope) = 0;
  virtual StoreResult<int64_t> CountUserDevices(const TenantScope& scope, std::string_view user) = 0;

  virtual StoreResult<std::optional<GroupRecord>> GetGroup(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<Page<GroupRecord>> ListGroups(const TenantScope& scope, std::string_view after,
                                                    size_t limit) = 0;
  virtual StoreResult<int64_t> CountGroupMembers(const TenantScope& scope, std::string_view group) = 0;
  // Members of a group by user id ascending; `after` is a user id.
  virtual StoreResult<Page<GroupMemberRecord>> ListGroupMembers(const TenantScope& scope, std::string_view group,
                                                                std::string_view after, size_t limit) = 0;
  // Every group a user is in, by group id (effective policy; a user's groups are bounded by the group limit).
  virtual StoreResult<std::vector<std::string>> ListUserGroups(const TenantScope& scope, std::string_view user) = 0;

  // ---- devices ----
  virtual StoreResult<std::optional<DeviceRecord>> GetDevice(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<Page<DeviceRecord>> ListDevices(const TenantScope& scope, const DeviceFilter& filter,
                                                      std::string_view after, size_t limit) = 0;
  // Devices that hold a seat: state active or locked (§4.9 Licence `used`).
  virtual StoreResult<int64_t> CountSeatsUsed(const TenantScope& scope) = 0;

  // ---- activations ----
  // Any activation by its id: the /v1/activate lookup (the activation names its own tenant, or none for a relay).
  virtual StoreResult<std::optional<ActivationRecord>> GetActivation(std::string_view id) = 0;
  virtual StoreResult<std::optional<ActivationRecord>> GetTenantActivation(const TenantScope& scope,
                                                                           std::string_view id) = 0;
  virtual StoreResult<Page<ActivationRecord>> ListActivations(const TenantScope& scope,
                                                              const ActivationFilter& filter,
                                                              std::string_view after, size_t limit) = 0;

  // ---- connectors, relays ----
  virtual StoreResult<std::optional<ConnectorRecord>> GetConnector(const TenantScope& scope,
                                                                    std::string_view id) = 0;
  virtual StoreResult<Page<ConnectorRecord>> ListConnectors(const TenantScope& scope, std::string_view after,
                                                            size_t limit) = 0;
  virtual StoreResult<std::optional<RelayRecord>> GetRelay(std::string_view id) = 0;
  virtual StoreResult<Page<RelayRecord>> ListRelays(std::string_view after, size_t limit) = 0;

  // ---- policies, assignments ----
  virtual StoreResult<std::optional<PolicyRecord>> GetPolicy(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<std::optional<PolicyRecord>> GetDefaultPolicy(const TenantScope& scope) = 0;
  // Full records (with TOML) by id; the API's summary drops the rules.
  virtual StoreResult<Page<PolicyRecord>> ListPolicies(const TenantScope& scope, std::string_view after,
                                                       size_t limit) = 0;
  virtual StoreResult<std::optional<PolicyAssignmentRecord>> GetAssignment(const TenantScope& scope,
                                                                           std::string_view id) = 0;
  virtual StoreResult<Page<PolicyAssignmentRecord>> ListAssignments(const TenantScope& scope,
                                                                    const AssignmentFilter& filter,
                                                                    std::string_view after, size_t limit) = 0;
  // The assignments that target a user directly or one of its groups (api/effective_policy's input).
  virtual StoreResult<std::vector<PolicyAssignmentRecord>> ListAssignmentsForUser(const TenantScope& scope,
                                                                                 std::string_view user) = 0;
};

class WriteTx : public ReadTx {
 public:
  // Makes every change of this transaction durable (synchronous=FULL: on disk when this returns), or fails and
  // keeps none of them. After Commit (either outcome) the transaction accepts no further calls.
  virtual StoreResult<void> Commit() = 0;

  // ---- operator level ----
  virtual StoreResult<void> PutMeta(std::string_view key, std::string_view value) = 0;
  virtual StoreResult<void> InsertTenant(const TenantRecord& tenant) = 0;  // kConflict "id", kLimit "tenants"
  // Updates display_name, state, the TenantCert and its not_after, updated_at (the key is fixed at creation).
  virtual StoreResult<bool> UpdateTenant(const TenantScope& scope, const TenantRecord& tenant) = 0;
  // Removes the tenant and, by cascade, every row of it.
  virtual StoreResult<bool> DeleteTenant(const TenantScope& scope) = 0;
  virtual StoreResult<void> PutLicence(const TenantScope& scope, const LicenceRecord& licence) = 0;

  // kConflict "id"; kLimit "api_keys" (per tenant) or "operator_api_keys".
  virtual StoreResult<void> InsertApiKey(const ApiKeyRecord& key) = 0;
  // Sets last_used_at = at unless it is already within the last 60 s (§3: at most once a minute per key);
  // returns whether it wrote.
  virtual StoreResult<bool> TouchApiKey(std::string_view id, int64_t at) = 0;
  virtual StoreResult<bool> DeleteApiKey(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<bool> DeleteOperatorApiKey(std::string_view id) = 0;

  virtual StoreResult<AuditId> AppendAudit(const AuditRecord& record) = 0;  // record.id is ignored
  // Maintenance (§1 Threads, §7.4): each purge removes at most `limit` rows, oldest first where the table has an
  // order, and returns how many it removed; the maintenance thread calls it again while it returns `limit`, each
  // batch in its own short transaction, so no purge holds the writer lock for long.
  virtual StoreResult<int64_t> PurgeAuditBefore(int64_t at, size_t limit) = 0;  // audit with at < `at`

  // Appends an event (record.id is ignored) and returns its id: greater than every id committed before this
  // transaction. The store's LastEventId() moves to it when the transaction commits.
  virtual StoreResult<EventId> AppendEvent(const EventRecord& record) = 0;
  // Events with at < `at` and id <= `up_to` (the caller keeps what the hub's ring may still serve), by id.
  virtual StoreResult<int64_t> PurgeEventsBefore(int64_t at, EventId up_to, size_t limit) = 0;

  // kConflict "key" when (scope, key) exists: with SQLite the writer lock serialises two requests with one key, so
  // the second reads the first's record; a store without one lock reads it again after this conflict.
  virtual StoreResult<void> PutIdempotency(const IdempotencyRecord& record) = 0;
  virtual StoreResult<int64_t> PurgeIdempotencyBefore(int64_t at, size_t limit) = 0;  // created_at < `at`

  // The next credential serial: one above every serial recorded (1 for the first). Insert the credential in the same
  // transaction; the writer lock keeps two transactions from taking one serial. Serials are never reused: the row
  // with the highest serial is its subject's newest, which InsertCredential never removes.
  virtual StoreResult<int64_t> NextSerial() = 0;
  // kConflict "serial". Then removes the rows of the same (tenant, role, subject) beyond its kCredentialsPerSubject
  // newest (by serial), in this transaction: the bound holds when it commits, whatever else commits around it.
  virtual StoreResult<void> InsertCredential(const CredentialRecord& record) = 0;

  // Denials: insert or replace (reason, until). Tenant subjects under their scope; relays with tenant "".
  virtual StoreResult<void> PutDenial(const TenantScope& scope, SubjectRole role, std::string_view subject,
                                      DenialReason reason, int64_t until, int64_t now) = 0;
  virtual StoreResult<void> PutRelayDenial(std::string_view relay, DenialReason reason, int64_t until,
                                           int64_t now) = 0;
  virtual StoreResult<bool> DeleteDenial(const TenantScope& scope, SubjectRole role, std::string_view subject) = 0;
  virtual StoreResult<int64_t> PurgeDenials(int64_t now, size_t limit) = 0;  // denials with until < now

  // ---- users, groups, members ----
  virtual StoreResult<void> InsertUser(const TenantScope& scope, const UserRecord& user) = 0;  // "id"/"email"
  virtual StoreResult<bool> UpdateUser(const TenantScope& scope, const UserRecord& user) = 0;  // email, name
  // The caller removes the user's devices first (§4.8); memberships and assignments go with the user.
  virtual StoreResult<bool> DeleteUser(const TenantScope& scope, std::string_view id) = 0;
  virtual StoreResult<void> InsertGroup(const TenantScope& scope, const GroupRecord& group) = 0;  // "id"/"name"
  virtual StoreResult<bool> UpdateGroup(const TenantScope& scope, const GroupRecord& group) = 0;
  virtual StoreResult<bool> DeleteGroup(const TenantScope& scope, std::string_view id) = 0;
  // Adds a member (false: it was one already, nothing changed). kConflict "reference": no such group or user.
  virtual StoreResult<bool> PutGroupMember(const TenantScope& scope, std::string_view group, std::string_view user,
                                           int64_t at) = 0;
  virtual StoreResult<bool> DeleteGroupMember(const TenantScope& scope, std::string_view group,
                                              std::string_view user) = 0;

  // ---- devices ----
  // kConflict "id"; kConflict "reference": no such user; kLimit "devices".
  virtual StoreResult<void> InsertDevice(const TenantScope& scope, const DeviceRecord& device) = 0;
  // Updates every mutable column (name, os_version, model, state, push, last_renewed_at, updated_at).
  virtual StoreResult<bool> UpdateDevice(const TenantScope& scope, const DeviceRecord& device) = 0;
  virtual StoreResult<bool> DeleteDevice(const TenantScope& scope, std::string_view id) = 0;

  // ---- activations ----
  // kConflict "id"; kLimit "pending_activations" (per tenant).
  virtual StoreResult<void> InsertActivation(const ActivationRecord& activation) = 0;
  // The one atomic redeem (§6.1): pending and not expired at `at` -> used, with the subject it made. False: it was
  // not pending or has expired (re-read it to tell which).
  virtual StoreResult<bool> RedeemActivation(std::string_view id, std::string_view subject, int64_t at) = 0;
  // A wrong MAC: failed_attempts + 1 on a pending activation; the kActivationMaxFailedAttempts-th burns it.
  // Returns the state after it (nullopt: no such activation).
  virtual StoreResult<std::optional<ActivationState>> RecordFailedActivation(std::string_view id, int64_t at) = 0;
  // DELETE /activations/{a}: pending -> cancelled. False: not pending (or not this tenant's).
  virtual StoreResult<bool> CancelActivation(const TenantScope& scope, std::string_view id, int64_t at) = 0;
  // Pending past expires_at -> expired (at most `limit`; returns how many).
  virtual StoreResult<int64_t> ExpireActivations(int64_t now, size_t limit) = 0;
  // Removes activations that can no longer be redeemed (expired, cancelled, burned) whose expires_at < `before`
  // (at most `limit`). Used ones stay: a device's activation_id names its activation.
  virtual StoreResult<int64_t> PurgeActivationsBefore(int64_t before, size_t limit) = 0;

  // ---- connectors, relays ----
  virtual StoreResult<void> InsertConnector(const TenantScope& scope, const ConnectorRecord& c) = 0;  // "connectors"
  virtual StoreResult<bool> UpdateConnector(const TenantScope& scope, const ConnectorRecord& c) = 0;
  virtual StoreResult<void> InsertRelay(const RelayRecord& relay) = 0;  // kConflict "id", kLimit "relays"
  virtual StoreResult<bool> UpdateRelay(const RelayRecord& relay) = 0;

  // ---- policies, assignments ----
  // kConflict "name", or "default" when another policy is the default (ClearDefaultPolicy first); kLimit
  // "policies" or "policy_toml_bytes".
  virtual StoreResult<void> InsertPolicy(const TenantScope& scope, const PolicyRecord& policy) = 0;
  // Replaces name, default, document and TOML, and sets version = policy.version, if the stored version is
  // policy.version - 1 (the caller's If-Match). False: no such policy or another version.
  virtual StoreResult<bool> UpdatePolicy(const TenantScope& scope, const PolicyRecord& policy) = 0;
  virtual StoreResult<bool> DeletePolicy(const TenantScope& scope, std::string_view id) = 0;
  // Clears the tenant's default flag (setting one policy as default clears the other, §4.9). Returns its id.
  virtual StoreResult<std::optional<std::string>> ClearDefaultPolicy(const TenantScope& scope, int64_t at) = 0;
  // kConflict "target" (the same policy on the same target), "reference" (no such policy); kLimit.
  virtual StoreResult<void> InsertAssignment(const TenantScope& scope, const PolicyAssignmentRecord& a) = 0;
  virtual StoreResult<bool> DeleteAssignment(const TenantScope& scope, std::string_view id) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // A consistent snapshot of the store. kBusy when no reader is free within 5 s.
  virtual StoreResult<std::unique_ptr<ReadTx>> Read() = 0;
  // The one writer. kBusy when another write transaction holds it for more than 5 s.
  virtual StoreResult<std::unique_ptr<WriteTx>> Write() = 0;
  // The highest event id committed so far (0: none ever). [any]
  virtual EventId LastEventId() const = 0;
};

}  // namespace strait::control::store
