// The SQLite store's own rules (docs/control-plane.md §5.2): migrations (fresh, upgrade from a v1 fixture with its
// VACUUM INTO copy, a failed migration changes nothing, a newer store is refused), pragmas, file modes, and the
// statement table: every statement compiles against the schema and every one on a tenant table binds the tenant.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control-plane/store/migrations.h"
#include "control-plane/store/sqlite_db.h"
#include "control-plane/store/sqlite_statements.h"
#include "control-plane/store/sqlite_store.h"
#include "tests/control-plane/store/store_test_util.h"

namespace strait::control::store {
namespace {

using testing::TempDir;

// A raw connection to inspect a store file from outside the store.
class Raw {
 public:
  explicit Raw(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK); }
  ~Raw() { sqlite3_close(db_); }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW) v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  }
  void Exec(const std::string& sql) { EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK); }
  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

int Mode(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

bool Exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

std::unique_ptr<Store> MustOpen(const std::string& path, const SqliteOptions& options = {}) {
  auto store = OpenSqliteStore(path, options);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().reason);
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(SqliteStore, AFreshStoreHasEveryTableAtTheLatestVersion) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  ASSERT_NE(MustOpen(db), nullptr);
  Raw raw(db);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), static_cast<int64_t>(EmbeddedMigrations().size()));
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  for (const char* table : {"meta", "tenants", "licences", "api_keys", "users", "groups", "group_members", "devices",
                            "connectors", "relays", "credentials", "activations", "policies", "policy_assignments",
                            "denials", "events", "audit", "idempotency", "notifications"}) {
    EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") + table +
                      "'"),
              1)
        << table;
  }
  // A fresh store is not copied: there was nothing to keep.
  EXPECT_FALSE(Exists(db + ".pre-v1"));
}

TEST(SqliteStore, EveryTenantTablesPrimaryKeyStartsWithTenant) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  ASSERT_NE(MustOpen(db), nullptr);
  Raw raw(db);
  for (std::string_view table : TenantTables()) {
    EXPECT_EQ(raw.Text("SELECT name FROM pragma_table_info('" + std::string(table) + "') WHERE pk = 1"), "tenant")
        << table;
  }
}

TEST(SqliteStore, ConnectionsUseThePragmasOfTheDesign) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  ASSERT_NE(MustOpen(db), nullptr);
  auto conn = Connection::Open(db, ConnectionRole::kWriter);
  ASSERT_TRUE(conn.ok());
  // Pragmas are per connection: ask through the store's own Connection.
  auto ask = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2((*conn)->db(), sql, -1, &s, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
    const int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(ask("PRAGMA foreign_keys"), 1);
  EXPECT_EQ(ask("PRAGMA synchronous"), 2);  // FULL
  EXPECT_EQ(ask("PRAGMA busy_timeout"), 5000);
  EXPECT_EQ(ask("PRAGMA trusted_schema"), 0);
  auto reader = Connection::Open(db, ConnectionRole::kReader);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->Exec("INSERT INTO meta (key, value) VALUES ('x', 'y')").ok());  // query_only
}

TEST(SqliteStore, UpgradesAV1StoreKeepingItsRowsAndACopy) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  const auto embedded = EmbeddedMigrations();
  ASSERT_GE(embedded.size(), 1u);
  // The v1 fixture: migration 0001 only, and a row in it.
  {
    SqliteOptions v1;
    v1.migrations_for_test = embedded.subspan(0, 1);
    auto store = MustOpen(db, v1);
    ASSERT_NE(store, nullptr);
    auto tx = store->Write();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->InsertTenant(testing::Tenant("acme")).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  // This binary: 0001 and a 0002 that changes a table and adds one.
  const std::vector<Migration> v2 = {
      embedded[0],
      {2, "0002_test.sql", "ALTER TABLE tenants ADD COLUMN note TEXT NOT NULL DEFAULT 'n'; CREATE TABLE v2 (x);"}};
  SqliteOptions options;
  options.migrations_for_test = v2;
  auto store = MustOpen(db, options);
  ASSERT_NE(store, nullptr);
  {
    auto rx = store->Read();
    ASSERT_TRUE(rx.ok());
    EXPECT_TRUE((*rx)->GetTenant(TenantScope("acme"))->has_value());
  }
  {
    Raw raw(db);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), 2);
    EXPECT_EQ(raw.Text("SELECT note FROM tenants WHERE id = 'acme'"), "n");
  }
  // The copy is the store as it was before 0002: version 1, with the row, private.
  const std::string copy = db + ".pre-v2";
  ASSERT_TRUE(Exists(copy));
  EXPECT_EQ(Mode(copy), 0600);
  Raw old(copy);
  EXPECT_EQ(old.Int("PRAGMA user_version"), 1);
  EXPECT_EQ(old.Int("SELECT count(*) FROM tenants"), 1);
  EXPECT_EQ(old.Int("SELECT count(*) FROM sqlite_master WHERE name = 'v2'"), 0);
}

TEST(SqliteStore, AFailedMigrationChangesNothing) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  const auto embedded = EmbeddedMigrations();
  {
    SqliteOptions v1;
    v1.migrations_for_test = embedded.subspan(0, 1);
    ASSERT_NE(MustOpen(db, v1), nullptr);
  }
  const std::vector<Migration> broken = {
      embedded[0], {2, "0002_broken.sql", "CREATE TABLE half (x); SELECT no_such_column FROM tenants;"}};
  SqliteOptions options;
  options.migrations_for_test = broken;
  auto store = OpenSqliteStore(db, options);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().reason.find("0002_broken.sql"), std::string::npos) << store.error().reason;
  Raw raw(db);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
}

TEST(SqliteStore, AStoreNewerThanTheBinaryIsRefused) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  ASSERT_NE(MustOpen(db), nullptr);
  {
    Raw raw(db);
    raw.Exec("PRAGMA user_version = 5");
  }
  auto store = OpenSqliteStore(db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, StoreErrorCode::kCorrupt);
  EXPECT_EQ(store.error().reason, "store version 5 is newer than this strait-control (" +
                                      std::to_string(EmbeddedMigrations().size()) + ")");
}

TEST(SqliteStore, TheStoreFilesArePrivate) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  const mode_t old_mask = ::umask(022);  // a permissive umask must not matter
  auto store = MustOpen(db);
  ::umask(old_mask);
  ASSERT_NE(store, nullptr);
  {
    auto tx = store->Write();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->PutMeta(kMetaStoreId, "s").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    ASSERT_TRUE(Exists(db + suffix)) << suffix;
    EXPECT_EQ(Mode(db + suffix), 0600) << suffix;
  }
}

TEST(SqliteStore, WriteIsBusyWhileAnotherWriterHoldsTheLockPastTheWait) {
  EXPECT_EQ(SqliteOptions{}.busy_wait, std::chrono::seconds(5));  // §5.1
  TempDir dir;
  SqliteOptions options;
  options.busy_wait = std::chrono::milliseconds(50);
  auto store = MustOpen(dir.File("control.db"), options);
  ASSERT_NE(store, nullptr);
  auto held = store->Write();
  ASSERT_TRUE(held.ok());
  std::thread other([&] {
    const auto start = std::chrono::steady_clock::now();
    auto tx = store->Write();
    ASSERT_FALSE(tx.ok());
    EXPECT_EQ(tx.error().code, StoreErrorCode::kBusy);
    EXPECT_GE(std::chrono::steady_clock::now() - start, options.busy_wait);
  });
  other.join();
  held->reset();  // released: rolled back
  EXPECT_TRUE(store->Write().ok());
}

TEST(SqliteStore, ReadIsBusyWhenEveryReaderIsLent) {
  TempDir dir;
  SqliteOptions options;
  options.readers = 1;
  options.busy_wait = std::chrono::milliseconds(20);
  auto store = MustOpen(dir.File("control.db"), options);
  ASSERT_NE(store, nullptr);
  {
    auto first = store->Read();
    ASSERT_TRUE(first.ok());
    auto second = store->Read();
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, StoreErrorCode::kBusy);
  }
  EXPECT_TRUE(store->Read().ok());  // returned to the pool
}

TEST(SqliteStore, ConflictFieldsComeFromTheLastColumnOrAnAlias) {
  EXPECT_EQ(ConflictField("UNIQUE constraint failed: users.tenant, users.email"), "email");
  EXPECT_EQ(ConflictField("UNIQUE constraint failed: tenants.id"), "id");
  EXPECT_EQ(ConflictField("UNIQUE constraint failed: policies.tenant"), "default");
  EXPECT_EQ(ConflictField("UNIQUE constraint failed: policy_assignments.tenant, policy_assignments.target_kind, "
                          "policy_assignments.target_id, policy_assignments.policy_id"),
            "target");
}

// Every statement of sqlite_statements.cc prepares against the schema the migrations build.
TEST(SqliteStatements, EveryStatementCompilesAgainstTheSchema) {
  TempDir dir;
  const std::string db = dir.File("control.db");
  ASSERT_NE(MustOpen(db), nullptr);
  Raw raw(db);
  for (const SqlStatement& s : Statements()) {
    sqlite3_stmt* stmt = nullptr;
    const std::string sql(s.sql);
    EXPECT_EQ(sqlite3_prepare_v2(raw.db(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(raw.db());
    sqlite3_finalize(stmt);
  }
}

// §5.2: a statement touching a tenant table binds `tenant = ?` (or inserts the tenant column). The few that cross
// tenants on purpose say so (kAllTenants), and this list names them, so a new one is a visible decision.
TEST(SqliteStatements, EveryStatementOnATenantTableBindsTheTenant) {
  const std::set<Sql> crossing = {Sql::kDenialListAll, Sql::kDenialPurge};
  const std::set<std::string_view> tenant_tables(TenantTables().begin(), TenantTables().end());
  const std::regex table_ref(R"(\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_]+))", std::regex::icase);
  const std::regex binds_tenant(R"(\btenant = \?\d)");
  const std::regex inserts_tenant(R"(^INSERT INTO [a-z_]+ \(tenant,)");
  for (const SqlStatement& s : Statements()) {
    const std::string sql(s.sql);
    bool on_tenant_table = false;
    for (std::sregex_iterator it(sql.begin(), sql.end(), table_ref), end; it != end; ++it) {
      if (tenant_tables.count((*it)[1].str()) > 0) on_tenant_table = true;
    }
    if (s.scope == SqlScope::kAllTenants) {
      EXPECT_TRUE(crossing.count(s.id) > 0) << "unexpected cross-tenant statement: " << sql;
      continue;
    }
    if (on_tenant_table) {
      EXPECT_EQ(s.scope, SqlScope::kTenant) << sql;
    }
    if (s.scope == SqlScope::kTenant) {
      EXPECT_TRUE(std::regex_search(sql, binds_tenant) || std::regex_search(sql, inserts_tenant))
          << "does not bind the tenant: " << sql;
    }
  }
  for (Sql id : crossing) EXPECT_EQ(StatementOf(id).scope, SqlScope::kAllTenants);
}

}  // namespace
}  // namespace strait::control::store
