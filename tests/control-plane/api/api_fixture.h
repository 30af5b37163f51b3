// An in-process strait-control for the API tests: a real SQLite store in a temporary directory, the real dispatcher
// and route table behind the real HTTPS server on 127.0.0.1:0, a manual clock, and an operator key made directly in
// the store. Clients are real HTTPS clients (tests/control-plane/testing/https_client.h).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control-plane/api/ids.h"
#include "control-plane/events/hub.h"
#include "control-plane/handlers/dispatcher.h"
#include "control-plane/handlers/routes.h"
#include "control-plane/http/server.h"
#include "control-plane/pki/x509.h"
#include "control-plane/store/sealed.h"
#include "control-plane/store/sqlite_store.h"
#include "crypto/keys.h"
#include "tests/control-plane/testing/https_client.h"

namespace strait::control::testing {

class ManualClock : public Clock {
 public:
  int64_t Now() const override { return now.load(); }
  std::atomic<int64_t> now{1'780'000'000};  // 2026-05-28
};

inline nlohmann::json Body(const Reply& r) { return nlohmann::json::parse(r.body, nullptr, false); }

inline std::string ProblemName(const Reply& r) {
  nlohmann::json j = Body(r);
  std::string type = j.is_object() ? j.value("type", "") : "";
  const std::string prefix = "urn:strait:problem:";
  return type.rfind(prefix, 0) == 0 ? type.substr(prefix.size()) : type;
}

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void TearDown() override {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  void Start(DispatcherOptions dopt = HighRates(), http::ServerOptions hopt = {}) {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/strait-cp-test-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      master_ = std::make_unique<store::MasterKey>(store::MasterKey::Generate());
    }
    auto opened = store::OpenSqliteStore(dir_ + "/control.db");
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    store_ = std::move(*opened);
    sealer_ = std::make_unique<store::Sealer>(*master_);
    hasher_ = std::make_unique<store::ApiKeyHasher>(*master_);
    store::SecretBytes ck = master_->Derive(store::Subkey::kCursorMac);
    cursor_key_ = std::make_unique<CursorKey>(std::span<const uint8_t, CursorKey::kSize>(ck.data(), CursorKey::kSize));
    services_.store = store_.get();
    services_.sealer = sealer_.get();
    services_.hasher = hasher_.get();
    services_.cursor_key = cursor_key_.get();
    services_.clock = &clock_;
    services_.root = &root_;
    services_.config.public_url = "https://localhost:8443";
    hub_ = std::make_unique<events::Hub>(store_.get(), hub_options_);
    services_.hub = hub_.get();
    dispatcher_ = std::make_unique<Dispatcher>(ApiRoutes(), &services_, dopt);
    static const pki::PemPair ca = *pki::GenerateCa({});
    static const pki::PemPair leaf = [] {
      pki::LeafParams lp;
      lp.dns_names = {"localhost"};
      lp.ip_addresses = {"127.0.0.1"};
      return *pki::IssueLeaf(ca, lp);
    }();
    ca_pem_ = ca.cert_pem;
    services_.tls_ca = &ca;
    hopt.cert_pem = leaf.cert_pem + ca.cert_pem;
    hopt.key_pem = leaf.key_pem;
    server_ = std::make_unique<http::Server>(hopt, dispatcher_.get());
    auto started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.error().reason;
    if (op_key_.empty()) op_key_ = MakeKey(std::nullopt, store::ApiKeyRole::kOperator);
  }

  void Stop() {
    if (hub_) hub_->Shutdown();
    if (server_) server_->Stop();
    server_.reset();
    hub_.reset();
    dispatcher_.reset();
    store_.reset();
  }

  static DispatcherOptions HighRates() {
    DispatcherOptions o;
    o.rate_per_key = 1e6;
    o.burst_per_key = 1e6;
    o.rate_unauthenticated = 1e6;
    o.activate_per_minute = 1e6;
    return o;
  }

  // An API key written straight into the store (the routes that make keys are tested on their own).
  std::string MakeKey(std::optional<std::string> tenant, store::ApiKeyRole role) {
    std::string id = GenerateId(IdKind::kApiKey);
    std::string secret(52, 'a');
    for (size_t i = 0; i < secret.size(); ++i) secret[i] = kBase32Lower[(i * 7 + id[0]) % 32];
    store::ApiKeyRecord k;
    k.id = id;
    k.tenant = std::move(tenant);
    k.role = role;
    k.name = "test";
    k.secret_hash = hasher_->Hash(secret);
    k.created_by = "test";
    auto tx = store_->Write();
    EXPECT_TRUE(tx.ok());
    EXPECT_TRUE((*tx)->InsertApiKey(k).ok());
    EXPECT_TRUE((*tx)->Commit().ok());
    return fmt::format("sk_{}_{}", id, secret);
  }

  HttpsClient Client() { return HttpsClient(server_->local_address(), ca_pem_); }

  Reply Call(std::string_view method, std::string_view target, std::string_view key, std::string_view body = {}) {
    return Client().Json(method, target, key, body);
  }

  // A tenant made through the API, with an admin and a read-only key.
  struct TenantKeys {
    std::string id, admin, read_only;
  };
  TenantKeys MakeTenant(const std::string& id, int seats = 10) {
    Reply r = Call("POST", "/v1/tenants", op_key_,
                   fmt::format(R"({{"id":"{}","display_name":"Tenant {}","seats":{}}})", id, id, seats));
    EXPECT_EQ(r.status, 201u) << r.body;
    return {id, MakeKey(id, store::ApiKeyRole::kAdmin), MakeKey(id, store::ApiKeyRole::kReadOnly)};
  }

  std::string dir_;
  std::unique_ptr<store::MasterKey> master_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Sealer> sealer_;
  std::unique_ptr<store::ApiKeyHasher> hasher_;
  std::unique_ptr<CursorKey> cursor_key_;
  crypto::Ed25519KeyPair root_ = crypto::Ed25519KeyPair::Generate();
  ManualClock clock_;
  Services services_;
  events::HubOptions hub_options_;
  std::unique_ptr<events::Hub> hub_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<http::Server> server_;
  std::string ca_pem_;
  std::string op_key_;
};

}  // namespace strait::control::testing
