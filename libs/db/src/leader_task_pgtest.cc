#include "gtest/gtest.h"
#include "hookd/db/leader_task.h"
#include "hookd/testing/test_database.h"

namespace hookd::db {
namespace {

using testing::TestDatabase;

// Two replicas of one role, on a database of this test's own (advisory locks are per database).
TEST(LeaderTask, OneReplicaLeadsUntilItStopsOrPostgresFails) {
  auto db = TestDatabase::Create("leader_task");
  ASSERT_TRUE(db.ok()) << db.status();
  constexpr int64_t kKey = 0x686f6f6b6474;  // any role's key: the database is this test's
  auto idle = [] { return absl::Hours(1); };
  LeaderTask first((*db)->url(), kKey, idle);
  LeaderTask second((*db)->url(), kKey, idle);
  int runs = 0;
  auto work = [&](pqxx::connection& conn) {
    pqxx::nontransaction(conn).exec1("SELECT 1");  // the leader's own connection works
    ++runs;
    return absl::OkStatus();
  };

  auto led = first.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_TRUE(*led);
  led = second.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_FALSE(*led);
  EXPECT_EQ(runs, 1);

  // A failure of the work is returned; only UNAVAILABLE (Postgres gone) gives the lead up.
  led = first.WhileLeading([](pqxx::connection&) { return absl::InternalError("bad batch"); });
  EXPECT_EQ(led.status().code(), absl::StatusCode::kInternal);
  led = second.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_FALSE(*led);
  led = first.WhileLeading([](pqxx::connection&) { return absl::UnavailableError("gone"); });
  EXPECT_EQ(led.status().code(), absl::StatusCode::kUnavailable);
  led = second.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_TRUE(*led);
  led = first.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_FALSE(*led);

  // Stop hands the lead over at once.
  second.Stop();
  led = first.WhileLeading(work);
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_TRUE(*led);
  EXPECT_EQ(runs, 3);
}

}  // namespace
}  // namespace hookd::db
