#include <string>

#include "gtest/gtest.h"
#include "hookd/worker/worker.h"

namespace hookd::worker {
namespace {

// Options that pass every check; the urls are never dialled because each case below is refused
// before the worker connects to anything.
WorkerOptions Valid() {
  WorkerOptions options;
  options.postgres.url = "postgresql://nobody@127.0.0.1:1/none";
  options.redis.url = "redis://127.0.0.1:1/0";
  options.admin_token = "token";
  options.subscription_addr = "127.0.0.1:1";
  return options;
}

// The field an INVALID_ARGUMENT names ("field: problem").
std::string RefusedField(const WorkerOptions& options) {
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Start(options);
  if (worker.ok()) return "(started)";
  if (worker.status().code() != absl::StatusCode::kInvalidArgument) {
    return "(" + worker.status().ToString() + ")";
  }
  std::string message(worker.status().message());
  return message.substr(0, message.find(": "));
}

TEST(WorkerOptions, RefusesEachBadSettingByName) {
  WorkerOptions options = Valid();
  options.admin_token.clear();
  EXPECT_EQ(RefusedField(options), "admin_token");

  options = Valid();
  options.subscription_addr.clear();
  EXPECT_EQ(RefusedField(options), "subscription_addr");

  options = Valid();
  options.visibility_timeout = absl::Milliseconds(999);
  EXPECT_EQ(RefusedField(options), "visibility_timeout");

  options = Valid();
  options.max_in_flight_per_app = 0;
  EXPECT_EQ(RefusedField(options), "max_in_flight_per_app");

  options = Valid();
  options.max_queued_per_app = 0;
  EXPECT_EQ(RefusedField(options), "max_queued_per_app");

  options = Valid();
  options.max_in_flight = 0;
  EXPECT_EQ(RefusedField(options), "max_in_flight");

  options = Valid();
  options.max_connections_per_host = -1;
  EXPECT_EQ(RefusedField(options), "max_connections_per_host");

  // The shared Postgres and Redis options, checked before anything is dialled.
  options = Valid();
  options.postgres.url.clear();
  EXPECT_EQ(RefusedField(options), "database_url");
  options = Valid();
  options.postgres.pool_size = 0;
  EXPECT_EQ(RefusedField(options), "database_pool_size");
  options = Valid();
  options.redis.url.clear();
  EXPECT_EQ(RefusedField(options), "redis_url");
  options = Valid();
  options.redis.url = "http://127.0.0.1:6379";
  EXPECT_EQ(RefusedField(options), "redis_url");
  options = Valid();
  options.redis.partitions = 1025;
  EXPECT_EQ(RefusedField(options), "partitions");
  options = Valid();
  options.redis.key_prefix.clear();
  EXPECT_EQ(RefusedField(options), "redis_key_prefix");

  options = Valid();
  options.ops_tenant = "";
  EXPECT_EQ(RefusedField(options), "ops_tenant");
  options.ops_tenant = "hookd ops";
  EXPECT_EQ(RefusedField(options), "ops_tenant");
}

}  // namespace
}  // namespace hookd::worker
