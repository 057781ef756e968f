#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/queue/redis_connection.h"

namespace hookd::queue {

// The event of a delivery, carried on the stream beside its ids so that a worker can make the
// first attempt without reading Postgres. The values equal the event's row byte for byte.
struct InlineEvent {
  std::string event_type;
  std::string payload;
  std::string traceparent;
  absl::Time create_time;  // microsecond precision, as Postgres stores it

  friend bool operator==(const InlineEvent&, const InlineEvent&) = default;
};

// A pending delivery as it travels on a stream. Postgres holds the delivery itself; this is what
// a worker needs to load it, plus (for first attempts published by hookd-ingest) the event.
struct DeliveryMessage {
  std::string delivery_id;
  std::string event_id;
  std::string app_id;
  int attempt = 1;
  // Set by hookd-ingest for small payloads; absent on retries, recoveries and re-enqueues, which
  // therefore read the delivery's current state from Postgres.
  std::optional<InlineEvent> event = std::nullopt;

  friend bool operator==(const DeliveryMessage&, const DeliveryMessage&) = default;
};

// The partition of an app: FNV-1a of `app_id`, mod `partitions`. Stable across processes and
// releases, so one app's deliveries stay on one stream, in order.
int PartitionOf(std::string_view app_id, int partitions);

// Keys carry a Redis Cluster hash tag so that a partition's stream and its retry set share a
// slot, which the promotion script needs.
std::string StreamKey(const RedisOptions& options, int partition);  // <prefix>:{p<N>}:deliveries
std::string RetryKey(const RedisOptions& options, int partition);   // <prefix>:{p<N>}:retry
// <prefix>:{p<N>}:generation: the marker MarkGeneration reads.
std::string GenerationKey(const RedisOptions& options, int partition);

// A message read from a stream, with what Ack needs to remove it.
struct StreamEntry {
  int partition = 0;
  std::string entry_id;
  DeliveryMessage message;
};

// The Redis streams that carry pending deliveries from ingest to the workers. Redis is a cache
// of Postgres here: anything lost in it is re-enqueued by the outbox sweeper, so every operation
// is at-least-once, and duplicates are allowed.
//
// Redis is one server or a Redis Cluster (RedisOptions::url). On a cluster each command goes to
// the primary of its partition's slot: a partition's keys share one hash tag.
//
// Thread-safe. Each call borrows a connection of its own from a pool inside the queue, so a
// blocking Read never holds up an Enqueue or Ack from another thread.
class DeliveryQueue {
 public:
  // Backlog figures for metrics, summed over partitions.
  struct Depth {
    int64_t stream_length = 0;    // entries on the streams (read or not, until acked)
    int64_t pending = 0;          // read by a consumer of the group and not yet acked
    int64_t retry_scheduled = 0;  // waiting in the retry sets
  };

  // The Redis-backed queue. INVALID_ARGUMENT for bad options (naming "redis_url" and the part
  // that is wrong for a bad url), UNAVAILABLE when Redis (every seed of a cluster) cannot be
  // reached at start, naming it, INTERNAL when it refuses AUTH or SELECT.
  static absl::StatusOr<std::unique_ptr<DeliveryQueue>> Create(const RedisOptions& options);

  virtual ~DeliveryQueue() = default;

  virtual const RedisOptions& options() const = 0;

  // XADDs every message to its partition's stream in one pipeline. INVALID_ARGUMENT (nothing
  // sent) for a message without delivery_id or app_id or with attempt < 1; UNAVAILABLE when
  // Redis is down or times out, INTERNAL when it refuses a command. After an error nothing can
  // be assumed enqueued, nor assumed not enqueued: callers enqueue again later.
  virtual absl::Status Enqueue(const std::vector<DeliveryMessage>& messages) = 0;

  // Creates consumer group `group` on every partition stream (creating the streams), reading from
  // the start so that entries added before the group existed are delivered too. An existing group
  // is left as it is, so this is safe to call at every start. UNAVAILABLE or INTERNAL on failure.
  virtual absl::Status EnsureGroup(const std::string& group) = 0;

  // Reads new entries of `partitions` for `consumer` of `group`: up to `count` per partition,
  // waiting up to `block` (not at all when zero) for the first. Empty on timeout. On a cluster,
  // where one command cannot span slots, the partitions are read without blocking and again
  // after pauses of up to 50 ms until `block` has passed. When the group
  // is missing (Redis restarted empty), recreates it and returns empty. INVALID_ARGUMENT for a
  // partition out of range or count < 1, UNAVAILABLE or INTERNAL on failure. Entries that do not
  // parse as a DeliveryMessage are acked and dropped, since no worker could ever deliver them.
  virtual absl::StatusOr<std::vector<StreamEntry>> Read(const std::string& group,
                                                        const std::string& consumer,
                                                        const std::vector<int>& partitions,
                                                        int count, absl::Duration block) = 0;

  // Acknowledges `entries` and deletes them from their streams (one pipeline), so streams do not
  // grow without bound; the streams therefore serve this one group. UNAVAILABLE or INTERNAL on
  // failure, after which some entries may still be pending and be delivered again.
  virtual absl::Status Ack(const std::string& group, const std::vector<StreamEntry>& entries) = 0;

  // Claims for `consumer` up to `count` entries of `partition` that another consumer read but has
  // not acked for longer than `min_idle` (it crashed or hangs), so they are delivered again.
  // Empty when there are none or the group is missing (which is recreated). INVALID_ARGUMENT for
  // a partition out of range or count < 1, UNAVAILABLE or INTERNAL on failure.
  virtual absl::StatusOr<std::vector<StreamEntry>> ClaimStale(const std::string& group,
                                                              const std::string& consumer,
                                                              int partition,
                                                              absl::Duration min_idle,
                                                              int count) = 0;

  // Resets the idle time of `entries` that are still pending for `consumer` (one pipeline), so
  // that ClaimStale does not hand them to another worker while this one still holds them: a
  // live worker calls it for every entry it holds more often than the visibility timeout, which
  // can therefore be short whatever the requests' timeouts. Returns the entries that are no
  // longer this consumer's (acknowledged, claimed by another consumer, or gone with Redis's
  // data): their holder drops those it has not started. INVALID_ARGUMENT for a bad name or
  // partition, UNAVAILABLE or INTERNAL on failure.
  virtual absl::StatusOr<std::vector<StreamEntry>> KeepClaimed(
      const std::string& group, const std::string& consumer,
      const std::vector<StreamEntry>& entries) = 0;

  // Redis's data generation. Sets every partition's marker to `candidate` where it has none
  // (SET NX) and returns the markers' value: `candidate` when any partition had lost its marker
  // (Redis, or a Cluster shard, restarted empty or was flushed), else the value set before.
  // A caller that sees the value change, or gets its own candidate back, knows that whatever
  // Redis held before may be gone. INVALID_ARGUMENT for an empty candidate, UNAVAILABLE or
  // INTERNAL on failure.
  virtual absl::StatusOr<std::string> MarkGeneration(const std::string& candidate) = 0;

  // Schedules each message for another attempt at its time (one pipeline). Scheduling the same
  // message (same attempt) twice keeps one, at the later call's time. INVALID_ARGUMENT as
  // Enqueue (nothing sent), UNAVAILABLE or INTERNAL on failure.
  virtual absl::Status ScheduleRetries(
      const std::vector<std::pair<DeliveryMessage, absl::Time>>& retries) = 0;

  // Moves retries due at or before `now` onto their streams, up to `limit_per_partition` per
  // partition, and returns how many moved. Each partition moves atomically in a script, so any
  // number of workers may run this at once and each retry moves exactly once. UNAVAILABLE or
  // INTERNAL on failure, after which some partitions may have moved.
  virtual absl::StatusOr<int> PromoteDueRetries(absl::Time now, int limit_per_partition) = 0;

  // Backlog of `group` (one pipeline). UNAVAILABLE or INTERNAL on failure.
  virtual absl::StatusOr<Depth> GetDepth(const std::string& group) = 0;
};

// The netstring form of a message used as a retry set member
// ("<len>:<delivery_id>,<len>:<event_id>,<len>:<app_id>,<len>:<attempt>,"): binary-safe and
// simple for the promotion script to split. Exposed for tests and tools that inspect retry sets.
std::string EncodeRetryMember(const DeliveryMessage& message);
// INVALID_ARGUMENT when `member` is not what EncodeRetryMember produces.
absl::StatusOr<DeliveryMessage> DecodeRetryMember(std::string_view member);

}  // namespace hookd::queue
