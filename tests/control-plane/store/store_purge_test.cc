// The maintenance purges of the store (docs/control-plane.md §1 Threads, §7.4), for every backend
// (store_contract_fixture.h): each removes only what is past its bound, at most `limit` rows per call (oldest
// first where the table has an order), and returns how many it removed, so the maintenance thread can loop in
// short batches until a call returns less than its limit.
#include "tests/control-plane/store/store_contract_fixture.h"

namespace strait::control::store::contract {
namespace {

class StorePurge : public StoreContract {
 protected:
  static ActivationRecord Activation(const std::string& id, ActivationState state, int64_t expires_at) {
    ActivationRecord a;
    a.id = id;
    a.tenant = "acme";
    a.kind = SubjectRole::kConnector;
    a.target = "dc-east";
    a.mac_key_sealed = Bytes(80, 0x0b);
    a.state = state;
    a.expires_at = expires_at;
    a.created_by = "aaaaaaaaaaaa";
    a.created_at = 100;
    a.updated_at = 100;
    return a;
  }
};

TEST_P(StorePurge, AuditGoesOldestFirstInBatchesAndKeepsTheRecent) {
  AddTenants({"acme"});
  auto tx = W();
  for (int64_t at : {100, 200, 300, 400, 5000}) {
    ASSERT_TRUE(tx->AppendAudit(Audit("acme", "user.create", "user", kUserId, at)).ok());
  }
  EXPECT_EQ(*tx->PurgeAuditBefore(1000, 3), 3);
  EXPECT_EQ(*tx->PurgeAuditBefore(1000, 3), 1);
  EXPECT_EQ(*tx->PurgeAuditBefore(1000, 3), 0);
  auto left = tx->ListAudit(kAcme, AuditFilter{}, std::nullopt, 10);
  ASSERT_EQ(left->items.size(), 1u);
  EXPECT_EQ(left->items[0].at, 5000);
}

TEST_P(StorePurge, EventsGoOnlyWhenOldAndAtOrBelowTheGivenId) {
  auto tx = W();
  std::vector<EventId> ids;
  for (int64_t at : {100, 200, 300, 400, 5000}) ids.push_back(*tx->AppendEvent(Event(std::nullopt, "resync", at)));
  // Old enough are the first four, but the caller keeps everything after ids[1] (the hub's ring).
  EXPECT_EQ(*tx->PurgeEventsBefore(1000, ids[1], 1), 1);
  EXPECT_EQ(*tx->OldestEventId(), ids[1]);  // oldest first
  EXPECT_EQ(*tx->PurgeEventsBefore(1000, ids[1], 10), 1);
  EXPECT_EQ(*tx->PurgeEventsBefore(1000, ids[1], 10), 0);
  EXPECT_EQ(*tx->OldestEventId(), ids[2]);
  // Without the id bound, age alone decides: the recent one stays.
  EXPECT_EQ(*tx->PurgeEventsBefore(1000, ids[4], 10), 2);
  EXPECT_EQ(*tx->OldestEventId(), ids[4]);
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(store_->LastEventId(), ids[4]);  // a purge never moves the last id
}

TEST_P(StorePurge, IdempotencyRecordsGoPastTheirCreation) {
  auto tx = W();
  for (int i = 0; i < 5; ++i) {
    IdempotencyRecord r{"k3m9x2p4q7ta", "key-" + std::to_string(i), Bytes(32, 1), 201, Bytes(40, 2), 100 + i};
    ASSERT_TRUE(tx->PutIdempotency(r).ok());
  }
  IdempotencyRecord fresh{"k3m9x2p4q7ta", "fresh", Bytes(32, 1), 201, Bytes(40, 2), 9000};
  ASSERT_TRUE(tx->PutIdempotency(fresh).ok());
  EXPECT_EQ(*tx->PurgeIdempotencyBefore(1000, 2), 2);
  EXPECT_FALSE(tx->GetIdempotency("k3m9x2p4q7ta", "key-0")->has_value());  // oldest first
  EXPECT_TRUE(tx->GetIdempotency("k3m9x2p4q7ta", "key-2")->has_value());
  EXPECT_EQ(*tx->PurgeIdempotencyBefore(1000, 10), 3);
  EXPECT_EQ(*tx->PurgeIdempotencyBefore(1000, 10), 0);
  EXPECT_EQ(*tx->GetIdempotency("k3m9x2p4q7ta", "fresh"), fresh);
}

TEST_P(StorePurge, DenialsGoAfterTheirUntilAcrossTenantsAndRelays) {
  AddTenants({"acme", "globex"});
  auto tx = W();
  ASSERT_TRUE(tx->PutDenial(kAcme, SubjectRole::kDevice, kDeviceId, DenialReason::kRevoked, 1500, 1000).ok());
  ASSERT_TRUE(tx->PutDenial(kGlobex, SubjectRole::kConnector, "dc-east", DenialReason::kRevoked, 1200, 1000).ok());
  ASSERT_TRUE(tx->PutRelayDenial("relay-9", DenialReason::kRevoked, 1100, 1000).ok());
  ASSERT_TRUE(tx->PutDenial(kAcme, SubjectRole::kDevice, "d-bbbbbbbbbbbbbbbb", DenialReason::kLocked, 9000, 1000).ok());
  EXPECT_EQ(*tx->PurgeDenials(2000, 2), 2);
  EXPECT_FALSE(tx->GetDenial(kGlobex, SubjectRole::kConnector, "dc-east")->has_value());  // earliest until first
  EXPECT_TRUE(tx->GetDenial(kAcme, SubjectRole::kDevice, kDeviceId)->has_value());
  EXPECT_EQ(*tx->PurgeDenials(2000, 2), 1);
  EXPECT_EQ(*tx->PurgeDenials(2000, 2), 0);
  auto left = tx->ListDenials(std::nullopt, 10);
  ASSERT_EQ(left->items.size(), 1u);
  EXPECT_EQ(left->items[0].until, 9000);
}

TEST_P(StorePurge, ActivationsExpireInBatchesAndOnlyDeadOnesArePurged) {
  AddTenants({"acme"});
  auto tx = W();
  ASSERT_TRUE(tx->InsertActivation(Activation("AAAAAAA1", ActivationState::kPending, 100)).ok());
  ASSERT_TRUE(tx->InsertActivation(Activation("AAAAAAA2", ActivationState::kPending, 200)).ok());
  ASSERT_TRUE(tx->InsertActivation(Activation("AAAAAAA3", ActivationState::kPending, 9000)).ok());
  ASSERT_TRUE(tx->InsertActivation(Activation("AAAAAAA4", ActivationState::kPending, 150)).ok());
  ASSERT_TRUE(*tx->RedeemActivation("AAAAAAA4", kDeviceId, 120));  // used: kept for its device
  ASSERT_TRUE(*tx->CancelActivation(kAcme, "AAAAAAA3", 130));     // cancelled, but expires late
  EXPECT_EQ(*tx->ExpireActivations(1000, 1), 1);
  EXPECT_EQ(*tx->ExpireActivations(1000, 1), 1);
  EXPECT_EQ(*tx->ExpireActivations(1000, 1), 0);  // the used and cancelled ones are not pending
  EXPECT_EQ((*tx->GetActivation("AAAAAAA2"))->state, ActivationState::kExpired);

  EXPECT_EQ(*tx->PurgeActivationsBefore(150, 10), 1);  // only AAAAAAA1 expired before 150
  EXPECT_FALSE(tx->GetActivation("AAAAAAA1")->has_value());
  EXPECT_EQ(*tx->PurgeActivationsBefore(10'000, 10), 2);  // AAAAAAA2, and the cancelled AAAAAAA3
  EXPECT_EQ(*tx->PurgeActivationsBefore(10'000, 10), 0);
  EXPECT_EQ((*tx->GetActivation("AAAAAAA4"))->state, ActivationState::kUsed);
}

INSTANTIATE_TEST_SUITE_P(Backends, StorePurge, ::testing::ValuesIn(kBackends), BackendName);

}  // namespace
}  // namespace strait::control::store::contract
