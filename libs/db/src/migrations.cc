#include "hookd/db/migrations.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "hookd/db/pg_pool.h"
#include "spdlog/spdlog.h"

namespace hookd::db {
namespace {

// Any fixed number works; it only has to differ from the other advisory locks hookd takes.
constexpr int64_t kMigrationLockKey = 0x686f6f6b6401;  // "hookd" 01

}  // namespace

absl::Status Migrate(const std::string& database_url, const std::vector<Migration>& migrations) {
  try {
    pqxx::connection conn(database_url);
    pqxx::nontransaction session(conn);
    session.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    // Created under the lock: CREATE TABLE IF NOT EXISTS itself races between sessions.
    session.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    std::set<int> applied;
    for (const auto& row : session.exec("SELECT version FROM schema_migrations")) {
      applied.insert(row[0].as<int>());
    }
    session.commit();
    for (const Migration& m : migrations) {
      if (applied.count(m.version) > 0) continue;
      pqxx::work txn(conn);
      txn.exec(m.sql);
      txn.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                      m.name);
      txn.commit();
      spdlog::info("applied migration {} {}", m.version, m.name);
    }
    pqxx::nontransaction unlock(conn);
    unlock.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    return absl::OkStatus();
  } catch (...) {
    return TranslateCurrentException("migrate");
  }
}

}  // namespace hookd::db
