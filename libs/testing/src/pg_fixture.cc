#include "hookd/testing/pg_fixture.h"

#include "gtest/gtest.h"
#include "hookd/common/status.h"
#include "hookd/db/migrations.h"

namespace hookd::testing {

absl::StatusOr<std::unique_ptr<MigratedDatabase>> MigratedDatabase::Create(
    std::string_view suite, int pool_size,
    const std::optional<std::vector<db::Migration>>& migrations) {
  auto fixture = std::unique_ptr<MigratedDatabase>(new MigratedDatabase());
  HOOKD_ASSIGN_OR_RETURN(fixture->db_, TestDatabase::Create(suite));
  HOOKD_RETURN_IF_ERROR(migrations.has_value() ? db::Migrate(fixture->db_->url(), *migrations)
                                               : db::Migrate(fixture->db_->url()));
  HOOKD_ASSIGN_OR_RETURN(fixture->pool_,
                         db::PgPool::Create({.url = fixture->db_->url(), .pool_size = pool_size}));
  return fixture;
}

void MigratedDatabase::Exec(const std::string& sql) {
  absl::Status status = pool_->Transact("exec", [&](pqxx::work& txn) {
    txn.exec(sql);
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status << "\n" << sql;
}

int64_t MigratedDatabase::Scalar(const std::string& sql) {
  int64_t value = -1;
  absl::Status status = pool_->Transact("scalar", [&](pqxx::work& txn) {
    value = txn.exec1(sql)[0].as<int64_t>();
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status << "\n" << sql;
  return value;
}

}  // namespace hookd::testing
