#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "hookd/auth/token_cache.h"
#include "hookd/common/ids.h"
#include "hookd/testing/fake_clock.h"
#include "hookd/testing/pg_fixture.h"
#include "hookd/testing/testing.h"
#include "pqxx/pqxx"

namespace hookd::auth {
namespace {

using google::protobuf::util::TimeUtil;

class TokenCachePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::MigratedDatabase::Create("token_cache", 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store_ = std::make_unique<TokenStore>(db_->pool());
  }

  // Stores a token and answers its text.
  std::string Create(v1::Role role, const std::string& tenant,
                     std::optional<absl::Time> expire = std::nullopt, std::string* id = nullptr) {
    v1::Token token;
    token.set_id(NewId("tok"));
    token.set_name("test");
    token.set_role(role);
    token.set_tenant(tenant);
    token.set_created_by("bootstrap");
    if (expire) {
      *token.mutable_expire_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*expire));
    }
    std::string secret = NewTokenSecret();
    auto stored = store_->Create(token, TokenHash(secret));
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (id != nullptr) *id = token.id();
    return secret;
  }

  // Polls `cache` until `secret` answers `code`, for at most `deadline`.
  static bool AnswersWithin(TokenCache& cache, const std::string& secret, absl::StatusCode code,
                            absl::Duration deadline) {
    return testing::PollUntil([&] { return cache.Find(secret).status().code() == code; }, deadline,
                              absl::Milliseconds(10));
  }

  std::unique_ptr<testing::MigratedDatabase> db_;
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenCachePgTest, FindsTokensByTheirTextAndStoresOnlyTheirHash) {
  std::string id;
  const std::string secret = Create(v1::ROLE_PUBLISHER, "acme", std::nullopt, &id);
  EXPECT_EQ(secret.rfind("hkd_", 0), 0u);
  EXPECT_EQ(secret.size(), 4u + 64u);
  auto cache = TokenCache::Start(db_->url());
  ASSERT_TRUE(cache.ok()) << cache.status();
  auto principal = (*cache)->Find(secret);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->token_id, id);
  EXPECT_EQ(principal->role, Role::kPublisher);
  EXPECT_EQ(principal->tenant, "acme");
  EXPECT_EQ((*cache)->Find(NewTokenSecret()).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*cache)->Find(secret + "0").status().code(), absl::StatusCode::kUnauthenticated);
  // No column holds the token's text.
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM api_tokens WHERE row(api_tokens.*)::text LIKE '%" +
                        secret.substr(4) + "%'"),
            0);
}

TEST_F(TokenCachePgTest, ARevocationByAnotherReplicaIsSeenWithinThePollInterval) {
  std::string id;
  const std::string secret = Create(v1::ROLE_MANAGER, "", std::nullopt, &id);
  auto cache = TokenCache::Start(db_->url());
  ASSERT_TRUE(cache.ok()) << cache.status();
  ASSERT_TRUE((*cache)->Find(secret).ok());
  // A token created after the cache started is found too.
  const std::string later = Create(v1::ROLE_VIEWER, "acme");
  EXPECT_TRUE(AnswersWithin(**cache, later, absl::StatusCode::kOk, absl::Seconds(1)));

  const absl::Time revoked_at = absl::Now();
  auto revoked = store_->Revoke(id, [](const v1::Token&) { return absl::OkStatus(); });
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->has_revoke_time());
  ASSERT_TRUE(AnswersWithin(**cache, secret, absl::StatusCode::kUnauthenticated, absl::Seconds(1)));
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(1));
  EXPECT_EQ((*cache)->Find(secret).status().message(), "token " + id + " is revoked");
}

// A token whose transaction drew its version first but commits last is not skipped: writers
// wait for one another (the advisory lock of migration 0010), so versions commit in order.
TEST_F(TokenCachePgTest, AChangeThatCommitsLateIsNotSkipped) {
  auto cache = TokenCache::Start(db_->url(), {.poll_interval = absl::Hours(1)});
  ASSERT_TRUE(cache.ok()) << cache.status();
  auto token = [](const std::string& id) {
    v1::Token t;
    t.set_id(id);
    t.set_name(id);
    t.set_role(v1::ROLE_VIEWER);
    t.set_created_by("bootstrap");
    return t;
  };
  const std::string first_secret = NewTokenSecret();
  const std::string second_secret = NewTokenSecret();
  std::promise<void> first_written;
  std::promise<void> release_first;
  std::shared_future<void> released = release_first.get_future().share();
  // The first writer holds its transaction open after its insert...
  std::thread first([&] {
    auto stored = store_->Create(token("tok_first"), TokenHash(first_secret), [&](pqxx::work&) {
      first_written.set_value();
      released.wait();
      return absl::OkStatus();
    });
    EXPECT_TRUE(stored.ok()) << stored.status();
  });
  first_written.get_future().wait();
  // ... while a second one tries to commit, and the cache reads the feed meanwhile.
  std::thread second([&] {
    auto stored = store_->Create(token("tok_second"), TokenHash(second_secret));
    EXPECT_TRUE(stored.ok()) << stored.status();
  });
  // The second writer waits for the first's advisory lock (without it, it would commit now).
  // EXPECT, not ASSERT: the writers are released and joined whatever happens.
  // A connection of its own: both of the pool's are held by the writers. This database only: the
  // server is shared by the tests ctest runs at once.
  EXPECT_TRUE(testing::PollUntil([&] {
    pqxx::connection conn(db_->url());
    pqxx::read_transaction txn(conn);
    return txn.exec1(
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                  " AND database = (SELECT oid FROM pg_database"
                  " WHERE datname = current_database())")[0]
               .as<int>() == 1;
  }));
  EXPECT_TRUE((*cache)->Refresh().ok());
  release_first.set_value();
  first.join();
  second.join();
  ASSERT_TRUE((*cache)->Refresh().ok());
  EXPECT_TRUE((*cache)->Find(first_secret).ok());
  EXPECT_TRUE((*cache)->Find(second_secret).ok());
}

TEST_F(TokenCachePgTest, ARefusedRevocationChangesNothing) {
  std::string id;
  Create(v1::ROLE_VIEWER, "acme", std::nullopt, &id);
  const int64_t version = db_->Scalar("SELECT version FROM api_tokens WHERE id = '" + id + "'");
  auto refused =
      store_->Revoke(id, [](const v1::Token&) { return absl::NotFoundError("not yours"); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM api_tokens WHERE revoke_time IS NOT NULL"), 0);
  EXPECT_EQ(db_->Scalar("SELECT version FROM api_tokens WHERE id = '" + id + "'"), version);
}

TEST_F(TokenCachePgTest, AnExpiredTokenIsRefused) {
  // The cache's clock decides expiry: the test moves it past the token's expire time instead of
  // waiting for it.
  testing::FakeClock clock(absl::Now());
  std::string id;
  const std::string secret = Create(v1::ROLE_VIEWER, "acme", clock.Now() + absl::Hours(1), &id);
  TokenCacheOptions options;
  options.clock = &clock;
  auto cache = TokenCache::Start(db_->url(), options);
  ASSERT_TRUE(cache.ok()) << cache.status();
  clock.Advance(absl::Minutes(59));
  // Staleness is measured on the same clock: the next read of the changes (every 250 ms) catches
  // up with the jump.
  ASSERT_TRUE(testing::PollUntil([&] { return (*cache)->Find(secret).ok(); }, absl::Seconds(5)))
      << (*cache)->Find(secret).status();
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ((*cache)->Find(secret).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*cache)->Find(secret).status().message(), "token " + id + " has expired");
  EXPECT_EQ((*cache)->StillValid(id).message(), "token " + id + " has expired");
}

TEST_F(TokenCachePgTest, UsesAreWrittenInBatchesAndOnStop) {
  std::string id;
  const std::string secret = Create(v1::ROLE_VIEWER, "acme", std::nullopt, &id);
  const std::string query =
      "SELECT count(*) FROM api_tokens WHERE id = '" + id + "' AND last_use_time IS NOT NULL";
  {
    auto cache = TokenCache::Start(db_->url(), {.use_flush_interval = absl::Hours(1)});
    ASSERT_TRUE(cache.ok()) << cache.status();
    ASSERT_TRUE((*cache)->Find(secret).ok());
    EXPECT_EQ(db_->Scalar(query), 0);  // not on the call's path
  }
  EXPECT_EQ(db_->Scalar(query), 1);  // written when the cache stopped
}

TEST_F(TokenCachePgTest, AStaleCacheRefusesItsTokens) {
  const std::string secret = Create(v1::ROLE_VIEWER, "acme");
  auto cache = TokenCache::Start(
      db_->url(), {.poll_interval = absl::Hours(1), .max_staleness = absl::Milliseconds(50)});
  ASSERT_TRUE(cache.ok()) << cache.status();
  ASSERT_TRUE(AnswersWithin(**cache, secret, absl::StatusCode::kUnavailable, absl::Seconds(1)));
  ASSERT_TRUE((*cache)->Refresh().ok());
  EXPECT_TRUE((*cache)->Find(secret).ok());
}

}  // namespace
}  // namespace hookd::auth
