#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hookd/queue/redis_connection.h"

// Helpers for suites that run against the Redis scripts/test.sh starts (test code only: linked
// by tests through hookd_testing, never by a service).

namespace hookd::testing {

// Options for the Redis in HOOKD_TEST_REDIS_URL (one server, or a cluster's redis+cluster:// url
// when scripts/test.sh runs a suite against its cluster) with key prefix "t:<suite>:<random>" and 4
// partitions, so that suites run by `ctest -j` (and repeated runs) never share keys.
// FAILED_PRECONDITION when HOOKD_TEST_REDIS_URL is unset.
absl::StatusOr<RedisOptions> TestRedisOptions(std::string_view suite);

// The same for the one server in HOOKD_TEST_REDIS_SERVER_URL, which stays a redis:// url when
// scripts/test.sh points HOOKD_TEST_REDIS_URL at the cluster: for tests of one connection.
absl::StatusOr<RedisOptions> TestRedisServerOptions(std::string_view suite);

// The same for the Redis Cluster in HOOKD_TEST_REDIS_CLUSTER_URL (scripts/test.sh starts one of
// three primaries).
absl::StatusOr<RedisOptions> TestRedisClusterOptions(std::string_view suite);

// Removes every key under "<options.key_prefix>:" (SCAN + UNLINK). UNAVAILABLE or INTERNAL on
// failure.
absl::Status DeleteKeys(const RedisOptions& options);

// The delivery id of every entry on the streams of `options`, read with XRANGE so that no
// consumer group's state changes. UNAVAILABLE or INTERNAL on failure.
absl::StatusOr<std::set<std::string>> StreamedDeliveryIds(const RedisOptions& options);

// The same in stream order: partition 0's entries oldest first, then partition 1's, and so on.
absl::StatusOr<std::vector<std::string>> StreamedDeliveryIdsInOrder(const RedisOptions& options);

}  // namespace hookd::testing
