#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/db/sql.h"
#include "hookd/testing/test_database.h"

namespace hookd::db {
namespace {

using testing::TestDatabase;
using testing::WithDatabase;

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

// A statement prepared while its table was empty must not keep the plan of an empty table once
// the table has grown (before autoanalyze runs): a batch UPDATE by id stays an index lookup.
TEST(PgPool, PlansPreparedStatementsForTheTableAsItIsNow) {
  auto db = TestDatabase::Create("pool_plans");
  ASSERT_TRUE(db.ok()) << db.status();
  auto pool = PgPool::Create(
      {.url = (*db)->url(), .pool_size = 1});  // one connection: every call below shares it
  ASSERT_TRUE(pool.ok()) << pool.status();
  const std::string update =
      "UPDATE t SET v = t.v + 1 FROM unnest($1::text[]) AS u(id) WHERE t.id = u.id";
  auto run = [&](std::string_view what, const std::function<void(pqxx::work&)>& fn) {
    return (*pool)->Transact(what, [&](pqxx::work& txn) {
      fn(txn);
      return absl::OkStatus();
    });
  };
  ASSERT_TRUE(run("create", [](pqxx::work& txn) {
                txn.exec("CREATE TABLE t (id text PRIMARY KEY, v int NOT NULL)");
              }).ok());
  // Batches of 100 ids, as the worker's are under load, while the table is still empty.
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back("k" + std::to_string(i));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(run("bump", [&](pqxx::work& txn) {
                  ExecPrepared(txn, "bump", update, ArrayLiteral(ids));
                }).ok());
  }
  ASSERT_TRUE(run("fill", [](pqxx::work& txn) {
                txn.exec("INSERT INTO t SELECT 'k' || g, 0 FROM generate_series(1, 50000) g");
              }).ok());
  std::string plan;
  ASSERT_TRUE(run("explain", [&](pqxx::work& txn) {
                for (const auto& row : txn.exec("EXPLAIN EXECUTE bump('{k7,k9}')")) {
                  plan += row[0].as<std::string>() + "\n";
                }
              }).ok());
  EXPECT_NE(plan.find("Index Scan using t_pkey on t"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan on t"), std::string::npos) << plan;
}

TEST(PgPool, TranslatesUniqueViolationToAlreadyExists) {
  auto db = TestDatabase::Create("pool");
  ASSERT_TRUE(db.ok()) << db.status();
  auto pool = PgPool::Create({.url = (*db)->url(), .pool_size = 2});
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
  auto pool = PgPool::Create(
      {.url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", .pool_size = 1});
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable);
}

// What a Postgres error tells the caller: a data error is the request's (INVALID_ARGUMENT),
// anything else INTERNAL; never the server's text, which may quote data or name tables.
TEST(PgPool, ErrorsCarryTheSqlstateNotTheServersText) {
  auto db = TestDatabase::Create("pg_errors");
  ASSERT_TRUE(db.ok()) << db.status();
  auto pool = PgPool::Create({.url = (*db)->url(), .pool_size = 1});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto run = [&](const std::string& sql) {
    return (*pool)->Transact("try", [&](pqxx::work& txn) {
      txn.exec(sql);
      return absl::OkStatus();
    });
  };
  absl::Status data = run("SELECT 'secret-3f2a'::int");
  EXPECT_EQ(data.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(data.message(), "try: a value the database cannot store (SQLSTATE 22P02)");
  absl::Status jsonb = run(R"(SELECT '{"a":"\u0000"}'::jsonb)");
  EXPECT_EQ(jsonb.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jsonb.message(), "try: a value the database cannot store (SQLSTATE 22P05)");
  absl::Status missing = run("SELECT * FROM table_secret_9c1d");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(missing.message(),
            "try: database error (SQLSTATE 42P01; the service log has the detail)");
  // The pool is still good.
  EXPECT_TRUE(run("SELECT 1").ok());
}

}  // namespace
}  // namespace hookd::db
