// What every handler relies on from the store beyond §5.1's contract, for every backend (store_contract_fixture.h):
// conflicts name their field, count bounds, paging and filters, the single-use redeem and the burn, serials,
// denials, the policy version guard, assignments through groups, tenant deletion, and every column read back.
#include "tests/control-plane/store/store_contract_fixture.h"

namespace strait::control::store::contract {
namespace {

// The same fixture, another suite: what handlers rely on beyond the §5.1 contract.
class StoreBehaviour : public StoreContract {};

TEST_P(StoreBehaviour, UniqueViolationsAreConflictsNamingTheField) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
  auto same_email = tx->InsertUser(kAcme, User("u-bbbbbbbbbbbbbbbb", "ann@acme.example"));
  ASSERT_FALSE(same_email.ok());
  EXPECT_EQ(same_email.error().code, StoreErrorCode::kConflict);
  EXPECT_EQ(same_email.error().field, "email");
  auto same_id = tx->InsertUser(kAcme, User(kUserId, "other@acme.example"));
  ASSERT_FALSE(same_id.ok());
  EXPECT_EQ(same_id.error().field, "id");
  auto same_tenant = tx->InsertTenant(Tenant("acme"));
  ASSERT_FALSE(same_tenant.ok());
  EXPECT_EQ(same_tenant.error().field, "id");

  PolicyRecord p{"p-aaaaaaaaaaaaaaaa", "staff", 1, true, "{}", "[app]\n", 1000, 1000};
  ASSERT_TRUE(tx->InsertPolicy(kAcme, p).ok());
  PolicyRecord q{"p-bbbbbbbbbbbbbbbb", "contractors", 1, true, "{}", "[app]\n", 1000, 1000};
  auto second_default = tx->InsertPolicy(kAcme, q);
  ASSERT_FALSE(second_default.ok());
  EXPECT_EQ(second_default.error().field, "default");
  // Clearing the default first lets another take it.
  auto cleared = tx->ClearDefaultPolicy(kAcme, 1001);
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(**cleared, p.id);
  ASSERT_TRUE(tx->InsertPolicy(kAcme, q).ok());
  EXPECT_EQ((*tx->GetDefaultPolicy(kAcme))->id, q.id);

  // A device of a user that does not exist: a reference conflict.
  auto orphan = tx->InsertDevice(kAcme, Device(kDeviceId, "u-nobodynobodynob"));
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().field, "reference");
}

TEST_P(StoreBehaviour, CountBoundsAreLimitErrorsInTheInsertingTransaction) {
  Limits limits;
  limits.api_keys = 2;
  limits.users = 3;
  Open(limits);
  AddTenants({"acme", "globex"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertApiKey(testing::ApiKey("aaaaaaaaaaaa", "acme", ApiKeyRole::kAdmin)).ok());
  ASSERT_TRUE(tx->InsertApiKey(testing::ApiKey("bbbbbbbbbbbb", "acme", ApiKeyRole::kReadOnly)).ok());
  auto third = tx->InsertApiKey(testing::ApiKey("cccccccccccc", "acme", ApiKeyRole::kReadOnly));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, StoreErrorCode::kLimit);
  EXPECT_EQ(third.error().field, "api_keys");
  EXPECT_EQ(third.error().max, 2);
  // The bound is per tenant.
  EXPECT_TRUE(tx->InsertApiKey(testing::ApiKey("dddddddddddd", "globex", ApiKeyRole::kAdmin)).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(tx->InsertUser(kAcme, User("u-" + std::to_string(i), std::to_string(i) + "@a.example")).ok());
  }
  auto fourth = tx->InsertUser(kAcme, User("u-9", "9@a.example"));
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().field, "users");
}

TEST_P(StoreBehaviour, ListsPageByIdAndAuditNewestFirst) {
  AddTenants({"t1", "t2", "t3", "t4", "t5"});
  auto rx = R();
  auto first = rx->ListTenants("", 2);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_TRUE(first->more);
  EXPECT_EQ(first->items[0].id, "t1");
  auto second = rx->ListTenants(first->items.back().id, 2);
  EXPECT_EQ(second->items[0].id, "t3");
  EXPECT_TRUE(second->more);
  auto third = rx->ListTenants(second->items.back().id, 2);
  ASSERT_EQ(third->items.size(), 1u);
  EXPECT_FALSE(third->more);
  rx.reset();

  {
    auto tx = W();
    ASSERT_TRUE(tx->AppendAudit(Audit("t1", "user.create", "user", "u-1", 100)).ok());
    ASSERT_TRUE(tx->AppendAudit(Audit("t1", "device.lock", "device", "d-1", 200)).ok());
    ASSERT_TRUE(tx->AppendAudit(Audit("t1", "device.lock", "device", "d-2", 300)).ok());
    ASSERT_TRUE(tx->AppendAudit(Audit(std::nullopt, "tenant.create", "tenant", "t1", 400)).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  rx = R();
  const TenantScope t1("t1");
  auto all_t1 = rx->ListAudit(t1, {}, std::nullopt, 2);
  ASSERT_EQ(all_t1->items.size(), 2u);
  EXPECT_TRUE(all_t1->more);
  EXPECT_EQ(all_t1->items[0].resource_id, "d-2");  // newest first
  auto rest = rx->ListAudit(t1, {}, all_t1->items.back().id, 2);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].resource_id, "u-1");
  EXPECT_FALSE(rest->more);

  AuditFilter locks;
  locks.action = "device.lock";
  locks.since = 250;
  auto filtered = rx->ListAudit(t1, locks, std::nullopt, 10);
  ASSERT_EQ(filtered->items.size(), 1u);
  EXPECT_EQ(filtered->items[0].resource_id, "d-2");
  AuditFilter by_resource;
  by_resource.resource_type = "device";
  by_resource.resource_id = "d-1";
  by_resource.until = 200;
  EXPECT_EQ(rx->ListAudit(t1, by_resource, std::nullopt, 10)->items.size(), 1u);
  // The operator's list holds every tenant's records and its own.
  auto everything = rx->ListAllAudit({}, std::nullopt, 10);
  ASSERT_EQ(everything->items.size(), 4u);
  EXPECT_FALSE(everything->items[0].tenant.has_value());
}

TEST_P(StoreBehaviour, AnActivationIsRedeemedOnceAndBurnsAfterTenWrongMacs) {
  AddTenants({"acme"});
  ActivationRecord a;
  a.id = "7K3M9X2P";
  a.tenant = "acme";
  a.kind = SubjectRole::kDevice;
  a.target = kUserId;
  a.os = DeviceOs::kAndroid;
  a.mac_key_sealed = Bytes(80, 0x66);
  a.expires_at = 5000;
  a.created_by = "aaaaaaaaaaaa";
  a.created_at = 1000;
  a.updated_at = 1000;
  ActivationRecord b = a;
  b.id = "8K3M9X2P";
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertActivation(a).ok());
    ASSERT_TRUE(tx->InsertActivation(b).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto tx = W();
  EXPECT_FALSE(*tx->RedeemActivation(a.id, kDeviceId, 5000));  // expired at expires_at
  EXPECT_TRUE(*tx->RedeemActivation(a.id, kDeviceId, 4999));
  EXPECT_FALSE(*tx->RedeemActivation(a.id, "d-another", 4999));  // single use
  auto used = *tx->GetActivation(a.id);
  EXPECT_EQ(used->state, ActivationState::kUsed);
  EXPECT_EQ(used->subject, kDeviceId);
  EXPECT_EQ(used->used_at, 4999);
  EXPECT_EQ(used->os, DeviceOs::kAndroid);

  for (int i = 1; i < kActivationMaxFailedAttempts; ++i) {
    EXPECT_EQ(**tx->RecordFailedActivation(b.id, 2000), ActivationState::kPending) << i;
  }
  EXPECT_EQ(**tx->RecordFailedActivation(b.id, 2000), ActivationState::kBurned);
  EXPECT_EQ((*tx->GetActivation(b.id))->failed_attempts, kActivationMaxFailedAttempts);
  EXPECT_FALSE(*tx->RedeemActivation(b.id, kDeviceId, 2000));
  EXPECT_FALSE(tx->RecordFailedActivation("NOSUCHID", 2000)->has_value());
  EXPECT_FALSE(*tx->CancelActivation(kAcme, b.id, 2000));  // only a pending one
  // Another tenant does not see it.
  EXPECT_FALSE(tx->GetTenantActivation(TenantScope("globex"), a.id)->has_value());
  EXPECT_TRUE(tx->GetTenantActivation(kAcme, a.id)->has_value());
}

TEST_P(StoreBehaviour, SerialsAndTheNewestCredentialsOfASubject) {
  AddTenants({"acme"});
  auto tx = W();
  for (int i = 0; i < 3; ++i) {
    auto serial = tx->NextSerial();
    ASSERT_TRUE(serial.ok());
    EXPECT_EQ(*serial, i + 1);
    ASSERT_TRUE(tx->InsertCredential({*serial, SubjectRole::kDevice, "acme", kDeviceId, 0, 100 + i, 0}).ok());
  }
  ASSERT_TRUE(tx->InsertCredential({*tx->NextSerial(), SubjectRole::kRelay, "", "relay-1", 0, 100, 0}).ok());
  auto newest = tx->NewestCredentials(kAcme, SubjectRole::kDevice, kDeviceId, 2);
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].serial, 3);
  EXPECT_EQ((*newest)[1].serial, 2);
  EXPECT_TRUE(tx->NewestCredentials(TenantScope("globex"), SubjectRole::kDevice, kDeviceId, 2)->empty());
  ASSERT_EQ(tx->NewestRelayCredentials("relay-1", 2)->size(), 1u);
  auto duplicate = tx->InsertCredential({3, SubjectRole::kDevice, "acme", kDeviceId, 0, 100, 0});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().field, "serial");
}

// §6.5, §8: a subject keeps its kCredentialsPerSubject newest rows, trimmed in the inserting transaction, however
// many are issued; other subjects' rows and the serial sequence are untouched.
TEST_P(StoreBehaviour, ASubjectKeepsOnlyItsNewestCredentials) {
  AddTenants({"acme", "globex"});
  const std::string other_device = "d-bbbbbbbbbbbbbbbb";
  {
    auto tx = W();
    // Neighbours that share a part of the key: another device of acme, the same id in globex, a relay.
    ASSERT_TRUE(tx->InsertCredential({*tx->NextSerial(), SubjectRole::kDevice, "acme", other_device, 0, 1, 0}).ok());
    ASSERT_TRUE(tx->InsertCredential({*tx->NextSerial(), SubjectRole::kDevice, "globex", kDeviceId, 0, 1, 0}).ok());
    ASSERT_TRUE(tx->InsertCredential({*tx->NextSerial(), SubjectRole::kRelay, "", "relay-1", 0, 1, 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    auto tx = W();
    auto serial = tx->NextSerial();
    ASSERT_TRUE(serial.ok());
    EXPECT_GT(*serial, last);  // never reused, though older rows go
    last = *serial;
    ASSERT_TRUE(tx->InsertCredential({last, SubjectRole::kDevice, "acme", kDeviceId, 0, 100 + i, 0}).ok());
    ASSERT_TRUE(tx->InsertCredential({*tx->NextSerial(), SubjectRole::kRelay, "", "relay-1", 0, 100 + i, 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
    auto kept = R()->NewestCredentials(kAcme, SubjectRole::kDevice, kDeviceId, 100);
    ASSERT_TRUE(kept.ok());
    ASSERT_EQ(kept->size(), std::min<size_t>(i + 1, kCredentialsPerSubject));
    EXPECT_EQ(kept->front().serial, last);
    EXPECT_EQ(R()->NewestRelayCredentials("relay-1", 100)->size(), kCredentialsPerSubject);
  }
  auto r = R();
  EXPECT_FALSE(r->GetCredential(4)->has_value());  // the device's first (serials 1..3 are the neighbours')
  EXPECT_TRUE(r->GetCredential(1)->has_value());
  EXPECT_EQ(r->NewestCredentials(kAcme, SubjectRole::kDevice, other_device, 100)->size(), 1u);
  EXPECT_EQ(r->NewestCredentials(TenantScope("globex"), SubjectRole::kDevice, kDeviceId, 100)->size(), 1u);
  EXPECT_EQ(r->NewestCredentials(kAcme, SubjectRole::kDevice, kDeviceId, 100)->back().not_after, 118);
}

TEST_P(StoreBehaviour, DenialsAreListedForRelaysAndPerTenantAndPurgedAfterUntil) {
  AddTenants({"acme", "globex"});
  {
    auto tx = W();
    ASSERT_TRUE(tx->PutDenial(kAcme, SubjectRole::kDevice, kDeviceId, DenialReason::kLocked, 3000, 1000).ok());
    ASSERT_TRUE(tx->PutDenial(kAcme, SubjectRole::kDevice, kDeviceId, DenialReason::kRevoked, 4000, 1001).ok());
    ASSERT_TRUE(tx->PutDenial(kGlobex, SubjectRole::kConnector, "dc-east", DenialReason::kRevoked, 1500, 1000).ok());
    ASSERT_TRUE(tx->PutRelayDenial("relay-9", DenialReason::kRevoked, 9000, 1000).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto rx = R();
  auto all = rx->ListDenials(std::nullopt, 2);
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_TRUE(all->more);
  EXPECT_EQ(all->items[0].tenant, "");  // the relays' first
  EXPECT_EQ(all->items[1].tenant, "acme");
  EXPECT_EQ(all->items[1].reason, DenialReason::kRevoked);  // replaced, not added
  EXPECT_EQ(all->items[1].until, 4000);
  const auto& last = all->items.back();
  auto rest = rx->ListDenials(DenialKey{last.tenant, last.role, last.subject}, 2);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].subject, "dc-east");
  auto acme = rx->ListTenantDenials(kAcme, std::nullopt, 10);
  ASSERT_EQ(acme->items.size(), 1u);
  rx.reset();
  auto tx = W();
  EXPECT_EQ(*tx->PurgeDenials(2000, 10), 1);  // globex's connector: until 1500
  EXPECT_TRUE(*tx->DeleteDenial(kAcme, SubjectRole::kDevice, kDeviceId));
  EXPECT_FALSE(tx->GetDenial(kAcme, SubjectRole::kDevice, kDeviceId)->has_value());
}

TEST_P(StoreBehaviour, ApiKeyLastUsedIsWrittenAtMostOnceAMinute) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertApiKey(testing::ApiKey("aaaaaaaaaaaa", std::nullopt, ApiKeyRole::kOperator)).ok());
  EXPECT_TRUE(*tx->TouchApiKey("aaaaaaaaaaaa", 1000));
  EXPECT_FALSE(*tx->TouchApiKey("aaaaaaaaaaaa", 1059));
  EXPECT_TRUE(*tx->TouchApiKey("aaaaaaaaaaaa", 1060));
  EXPECT_EQ((*tx->GetApiKey("aaaaaaaaaaaa"))->last_used_at, 1060);
  EXPECT_EQ(*tx->CountOperatorApiKeys(), 1);
  EXPECT_EQ(tx->ListOperatorApiKeys("", 10)->items.size(), 1u);
  EXPECT_FALSE(*tx->DeleteApiKey(kAcme, "aaaaaaaaaaaa"));  // not a tenant's key
  EXPECT_TRUE(*tx->DeleteOperatorApiKey("aaaaaaaaaaaa"));
}

TEST_P(StoreBehaviour, PolicyUpdatesAreGuardedByVersion) {
  AddTenants({"acme"});
  auto tx = W();
  PolicyRecord p{"p-aaaaaaaaaaaaaaaa", "staff", 1, false, "{}", "[app]\n", 1000, 1000};
  ASSERT_TRUE(tx->InsertPolicy(kAcme, p).ok());
  p.version = 3;  // the caller believed version 2
  EXPECT_FALSE(*tx->UpdatePolicy(kAcme, p));
  p.version = 2;
  p.toml = "[app]\n# v2\n";
  EXPECT_TRUE(*tx->UpdatePolicy(kAcme, p));
  auto got = *tx->GetPolicy(kAcme, p.id);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->toml, p.toml);
  EXPECT_FALSE(*tx->UpdatePolicy(TenantScope("globex"), p));
}

TEST_P(StoreBehaviour, AssignmentsReachAUserDirectlyAndThroughItsGroups) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
  ASSERT_TRUE(tx->InsertGroup(kAcme, GroupRecord{"g-aaaaaaaaaaaaaaaa", "staff", "", 1000, 1000}).ok());
  ASSERT_TRUE(tx->InsertGroup(kAcme, GroupRecord{"g-bbbbbbbbbbbbbbbb", "ops", "", 1000, 1000}).ok());
  EXPECT_TRUE(*tx->PutGroupMember(kAcme, "g-aaaaaaaaaaaaaaaa", kUserId, 1000));
  EXPECT_FALSE(*tx->PutGroupMember(kAcme, "g-aaaaaaaaaaaaaaaa", kUserId, 1001));  // already a member
  auto no_user = tx->PutGroupMember(kAcme, "g-aaaaaaaaaaaaaaaa", "u-nobodynobodynob", 1000);
  ASSERT_FALSE(no_user.ok());
  EXPECT_EQ(no_user.error().field, "reference");
  ASSERT_TRUE(tx->InsertPolicy(kAcme, {"p-aaaaaaaaaaaaaaaa", "a", 1, false, "{}", "", 1000, 1000}).ok());
  ASSERT_TRUE(tx->InsertPolicy(kAcme, {"p-bbbbbbbbbbbbbbbb", "b", 1, false, "{}", "", 1000, 1000}).ok());
  using enum TargetKind;
  ASSERT_TRUE(tx->InsertAssignment(kAcme, {"pa-1", "p-aaaaaaaaaaaaaaaa", kUser, kUserId, 5, 1000, 1000}).ok());
  ASSERT_TRUE(
      tx->InsertAssignment(kAcme, {"pa-2", "p-bbbbbbbbbbbbbbbb", kGroup, "g-aaaaaaaaaaaaaaaa", 1, 1000, 1000}).ok());
  ASSERT_TRUE(
      tx->InsertAssignment(kAcme, {"pa-3", "p-bbbbbbbbbbbbbbbb", kGroup, "g-bbbbbbbbbbbbbbbb", 0, 1000, 1000}).ok());
  auto dup = tx->InsertAssignment(kAcme, {"pa-4", "p-aaaaaaaaaaaaaaaa", kUser, kUserId, 7, 1000, 1000});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().field, "target");

  auto mine = tx->ListAssignmentsForUser(kAcme, kUserId);
  ASSERT_EQ(mine->size(), 2u);  // its own and its group's, not the other group's
  EXPECT_EQ((*mine)[0].id, "pa-2");  // by priority
  EXPECT_EQ((*mine)[1].id, "pa-1");
  EXPECT_EQ(*tx->ListUserGroups(kAcme, kUserId), std::vector<std::string>{"g-aaaaaaaaaaaaaaaa"});
  AssignmentFilter by_policy;
  by_policy.policy_id = "p-bbbbbbbbbbbbbbbb";
  EXPECT_EQ(tx->ListAssignments(kAcme, by_policy, "", 10)->items.size(), 2u);

  // Deleting the user takes its memberships and assignments with it.
  EXPECT_TRUE(*tx->DeleteUser(kAcme, kUserId));
  EXPECT_EQ(*tx->CountGroupMembers(kAcme, "g-aaaaaaaaaaaaaaaa"), 0);
  EXPECT_FALSE(tx->GetAssignment(kAcme, "pa-1")->has_value());
  EXPECT_TRUE(tx->GetAssignment(kAcme, "pa-2")->has_value());
}

TEST_P(StoreBehaviour, DeletingATenantRemovesItsRowsButKeepsCredentialsAndDenials) {
  AddTenants({"acme"});
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    ASSERT_TRUE(tx->InsertDevice(kAcme, Device(kDeviceId, kUserId)).ok());
    ASSERT_TRUE(tx->PutLicence(kAcme, {50, std::nullopt, 1000, 1000}).ok());
    ASSERT_TRUE(tx->InsertCredential({1, SubjectRole::kDevice, "acme", kDeviceId, 0, 100, 0}).ok());
    ASSERT_TRUE(tx->PutDenial(kAcme, SubjectRole::kDevice, kDeviceId, DenialReason::kDeleted, 100, 1000).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto tx = W();
  EXPECT_EQ((*tx->GetLicence(kAcme))->seats, 50);
  EXPECT_TRUE(*tx->DeleteTenant(kAcme));
  EXPECT_FALSE(tx->GetUser(kAcme, kUserId)->has_value());
  EXPECT_FALSE(tx->GetDevice(kAcme, kDeviceId)->has_value());
  EXPECT_FALSE(tx->GetLicence(kAcme)->has_value());
  EXPECT_TRUE(tx->GetCredential(1)->has_value());  // serials are never reused
  EXPECT_EQ(*tx->NextSerial(), 2);
  EXPECT_TRUE(tx->GetDenial(kAcme, SubjectRole::kDevice, kDeviceId)->has_value());
}

TEST_P(StoreBehaviour, ATransactionAcceptsNothingAfterCommit) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_FALSE(tx->Commit().ok());
  EXPECT_FALSE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
}

TEST_P(StoreBehaviour, MetaRowsReadBackAsTheRecord) {
  {
    auto tx = W();
    ASSERT_TRUE(tx->PutMeta(kMetaStoreId, "store-1").ok());
    ASSERT_TRUE(tx->PutMeta(kMetaPublicUrl, "https://cp.example:8443").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto meta = *R()->GetMeta();
  EXPECT_EQ(meta.store_id, "store-1");
  EXPECT_EQ(meta.public_url, "https://cp.example:8443");
  EXPECT_FALSE(meta.initialised_at.has_value());  // an init that has not finished
  auto tx = W();
  ASSERT_TRUE(tx->PutMeta(kMetaInitialisedAt, "1700000000").ok());
  EXPECT_EQ(tx->GetMeta()->initialised_at, 1700000000);
}

// Every column reads back as written: records with a distinct value in every field, optionals set and unset.
TEST_P(StoreBehaviour, EveryRecordReadsBackAsWritten) {
  AddTenants({"acme"});
  auto tx = W();
  TenantRecord tenant = Tenant("globex", 1234);
  tenant.state = TenantState::kSuspended;
  ASSERT_TRUE(tx->InsertTenant(tenant).ok());
  EXPECT_EQ(*tx->GetTenant(TenantScope("globex")), tenant);
  tenant.display_name = "Globex 2";
  tenant.tenant_cert = Bytes{9, 8, 7};
  tenant.tenant_cert_not_after = 99;
  tenant.updated_at = 2000;
  EXPECT_TRUE(*tx->UpdateTenant(TenantScope("globex"), tenant));
  EXPECT_EQ(*tx->GetTenant(TenantScope("globex")), tenant);

  LicenceRecord licence{50, 7777, 1000, 1001};
  ASSERT_TRUE(tx->PutLicence(kAcme, licence).ok());
  EXPECT_EQ(*tx->GetLicence(kAcme), licence);
  licence = {60, std::nullopt, 1000, 1002};
  ASSERT_TRUE(tx->PutLicence(kAcme, licence).ok());  // replaces; keeps created_at
  EXPECT_EQ(*tx->GetLicence(kAcme), licence);

  auto key = testing::ApiKey("aaaaaaaaaaaa", "acme", ApiKeyRole::kReadOnly);
  key.last_used_at = 1500;
  ASSERT_TRUE(tx->InsertApiKey(key).ok());
  EXPECT_EQ(*tx->GetApiKey(key.id), key);

  ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example", 1100)).ok());
  EXPECT_EQ(*tx->GetUserByEmail(kAcme, "ann@acme.example"), User(kUserId, "ann@acme.example", 1100));

  DeviceRecord device = Device(kDeviceId, kUserId, DeviceState::kLocked, 1200);
  device.os = DeviceOs::kWindows10;
  device.push_service = PushService::kWns;
  device.push_token = "token-1";
  device.push_updated_at = 1201;
  device.last_renewed_at = 1202;
  ASSERT_TRUE(tx->InsertDevice(kAcme, device).ok());
  EXPECT_EQ(*tx->GetDevice(kAcme, kDeviceId), device);
  device.name = "renamed";
  device.state = DeviceState::kRevoked;
  device.push_token = std::nullopt;
  device.updated_at = 1300;
  EXPECT_TRUE(*tx->UpdateDevice(kAcme, device));
  EXPECT_EQ(*tx->GetDevice(kAcme, kDeviceId), device);
  EXPECT_EQ(*tx->CountUserDevices(kAcme, kUserId), 1);

  GroupRecord group{"g-aaaaaaaaaaaaaaaa", "staff", "all staff", 1000, 1001};
  ASSERT_TRUE(tx->InsertGroup(kAcme, group).ok());
  group.description = "everyone";
  EXPECT_TRUE(*tx->UpdateGroup(kAcme, group));
  EXPECT_EQ(*tx->GetGroup(kAcme, group.id), group);

  ConnectorRecord connector{"dc-east", "DC east", EnrolState::kPending, std::nullopt, std::nullopt, std::nullopt,
                            1000, 1000};
  ASSERT_TRUE(tx->InsertConnector(kAcme, connector).ok());
  EXPECT_EQ(*tx->GetConnector(kAcme, "dc-east"), connector);
  connector.state = EnrolState::kActive;
  connector.signing_public = Bytes(32, 0x07);
  connector.noise_public = Bytes(32, 0x08);
  connector.enrolled_at = 1400;
  EXPECT_TRUE(*tx->UpdateConnector(kAcme, connector));
  EXPECT_EQ(*tx->GetConnector(kAcme, "dc-east"), connector);

  RelayRecord relay{"relay-1", "Relay 1", "relay1.example.com:443", "relay1.example.com:3101",
                    R"(["relay1.example.com"])", "[]", EnrolState::kActive, Bytes(32, 0x09), Bytes(91, 0x0a),
                    5000, 1000, 1001};
  ASSERT_TRUE(tx->InsertRelay(relay).ok());
  EXPECT_EQ(*tx->GetRelay("relay-1"), relay);
  relay.state = EnrolState::kRevoked;
  relay.tls_spki = std::nullopt;
  EXPECT_TRUE(*tx->UpdateRelay(relay));
  EXPECT_EQ(tx->ListRelays("", 10)->items, std::vector<RelayRecord>{relay});

  ActivationRecord activation;
  activation.id = "7K3M9X2P";
  activation.tenant = "acme";
  activation.kind = SubjectRole::kConnector;
  activation.target = "dc-east";
  activation.mac_key_sealed = Bytes(80, 0x0b);
  activation.expires_at = 9000;
  activation.created_by = "aaaaaaaaaaaa";
  activation.created_at = 1000;
  activation.updated_at = 1000;
  ASSERT_TRUE(tx->InsertActivation(activation).ok());
  EXPECT_EQ(*tx->GetActivation(activation.id), activation);
  ActivationRecord relay_activation = activation;
  relay_activation.id = "8K3M9X2P";
  relay_activation.tenant = std::nullopt;
  relay_activation.kind = SubjectRole::kRelay;
  relay_activation.target = "relay-1";
  relay_activation.expires_at = 100;
  ASSERT_TRUE(tx->InsertActivation(relay_activation).ok());
  EXPECT_EQ(*tx->GetActivation(relay_activation.id), relay_activation);
  EXPECT_EQ(*tx->ExpireActivations(200, 10), 1);  // the relay's, past its expiry
  EXPECT_EQ((*tx->GetActivation(relay_activation.id))->state, ActivationState::kExpired);
  ActivationFilter pending;
  pending.state = ActivationState::kPending;
  EXPECT_EQ(tx->ListActivations(kAcme, pending, "", 10)->items, std::vector<ActivationRecord>{activation});
  EXPECT_TRUE(*tx->CancelActivation(kAcme, activation.id, 300));
  EXPECT_EQ((*tx->GetActivation(activation.id))->state, ActivationState::kCancelled);

  PolicyRecord policy{"p-aaaaaaaaaaaaaaaa", "staff", 1, true, R"({"app":{}})", "[app]\n", 1000, 1000};
  ASSERT_TRUE(tx->InsertPolicy(kAcme, policy).ok());
  EXPECT_EQ(*tx->GetPolicy(kAcme, policy.id), policy);
  EXPECT_EQ(tx->ListPolicies(kAcme, "", 10)->items, std::vector<PolicyRecord>{policy});
  PolicyAssignmentRecord assignment{"pa-aaaaaaaaaaaaaaaa", policy.id, TargetKind::kGroup, group.id, 7, 1000, 1000};
  ASSERT_TRUE(tx->InsertAssignment(kAcme, assignment).ok());
  EXPECT_EQ(*tx->GetAssignment(kAcme, assignment.id), assignment);
  EXPECT_TRUE(*tx->DeleteAssignment(kAcme, assignment.id));
  EXPECT_TRUE(*tx->DeletePolicy(kAcme, policy.id));

  AuditRecord audit = Audit("acme", "device.lock", "device", kDeviceId, 1500);
  audit.actor_kind = ActorKind::kConnector;
  audit.detail = R"({"reason":"lost"})";
  audit.id = *tx->AppendAudit(audit);
  EXPECT_EQ(tx->ListAudit(kAcme, {}, std::nullopt, 1)->items, std::vector<AuditRecord>{audit});
  AuditRecord too_long = audit;
  too_long.detail.assign(kMaxAuditDetail + 1, 'x');
  EXPECT_FALSE(tx->AppendAudit(too_long).ok());

  EventRecord event = Event(std::nullopt, "relay.revoked", 1600);
  event.id = *tx->AppendEvent(event);
  EXPECT_EQ(*tx->ReadEvents(event.id - 1, 10), std::vector<EventRecord>{event});
  EXPECT_EQ(*tx->OldestEventId(), event.id);
}

TEST_P(StoreBehaviour, FiltersAndPagesOfTheTenantLists) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertUser(kAcme, User("u-1", "a@acme.example")).ok());
  ASSERT_TRUE(tx->InsertUser(kAcme, User("u-2", "b@acme.example")).ok());
  ASSERT_TRUE(tx->InsertDevice(kAcme, Device("d-1", "u-1")).ok());
  ASSERT_TRUE(tx->InsertDevice(kAcme, Device("d-2", "u-2", DeviceState::kLocked)).ok());
  auto android = Device("d-3", "u-2");
  android.os = DeviceOs::kAndroid;
  ASSERT_TRUE(tx->InsertDevice(kAcme, android).ok());
  DeviceFilter of_u2;
  of_u2.user_id = "u-2";
  auto page = tx->ListDevices(kAcme, of_u2, "", 1);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "d-2");
  EXPECT_TRUE(page->more);
  page = tx->ListDevices(kAcme, of_u2, "d-2", 1);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "d-3");
  EXPECT_FALSE(page->more);
  DeviceFilter locked;
  locked.state = DeviceState::kLocked;
  EXPECT_EQ(tx->ListDevices(kAcme, locked, "", 10)->items.size(), 1u);
  DeviceFilter on_android;
  on_android.os = DeviceOs::kAndroid;
  EXPECT_EQ(tx->ListDevices(kAcme, on_android, "", 10)->items.size(), 1u);
  EXPECT_EQ(*tx->CountSeatsUsed(kAcme), 3);  // active and locked

  ASSERT_TRUE(tx->InsertGroup(kAcme, GroupRecord{"g-1", "staff", "", 1000, 1000}).ok());
  for (const char* u : {"u-2", "u-1"}) ASSERT_TRUE(*tx->PutGroupMember(kAcme, "g-1", u, 1000));
  auto members = tx->ListGroupMembers(kAcme, "g-1", "", 1);
  ASSERT_EQ(members->items.size(), 1u);
  EXPECT_EQ(members->items[0].user_id, "u-1");
  EXPECT_TRUE(members->more);
  members = tx->ListGroupMembers(kAcme, "g-1", "u-1", 5);
  ASSERT_EQ(members->items.size(), 1u);
  EXPECT_FALSE(members->more);
  EXPECT_TRUE(*tx->DeleteGroupMember(kAcme, "g-1", "u-2"));
  EXPECT_FALSE(*tx->DeleteGroupMember(kAcme, "g-1", "u-2"));
  EXPECT_EQ(tx->ListGroups(kAcme, "", 10)->items.size(), 1u);
  EXPECT_TRUE(*tx->DeleteGroup(kAcme, "g-1"));
  EXPECT_EQ(*tx->CountGroupMembers(kAcme, "g-1"), 0);
}

// Two requests with one Idempotency-Key at once (§4.5): the handler's protocol (read the record, else do the work
// and put the record) leaves exactly one change; every other request finds the record and replays it.
TEST_P(StoreBehaviour, OneIdempotencyKeyAtOnceMakesOneChange) {
  AddTenants({"acme"});
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> replayed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto tx = store_->Write();
      ASSERT_TRUE(tx.ok());
      auto existing = (*tx)->GetIdempotency("k3m9x2p4q7ta", "create-ann");
      ASSERT_TRUE(existing.ok());
      if (existing->has_value()) {
        replayed++;
        return;
      }
      const std::string id = "u-" + std::to_string(t);
      ASSERT_TRUE((*tx)->InsertUser(kAcme, User(id, id + "@acme.example")).ok());
      auto put = (*tx)->PutIdempotency({"k3m9x2p4q7ta", "create-ann", Bytes(32, 1), 201, Bytes(40, 2), 1000});
      if (!put.ok()) {
        // A store without one writer lock reports the race here; the handler re-reads and replays.
        EXPECT_EQ(put.error().field, "key");
        replayed++;
        return;
      }
      ASSERT_TRUE((*tx)->Commit().ok());
      created++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(replayed.load(), kThreads - 1);
  EXPECT_EQ(*R()->CountUsers(kAcme), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreBehaviour, ::testing::ValuesIn(kBackends), BackendName);

}  // namespace
}  // namespace strait::control::store::contract
