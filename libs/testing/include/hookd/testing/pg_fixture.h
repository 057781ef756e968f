#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/testing/test_database.h"

namespace hookd::testing {

// A migrated database of one test's own (testing::TestDatabase, dropped with it), a pool on it, and
// the one-line statements pg tests set up and check with.
class MigratedDatabase {
 public:
  // Migrated to the latest version, or with `migrations` only (a migration's test).
  static absl::StatusOr<std::unique_ptr<MigratedDatabase>> Create(
      std::string_view suite, int pool_size,
      const std::optional<std::vector<db::Migration>>& migrations = std::nullopt);

  db::PgPool& pool() { return *pool_; }
  const std::string& url() const { return db_->url(); }

  // Runs `sql` in a transaction of its own; fails the calling test when it fails.
  void Exec(const std::string& sql);
  // The first column of the one row `sql` returns; -1, and a failure of the calling test, when
  // it fails.
  int64_t Scalar(const std::string& sql);

 private:
  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<db::PgPool> pool_;
};

}  // namespace hookd::testing
