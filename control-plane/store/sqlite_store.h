// The SQLite store (docs/control-plane.md §5.2): one writer connection behind a mutex (BEGIN IMMEDIATE), a pool of
// reader connections (one WAL snapshot per Read()), WAL with synchronous=FULL, files 0600, migrations at open.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "control-plane/store/migrations.h"
#include "control-plane/store/store.h"

namespace strait::control::store {

struct SqliteOptions {
  size_t readers = 4;  // `store_threads`: one reader connection per store thread
  Limits limits;
  // How long Read() waits for a free reader and Write() for the writer before kBusy (§5.1: 5 s, the same as
  // sqlite's busy_timeout, which covers another process holding the file).
  std::chrono::milliseconds busy_wait{5000};
  // Replaces the embedded migrations (tests of the upgrade path only). Empty: EmbeddedMigrations().
  std::span<const Migration> migrations_for_test;
};

// Opens (or creates) the store at `path` (DATA/control.db): creates the file 0600, sets the pragmas, then runs
// every pending migration, each in its own transaction with `PRAGMA user_version` set in it. Before migrating a
// store that has a schema already, copies it with `VACUUM INTO path.pre-v<N>` (N: the first version applied; kept
// if it exists). Refuses a store newer than the migrations it knows: kCorrupt, "store version 5 is newer than
// this strait-control (4)". Other failures: kIo / kCorrupt / kBusy with sqlite's reason.
StoreResult<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options = {});

}  // namespace strait::control::store
