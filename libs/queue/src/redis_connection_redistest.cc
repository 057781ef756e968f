#include <memory>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/queue/redis_connection.h"
#include "hookd/testing/test_redis.h"

namespace hookd::queue {
namespace {

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RedisOptions> options = testing::TestRedisServerOptions("conn");
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(options_.url);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
  }

  // The test server's url with other credentials and db.
  RedisOptions With(const std::string& user_info, int db) const {
    RedisOptions options = options_;
    options.url = absl::StrCat("redis://", user_info, user_info.empty() ? "" : "@", endpoint_.host,
                               ":", endpoint_.port, "/", db);
    return options;
  }

  std::unique_ptr<RedisConnection> Connect(const RedisOptions& options) {
    absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Create(options);
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  RedisOptions options_;
  RedisEndpoint endpoint_;
};

TEST_F(RedisConnectionTest, CommandAndPipelineReturnRepliesInOrder) {
  std::unique_ptr<RedisConnection> connection = Connect(options_);
  ASSERT_NE(connection, nullptr);
  const std::string key = absl::StrCat(options_.key_prefix, ":k");
  absl::StatusOr<std::vector<Reply>> replies = connection->Pipeline({
      {"SET", key, std::string("a\0b", 3)},
      {"GET", key},
      {"INCR", key},
      {"GET", absl::StrCat(key, ":missing")},
      {"RPUSH", absl::StrCat(key, ":list"), "x", "y"},
      {"LRANGE", absl::StrCat(key, ":list"), "0", "-1"},
  });
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 6u);
  EXPECT_EQ((*replies)[0].type, Reply::Type::kStatus);
  EXPECT_EQ((*replies)[0].str, "OK");
  EXPECT_EQ((*replies)[1].type, Reply::Type::kString);
  EXPECT_EQ((*replies)[1].str, std::string("a\0b", 3));
  EXPECT_TRUE((*replies)[2].is_error());
  EXPECT_TRUE((*replies)[2].IsErrorCode("ERR"));
  EXPECT_TRUE((*replies)[3].is_nil());
  EXPECT_EQ((*replies)[4].type, Reply::Type::kInteger);
  EXPECT_EQ((*replies)[4].integer, 2);
  ASSERT_EQ((*replies)[5].type, Reply::Type::kArray);
  ASSERT_EQ((*replies)[5].elements.size(), 2u);
  EXPECT_EQ((*replies)[5].elements[1].str, "y");

  // Command turns an error reply into INTERNAL carrying Redis's message.
  absl::StatusOr<Reply> incr = connection->Command({"INCR", key});
  EXPECT_EQ(incr.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(incr.status().message(), "not an integer")) << incr.status();
  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  absl::StatusOr<Reply> exists = connection->Command({"EXISTS", key});
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_EQ(exists->integer, 0);
}

TEST_F(RedisConnectionTest, SelectsTheDbOfTheUrl) {
  std::unique_ptr<RedisConnection> db0 = Connect(With("", 0));
  std::unique_ptr<RedisConnection> db1 = Connect(With("", 1));
  ASSERT_NE(db0, nullptr);
  ASSERT_NE(db1, nullptr);
  absl::StatusOr<Reply> info = db1->Command({"CLIENT", "INFO"});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(absl::StrContains(info->str, " db=1 ")) << info->str;

  const std::string key = absl::StrCat(options_.key_prefix, ":in-db1");
  ASSERT_TRUE(db1->Command({"SET", key, "1"}).ok());
  absl::StatusOr<Reply> in0 = db0->Command({"EXISTS", key});
  absl::StatusOr<Reply> in1 = db1->Command({"EXISTS", key});
  ASSERT_TRUE(in0.ok() && in1.ok());
  EXPECT_EQ(in0->integer, 0);
  EXPECT_EQ(in1->integer, 1);
  EXPECT_TRUE(testing::DeleteKeys(With("", 1)).ok());
  in1 = db1->Command({"EXISTS", key});
  ASSERT_TRUE(in1.ok());
  EXPECT_EQ(in1->integer, 0);
}

TEST_F(RedisConnectionTest, AuthenticatesWithThePasswordOfTheUrl) {
  std::unique_ptr<RedisConnection> admin = Connect(options_);
  ASSERT_NE(admin, nullptr);
  std::mt19937_64 random(std::random_device{}());
  const std::string user = absl::StrCat("hookd-t-", random());
  const std::string password = "p@ss:w/rd";
  ASSERT_TRUE(admin
                  ->Command({"ACL", "SETUSER", user, "on", absl::StrCat(">", password), "~*", "&*",
                             "+@all"})
                  .ok());

  std::unique_ptr<RedisConnection> as_user =
      Connect(With(absl::StrCat(user, ":p%40ss%3Aw%2Frd"), 0));
  ASSERT_NE(as_user, nullptr);
  absl::StatusOr<Reply> whoami = as_user->Command({"ACL", "WHOAMI"});
  ASSERT_TRUE(whoami.ok()) << whoami.status();
  EXPECT_EQ(whoami->str, user);

  absl::StatusOr<std::unique_ptr<RedisConnection>> wrong =
      RedisConnection::Create(With(absl::StrCat(user, ":wrong-secret"), 0));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(wrong.status().message(), "WRONGPASS")) << wrong.status();
  EXPECT_FALSE(absl::StrContains(wrong.status().message(), "wrong-secret")) << wrong.status();

  // The password-only form authenticates the default user, which has no password on the test
  // server, so Redis refusing it proves the password was sent.
  wrong = RedisConnection::Create(With(":only-secret", 0));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(wrong.status().message(), "AUTH")) << wrong.status();
  EXPECT_FALSE(absl::StrContains(wrong.status().message(), "only-secret")) << wrong.status();

  EXPECT_TRUE(admin->Command({"ACL", "DELUSER", user}).ok());
}

TEST_F(RedisConnectionTest, BadUrlIsInvalidArgumentNamingRedisUrl) {
  RedisOptions options = options_;
  options.url = "redis://:hunter2@host:port/0";
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Create(options);
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(connection.status().message(), "redis_url")) << connection.status();
  EXPECT_FALSE(absl::StrContains(connection.status().message(), "hunter2"));
}

TEST_F(RedisConnectionTest, ClosedPortIsUnavailableWithinTheConnectTimeout) {
  RedisOptions options = options_;
  options.url = "redis://127.0.0.1:1/0";
  options.connect_timeout = absl::Milliseconds(500);
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Create(options);
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
}

TEST_F(RedisConnectionTest, ReconnectsOnTheCallAfterItsConnectionWasKilled) {
  std::unique_ptr<RedisConnection> connection = Connect(options_);
  std::unique_ptr<RedisConnection> killer = Connect(options_);
  ASSERT_NE(connection, nullptr);
  ASSERT_NE(killer, nullptr);
  absl::StatusOr<Reply> id = connection->Command({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<Reply> killed =
      killer->Command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(killed->integer, 1);

  // The call that finds the socket closed fails; the next one connects anew.
  absl::StatusOr<Reply> ping = connection->Command({"PING"});
  EXPECT_EQ(ping.status().code(), absl::StatusCode::kUnavailable) << ping.status();
  ping = connection->Command({"PING"});
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->str, "PONG");
  absl::StatusOr<Reply> new_id = connection->Command({"CLIENT", "ID"});
  ASSERT_TRUE(new_id.ok()) << new_id.status();
  EXPECT_NE(new_id->integer, id->integer);
}

}  // namespace
}  // namespace hookd::queue
