// Every SQL statement of the SQLite store, in one table (docs/control-plane.md §5.2), so a test can inspect them
// all: sqlite_store_test asserts that each statement on a tenant table binds `tenant = ?` unless it is marked as
// crossing tenants on purpose. Internal to the store: handlers never see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strait::control::store {

// Who a statement may see.
enum class SqlScope : uint8_t {
  kTenant,      // binds `tenant = ?` (or inserts the tenant column): one tenant's rows only
  kGlobal,      // touches no tenant table (meta, tenants, relays, events, audit, ...), or looks a row up by its
                // globally unique id where the row names its own tenant (API key and activation lookups)
  kAllTenants,  // crosses tenants on purpose: the relay snapshot, and maintenance purges
};

enum class Sql : uint16_t {
  kMetaGet, kMetaPut,
  kTenantGet, kTenantList, kTenantCount, kTenantInsert, kTenantUpdate, kTenantDelete,
  kLicenceGet, kLicencePut,
  kApiKeyGet, kApiKeyListTenant, kApiKeyListOperator, kApiKeyCountTenant, kApiKeyCountOperator, kApiKeyInsert,
  kApiKeyTouch, kApiKeyDeleteTenant, kApiKeyDeleteOperator,
  kAuditInsert, kAuditListTenant, kAuditListAll, kAuditPurge,
  kEventInsert, kEventRead, kEventOldest, kEventPurge, kEventLastId,
  kIdempotencyGet, kIdempotencyInsert, kIdempotencyPurge,
  kCredentialGet, kCredentialNewest, kCredentialMaxSerial, kCredentialInsert, kCredentialTrim,
  kDenialListAll, kDenialListTenant, kDenialGet, kDenialPut, kDenialDelete, kDenialPurge,
  kUserGet, kUserGetByEmail, kUserList, kUserCount, kUserDeviceCount, kUserInsert, kUserUpdate, kUserDelete,
  kGroupGet, kGroupList, kGroupCount, kGroupInsert, kGroupUpdate, kGroupDelete,
  kMemberCount, kMemberList, kMemberGroupsOfUser, kMemberInsert, kMemberDelete,
  kDeviceGet, kDeviceList, kDeviceCount, kDeviceSeats, kDeviceInsert, kDeviceUpdate, kDeviceDelete,
  kActivationGet, kActivationGetTenant, kActivationList, kActivationCountPending, kActivationInsert,
  kActivationRedeem, kActivationFail, kActivationCancel, kActivationExpire, kActivationPurge,
  kConnectorGet, kConnectorList, kConnectorCount, kConnectorInsert, kConnectorUpdate,
  kRelayGet, kRelayList, kRelayCount, kRelayInsert, kRelayUpdate,
  kPolicyGet, kPolicyGetDefault, kPolicyList, kPolicyCount, kPolicyTomlBytes, kPolicyInsert, kPolicyUpdate,
  kPolicyDelete, kPolicyClearDefault,
  kAssignmentGet, kAssignmentList, kAssignmentCount, kAssignmentForUser, kAssignmentInsert, kAssignmentDelete,
  kAssignmentDeleteTarget,
  kCount,  // not a statement
};

struct SqlStatement {
  Sql id;
  SqlScope scope;
  std::string_view sql;
};

// Indexed by Sql: Statements()[i].id == Sql(i).
std::span<const SqlStatement> Statements();
inline const SqlStatement& StatementOf(Sql id) { return Statements()[static_cast<size_t>(id)]; }

// The tables whose primary key starts with `tenant` (§5.2).
std::span<const std::string_view> TenantTables();

}  // namespace strait::control::store
