#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/audit/audit_log.h"
#include "hookd/common/status.h"
#include "hookd/testing/pg_fixture.h"

namespace hookd::audit {
namespace {

class AuditLogPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::MigratedDatabase::Create("audit_log", 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  static auth::Access By(const std::string& token_id, auth::Role role, const std::string& tenant,
                         const std::string& request_id) {
    auto access = auth::Authorize(auth::Rpc::kCreateApp,
                                  {.token_id = token_id, .role = role, .tenant = tenant});
    EXPECT_TRUE(access.ok()) << access.status();
    access->set_request_id(request_id);
    return *access;
  }

  void Write(const auth::Access& by, const Change& change) {
    ASSERT_TRUE(db_->pool()
                    .Transact("audit", [&](pqxx::work& txn) { return Recorder(by, change)(txn); })
                    .ok());
  }

  std::unique_ptr<testing::MigratedDatabase> db_;
};

TEST_F(AuditLogPgTest, RecordsWhoDidWhatAndListsNewestFirstWithFilters) {
  auth::Access admin = By("bootstrap", auth::Role::kAdmin, "", "req-1");
  auth::Access manager = By("tok_m", auth::Role::kManager, "acme", "req-2");
  Write(admin, {.action = "event_type.create", .resource = "video.ready"});
  Write(manager, {.action = "app.create", .resource = "app_1", .tenant = "acme"});
  Write(manager,
        {.action = "app.update", .resource = "app_1", .tenant = "acme", .detail = "name,url"});
  Write(admin, {.action = "app.delete", .resource = "app_2", .tenant = "globex"});

  auto all = List(db_->pool(), {}, 10, "");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->events.size(), 4u);
  EXPECT_EQ(all->events[0].action(), "app.delete");
  EXPECT_EQ(all->events[3].action(), "event_type.create");
  const v1::AuditEvent& update = all->events[1];
  EXPECT_EQ(update.token_id(), "tok_m");
  EXPECT_EQ(update.role(), v1::ROLE_MANAGER);
  EXPECT_EQ(update.resource(), "app_1");
  EXPECT_EQ(update.tenant(), "acme");
  EXPECT_EQ(update.request_id(), "req-2");
  EXPECT_EQ(update.detail(), "name,url");
  EXPECT_EQ(update.id().rfind("aud_", 0), 0u);
  EXPECT_LT(absl::Now() - absl::FromUnixSeconds(update.time().seconds()), absl::Minutes(1));
  EXPECT_TRUE(all->last_id.empty());

  auto acme = List(db_->pool(), {.tenant = "acme"}, 10, "");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->events.size(), 2u);
  auto by_token = List(db_->pool(), {.token_id = "bootstrap"}, 10, "");
  ASSERT_TRUE(by_token.ok());
  EXPECT_EQ(by_token->events.size(), 2u);
  auto by_action = List(db_->pool(), {.action = "app.create"}, 10, "");
  ASSERT_TRUE(by_action.ok());
  ASSERT_EQ(by_action->events.size(), 1u);
  EXPECT_EQ(by_action->events[0].resource(), "app_1");
  auto later = List(db_->pool(), {.since = absl::Now() + absl::Minutes(1)}, 10, "");
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->events.empty());

  // Pages of two, then the rest.
  auto first = List(db_->pool(), {}, 2, "");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->events.size(), 2u);
  ASSERT_FALSE(first->last_id.empty());
  auto second = List(db_->pool(), {}, 2, first->last_id);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->events.size(), 2u);
  EXPECT_EQ(second->events[1].action(), "event_type.create");
}

TEST_F(AuditLogPgTest, AnEntryCommitsWithItsChangeOrNotAtAll) {
  auth::Access admin = By("bootstrap", auth::Role::kAdmin, "", "req-3");
  absl::Status failed = db_->pool().Transact("change", [&](pqxx::work& txn) -> absl::Status {
    HOOKD_RETURN_IF_ERROR(Recorder(admin, {.action = "app.delete", .resource = "app_9"})(txn));
    return absl::AbortedError("the change failed after its entry was written");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM audit_events"), 0);
}

TEST_F(AuditLogPgTest, DeleteBeforeRemovesOnlyOlderEntriesInBatches) {
  auth::Access admin = By("bootstrap", auth::Role::kAdmin, "", "req-4");
  for (int i = 0; i < 5; ++i) Write(admin, {.action = "app.disable", .resource = "app_old"});
  // Aged: ids start with their time, which is what the retention compares.
  db_->Exec("UPDATE audit_events SET id = 'aud_00' || substr(id, 7)");
  Write(admin, {.action = "app.enable", .resource = "app_new"});
  // One retention batch of at most three entries older than an hour.
  auto delete_old = [&] {
    int deleted = -1;
    EXPECT_TRUE(db_->pool()
                    .Transact("retention",
                              [&](pqxx::work& txn) {
                                deleted = DeleteBefore(txn, absl::Now() - absl::Hours(1), 3);
                                return absl::OkStatus();
                              })
                    .ok());
    return deleted;
  };
  EXPECT_EQ(delete_old(), 3);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM audit_events"), 3);
  EXPECT_EQ(delete_old(), 2);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM audit_events WHERE resource = 'app_new'"), 1);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM audit_events"), 1);
}

}  // namespace
}  // namespace hookd::audit
