// The store contract of docs/control-plane.md §5.1, written against store.h only and parameterised by backend
// (store_contract_fixture.h): tenant isolation, event ids in commit order, idempotency records atomic with their
// change, durability across a reopen, no lost concurrent writes, snapshots that hold.
#include "tests/control-plane/store/store_contract_fixture.h"

namespace strait::control::store::contract {
namespace {

TEST_P(StoreContract, TwoTenantsWithTheSameIdsSeeOnlyTheirOwnRows) {
  AddTenants({"acme", "globex"});
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    ASSERT_TRUE(tx->InsertUser(kGlobex, User(kUserId, "bob@globex.example")).ok());
    ASSERT_TRUE(tx->InsertDevice(kAcme, Device(kDeviceId, kUserId)).ok());
    auto globex_device = Device(kDeviceId, kUserId, DeviceState::kRevoked);
    globex_device.name = "globex phone";
    ASSERT_TRUE(tx->InsertDevice(kGlobex, globex_device).ok());
    ASSERT_TRUE(tx->InsertApiKey(testing::ApiKey("aaaaaaaaaaaa", "acme", ApiKeyRole::kAdmin)).ok());
    ASSERT_TRUE(tx->InsertApiKey(testing::ApiKey("bbbbbbbbbbbb", "globex", ApiKeyRole::kAdmin)).ok());
    ASSERT_TRUE(tx->AppendAudit(Audit("acme", "user.create", "user", kUserId, 1000)).ok());
    ASSERT_TRUE(tx->AppendAudit(Audit("globex", "user.create", "user", kUserId, 1000)).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto rx = R();
  EXPECT_EQ((*rx->GetUser(kAcme, kUserId))->email, "ann@acme.example");
  EXPECT_EQ((*rx->GetUser(kGlobex, kUserId))->email, "bob@globex.example");
  EXPECT_FALSE(rx->GetUserByEmail(kGlobex, "ann@acme.example")->has_value());
  auto acme_users = rx->ListUsers(kAcme, "", 50);
  ASSERT_EQ(acme_users->items.size(), 1u);
  EXPECT_EQ(acme_users->items[0].email, "ann@acme.example");
  EXPECT_EQ((*rx->GetDevice(kGlobex, kDeviceId))->name, "globex phone");
  EXPECT_EQ(*rx->CountSeatsUsed(kAcme), 1);
  EXPECT_EQ(*rx->CountSeatsUsed(kGlobex), 0);  // its device is revoked
  auto keys = rx->ListApiKeys(kGlobex, "", 50);
  ASSERT_EQ(keys->items.size(), 1u);
  EXPECT_EQ(keys->items[0].id, "bbbbbbbbbbbb");
  auto audit = rx->ListAudit(kGlobex, {}, std::nullopt, 50);
  ASSERT_EQ(audit->items.size(), 1u);
  EXPECT_EQ(audit->items[0].tenant, "globex");
  rx.reset();

  // Changes under one tenant's scope do not reach the other's rows with the same ids.
  {
    auto tx = W();
    auto u = User(kUserId, "ann2@acme.example");
    EXPECT_TRUE(*tx->UpdateUser(kAcme, u));
    EXPECT_FALSE(*tx->DeleteApiKey(kGlobex, "aaaaaaaaaaaa"));  // acme's key, asked for under globex
    EXPECT_TRUE(*tx->DeleteDevice(kGlobex, kDeviceId));
    ASSERT_TRUE(tx->Commit().ok());
  }
  rx = R();
  EXPECT_EQ((*rx->GetUser(kGlobex, kUserId))->email, "bob@globex.example");
  EXPECT_TRUE(rx->GetDevice(kAcme, kDeviceId)->has_value());
  EXPECT_FALSE(rx->GetDevice(kGlobex, kDeviceId)->has_value());
  EXPECT_TRUE(rx->GetApiKey("aaaaaaaaaaaa")->has_value());
}

TEST_P(StoreContract, EventIdsIncreaseInCommitOrderUnderConcurrentWriters) {
  AddTenants({"acme"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<bool> writing{true};
  std::atomic<int> reader_violations{0};
  std::atomic<int> last_event_violations{0};

  // A reader that follows the stream as a subscriber would, asking only for ids above the last it saw. If an id
  // could commit after a higher one became visible, this reader would skip it for good: it must see every id.
  std::atomic<size_t> reader_seen{0};
  auto follow = [&](EventId& seen, size_t& count) {
    auto rx = store_->Read();
    if (!rx) return;
    auto events = (*rx)->ReadEvents(seen, 256);
    if (!events) return;
    for (const auto& e : *events) {
      if (e.id <= seen) reader_violations++;
      seen = e.id;
      ++count;
    }
  };
  std::thread reader([&] {
    EventId seen = 0;
    size_t count = 0;
    while (writing.load()) follow(seen, count);
    for (size_t before = count + 1; before != count;) {  // drain what committed after the last poll
      before = count;
      follow(seen, count);
    }
    reader_seen = count;
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      EventId previous_last = 0;
      for (int i = 0; i < kPerThread; ++i) {
        auto tx = store_->Write();
        ASSERT_TRUE(tx.ok());
        auto first = (*tx)->AppendEvent(Event("acme", "device.revoked"));
        auto second = (*tx)->AppendEvent(Event(std::nullopt, "relay.revoked"));
        ASSERT_TRUE(first.ok() && second.ok());
        EXPECT_LT(*first, *second);
        ASSERT_TRUE((*tx)->Commit().ok());
        // Once committed, LastEventId has reached this transaction's last id and never goes back.
        const EventId last = store_->LastEventId();
        if (last < *second || last < previous_last) last_event_violations++;
        previous_last = last;
      }
    });
  }
  for (auto& w : writers) w.join();
  writing = false;
  reader.join();

  EXPECT_EQ(reader_violations.load(), 0);
  EXPECT_EQ(reader_seen.load(), static_cast<size_t>(kThreads * kPerThread * 2));
  EXPECT_EQ(last_event_violations.load(), 0);
  auto rx = R();
  std::vector<EventId> ids;
  EventId after = 0;
  for (;;) {
    auto page = rx->ReadEvents(after, 100);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const auto& e : *page) ids.push_back(e.id);
    after = page->back().id;
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread * 2));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<EventId>(ids.begin(), ids.end()).size(), ids.size());
  EXPECT_EQ(store_->LastEventId(), ids.back());
}

TEST_P(StoreContract, IdempotencyRecordCommitsOrRollsBackWithItsChange) {
  AddTenants({"acme"});
  IdempotencyRecord rec{"k3m9x2p4q7ta", "retry-1", Bytes(32, 0x44), 201, Bytes(60, 0x55), 1000};
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    ASSERT_TRUE(tx->PutIdempotency(rec).ok());
    // Inside the transaction both are visible to it ...
    EXPECT_TRUE(tx->GetIdempotency(rec.scope, rec.key)->has_value());
  }  // ... and destroyed without Commit, neither remains.
  {
    auto rx = R();
    EXPECT_FALSE(rx->GetUser(kAcme, kUserId)->has_value());
    EXPECT_FALSE(rx->GetIdempotency(rec.scope, rec.key)->has_value());
  }
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    ASSERT_TRUE(tx->PutIdempotency(rec).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  auto rx = R();
  EXPECT_TRUE(rx->GetUser(kAcme, kUserId)->has_value());
  auto got = rx->GetIdempotency(rec.scope, rec.key);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->status, 201);
  EXPECT_EQ((*got)->fingerprint, rec.fingerprint);
  EXPECT_EQ((*got)->response_sealed, rec.response_sealed);
  rx.reset();
  // A second request with the key: a conflict on "key" (the caller replays the stored answer).
  auto tx = W();
  auto again = tx->PutIdempotency(rec);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, StoreErrorCode::kConflict);
  EXPECT_EQ(again.error().field, "key");
  // Another principal's scope with the same key is a different record.
  rec.scope = "other-scope";
  EXPECT_TRUE(tx->PutIdempotency(rec).ok());
}

TEST_P(StoreContract, ACommittedWriteSurvivesClosingAndReopening) {
  AddTenants({"acme"});
  EventId id = 0;
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    id = *tx->AppendEvent(Event("acme", "device.revoked"));
    ASSERT_TRUE(tx->Commit().ok());
  }
  Open();
  EXPECT_EQ(store_->LastEventId(), id);
  auto rx = R();
  EXPECT_TRUE(rx->GetUser(kAcme, kUserId)->has_value());
  EXPECT_TRUE(rx->GetTenant(kAcme)->has_value());
  auto events = rx->ReadEvents(0, 10);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, id);
  rx.reset();
  // Ids keep increasing after the reopen, also once every event was purged.
  auto tx = W();
  EXPECT_EQ(*tx->PurgeEventsBefore(2000, id, 10), 1);
  EXPECT_GT(*tx->AppendEvent(Event("acme", "device.revoked")), id);
  ASSERT_TRUE(tx->Commit().ok());
}

TEST_P(StoreContract, ConcurrentWritersLoseNothing) {
  AddTenants({"acme"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto tx = store_->Write();
        if (!tx) {
          failures++;
          continue;
        }
        const std::string id = "u-" + std::to_string(t) + "-" + std::to_string(i);
        if (!(*tx)->InsertUser(kAcme, User(id, id + "@acme.example")).ok() ||
            !(*tx)->AppendAudit(Audit("acme", "user.create", "user", id, 1000)).ok() || !(*tx)->Commit().ok()) {
          failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  auto rx = R();
  EXPECT_EQ(*rx->CountUsers(kAcme), kThreads * kPerThread);
  std::set<std::string> ids;
  std::string after;
  for (;;) {
    auto page = rx->ListUsers(kAcme, after, 500);
    ASSERT_TRUE(page.ok());
    for (const auto& u : page->items) ids.insert(u.id);
    if (!page->more) break;
    after = page->items.back().id;
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<AuditId> audit_ids;
  std::optional<AuditId> before;
  for (;;) {
    auto page = rx->ListAudit(kAcme, {}, before, 500);
    ASSERT_TRUE(page.ok());
    for (const auto& a : page->items) audit_ids.insert(a.id);
    if (!page->more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(audit_ids.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_P(StoreContract, AReadTransactionKeepsItsSnapshot) {
  AddTenants({"acme"});
  auto rx = R();
  EXPECT_EQ(*rx->CountUsers(kAcme), 0);
  {
    auto tx = W();
    ASSERT_TRUE(tx->InsertUser(kAcme, User(kUserId, "ann@acme.example")).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(*rx->CountUsers(kAcme), 0);
  EXPECT_EQ(*R()->CountUsers(kAcme), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(kBackends), BackendName);

}  // namespace
}  // namespace strait::control::store::contract
