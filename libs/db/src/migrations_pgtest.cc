#include <thread>

#include "gtest/gtest.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/db/test_database.h"

namespace hookd::db {
namespace {

int CountMigrations(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::work txn(conn);
  return txn.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>();
}

TEST(WithDatabase, ReplacesThePath) {
  EXPECT_EQ(WithDatabase("postgresql://u@127.0.0.1:5432/postgres", "x"),
            "postgresql://u@127.0.0.1:5432/x");
  EXPECT_EQ(WithDatabase("postgresql://u@h:1/a?sslmode=disable", "b"),
            "postgresql://u@h:1/b?sslmode=disable");
  EXPECT_EQ(WithDatabase("postgresql://u@h:1", "b"), "postgresql://u@h:1/b");
}

TEST(Migrate, AppliesEveryMigrationOnceAndIsIdempotent) {
  auto db = TestDatabase::Create("migrate");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(Migrate((*db)->url()).ok());
  EXPECT_EQ(CountMigrations((*db)->url()), static_cast<int>(BuiltinMigrations().size()));
  ASSERT_TRUE(Migrate((*db)->url()).ok());
  EXPECT_EQ(CountMigrations((*db)->url()), static_cast<int>(BuiltinMigrations().size()));
}

TEST(Migrate, ConcurrentMigratorsOnAnEmptyDatabaseBothSucceed) {
  auto db = TestDatabase::Create("migrate_race");
  ASSERT_TRUE(db.ok()) << db.status();
  constexpr int kMigrators = 4;
  std::vector<absl::Status> results(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] { results[i] = Migrate((*db)->url()); });
  }
  for (auto& t : threads) t.join();
  for (const auto& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(CountMigrations((*db)->url()), static_cast<int>(BuiltinMigrations().size()));
}

TEST(Migrate, AFailingMigrationKeepsNothingAndNamesTheError) {
  auto db = TestDatabase::Create("migrate_fail");
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<Migration> bad = {{1, "ok", "CREATE TABLE a (x int)"},
                                {2, "bad", "CREATE TABLE b (x int); SELECT no_such_column FROM a"}};
  absl::Status status = Migrate((*db)->url(), bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(CountMigrations((*db)->url()), 1);
  pqxx::connection conn((*db)->url());
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec1("SELECT count(*) FROM pg_tables WHERE tablename = 'b'")[0].as<int>(), 0);
}

TEST(Migrate, UnreachableServerIsUnavailable) {
  absl::Status status = Migrate("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

TEST(PgPool, TranslatesUniqueViolationToAlreadyExists) {
  auto db = TestDatabase::Create("pool");
  ASSERT_TRUE(db.ok()) << db.status();
  auto pool = PgPool::Create((*db)->url(), 2);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)
                  ->Transact("setup",
                             [](pqxx::work& txn) {
                               txn.exec("CREATE TABLE t (k text PRIMARY KEY)");
                               txn.exec("INSERT INTO t VALUES ('a')");
                               return absl::OkStatus();
                             })
                  .ok());
  absl::Status dup = (*pool)->Transact("insert t", [](pqxx::work& txn) {
    txn.exec("INSERT INTO t VALUES ('a')");
    return absl::OkStatus();
  });
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "insert t: already exists");
  // An error returned by the function rolls back what it wrote.
  absl::Status aborted = (*pool)->Transact("insert t", [](pqxx::work& txn) {
    txn.exec("INSERT INTO t VALUES ('b')");
    return absl::NotFoundError("stop");
  });
  EXPECT_EQ(aborted.code(), absl::StatusCode::kNotFound);
  int rows = 0;
  ASSERT_TRUE((*pool)
                  ->Transact("count",
                             [&](pqxx::work& txn) {
                               rows = txn.exec1("SELECT count(*) FROM t")[0].as<int>();
                               return absl::OkStatus();
                             })
                  .ok());
  EXPECT_EQ(rows, 1);
}

TEST(PgPool, CreateAgainstADownServerIsUnavailable) {
  auto pool = PgPool::Create("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", 1);
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hookd::db
