#include "control-plane/store/sqlite_db.h"

#include <cstring>

namespace strait::control::store {
namespace {

// Fields that sqlite's message cannot name by its last column: the partial unique index of the default policy
// (its only column is the tenant) and the assignment's (tenant, target, policy) key.
struct FieldAlias {
  std::string_view column;  // "table.column", the message's last
  std::string_view field;
};
constexpr FieldAlias kFieldAliases[] = {
    {"policies.tenant", "default"},
    {"policy_assignments.policy_id", "target"},
};

StoreError Err(StoreErrorCode code, std::string field, std::string reason) {
  return StoreError{code, std::move(field), 0, std::move(reason)};
}

}  // namespace

std::string ConflictField(std::string_view message) {
  const auto colon = message.rfind(": ");
  std::string_view cols = colon == std::string_view::npos ? message : message.substr(colon + 2);
  const auto comma = cols.rfind(", ");
  std::string_view last = comma == std::string_view::npos ? cols : cols.substr(comma + 2);
  for (const auto& alias : kFieldAliases) {
    if (last == alias.column) return std::string(alias.field);
  }
  const auto dot = last.find('.');
  return std::string(dot == std::string_view::npos ? last : last.substr(dot + 1));
}

StoreError ErrorFrom(sqlite3* db, int rc) {
  const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Err(StoreErrorCode::kConflict, ConflictField(message), message);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Err(StoreErrorCode::kConflict, "reference", message);
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return Err(StoreErrorCode::kConflict, "constraint", message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Err(StoreErrorCode::kBusy, "", message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Err(StoreErrorCode::kCorrupt, "", message);
    default:
      return Err(StoreErrorCode::kIo, "", message);
  }
}

StoreResult<std::unique_ptr<Connection>> Connection::Open(const std::string& path, ConnectionRole role) {
  sqlite3* db = nullptr;
  // NOMUTEX: the store serialises each connection itself (the writer mutex, the reader pool).
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (role == ConnectionRole::kWriter) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Connection> conn(new Connection(db));
  if (rc != SQLITE_OK) return Fail(ErrorFrom(db, rc));
  sqlite3_extended_result_codes(db, 1);
  // §5.2. synchronous=FULL: an acknowledged change is on disk (the restart test kills the server after a 200).
  // busy_timeout: another process holding the file (an `init` racing a `serve`) waits up to 5 s, then kBusy.
  // trusted_schema=OFF: the schema may not call functions with side effects, whoever wrote the file.
  const char* pragmas =
      "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; "
      "PRAGMA trusted_schema = OFF;";
  if (auto r = conn->Exec(pragmas); !r) return Fail(r.error());
  if (role == ConnectionRole::kWriter) {
    if (auto r = conn->Exec("PRAGMA journal_mode = WAL;"); !r) return Fail(r.error());
  } else {
    if (auto r = conn->Exec("PRAGMA query_only = ON;"); !r) return Fail(r.error());
  }
  return conn;
}

Connection::~Connection() {
  for (sqlite3_stmt* s : cache_) sqlite3_finalize(s);  // NULL is a no-op
  sqlite3_close_v2(db_);
}

StoreResult<sqlite3_stmt*> Connection::Prepared(Sql id) {
  sqlite3_stmt*& slot = cache_[static_cast<size_t>(id)];
  if (slot == nullptr) {
    const std::string_view sql = StatementOf(id).sql;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &slot, nullptr);
    if (rc != SQLITE_OK) {
      slot = nullptr;
      return Fail(ErrorFrom(db_, rc));
    }
  }
  return slot;
}

StoreResult<void> Connection::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Fail(ErrorFrom(db_, rc));
  return {};
}

Query::~Query() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

StoreResult<bool> Query::Step() {
  if (bind_rc_ != SQLITE_OK) return Fail(ErrorFrom(conn_->db(), bind_rc_));
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Fail(ErrorFrom(conn_->db(), rc));
}

StoreResult<int64_t> Query::Run() {
  for (;;) {
    auto r = Step();
    if (!r) return Fail(r.error());
    if (!*r) break;
  }
  return static_cast<int64_t>(sqlite3_changes64(conn_->db()));
}

std::string Query::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

Bytes Query::Blob(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? Bytes() : Bytes(p, p + n);
}

std::optional<int64_t> Query::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

std::optional<std::string> Query::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

std::optional<Bytes> Query::OptBlob(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Blob(col);
}

}  // namespace strait::control::store
