// The maintenance thread against a served control plane (docs/control-plane.md §1 Threads, §6.5, §7.4): after the
// manual clock moves past every retention, one pass (asked for with RunSoon, never waited for by sleeping an
// interval) expires and purges the activation, purges the idempotency record, the old events except those the hub's
// ring serves, the old audit and the lapsed denial, and reissues the TenantCert; Stop returns at once.
#include "tests/control-plane/api/api_fixture.h"

#include <chrono>
#include <future>
#include <thread>

#include "control-plane/handlers/maintenance.h"

namespace strait::control::testing {
namespace {

constexpr int64_t kDay = 86400;

class MaintenanceTest : public ApiFixture {
 protected:
  void SetUp() override {
    hub_options_.ring_events = 2;
    ApiFixture::SetUp();
    acme_ = MakeTenant("acme");
  }

  void Patch(const char* state) {
    Reply r = Call("PATCH", "/v1/tenants/acme", op_key_, fmt::format(R"({{"state":"{}"}})", state));
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  // Runs one pass on a MaintenanceThread (interval: an hour, so only RunSoon starts it) and returns its report.
  MaintenanceReport OnePass(MaintenanceOptions options) {
    options.interval = std::chrono::hours(1);
    std::promise<MaintenanceReport> done;
    std::atomic<bool> first{true};
    MaintenanceThread thread(&services_, options, [&](const MaintenanceReport& r) {
      if (first.exchange(false)) done.set_value(r);
    });
    thread.Start();
    thread.RunSoon();
    auto f = done.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const auto t0 = std::chrono::steady_clock::now();
    thread.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));  // wakes from its hour at once
    return f.get();
  }

  TenantKeys acme_;
};

TEST_F(MaintenanceTest, APassAfterEveryRetentionPurgesAndReissues) {
  const int64_t t0 = clock_.now;
  std::string user;
  {
    auto tx = store_->Write();
    ASSERT_TRUE(tx.ok());
    store::UserRecord u{"u-aaaaaaaaaaaaaaaa", "ann@acme.example", "Ann", t0, t0};
    ASSERT_TRUE((*tx)->InsertUser(store::TenantScope("acme"), u).ok());
    user = u.id;
    ASSERT_TRUE((*tx)->PutIdempotency({"k3m9x2p4q7ta", "retry-1", store::Bytes(32, 1), 201, store::Bytes(40, 2), t0})
                    .ok());
    ASSERT_TRUE((*tx)->PutDenial(store::TenantScope("acme"), store::SubjectRole::kDevice, "d-aaaaaaaaaaaaaaaa",
                                 store::DenialReason::kRevoked, t0 + kDay, t0)
                    .ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  Reply created = Call("POST", "/v1/tenants/acme/activations", acme_.admin,
                       fmt::format(R"({{"kind":"device","user":"{}"}})", user));
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string activation = Body(created)["id"];
  for (const char* state : {"suspended", "active", "suspended", "active"}) Patch(state);
  const store::EventId last = store_->LastEventId();
  ASSERT_GE(last, 4);
  // The hub reads the new events into its ring (two of them) on its own thread.
  for (int i = 0; i < 500 && hub_->RingFirstId() != last - 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(hub_->RingFirstId(), last - 1);
  int64_t audit_before = 0;
  {
    auto rx = store_->Read();
    audit_before = static_cast<int64_t>((*rx)->ListAllAudit(store::AuditFilter{}, std::nullopt, 500)->items.size());
  }
  ASSERT_GE(audit_before, 2);  // tenant.create, activation.create at least

  clock_.now = t0 + 400 * kDay;
  MaintenanceOptions options;
  options.keep_events = 1;  // the ring (2) is the tighter bound here
  options.batch = 1;        // every kind takes several batches
  const MaintenanceReport r = OnePass(options);
  EXPECT_FALSE(r.error) << *r.error;
  EXPECT_EQ(r.activations_expired, 1);
  EXPECT_EQ(r.activations_purged, 1);
  EXPECT_EQ(r.idempotency_purged, 1);
  EXPECT_EQ(r.events_purged, last - 2);
  EXPECT_EQ(r.audit_purged, audit_before);
  EXPECT_EQ(r.denials_purged, 1);
  EXPECT_EQ(r.tenant_certs_reissued, 1);

  auto rx = store_->Read();
  ASSERT_TRUE(rx.ok());
  EXPECT_FALSE((*rx)->GetActivation(activation)->has_value());
  EXPECT_FALSE((*rx)->GetIdempotency("k3m9x2p4q7ta", "retry-1")->has_value());
  EXPECT_EQ(**(*rx)->OldestEventId(), last - 1);
  EXPECT_EQ((*rx)->ListDenials(std::nullopt, 10)->items.size(), 0u);
  auto audit = (*rx)->ListAllAudit(store::AuditFilter{}, std::nullopt, 10);
  ASSERT_EQ(audit->items.size(), 1u);  // only the reissue is recent
  EXPECT_EQ(audit->items[0].action, "tenant_cert.reissue");
  EXPECT_EQ(audit->items[0].actor_kind, store::ActorKind::kSystem);
  (*rx).reset();  // the unique_ptr inside: the read transaction ends

  // The new TenantCert runs tenant_cert_days from now and is what the API shows.
  Reply tenant = Call("GET", "/v1/tenants/acme", op_key_);
  ASSERT_EQ(tenant.status, 200u);
  auto t = (*store_->Read())->GetTenant(store::TenantScope("acme"));
  EXPECT_EQ((*t)->tenant_cert_not_after, clock_.now + 90 * kDay);

  // A second pass at the same time finds nothing to do.
  const MaintenanceReport again = RunMaintenancePass(services_, options, clock_.now);
  EXPECT_FALSE(again.Changed());
  EXPECT_FALSE(again.error);
}

TEST_F(MaintenanceTest, NothingIsPurgedBeforeItsTime) {
  Patch("suspended");
  Patch("active");
  const store::EventId oldest = **(*store_->Read())->OldestEventId();
  clock_.now += 2 * kDay;  // past no retention but the idempotency one; the TenantCert has 88 of 90 days
  MaintenanceOptions options;
  options.keep_events = 0;
  Services age_only = services_;  // no hub: only the events' age keeps them
  age_only.hub = nullptr;
  const MaintenanceReport r = RunMaintenancePass(age_only, options, clock_.now);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events_purged, 0);
  EXPECT_EQ(r.audit_purged, 0);
  EXPECT_EQ(r.tenant_certs_reissued, 0);
  EXPECT_EQ(**(*store_->Read())->OldestEventId(), oldest);
}

TEST_F(MaintenanceTest, AStopSetBeforeThePassLeavesEverything) {
  Patch("suspended");
  clock_.now += 400 * kDay;
  std::atomic<bool> stop{true};
  const MaintenanceReport r = RunMaintenancePass(services_, MaintenanceOptions{}, clock_.now, &stop);
  EXPECT_FALSE(r.Changed());
}

}  // namespace
}  // namespace strait::control::testing
