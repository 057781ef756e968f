// The retention against a real Postgres: rows made with ids of long ago go, in batches, with
// everything that belongs to them; recent rows stay; one replica at a time does it.

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/db/migrations.h"
#include "hookd/db/test_database.h"
#include "hookd/subscription/retention.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/log_rows.h"
#include "hookd/testing/testing.h"
#include "pqxx/pqxx"

namespace hookd::subscription {
namespace {

using testing::InsertAttempt;
using testing::InsertEvent;
using testing::LoggedEvent;

// The ids left in `table`.
std::set<std::string> Ids(const std::string& url, const std::string& table,
                          const std::string& column = "id") {
  pqxx::connection conn(url);
  pqxx::read_transaction txn(conn);
  std::set<std::string> ids;
  for (const auto& row : txn.exec("SELECT " + column + " FROM " + table)) {
    ids.insert(row[0].as<std::string>());
  }
  return ids;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = db::TestDatabase::Create("retention");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(db::Migrate(db_->url()).ok());
  }

  // Small batches and no pause: a pass then needs several transactions, at once.
  RetentionOptions Options() {
    RetentionOptions options;
    options.max_age = absl::Hours(24 * 30);
    options.batch_size = 2;
    options.pause = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<Retention> NewRetention() {
    auto retention = Retention::Create(db_->url(), Options());
    EXPECT_TRUE(retention.ok()) << retention.status();
    return retention.ok() ? std::move(*retention) : nullptr;
  }

  // Runs `fn` in one transaction of its own.
  void Write(const std::function<void(pqxx::work&)>& fn) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    fn(txn);
    txn.commit();
  }

  std::unique_ptr<db::TestDatabase> db_;
  IdGenerator ids_;
};

TEST_F(RetentionTest, OnePassRemovesExactlyWhatIsOlderInSeveralBatches) {
  const absl::Time now = absl::Now();
  const absl::Time old_time = now - absl::Hours(24 * 40);
  const absl::Time new_time = now - absl::Hours(24);
  std::vector<LoggedEvent> old_events, new_events;
  Write([&](pqxx::work& txn) {
    // Old: five deliveries (a fan-out of three and one of two, still pending: they go as well)
    // with five attempts, an event without deliveries and its idempotency key, and an event
    // whose key a recent publish took over.
    old_events.push_back(InsertEvent(txn, ids_, old_time, "acme", {"app_a", "app_b", "app_c"}));
    old_events.push_back(
        InsertEvent(txn, ids_, old_time + absl::Minutes(1), "globex", {"app_g", "app_h"}));
    old_events.push_back(InsertEvent(txn, ids_, old_time + absl::Minutes(2), "acme", {}, "k-old"));
    old_events.push_back(
        InsertEvent(txn, ids_, old_time + absl::Minutes(3), "acme", {}, "k-reused"));
    const LoggedEvent& fan_out = old_events[0];
    InsertAttempt(txn, fan_out.delivery_ids[0], 1, "app_a", old_time, 10, 500);
    InsertAttempt(txn, fan_out.delivery_ids[0], 2, "app_a", old_time, 10, 200);
    InsertAttempt(txn, fan_out.delivery_ids[1], 1, "app_b", old_time, 10, 200);
    InsertAttempt(txn, old_events[1].delivery_ids[0], 1, "app_g", old_time, 10, 0);
    InsertAttempt(txn, old_events[1].delivery_ids[1], 1, "app_h", old_time, 10, 503);

    // Recent: two events, one with a key; the key k-reused now names a recent event.
    new_events.push_back(InsertEvent(txn, ids_, new_time, "acme", {"app_a", "app_b"}, "k-new"));
    new_events.push_back(
        InsertEvent(txn, ids_, new_time + absl::Minutes(1), "acme", {"app_a"}, "k-reused"));
    InsertAttempt(txn, new_events[0].delivery_ids[0], 1, "app_a", new_time, 10, 200);
    InsertAttempt(txn, new_events[1].delivery_ids[0], 1, "app_a", new_time, 10, 200);
    for (const auto& [key, event] :
         std::vector<std::pair<std::string, std::string>>{{"k-old", old_events[2].id},
                                                          {"k-new", new_events[0].id},
                                                          {"k-reused", new_events[1].id}}) {
      txn.exec_params(
          "INSERT INTO idempotency_keys (tenant, key, event_id) VALUES ('acme', $1, $2)", key,
          event);
    }
  });

  auto retention = NewRetention();
  ASSERT_NE(retention, nullptr);
  auto pass = retention->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);
  EXPECT_EQ(pass->deliveries, 5);
  EXPECT_EQ(pass->attempts, 5);
  EXPECT_EQ(pass->events, 4);
  EXPECT_EQ(pass->idempotency_keys, 1);  // k-old; k-reused names a recent event
  // Deliveries 2 + 2 + 1, events 2 + 2 (and an empty batch that ends them).
  EXPECT_EQ(pass->batches, 5);

  std::set<std::string> new_deliveries;
  for (const LoggedEvent& e : new_events) {
    new_deliveries.insert(e.delivery_ids.begin(), e.delivery_ids.end());
  }
  EXPECT_EQ(Ids(db_->url(), "events"), (std::set<std::string>{new_events[0].id, new_events[1].id}));
  EXPECT_EQ(Ids(db_->url(), "deliveries"), new_deliveries);
  EXPECT_EQ(Ids(db_->url(), "attempts", "delivery_id"),
            (std::set<std::string>{new_events[0].delivery_ids[0], new_events[1].delivery_ids[0]}));
  EXPECT_EQ(Ids(db_->url(), "idempotency_keys", "key"),
            (std::set<std::string>{"k-new", "k-reused"}));

  // Nothing is left to remove.
  pass = retention->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);
  EXPECT_EQ(pass->batches, 0);
  EXPECT_EQ(pass->events + pass->deliveries + pass->attempts + pass->idempotency_keys, 0);
}

TEST_F(RetentionTest, OnlyOneReplicaLeadsUntilTheLeaderStops) {
  const absl::Time now = absl::Now();
  auto first = NewRetention();
  auto second = NewRetention();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  auto pass = first->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);

  // While the first keeps the leadership the second removes nothing, even what is due.
  LoggedEvent old;
  Write([&](pqxx::work& txn) {
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 31), "acme", {"app_a"});
  });
  pass = second->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_FALSE(pass->leader);
  EXPECT_EQ(pass->batches, 0);
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{old.id});

  // A stopped leader frees the lock; the next replica to try takes over.
  first->Stop();
  pass = second->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);
  EXPECT_EQ(pass->deliveries, 1);
  EXPECT_EQ(pass->events, 1);
  EXPECT_TRUE(Ids(db_->url(), "events").empty());
  pass = first->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_FALSE(pass->leader);
}

TEST_F(RetentionTest, ZeroKeepsEverythingAndBadSettingsAreNamed) {
  RetentionOptions options = Options();
  options.max_age = absl::ZeroDuration();
  auto disabled = Retention::Create(db_->url(), options);
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  const absl::Time now = absl::Now();
  LoggedEvent old;
  Write([&](pqxx::work& txn) {
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 365), "acme", {"app_a"});
  });
  auto pass = (*disabled)->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->batches, 0);
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{old.id});

  struct Case {
    std::function<void(RetentionOptions&)> change;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {[](RetentionOptions& o) { o.max_age = -absl::Hours(1); }, "retention"},
           {[](RetentionOptions& o) { o.batch_size = 0; }, "retention_batch"},
           {[](RetentionOptions& o) { o.pause = -absl::Seconds(1); }, "retention_pause"},
           {[](RetentionOptions& o) { o.interval = absl::ZeroDuration(); }, "retention_interval"},
       }) {
    RetentionOptions bad = Options();
    c.change(bad);
    auto created = Retention::Create(db_->url(), bad);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(created.status().message().substr(0, c.field.size() + 1), c.field + ":")
        << created.status();
  }
}

TEST_F(RetentionTest, TheServerRemovesOldRowsOnItsOwn) {
  const absl::Time now = absl::Now();
  LoggedEvent old, recent;
  Write([&](pqxx::work& txn) {
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 31), "acme", {"app_a", "app_b"});
    recent = InsertEvent(txn, ids_, now - absl::Hours(1), "acme", {"app_a"});
  });
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.database_url = db_->url();
  options.admin_token = testing::kTestAdminToken;
  options.master_key = testing::kTestMasterKey;
  options.database_pool_size = 1;
  options.retention = Options();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(testing::PollUntil([&] { return Ids(db_->url(), "events").size() == 1; }));
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{recent.id});
  EXPECT_EQ(Ids(db_->url(), "deliveries"),
            std::set<std::string>(recent.delivery_ids.begin(), recent.delivery_ids.end()));
}

}  // namespace
}  // namespace hookd::subscription
