// The SQLite store's transactions. SqliteReads<ReadTx> is a read transaction on a pooled reader connection;
// SqliteWriteTx (SqliteReads<WriteTx> plus the writes) holds the writer connection and the writer mutex. The read
// methods are written once, for both (sqlite_reads.cc instantiates the template twice). Internal to the store.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control-plane/store/sqlite_db.h"
#include "control-plane/store/store.h"

namespace strait::control::store {

class SqliteStore;

template <class Iface>
class SqliteReads : public Iface {
 public:
  StoreResult<MetaRecord> GetMeta() override;
  StoreResult<std::optional<TenantRecord>> GetTenant(const TenantScope& scope) override;
  StoreResult<Page<TenantRecord>> ListTenants(std::string_view after, size_t limit) override;
  StoreResult<int64_t> CountTenants() override;
  StoreResult<std::optional<LicenceRecord>> GetLicence(const TenantScope& scope) override;
  StoreResult<std::optional<ApiKeyRecord>> GetApiKey(std::string_view id) override;
  StoreResult<Page<ApiKeyRecord>> ListApiKeys(const TenantScope& scope, std::string_view after,
                                              size_t limit) override;
  StoreResult<Page<ApiKeyRecord>> ListOperatorApiKeys(std::string_view after, size_t limit) override;
  StoreResult<int64_t> CountApiKeys(const TenantScope& scope) override;
  StoreResult<int64_t> CountOperatorApiKeys() override;
  StoreResult<Page<AuditRecord>> ListAudit(const TenantScope& scope, const AuditFilter& filter,
                                           std::optional<AuditId> before, size_t limit) override;
  StoreResult<Page<AuditRecord>> ListAllAudit(const AuditFilter& filter, std::optional<AuditId> before,
                                              size_t limit) override;
  StoreResult<std::vector<EventRecord>> ReadEvents(EventId after, size_t limit) override;
  StoreResult<std::optional<EventId>> OldestEventId() override;
  StoreResult<std::optional<IdempotencyRecord>> GetIdempotency(std::string_view scope,
                                                               std::string_view key) override;
  StoreResult<std::optional<CredentialRecord>> GetCredential(int64_t serial) override;
  StoreResult<std::vector<CredentialRecord>> NewestCredentials(const TenantScope& scope, SubjectRole role,
                                                               std::string_view subject, size_t n) override;
  StoreResult<std::vector<CredentialRecord>> NewestRelayCredentials(std::string_view relay, size_t n) override;
  StoreResult<Page<DenialRecord>> ListDenials(const std::optional<DenialKey>& after, size_t limit) override;
  StoreResult<Page<DenialRecord>> ListTenantDenials(const TenantScope& scope, const std::optional<DenialKey>& after,
                                                    size_t limit) override;
  StoreResult<std::optional<DenialRecord>> GetDenial(const TenantScope& scope, SubjectRole role,
                                                     std::string_view subject) override;
  StoreResult<std::optional<UserRecord>> GetUser(const TenantScope& scope, std::string_view id) override;
  StoreResult<std::optional<UserRecord>> GetUserByEmail(const TenantScope& scope, std::string_view email) override;
  StoreResult<Page<UserRecord>> ListUsers(const TenantScope& scope, std::string_view after, size_t limit) override;
  StoreResult<int64_t> CountUsers(const TenantScope& scope) override;
  StoreResult<int64_t> CountUserDevices(const TenantScope& scope, std::string_view user) override;
  StoreResult<std::optional<GroupRecord>> GetGroup(const TenantScope& scope, std::string_view id) override;
  StoreResult<Page<GroupRecord>> ListGroups(const TenantScope& scope, std::string_view after,
                                            size_t limit) override;
  StoreResult<int64_t> CountGroupMembers(const TenantScope& scope, std::string_view group) override;
  StoreResult<Page<GroupMemberRecord>> ListGroupMembers(const TenantScope& scope, std::string_view group,
                                                        std::string_view after, size_t limit) override;
  StoreResult<std::vector<std::string>> ListUserGroups(const TenantScope& scope, std::string_view user) override;
  StoreResult<std::optional<DeviceRecord>> GetDevice(const TenantScope& scope, std::string_view id) override;
  StoreResult<Page<DeviceRecord>> ListDevices(const TenantScope& scope, const DeviceFilter& filter,
                                              std::string_view after, size_t limit) override;
  StoreResult<int64_t> CountSeatsUsed(const TenantScope& scope) override;
  StoreResult<std::optional<ActivationRecord>> GetActivation(std::string_view id) override;
  StoreResult<std::optional<ActivationRecord>> GetTenantActivation(const TenantScope& scope,
                                                                   std::string_view id) override;
  StoreResult<Page<ActivationRecord>> ListActivations(const TenantScope& scope, const ActivationFilter& filter,
                                                      std::string_view after, size_t limit) override;
  StoreResult<std::optional<ConnectorRecord>> GetConnector(const TenantScope& scope, std::string_view id) override;
  StoreResult<Page<ConnectorRecord>> ListConnectors(const TenantScope& scope, std::string_view after,
                                                    size_t limit) override;
  StoreResult<std::optional<RelayRecord>> GetRelay(std::string_view id) override;
  StoreResult<Page<RelayRecord>> ListRelays(std::string_view after, size_t limit) override;
  StoreResult<std::optional<PolicyRecord>> GetPolicy(const TenantScope& scope, std::string_view id) override;
  StoreResult<std::optional<PolicyRecord>> GetDefaultPolicy(const TenantScope& scope) override;
  StoreResult<Page<PolicyRecord>> ListPolicies(const TenantScope& scope, std::string_view after,
                                               size_t limit) override;
  StoreResult<std::optional<PolicyAssignmentRecord>> GetAssignment(const TenantScope& scope,
                                                                   std::string_view id) override;
  StoreResult<Page<PolicyAssignmentRecord>> ListAssignments(const TenantScope& scope,
                                                            const AssignmentFilter& filter, std::string_view after,
                                                            size_t limit) override;
  StoreResult<std::vector<PolicyAssignmentRecord>> ListAssignmentsForUser(const TenantScope& scope,
                                                                         std::string_view user) override;

 protected:
  explicit SqliteReads(Connection& conn) : conn_(conn) {}

  // Prepares `id` and binds `args` to ?1..?N. Fails once the transaction has finished.
  template <class... A>
  StoreResult<Query> Prepare(Sql id, const A&... args) {
    if (finished_) return Fail(StoreError{StoreErrorCode::kIo, "", 0, "the transaction has finished"});
    auto stmt = conn_.Prepared(id);
    if (!stmt) return Fail(stmt.error());
    Query q(conn_, *stmt);
    q.Bind(args...);
    return q;
  }
  // The first row through `read`, or nullopt.
  template <class T, class... A>
  StoreResult<std::optional<T>> QueryOne(T (*read)(Query&), Sql id, const A&... args) {
    auto q = Prepare(id, args...);
    if (!q) return Fail(q.error());
    auto row = q->Step();
    if (!row) return Fail(row.error());
    if (!*row) return std::optional<T>();
    T v = read(*q);
    if (q->corrupt()) return Fail(Corrupt(id));
    return std::optional<T>(std::move(v));
  }
  // Every row through `read`.
  template <class T, class... A>
  StoreResult<std::vector<T>> QueryAll(T (*read)(Query&), Sql id, const A&... args) {
    auto q = Prepare(id, args...);
    if (!q) return Fail(q.error());
    std::vector<T> out;
    for (;;) {
      auto row = q->Step();
      if (!row) return Fail(row.error());
      if (!*row) break;
      out.push_back(read(*q));
    }
    if (q->corrupt()) return Fail(Corrupt(id));
    return out;
  }
  // A page: the statement's last parameter is the LIMIT, bound here as limit + 1 to learn whether more follow.
  template <class T, class... A>
  StoreResult<Page<T>> QueryPage(T (*read)(Query&), size_t limit, Sql id, const A&... args) {
    auto rows = QueryAll(read, id, args..., static_cast<int64_t>(limit) + 1);
    if (!rows) return Fail(rows.error());
    Page<T> page;
    page.items = std::move(*rows);
    if (page.items.size() > limit) {
      page.items.resize(limit);
      page.more = true;
    }
    return page;
  }
  // The first column of the first row as an integer (count(*), max(...)); 0 without a row.
  template <class... A>
  StoreResult<int64_t> QueryInt(Sql id, const A&... args) {
    auto q = Prepare(id, args...);
    if (!q) return Fail(q.error());
    auto row = q->Step();
    if (!row) return Fail(row.error());
    return *row ? q->Int(0) : 0;
  }
  // Runs a statement to its end; returns the rows it changed.
  template <class... A>
  StoreResult<int64_t> Execute(Sql id, const A&... args) {
    auto q = Prepare(id, args...);
    if (!q) return Fail(q.error());
    return q->Run();
  }
  static StoreError Corrupt(Sql id) {
    return StoreError{StoreErrorCode::kCorrupt, "", 0,
                      "a row holds a value this strait-control does not know (statement " +
                          std::to_string(static_cast<int>(id)) + ")"};
  }

  Connection& conn_;
  bool finished_ = false;  // Commit() ran (or the read transaction ended): no further calls
};

// A read transaction: one WAL snapshot on a pooled reader, returned to the pool on destruction.
class SqliteReadTx final : public SqliteReads<ReadTx> {
 public:
  SqliteReadTx(SqliteStore& store, Connection& conn) : SqliteReads(conn), store_(store) {}
  ~SqliteReadTx() override;

 private:
  SqliteStore& store_;
};

class SqliteWriteTx final : public SqliteReads<WriteTx> {
 public:
  SqliteWriteTx(SqliteStore& store, Connection& conn, std::unique_lock<std::timed_mutex> lock, const Limits& limits)
      : SqliteReads(conn), store_(store), lock_(std::move(lock)), limits_(limits) {}
  ~SqliteWriteTx() override;

  StoreResult<void> Commit() override;
  StoreResult<void> PutMeta(std::string_view key, std::string_view value) override;
  StoreResult<void> InsertTenant(const TenantRecord& tenant) override;
  StoreResult<bool> UpdateTenant(const TenantScope& scope, const TenantRecord& tenant) override;
  StoreResult<bool> DeleteTenant(const TenantScope& scope) override;
  StoreResult<void> PutLicence(const TenantScope& scope, const LicenceRecord& licence) override;
  StoreResult<void> InsertApiKey(const ApiKeyRecord& key) override;
  StoreResult<bool> TouchApiKey(std::string_view id, int64_t at) override;
  StoreResult<bool> DeleteApiKey(const TenantScope& scope, std::string_view id) override;
  StoreResult<bool> DeleteOperatorApiKey(std::string_view id) override;
  StoreResult<AuditId> AppendAudit(const AuditRecord& record) override;
  StoreResult<int64_t> PurgeAuditBefore(int64_t at, size_t limit) override;
  StoreResult<EventId> AppendEvent(const EventRecord& record) override;
  StoreResult<int64_t> PurgeEventsBefore(int64_t at, EventId up_to, size_t limit) override;
  StoreResult<void> PutIdempotency(const IdempotencyRecord& record) override;
  StoreResult<int64_t> PurgeIdempotencyBefore(int64_t at, size_t limit) override;
  StoreResult<int64_t> NextSerial() override;
  StoreResult<void> InsertCredential(const CredentialRecord& record) override;
  StoreResult<void> PutDenial(const TenantScope& scope, SubjectRole role, std::string_view subject,
                              DenialReason reason, int64_t until, int64_t now) override;
  StoreResult<void> PutRelayDenial(std::string_view relay, DenialReason reason, int64_t until,
                                   int64_t now) override;
  StoreResult<bool> DeleteDenial(const TenantScope& scope, SubjectRole role, std::string_view subject) override;
  StoreResult<int64_t> PurgeDenials(int64_t now, size_t limit) override;
  StoreResult<void> InsertUser(const TenantScope& scope, const UserRecord& user) override;
  StoreResult<bool> UpdateUser(const TenantScope& scope, const UserRecord& user) override;
  StoreResult<bool> DeleteUser(const TenantScope& scope, std::string_view id) override;
  StoreResult<void> InsertGroup(const TenantScope& scope, const GroupRecord& group) override;
  StoreResult<bool> UpdateGroup(const TenantScope& scope, const GroupRecord& group) override;
  StoreResult<bool> DeleteGroup(const TenantScope& scope, std::string_view id) override;
  StoreResult<bool> PutGroupMember(const TenantScope& scope, std::string_view group, std::string_view user,
                                   int64_t at) override;
  StoreResult<bool> DeleteGroupMember(const TenantScope& scope, std::string_view group,
                                      std::string_view user) override;
  StoreResult<void> InsertDevice(const TenantScope& scope, const DeviceRecord& device) override;
  StoreResult<bool> UpdateDevice(const TenantScope& scope, const DeviceRecord& device) override;
  StoreResult<bool> DeleteDevice(const TenantScope& scope, std::string_view id) override;
  StoreResult<void> InsertActivation(const ActivationRecord& activation) override;
  StoreResult<bool> RedeemActivation(std::string_view id, std::string_view subject, int64_t at) override;
  StoreResult<std::optional<ActivationState>> RecordFailedActivation(std::string_view id, int64_t at) override;
  StoreResult<bool> CancelActivation(const TenantScope& scope, std::string_view id, int64_t at) override;
  StoreResult<int64_t> ExpireActivations(int64_t now, size_t limit) override;
  StoreResult<int64_t> PurgeActivationsBefore(int64_t before, size_t limit) override;
  StoreResult<void> InsertConnector(const TenantScope& scope, const ConnectorRecord& c) override;
  StoreResult<bool> UpdateConnector(const TenantScope& scope, const ConnectorRecord& c) override;
  StoreResult<void> InsertRelay(const RelayRecord& relay) override;
  StoreResult<bool> UpdateRelay(const RelayRecord& relay) override;
  StoreResult<void> InsertPolicy(const TenantScope& scope, const PolicyRecord& policy) override;
  StoreResult<bool> UpdatePolicy(const TenantScope& scope, const PolicyRecord& policy) override;
  StoreResult<bool> DeletePolicy(const TenantScope& scope, std::string_view id) override;
  StoreResult<std::optional<std::string>> ClearDefaultPolicy(const TenantScope& scope, int64_t at) override;
  StoreResult<void> InsertAssignment(const TenantScope& scope, const PolicyAssignmentRecord& a) override;
  StoreResult<bool> DeleteAssignment(const TenantScope& scope, std::string_view id) override;

 private:
  // kLimit{name, max} when `count` (already counted) has reached `max`.
  static StoreResult<void> Below(const StoreResult<int64_t>& count, std::string_view name, int64_t max);

  SqliteStore& store_;
  std::unique_lock<std::timed_mutex> lock_;  // the writer mutex, held for the transaction's life
  const Limits& limits_;
  EventId last_event_ = 0;  // the highest id this transaction appended (0: none)
};

}  // namespace strait::control::store
