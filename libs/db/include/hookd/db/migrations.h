#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace hookd::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations under libs/db/migrations/, compiled in, ordered by version.
const std::vector<Migration>& BuiltinMigrations();

// Applies every migration not yet recorded in `schema_migrations`, each in its own transaction,
// holding a session advisory lock so that processes starting together apply each exactly once.
// UNAVAILABLE when Postgres cannot be reached; INTERNAL when a migration fails (nothing of that
// migration is kept).
absl::Status Migrate(const std::string& database_url,
                     const std::vector<Migration>& migrations = BuiltinMigrations());

}  // namespace hookd::db
