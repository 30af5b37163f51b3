// OpenSqliteStore: the files, the connections, the migrations; and the store's transactions' life cycle.
#include "control-plane/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "control-plane/store/sqlite_store_internal.h"
#include "control-plane/store/sqlite_tx.h"

namespace strait::control::store {
namespace {

StoreError IoError(std::string reason) { return StoreError{StoreErrorCode::kIo, "", 0, std::move(reason)}; }

// Creates `path` 0600 if absent and makes it 0600 if present: sqlite gives the -wal and -shm files the database
// file's mode, so the three are 0600 from their first byte (§5.2).
StoreResult<void> MakePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Fail(IoError(path + ": " + std::strerror(errno)));
  const int rc = ::fchmod(fd, 0600);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Fail(IoError(path + ": " + std::strerror(err)));
  return {};
}

// -wal and -shm of an older store (made before this rule, or by another tool) are made 0600 too.
StoreResult<void> TightenSideFiles(const std::string& path) {
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::chmod(side.c_str(), 0600) != 0 && errno != ENOENT) {
      return Fail(IoError(side + ": " + std::strerror(errno)));
    }
  }
  return {};
}

StoreResult<int64_t> PragmaInt(Connection& conn, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(conn.db(), sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail(ErrorFrom(conn.db(), rc));
  rc = sqlite3_step(stmt);
  const int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(ErrorFrom(conn.db(), rc));
  return v;
}

// VACUUM INTO `copy`: a consistent copy of the whole store, made before migrating it. The target is created 0600
// and empty first (VACUUM INTO accepts an empty file and keeps its mode). An existing copy is kept: it is the
// state before an earlier attempt at the same migration, which failed and changed nothing.
StoreResult<void> CopyBeforeMigrating(Connection& conn, const std::string& copy) {
  struct stat st{};
  if (::stat(copy.c_str(), &st) == 0 && st.st_size > 0) return {};
  if (auto r = MakePrivateFile(copy); !r) return r;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(conn.db(), "VACUUM INTO ?1", -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail(ErrorFrom(conn.db(), rc));
  sqlite3_bind_text(stmt, 1, copy.c_str(), -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Fail(ErrorFrom(conn.db(), rc));
  return {};
}

StoreResult<void> Migrate(Connection& conn, const std::string& path, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    // The list is ours: versions are 1..N without gaps, or the binary is broken.
    assert(migrations[i].version == static_cast<int>(i) + 1);
  }
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  auto current = PragmaInt(conn, "PRAGMA user_version");
  if (!current) return Fail(current.error());
  if (*current > latest) {
    return Fail(StoreError{StoreErrorCode::kCorrupt, "", 0,
                           "store version " + std::to_string(*current) + " is newer than this strait-control (" +
                               std::to_string(latest) + ")"});
  }
  if (*current == latest) return {};
  if (*current > 0) {
    const std::string copy = path + ".pre-v" + std::to_string(*current + 1);
    if (auto r = CopyBeforeMigrating(conn, copy); !r) return r;
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    const std::string script = std::string(m.sql) + "\n;PRAGMA user_version = " + std::to_string(m.version) + ";";
    if (auto r = conn.Exec("BEGIN IMMEDIATE"); !r) return r;
    if (auto r = conn.Exec(script.c_str()); !r) {
      (void)conn.Exec("ROLLBACK");
      StoreError e = r.error();
      e.reason = "migration " + std::string(m.name) + ": " + e.reason;
      return Fail(std::move(e));
    }
    if (auto r = conn.Exec("COMMIT"); !r) {
      (void)conn.Exec("ROLLBACK");
      return r;
    }
  }
  return {};
}

}  // namespace

StoreResult<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options) {
  if (auto r = MakePrivateFile(path); !r) return Fail(r.error());
  auto writer = Connection::Open(path, ConnectionRole::kWriter);
  if (!writer) return Fail(writer.error());
  if (auto r = TightenSideFiles(path); !r) return Fail(r.error());
  const auto migrations = options.migrations_for_test.empty() ? EmbeddedMigrations() : options.migrations_for_test;
  if (auto r = Migrate(**writer, path, migrations); !r) return Fail(r.error());

  std::vector<std::unique_ptr<Connection>> readers;
  for (size_t i = 0; i < std::max<size_t>(options.readers, 1); ++i) {
    auto reader = Connection::Open(path, ConnectionRole::kReader);
    if (!reader) return Fail(reader.error());
    readers.push_back(std::move(*reader));
  }
  auto last = PragmaInt(**writer,
                        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)");
  if (!last) return Fail(last.error());
  return std::unique_ptr<Store>(
      new SqliteStore(std::move(*writer), std::move(readers), options, *last));
}

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
                         const SqliteOptions& options, EventId last_event)
    : limits_(options.limits),
      busy_wait_(options.busy_wait),
      writer_(std::move(writer)), readers_(std::move(readers)), last_event_(last_event) {
  for (const auto& r : readers_) free_readers_.push_back(r.get());
}

StoreResult<std::unique_ptr<ReadTx>> SqliteStore::Read() {
  Connection* conn = nullptr;
  {
    std::unique_lock lock(pool_mu_);
    if (!pool_cv_.wait_for(lock, busy_wait_, [this] { return !free_readers_.empty(); })) {
      return Fail(StoreError{StoreErrorCode::kBusy, "", 0, "no reader connection was free in time"});
    }
    conn = free_readers_.back();
    free_readers_.pop_back();
  }
  // Deferred: the WAL snapshot is taken at the first read and kept until the transaction ends.
  if (auto r = conn->Exec("BEGIN"); !r) {
    ReleaseReader(*conn);
    return Fail(r.error());
  }
  return std::unique_ptr<ReadTx>(new SqliteReadTx(*this, *conn));
}

StoreResult<std::unique_ptr<WriteTx>> SqliteStore::Write() {
  std::unique_lock<std::timed_mutex> lock(writer_mu_, std::defer_lock);
  if (!lock.try_lock_for(busy_wait_)) {
    return Fail(StoreError{StoreErrorCode::kBusy, "", 0, "the writer lock was not had in time"});
  }
  // IMMEDIATE: take the database's write lock now, so no statement of the transaction can meet SQLITE_BUSY later.
  if (auto r = writer_->Exec("BEGIN IMMEDIATE"); !r) return Fail(r.error());
  return std::unique_ptr<WriteTx>(new SqliteWriteTx(*this, *writer_, std::move(lock), limits_));
}

void SqliteStore::ReleaseReader(Connection& conn) {
  {
    std::lock_guard lock(pool_mu_);
    free_readers_.push_back(&conn);
  }
  pool_cv_.notify_one();
}

void SqliteStore::EventsCommitted(EventId last) { last_event_.store(last, std::memory_order_release); }

SqliteReadTx::~SqliteReadTx() {
  if (sqlite3_get_autocommit(conn_.db()) == 0) (void)conn_.Exec("COMMIT");
  store_.ReleaseReader(conn_);
}

}  // namespace strait::control::store
