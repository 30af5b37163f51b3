// The fixture of the store's contract tests (store_contract_test.cc, store_behaviour_test.cc): a store opened by
// each backend in kBackends, in a private directory, with the transactions and rows the tests use. A PostgreSQL
// store is checked by adding one row to kBackends.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "control-plane/store/sqlite_store.h"
#include "control-plane/store/store.h"
#include "tests/control-plane/store/store_test_util.h"

namespace strait::control::store {
namespace contract {

using testing::Audit;
using testing::Device;
using testing::Event;
using testing::TempDir;
using testing::Tenant;
using testing::User;

struct Backend {
  std::string name;
  // Opens (or reopens) the store kept in `dir`.
  std::function<std::unique_ptr<Store>(const std::string& dir, const Limits& limits)> open;
};

inline std::unique_ptr<Store> OpenSqlite(const std::string& dir, const Limits& limits) {
  SqliteOptions options;
  options.readers = 4;
  options.limits = limits;
  auto store = OpenSqliteStore(dir + "/control.db", options);
  if (!store) {
    ADD_FAILURE() << "open: " << store.error().reason;
    return nullptr;
  }
  return std::move(*store);
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Open(); }
  void Open(const Limits& limits = {}) {
    store_.reset();
    store_ = GetParam().open(dir_.path(), limits);
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<WriteTx> W() {
    auto tx = store_->Write();
    EXPECT_TRUE(tx.ok()) << tx.error().reason;
    return std::move(*tx);
  }
  std::unique_ptr<ReadTx> R() {
    auto tx = store_->Read();
    EXPECT_TRUE(tx.ok()) << tx.error().reason;
    return std::move(*tx);
  }
  void AddTenants(std::initializer_list<const char*> ids) {
    auto tx = W();
    for (const char* id : ids) ASSERT_TRUE(tx->InsertTenant(Tenant(id)).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

inline const TenantScope kAcme("acme");
inline const TenantScope kGlobex("globex");
inline constexpr const char* kUserId = "u-aaaaaaaaaaaaaaaa";
inline constexpr const char* kDeviceId = "d-aaaaaaaaaaaaaaaa";

inline const Backend kBackends[] = {{"sqlite", OpenSqlite}};
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& p) { return p.param.name; }

}  // namespace contract
}  // namespace strait::control::store
