// Snapshots and event streams over the real server (docs/control-plane.md §7): snapshot then follow, resume from an
// id, heartbeats, 410 after retention, the filter per subscriber, and the stream bounds.
#include "tests/control-plane/api/api_fixture.h"

#include <chrono>

namespace strait::control::testing {
namespace {

class EventsStreamTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    t1_ = MakeTenant("t1");
    t2_ = MakeTenant("t2");
    auto tx = store_->Write();
    ASSERT_TRUE(tx.ok());
    store::RelayRecord relay;
    relay.id = "relay-1";
    relay.display_name = "Relay 1";
    relay.device_endpoint = "relay1.example.com:443";
    relay.connector_endpoint = "relay1.example.com:3101";
    relay.tls_names = R"(["relay1.example.com"])";
    relay.tls_ips = "[]";
    relay.state = store::EnrolState::kActive;
    ASSERT_TRUE((*tx)->InsertRelay(relay).ok());
    store::ConnectorRecord conn;
    conn.id = "dc-east";
    conn.display_name = "DC east";
    conn.state = store::EnrolState::kActive;
    ASSERT_TRUE((*tx)->InsertConnector(store::TenantScope("t1"), conn).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }

  void Suspend(const std::string& tenant, bool suspended) {
    Reply r = Call("PATCH", "/v1/tenants/" + tenant, op_key_,
                   suspended ? R"({"state":"suspended"})" : R"({"state":"active"})");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  static nlohmann::json Line(const std::optional<std::string>& l) {
    return l ? nlohmann::json::parse(*l, nullptr, false) : nlohmann::json();
  }

  TenantKeys t1_, t2_;
};

TEST_F(EventsStreamTest, SnapshotThenFollowDeliversAChangeAtOnce) {
  Reply snap = Call("GET", "/v1/relays/relay-1/snapshot", op_key_);
  ASSERT_EQ(snap.status, 200u) << snap.body;
  const std::string as_of = Body(snap)["as_of"];
  HttpsClient stream = Client();
  Reply head = stream.OpenStream("/v1/relays/relay-1/events?after=" + as_of, op_key_);
  ASSERT_EQ(head.status, 200u) << head.error;
  EXPECT_EQ(head.Header("content-type"), "application/x-ndjson");
  auto t0 = std::chrono::steady_clock::now();
  Suspend("t1", true);
  nlohmann::json e = Line(stream.ReadLine(std::chrono::seconds(5)));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e["type"], "tenant.suspended");
  EXPECT_EQ(e["tenant"], "t1");
  EXPECT_GT(std::stoll(e["id"].get<std::string>()), std::stoll(as_of));
  EXPECT_TRUE(e.contains("at"));
  EXPECT_LT(took, std::chrono::seconds(2));  // generous; the bench measures it
  // The next snapshot shows it.
  Reply again = Call("GET", "/v1/relays/relay-1/snapshot", op_key_);
  EXPECT_EQ(Body(again)["suspended_tenants"], nlohmann::json::array({"t1"}));
  EXPECT_EQ(Body(again)["as_of"], e["id"]);
}

TEST_F(EventsStreamTest, ResumesAfterTheLastIdSeen) {
  const store::EventId start = store_->LastEventId();
  Suspend("t1", true);
  Suspend("t1", false);
  Suspend("t1", true);
  HttpsClient stream = Client();
  ASSERT_EQ(stream.OpenStream("/v1/relays/relay-1/events?after=" + std::to_string(start + 1), op_key_).status, 200u);
  nlohmann::json a = Line(stream.ReadLine(std::chrono::seconds(5)));
  nlohmann::json b = Line(stream.ReadLine(std::chrono::seconds(5)));
  EXPECT_EQ(a["type"], "tenant.resumed");
  EXPECT_EQ(a["id"], std::to_string(start + 2));
  EXPECT_EQ(b["type"], "tenant.suspended");
  EXPECT_EQ(b["id"], std::to_string(start + 3));
}

TEST_F(EventsStreamTest, IdleStreamsCarryHeartbeatsWithTheCursor) {
  Stop();
  hub_options_.heartbeat_interval = std::chrono::milliseconds(200);
  Start();
  const store::EventId last = store_->LastEventId();
  HttpsClient stream = Client();
  ASSERT_EQ(stream.OpenStream("/v1/relays/relay-1/events?after=" + std::to_string(last), op_key_).status, 200u);
  nlohmann::json hb = Line(stream.ReadLine(std::chrono::seconds(5)));
  EXPECT_EQ(hb, nlohmann::json({{"type", "heartbeat"}, {"id", std::to_string(last)}}));
}

TEST_F(EventsStreamTest, AConnectorGetsOnlyItsTenantsEventsAndTheCursorMovesPastOthers) {
  Stop();
  hub_options_.heartbeat_interval = std::chrono::milliseconds(300);
  Start();
  const store::EventId start = store_->LastEventId();
  HttpsClient stream = Client();
  ASSERT_EQ(stream.OpenStream("/v1/tenants/t1/connectors/dc-east/events?after=" + std::to_string(start), t1_.admin)
                .status,
            200u);
  Suspend("t2", true);  // another tenant's: filtered out
  nlohmann::json first = Line(stream.ReadLine(std::chrono::seconds(5)));
  EXPECT_EQ(first["type"], "heartbeat");
  EXPECT_EQ(first["id"], std::to_string(start + 1));  // moved past t2's event without showing it
  Suspend("t1", true);
  nlohmann::json mine = Line(stream.ReadLine(std::chrono::seconds(5)));
  EXPECT_EQ(mine["type"], "tenant.suspended");
  EXPECT_EQ(mine["tenant"], "t1");
  // t2's admin cannot open t1's connector stream.
  EXPECT_EQ(Client().OpenStream("/v1/tenants/t1/connectors/dc-east/events?after=0", t2_.admin).status, 404u);
}

TEST_F(EventsStreamTest, AnAfterOlderThanTheRetainedEventsIs410) {
  Suspend("t1", true);
  clock_.now += 3600;
  Suspend("t1", false);
  const store::EventId kept = store_->LastEventId();
  {
    auto tx = store_->Write();
    ASSERT_TRUE((*tx)->PurgeEventsBefore(clock_.now, kept - 1, 1000).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  Reply gone = Call("GET", "/v1/relays/relay-1/events?after=0", op_key_);
  EXPECT_EQ(gone.status, 410u);
  EXPECT_EQ(ProblemName(gone), "events-expired");
  EXPECT_EQ(Body(gone)["oldest"], std::to_string(kept));
  HttpsClient ok = Client();
  EXPECT_EQ(ok.OpenStream("/v1/relays/relay-1/events?after=" + std::to_string(kept - 1), op_key_).status, 200u);
  EXPECT_EQ(Call("GET", "/v1/relays/relay-1/events", op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/relays/relay-1/events?after=abc", op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/relays/relay-1/events?after=" + std::to_string(kept + 5), op_key_).status, 400u);
  EXPECT_EQ(Call("GET", "/v1/relays/nope/events?after=0", op_key_).status, 404u);
}

TEST_F(EventsStreamTest, AThirdStreamOfOneSubjectReplacesTheOldestAndTheTotalIsBounded) {
  Stop();
  hub_options_.max_streams = 2;
  Start();
  const std::string after = "?after=" + std::to_string(store_->LastEventId());
  HttpsClient a = Client(), b = Client(), c = Client();
  ASSERT_EQ(a.OpenStream("/v1/relays/relay-1/events" + after, op_key_).status, 200u);
  ASSERT_EQ(b.OpenStream("/v1/relays/relay-1/events" + after, op_key_).status, 200u);
  // A third for the same relay gets in; the oldest ends.
  ASSERT_EQ(c.OpenStream("/v1/relays/relay-1/events" + after, op_key_).status, 200u);
  EXPECT_EQ(a.ReadLine(std::chrono::seconds(5)), std::nullopt);
  EXPECT_EQ(hub_->replaced(), 1u);
  // Another subject finds the bound full.
  Reply full = Call("GET", "/v1/tenants/t1/connectors/dc-east/events" + after, op_key_);
  EXPECT_EQ(full.status, 503u);
  EXPECT_EQ(ProblemName(full), "too-many-subscribers");
  EXPECT_EQ(full.Header("retry-after"), "1");
}

TEST_F(EventsStreamTest, SnapshotsListDenialsInForceAndTheTenantsState) {
  {
    auto tx = store_->Write();
    ASSERT_TRUE((*tx)->PutDenial(store::TenantScope("t1"), store::SubjectRole::kDevice, "d-aaaaaaaaaaaaaaaa",
                                 store::DenialReason::kRevoked, clock_.now + 3600, clock_.now).ok());
    ASSERT_TRUE((*tx)->PutDenial(store::TenantScope("t1"), store::SubjectRole::kDevice, "d-bbbbbbbbbbbbbbbb",
                                 store::DenialReason::kLocked, clock_.now - 1, clock_.now).ok());  // ended
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  nlohmann::json relay = Body(Call("GET", "/v1/relays/relay-1/snapshot", op_key_));
  ASSERT_EQ(relay["denied"].size(), 1u) << relay.dump();
  EXPECT_EQ(relay["denied"][0]["subject"], "d-aaaaaaaaaaaaaaaa");
  EXPECT_EQ(relay["denied"][0]["role"], "device");
  EXPECT_EQ(relay["denied"][0]["reason"], "revoked");
  Reply conn = Call("GET", "/v1/tenants/t1/connectors/dc-east/snapshot", t1_.admin);
  ASSERT_EQ(conn.status, 200u) << conn.body;
  nlohmann::json c = Body(conn);
  EXPECT_EQ(c["tenant_state"], "active");
  EXPECT_EQ(c["denied"].size(), 1u);
  EXPECT_TRUE(c["policies"].is_array());
  EXPECT_EQ(Call("GET", "/v1/tenants/t2/connectors/dc-east/snapshot", t2_.admin).status, 404u);
}

}  // namespace
}  // namespace strait::control::testing
