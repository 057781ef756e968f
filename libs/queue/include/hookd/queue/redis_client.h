#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/queue/redis_cluster.h"
#include "hookd/queue/redis_connection.h"

namespace hookd::queue {

// The Redis that HOOKD_REDIS_URL names: one server (redis://) or a Redis Cluster
// (redis+cluster://, routed by redis_cluster.h). Callers tag every command with the slot of its
// keys (KeySlot); one server ignores the tags, so the same calls serve both.
//
// Thread-safe. Each call borrows a link of its own from a pool (a connection, or a cluster
// client with a connection per primary), so a blocking command never holds up another
// thread's commands. The links of a cluster share their slot map: what one learns (a failover,
// a MOVED) the next borrowed link knows, instead of each failing once on the old primary.
class RedisClient {
 public:
  // INVALID_ARGUMENT naming "redis_url" for a bad url (the part that is wrong), UNAVAILABLE
  // when the server, or every seed of a cluster, cannot be reached (naming them), INTERNAL when
  // Redis refuses AUTH or SELECT.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(const RedisOptions& options);

  const RedisOptions& options() const { return options_; }
  bool is_cluster() const { return cluster_; }

  // Each command on the node serving its slot, as one pipeline per node; replies in order.
  // Error replies are replies. UNAVAILABLE when a node cannot be reached or does not answer in
  // the command timeout plus `extra_wait`: any of the commands may have run then. With
  // `unreached`, as ClusterClient::Pipeline: only the commands of a node that failed fail (one
  // server: all of them, and the call).
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<ClusterCommand>& commands,
                                              absl::Duration extra_wait = absl::ZeroDuration(),
                                              std::vector<absl::Status>* unreached = nullptr);

  // A Lua script and the SHA1 that EVALSHA calls it by.
  struct Script {
    std::string source;
    std::string sha;
  };
  // Loads `source` on the server or on every primary, which also checks that they answer.
  absl::StatusOr<Script> Load(std::string source);

  // EVALSHA of `script` for each call, whose argv is what follows the sha (numkeys, keys,
  // arguments) and whose slot is its keys'. A node that lost the script (it restarted, or is a
  // replica promoted since the load: scripts are not replicated) answers NOSCRIPT; it is loaded
  // there and those calls are made again. Replies in order, as Pipeline.
  absl::StatusOr<std::vector<Reply>> Eval(const Script& script,
                                          const std::vector<ClusterCommand>& calls);

  // Every key that matches the SCAN pattern `pattern`, on the server or on every primary.
  absl::StatusOr<std::vector<std::string>> ScanKeys(const std::string& pattern);

 private:
  // One caller's connection, or cluster client.
  struct Link {
    std::unique_ptr<RedisConnection> server;
    std::unique_ptr<ClusterClient> cluster;
    int64_t map_generation = 0;  // the shared map's generation this link's map is, or follows
    int64_t map_changes = 0;     // cluster->map_changes() when it last matched the shared map
  };

  RedisClient(RedisOptions options, bool cluster, Link first);

  static absl::StatusOr<Link> NewLink(const RedisOptions& options, bool cluster);
  // Runs `use` with a link no other thread uses meanwhile, and pools the link again (a broken
  // one too: it reconnects on its next call).
  absl::Status WithLink(absl::FunctionRef<absl::Status(Link&)> use);

  const RedisOptions options_;
  const bool cluster_;
  std::mutex mu_;
  std::vector<Link> idle_ ABSL_GUARDED_BY(mu_);
  // The newest slot map any link of a cluster has, and a count of its updates.
  SlotMap shared_map_ ABSL_GUARDED_BY(mu_);
  int64_t shared_map_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hookd::queue
