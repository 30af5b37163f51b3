// The thin layer over the sqlite3 C API that the store's transactions use: a connection with its cache of
// prepared statements (sqlite_statements.h), and Query, one use of a cached statement (bind, step, read columns,
// reset). Internal to the store; the only header besides the .cc files that names a sqlite3 type.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "control-plane/store/records.h"
#include "control-plane/store/sqlite_statements.h"
#include "control-plane/store/store.h"

namespace strait::control::store {

// The StoreError for a failed sqlite3 call on `db` with result code `rc`: UNIQUE / PRIMARY KEY -> kConflict with
// the column (sqlite's "UNIQUE constraint failed: users.tenant, users.email" -> "email"), FOREIGN KEY -> kConflict
// "reference", BUSY / LOCKED -> kBusy, CORRUPT / NOTADB -> kCorrupt, else kIo.
StoreError ErrorFrom(sqlite3* db, int rc);
// The conflict field for sqlite's UNIQUE message (exposed for the test).
std::string ConflictField(std::string_view message);

enum class ConnectionRole : uint8_t { kWriter, kReader };

// One sqlite3 connection. Used by one thread at a time (the store's writer mutex or reader pool ensures it).
class Connection {
 public:
  // Opens `path` (created by the writer if absent) and sets the pragmas of §5.2. A reader is query_only.
  static StoreResult<std::unique_ptr<Connection>> Open(const std::string& path, ConnectionRole role);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }
  // The statement `id`, prepared once per connection (SQLITE_PREPARE_PERSISTENT) and reused.
  StoreResult<sqlite3_stmt*> Prepared(Sql id);
  // Runs SQL text without results (BEGIN, COMMIT, a migration's script).
  StoreResult<void> Exec(const char* sql);

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::array<sqlite3_stmt*, static_cast<size_t>(Sql::kCount)> cache_{};
};

// One execution of a prepared statement: Bind the parameters ?1..?N in order, Step through the rows, read
// columns. Bound text and blobs are copied (SQLITE_TRANSIENT), so a temporary argument is safe. The destructor
// resets the statement and clears its bindings, so the cache can hand it out again.
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  ~Query();
  Query(Query&& other) noexcept
      : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_),
        corrupt_(other.corrupt_) {}
  Query& operator=(Query&&) = delete;

  template <class... A>
  Query& Bind(const A&... args) {
    int i = 1;
    (BindOne(i++, args), ...);
    return *this;
  }
  // true: a row is ready; false: done. An error of the statement (or of a bind) maps through ErrorFrom.
  StoreResult<bool> Step();
  // Steps to the end; returns the rows changed (sqlite3_changes).
  StoreResult<int64_t> Run();

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const;
  Bytes Blob(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  std::optional<std::string> OptText(int col) const;
  std::optional<Bytes> OptBlob(int col) const;
  // An enum column through its Parse function; a word no enum knows marks the row corrupt (see corrupt()).
  template <class E>
  E Enum(int col, std::optional<E> (*parse)(std::string_view)) {
    auto v = parse(Text(col));
    if (!v) {
      corrupt_ = true;
      return E{};
    }
    return *v;
  }
  template <class E>
  std::optional<E> OptEnum(int col, std::optional<E> (*parse)(std::string_view)) {
    if (IsNull(col)) return std::nullopt;
    return Enum(col, parse);
  }
  // Whether a column read so far held a value this binary does not know (-> kCorrupt).
  bool corrupt() const { return corrupt_; }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  void BindOne(int i, std::nullopt_t) { Check(sqlite3_bind_null(stmt_, i)); }
  void BindOne(int i, int64_t v) { Check(sqlite3_bind_int64(stmt_, i, v)); }
  void BindOne(int i, int v) { Check(sqlite3_bind_int64(stmt_, i, v)); }
  void BindOne(int i, size_t v) { Check(sqlite3_bind_int64(stmt_, i, static_cast<int64_t>(v))); }
  void BindOne(int i, bool v) { Check(sqlite3_bind_int64(stmt_, i, v ? 1 : 0)); }
  void BindOne(int i, std::string_view v) {
    Check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void BindOne(int i, const std::string& v) { BindOne(i, std::string_view(v)); }
  void BindOne(int i, const char* v) { BindOne(i, std::string_view(v)); }
  void BindOne(int i, const Bytes& v) {
    // A zero-length blob binds as an empty blob, never NULL (a NOT NULL column accepts it).
    static constexpr uint8_t kEmpty = 0;
    Check(sqlite3_bind_blob64(stmt_, i, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_TRANSIENT));
  }
  template <class E>
    requires std::is_enum_v<E>
  void BindOne(int i, E v) {
    BindOne(i, ToString(v));
  }
  template <class T>
  void BindOne(int i, const std::optional<T>& v) {
    if (v) {
      BindOne(i, *v);
    } else {
      BindOne(i, std::nullopt);
    }
  }

  Connection* conn_;
  sqlite3_stmt* stmt_;  // null once moved from
  int bind_rc_ = SQLITE_OK;
  bool corrupt_ = false;
};

}  // namespace strait::control::store
