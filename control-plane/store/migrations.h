// The schema migrations compiled into strait-control (docs/control-plane.md §5.2): store/migrations/NNNN_*.sql,
// embedded by CMake (embed_migrations.cmake writes migrations_embedded.cc). A migration is never edited once
// released; a schema change is a new file with the next number.
#pragma once

#include <span>
#include <string_view>

namespace strait::control::store {

struct Migration {
  int version;            // NNNN: 1, 2, ... with no gaps
  std::string_view name;  // the file name, for messages
  std::string_view sql;   // run in one transaction with `PRAGMA user_version = version`
};

// Every embedded migration, by version ascending.
std::span<const Migration> EmbeddedMigrations();

}  // namespace strait::control::store
