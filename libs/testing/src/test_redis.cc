#include "hookd/testing/test_redis.h"

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/status.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/redis_client.h"

namespace hookd::testing {

using queue::ClusterCommand;
using queue::KeySlot;
using queue::RedisClient;
using queue::Reply;
using queue::ReplyStatus;
using queue::StreamKey;

namespace {

// `text` with the glob characters of SCAN MATCH escaped, so a prefix matches only itself.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Options for the url in environment variable `variable`, as TestRedisOptions describes.
absl::StatusOr<RedisOptions> OptionsFromEnvironment(const char* variable, std::string_view suite,
                                                    std::string_view example) {
  const char* url = std::getenv(variable);
  if (url == nullptr || *url == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat(variable, " is not set; run the suite through scripts/test.sh, which starts ",
                     AbslView(example), " and sets it"));
  }
  std::random_device device;
  std::mt19937_64 random((static_cast<uint64_t>(device()) << 32) ^ device());
  RedisOptions options;
  options.url = url;
  options.key_prefix = absl::StrFormat("t:%s:%016x", std::string(suite), random());
  options.partitions = 4;
  return options;
}

}  // namespace

absl::StatusOr<RedisOptions> TestRedisOptions(std::string_view suite) {
  return OptionsFromEnvironment("HOOKD_TEST_REDIS_URL", suite,
                                "a Redis (e.g. redis://127.0.0.1:56380/0)");
}

absl::StatusOr<RedisOptions> TestRedisServerOptions(std::string_view suite) {
  return OptionsFromEnvironment("HOOKD_TEST_REDIS_SERVER_URL", suite,
                                "a Redis (e.g. redis://127.0.0.1:56380/0)");
}

absl::StatusOr<RedisOptions> TestRedisClusterOptions(std::string_view suite) {
  return OptionsFromEnvironment(
      "HOOKD_TEST_REDIS_CLUSTER_URL", suite,
      "a Redis Cluster of three primaries (e.g. redis+cluster://127.0.0.1:55390,...)");
}

absl::Status DeleteKeys(const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<RedisClient> redis, RedisClient::Create(options));
  HOOKD_ASSIGN_OR_RETURN(std::vector<std::string> keys,
                         redis->ScanKeys(absl::StrCat(GlobEscape(options.key_prefix), ":*")));
  // One UNLINK per key: on a cluster, keys of several slots cannot share a command.
  std::vector<ClusterCommand> unlinks;
  for (std::string& key : keys) {
    const int slot = KeySlot(key);
    unlinks.push_back({slot, {"UNLINK", std::move(key)}});
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis->Pipeline(unlinks));
  for (const Reply& reply : replies) HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "UNLINK"));
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string>> StreamedDeliveryIds(const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(std::vector<std::string> ids, StreamedDeliveryIdsInOrder(options));
  return std::set<std::string>(ids.begin(), ids.end());
}

absl::StatusOr<std::vector<std::string>> StreamedDeliveryIdsInOrder(const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<RedisClient> redis, RedisClient::Create(options));
  std::vector<ClusterCommand> ranges;
  for (int p = 0; p < options.partitions; ++p) {
    const std::string key = StreamKey(options, p);
    ranges.push_back({KeySlot(key), {"XRANGE", key, "-", "+"}});
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis->Pipeline(ranges));
  std::vector<std::string> ids;
  for (const Reply& reply : replies) {
    HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "XRANGE"));
    for (const Reply& entry : reply.elements) {
      // [id, [field, value, ...]]; the delivery id is the value of field "d".
      if (entry.elements.size() != 2) continue;
      const auto& fields = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "d") ids.push_back(fields[i + 1].str);
      }
    }
  }
  return ids;
}

}  // namespace hookd::testing
