// The control plane end to end, as processes (docs/control-plane.md §12; issue 10's tests): strait-control init and
// serve; a tenant with two device seats, a relay, a policy, a connector and devices created through the REST API;
// each enrolled with its activation code by the `strait` commands; the daemons started from their identity
// directories alone. Then:
//   - traffic flows through the relay to the connector, within the policy the connector took from its snapshot;
//   - a reused code is refused (activation-used), a third device over two seats too (licence-exhausted);
//   - a policy change applies to the next stream at once, both ways (policy.updated through the connector's events);
//   - a revoked device's link is cut by the relay within the bound (5 s; the goal is < 1 s), the other device
//     still works;
//   - a relay that was offline while a device was locked refuses that device once it is back (its snapshot).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "cli/demo/control_plane.h"
#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

using namespace std::chrono_literals;

class ControlPlaneE2e : public E2eTest {
 protected:
  void StartControl() {
    auto cp = demo::ControlPlane::Start(
        {.exe = STRAIT_CONTROL_EXE, .strait = STRAIT_EXE, .dir = dir_, .deadline = Deadline(kStartDeadline),
         .config_toml = {}});
    ASSERT_TRUE(cp.ok()) << cp.error();
    control_ = std::move(*cp);
  }
  // Every subject enrolled in `dir_/<name>`.
  std::string Enrol(const std::string& kind, const std::string& code, const std::string& name) {
    auto id = control_->Enrol(kind, code, dir_ + "/" + name);
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : std::string();
  }
  ChildProcess* StartRelayAt(uint16_t device_port, uint16_t connector_port, std::size_t* cursor) {
    ChildProcess* p = Spawn("relay", {"relay", "--identity", dir_ + "/relay", "--device-listen",
                                      fmt::format("127.0.0.1:{}", device_port), "--connector-listen",
                                      fmt::format("127.0.0.1:{}", connector_port), "--metrics-listen",
                                      fmt::format("127.0.0.1:{}", relay_metrics_), "--threads", "1"});
    EXPECT_TRUE(p->WaitLine("relay ready", Deadline(kStartDeadline), cursor)) << p->StderrTail(3);
    EXPECT_TRUE(p->WaitLine("relay control snapshot", Deadline(kStartDeadline), cursor)) << p->StderrTail(3);
    return p;
  }
  uint64_t RelaySample(const std::string& sample) {
    bool ok = false;
    const std::string text = ScrapeMetrics({"127.0.0.1", relay_metrics_}, &ok);
    EXPECT_TRUE(ok) << text;
    return SampleValue(text, sample).value_or(0);
  }
  // Retries `fetch` until it gives `want_ok` (bounded); the time it took.
  std::chrono::milliseconds Until(const Device& d, const std::string& host, bool want_ok) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < 10s) {
      if (FetchHello(d, host).empty() == want_ok) break;
      std::this_thread::sleep_for(20ms);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  }

  std::unique_ptr<demo::ControlPlane> control_;
  uint16_t relay_metrics_ = demo::PickFreePort();
};

TEST_F(ControlPlaneE2e, EnrolTrafficPolicyRevocationAndCatchUp) {
  StartControl();
  ASSERT_TRUE(control_);
  auto admin = control_->CreateTenant("acme", 2);
  ASSERT_TRUE(admin.ok()) << admin.error();
  const uint16_t dport = demo::PickFreePort(), cport = demo::PickFreePort();
  auto relay_code = control_->CreateRelay("relay-1", dport, cport);
  ASSERT_TRUE(relay_code.ok()) << relay_code.error();
  const std::string port = std::to_string(http_port());
  auto policy = admin->Post("/v1/tenants/acme/policies",
                            {{"name", "staff"},
                             {"default", true},
                             {"app", {{"allow", {{{"cidrs", {"127.0.0.1/32"}}, {"ports", {port}}},
                                                 {{"hosts", {"localhost"}}, {"ports", {port}}}}},
                                      {"deny", nlohmann::json::array()}}}});
  ASSERT_TRUE(policy.ok()) << policy.error();
  const std::string policy_id = policy->value("id", "");
  auto conn_code = control_->CreateConnector(*admin, "acme", "dc-east");
  auto ann_code = control_->CreateDevice(*admin, "acme", "ann@acme.example");
  auto bob_code = control_->CreateDevice(*admin, "acme", "bob@acme.example");
  auto eve_code = control_->CreateDevice(*admin, "acme", "eve@acme.example");
  ASSERT_TRUE(conn_code.ok() && ann_code.ok() && bob_code.ok() && eve_code.ok());

  Enrol("relay enroll", *relay_code, "relay");
  Enrol("connector enroll", *conn_code, "connector");
  const std::string ann = Enrol("device activate", *ann_code, "ann");
  const std::string bob = Enrol("device activate", *bob_code, "bob");
  // A code is single-use; the tenant has two seats.
  auto again = control_->Enrol("device activate", *ann_code, dir_ + "/ann-again");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("activation-used"), std::string::npos) << again.error();
  auto eve = control_->Enrol("device activate", *eve_code, dir_ + "/eve");
  ASSERT_FALSE(eve.ok());
  EXPECT_NE(eve.error().find("licence-exhausted"), std::string::npos) << eve.error();

  std::size_t rc = 0;
  ChildProcess* relay = StartRelayAt(dport, cport, &rc);
  ChildProcess* connector = Spawn("connector", {"connector", "--identity", dir_ + "/connector"});
  std::size_t cc = 0;
  ASSERT_TRUE(connector->WaitLine("connector control snapshot", Deadline(kStartDeadline), &cc))
      << connector->StderrTail(3);
  Device d_ann = StartDevice(dir_ + "/ann", std::nullopt);
  Device d_bob = StartDevice(dir_ + "/bob", std::nullopt);
  WaitSessionUp(d_ann);
  WaitSessionUp(d_bob);
  EXPECT_EQ(FetchHello(d_ann, "127.0.0.1"), "");
  EXPECT_EQ(FetchHello(d_ann, "localhost"), "");

  // A policy change reaches the connector and applies to the next stream: nothing allowed, then all again.
  auto put_policy = [&](nlohmann::json allow) {
    auto put = admin->Call("PUT", "/v1/tenants/acme/policies/" + policy_id,
                           {{"name", "staff"}, {"default", true},
                            {"app", {{"allow", std::move(allow)}, {"deny", nlohmann::json::array()}}}});
    ASSERT_TRUE(put.ok()) << put.error();
  };
  put_policy(nlohmann::json::array());
  const auto closed = Until(d_ann, "127.0.0.1", /*want_ok=*/false);
  EXPECT_NE(FetchHello(d_ann, "127.0.0.1"), "") << "the emptied policy was not applied within 10 s";
  put_policy({{{"cidrs", {"127.0.0.1/32"}}, {"ports", {port}}}});
  const auto reopened = Until(d_ann, "127.0.0.1", /*want_ok=*/true);
  EXPECT_EQ(FetchHello(d_ann, "127.0.0.1"), "") << "the restored policy was not applied within 10 s";
  std::printf("policy changes applied within %lld ms (closed) and %lld ms (reopened)\n",
              static_cast<long long>(closed.count()), static_cast<long long>(reopened.count()));

  // Revocation cuts ann's link; bob goes on.
  const auto t0 = Clock::now();
  auto revoke = admin->Post(fmt::format("/v1/tenants/acme/devices/{}/revoke", ann), {{"reason", "lost"}});
  ASSERT_TRUE(revoke.ok()) << revoke.error();
  auto down = d_ann.process->WaitLine("device link down", Deadline(10s), &d_ann.cursor);
  const auto cut = std::chrono::duration_cast<std::chrono::milliseconds>(
      d_ann.process->Arrival(d_ann.cursor - 1).value_or(Clock::now()) - t0);
  ASSERT_TRUE(down) << d_ann.process->StderrTail(3);
  EXPECT_EQ(demo::Field(*down, "error"), std::optional<std::string>("revoked")) << *down;
  EXPECT_LT(cut, 5s);
  std::printf("revocation cut the device's link %lld ms after the REST call\n", static_cast<long long>(cut.count()));
  EXPECT_EQ(FetchHello(d_bob, "127.0.0.1"), "");
  EXPECT_NE(FetchHello(d_ann, "127.0.0.1"), "");

  // The relay goes offline; bob is locked meanwhile; back, the relay refuses him from its snapshot.
  relay->Stop(5s);
  auto lock = admin->Post(fmt::format("/v1/tenants/acme/devices/{}/lock", bob), nlohmann::json::object());
  ASSERT_TRUE(lock.ok()) << lock.error();
  rc = 0;
  StartRelayAt(dport, cport, &rc);
  uint64_t refused = 0;
  for (auto t = Clock::now(); Clock::now() - t < 15s && refused == 0; std::this_thread::sleep_for(200ms)) {
    refused = RelaySample(R"(strait_relay_logins_refused_total{reason="revoked"})");
  }
  EXPECT_GE(refused, 1u) << "the relay back from offline did not refuse the device locked meanwhile";
  EXPECT_NE(FetchHello(d_bob, "127.0.0.1"), "");
}

}  // namespace
}  // namespace strait::e2e
