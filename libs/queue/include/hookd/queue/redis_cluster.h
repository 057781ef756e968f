#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/queue/redis_connection.h"

// Redis Cluster routing (issue #20), the parts that need no network: which slot a key hashes
// to, which primary serves a slot (from CLUSTER SLOTS), and what a redirection or a transient
// refusal in an error reply says. Debian 12's hiredis 0.14 knows nothing of clusters, so this
// layer is hookd's own; it follows the Redis Cluster specification
// (https://redis.io/docs/reference/cluster-spec/). RedisClient (redis_client.h) is what the
// services use; it takes a redis+cluster:// url through this.

namespace hookd::queue {

// A cluster has this many hash slots.
inline constexpr int kClusterSlots = 16384;

// The slot (0..16383) of `key`: CRC16-XMODEM of the key modulo 16384, or of its hash tag, the
// part between its first '{' and the next '}' when that part is not empty. hookd's keys carry
// one per partition ({p<N>}) or per app ({rl:<app_id>}), so a partition's keys share a slot.
int KeySlot(std::string_view key);

// Which node serves each slot: the primaries of a CLUSTER SLOTS reply. Nodes are "host:port".
class SlotMap {
 public:
  // From a CLUSTER SLOTS reply: [[first, last, [host, port, id, ...], replicas...], ...]. A
  // node announced with an empty host ("" or "?", an unknown endpoint) is taken to be on
  // `asked_host`, the host that answered. INTERNAL naming what is malformed.
  static absl::StatusOr<SlotMap> FromClusterSlots(const Reply& reply,
                                                  const std::string& asked_host);

  // The primary serving `slot`; nullptr when the reply left it uncovered.
  const std::string* PrimaryOf(int slot) const;
  // Every primary that serves a slot, each once, sorted.
  std::vector<std::string> Primaries() const;
  // How many slots some node serves (16384 in a healthy cluster).
  int CoveredSlots() const;
  // A MOVED redirection: `slot` is served by `node` from now on.
  void Move(int slot, const std::string& node);

 private:
  // The index of `node` in nodes_, added when new.
  int IndexOf(const std::string& node);

  std::vector<std::string> nodes_;
  // Per slot, an index into nodes_; -1 when uncovered.
  std::vector<int> owner_ = std::vector<int>(kClusterSlots, -1);
};

// A redirection in an error reply: "MOVED <slot> <host>:<port>" (the slot moved for good; update
// the map) or "ASK <slot> <host>:<port>" (this one command goes to that node, after ASKING).
struct Redirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  int slot = 0;
  // "host:port"; an empty host (":6380", the node does not know its address) becomes
  // `asked_host`.
  std::string node;
};

// The redirection `reply` carries; nullopt when it is no MOVED or ASK error (or a malformed one).
std::optional<Redirect> ParseRedirect(const Reply& reply, const std::string& asked_host);

// Whether `reply` refuses for now what will work soon without a redirection: TRYAGAIN (a
// multi-key command during a slot migration), CLUSTERDOWN (the cluster lost a slot's primary,
// failover under way) or LOADING (a node reading its data set). The caller retries after a pause.
bool IsRetryableClusterError(const Reply& reply);

// One command for a cluster, with the slot its keys hash to (KeySlot).
struct ClusterCommand {
  int slot = 0;
  std::vector<std::string> argv;
};

// A client of a Redis Cluster: the slot map, a connection per node it talks to, and the
// redirections. Like RedisConnection, not thread-safe: one per caller.
class ClusterClient {
 public:
  // Reads the slot map from the first seed of options.url (redis+cluster://) that answers.
  // INVALID_ARGUMENT naming "redis_url" for a bad url; UNAVAILABLE naming every seed when none
  // answers.
  static absl::StatusOr<std::unique_ptr<ClusterClient>> Create(const RedisOptions& options);

  // Sends each command to the primary of its slot: one pipeline per node, replies in the order
  // of `commands` (error replies are replies, as RedisConnection::Pipeline). A command answered
  // MOVED is sent again to the node named, whose slot the map takes; one answered ASK is sent
  // once to the node named, after ASKING; one refused for now (TRYAGAIN, CLUSTERDOWN, LOADING)
  // again after a pause. None of those ran, so sending them again runs each once. Gives up with
  // UNAVAILABLE after the command timeout plus `extra_wait`. A node that cannot be reached also
  // makes it UNAVAILABLE, as a broken connection does: the commands of the nodes sent to before
  // it ran, and any prefix of its own may have. The slot map is read again first, so that the
  // next call finds a promoted replica.
  //
  // With `unreached`, a node that cannot be reached fails only its own commands: their entries
  // in `unreached` (one per command) hold the error, their replies are nil, and the other nodes'
  // commands go on. The call fails only when no command reached its node. For reads, whose
  // replies are lost with a failed call (entries read but never seen).
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<ClusterCommand>& commands,
                                              absl::Duration extra_wait = absl::ZeroDuration(),
                                              std::vector<absl::Status>* unreached = nullptr);

  // `commands` on `node` ("host:port", one of slot_map().Primaries()) as they are, for commands
  // that name no key (SCAN, SCRIPT LOAD). UNAVAILABLE as Pipeline, after which the slot map is
  // read again.
  absl::StatusOr<std::vector<Reply>> PipelineOn(
      const std::string& node, const std::vector<std::vector<std::string>>& commands);

  // Reads the slot map again, from the nodes it knows, then from the seeds.
  absl::Status RefreshSlotMap();

  const SlotMap& slot_map() const { return map_; }
  // How many times the slot map changed (read again, or a MOVED), so that clients of one
  // cluster can share what one of them learned (RedisClient).
  int64_t map_changes() const { return map_changes_; }
  // Takes `map`, newer than this client's, which another client of the cluster read.
  void UseSlotMap(const SlotMap& map) { map_ = map; }

 private:
  ClusterClient(std::vector<RedisEndpoint> seeds, RedisOptions options)
      : seeds_(std::move(seeds)), options_(std::move(options)) {}

  // The commands of `pending` by the node each goes to: the one an ASK named (in `asked`), else
  // the primary of its slot. Reads the slot map again for a slot no node serves; UNAVAILABLE
  // when still none does.
  absl::StatusOr<std::map<std::string, std::vector<size_t>>> Route(
      const std::vector<ClusterCommand>& commands, const std::vector<size_t>& pending,
      const std::map<size_t, std::string>& asked);

  // The connection to `node` ("host:port"), made on first use.
  absl::StatusOr<RedisConnection*> ConnectionTo(const std::string& node);

  const std::vector<RedisEndpoint> seeds_;
  const RedisOptions options_;
  SlotMap map_;
  int64_t map_changes_ = 0;
  std::map<std::string, std::unique_ptr<RedisConnection>> connections_;
};

}  // namespace hookd::queue
