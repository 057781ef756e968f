#pragma once

#include <cstdint>
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
// (https://redis.io/docs/reference/cluster-spec/). Nothing routes through it yet: the services
// still talk to the one server of a redis:// url (deploy/README.md, "Redis").

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
  std::vector<std::string> nodes_;
  // Per slot, an index into nodes_; -1 when uncovered.
  std::vector<int16_t> owner_ = std::vector<int16_t>(kClusterSlots, -1);
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

}  // namespace hookd::queue
