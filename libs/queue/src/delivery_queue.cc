#include "hookd/queue/delivery_queue.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "hookd/common/status.h"
#include "hookd/queue/redis_client.h"
#include "replies.h"

namespace hookd::queue {
namespace {

// Entry ids per run of the keep script.
constexpr size_t kKeepBatch = 200;

// KEYS[1] the retry set, KEYS[2] its stream; ARGV[1] now (unix ms), ARGV[2] the most to move.
// A script runs atomically, so a member is read, added and removed before any other caller can
// see it: concurrent promoters never move one twice. Members that do not split are dropped, as
// no worker could deliver them (Postgres still has the delivery).
constexpr char kPromoteScript[] = R"lua(
local function split(member)
  local fields, pos = {}, 1
  for i = 1, 4 do
    local colon = string.find(member, ':', pos, true)
    if not colon then return nil end
    local len = tonumber(string.sub(member, pos, colon - 1))
    if not len or len < 0 or string.sub(member, colon + len + 1, colon + len + 1) ~= ',' then
      return nil
    end
    fields[i] = string.sub(member, colon + 1, colon + len)
    pos = colon + len + 2
  end
  if pos ~= #member + 1 then return nil end
  return fields
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local moved = 0
for _, member in ipairs(due) do
  local f = split(member)
  if f then
    redis.call('XADD', KEYS[2], '*', 'd', f[1], 'e', f[2], 'a', f[3], 'n', f[4])
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], member)
end
return moved
)lua";

// KEYS[1] a stream; ARGV[1] the group, ARGV[2] the consumer, ARGV[3..] entry ids. Resets the
// idle time of each entry still pending for this consumer (XCLAIM JUSTID to itself, which does
// not count as a delivery) and returns the ids that are not: acknowledged, or taken over by
// another consumer after this one seemed dead. Checking the owner and claiming in one script
// means a live worker never takes back an entry another has claimed.
constexpr char kKeepScript[] = R"lua(
local lost = {}
for i = 3, #ARGV do
  local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #mine == 1 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
)lua";

absl::Status ValidateMessage(const DeliveryMessage& message) {
  if (message.delivery_id.empty()) return InvalidField("delivery_id", "must not be empty");
  if (message.app_id.empty()) return InvalidField("app_id", "must not be empty");
  if (message.attempt < 1) return InvalidField("attempt", "must be at least 1");
  return absl::OkStatus();
}

absl::Status ValidateName(const char* field, const std::string& name) {
  if (name.empty()) return InvalidField(field, "must not be empty");
  return absl::OkStatus();
}

void AppendNetstring(std::string& out, std::string_view value) {
  absl::StrAppend(&out, value.size(), ":", absl::string_view(value.data(), value.size()), ",");
}

std::string Millis(absl::Duration duration) {
  return std::to_string(std::max<int64_t>(0, absl::ToInt64Milliseconds(duration)));
}

class RedisDeliveryQueue final : public DeliveryQueue {
 public:
  RedisDeliveryQueue(std::unique_ptr<RedisClient> redis, RedisClient::Script promote,
                     RedisClient::Script keep)
      : redis_(std::move(redis)),
        options_(redis_->options()),
        promote_(std::move(promote)),
        keep_(std::move(keep)) {
    stream_keys_.reserve(options_.partitions);
    retry_keys_.reserve(options_.partitions);
    for (int p = 0; p < options_.partitions; ++p) {
      stream_keys_.push_back(StreamKey(options_, p));
      retry_keys_.push_back(RetryKey(options_, p));
      partition_of_key_[stream_keys_.back()] = p;
      generation_keys_.push_back(GenerationKey(options_, p));
      // A partition's keys share its hash tag, so one slot serves them all.
      slots_.push_back(KeySlot(stream_keys_.back()));
    }
  }

  const RedisOptions& options() const override { return options_; }

  absl::Status Enqueue(const std::vector<DeliveryMessage>& messages) override {
    for (const DeliveryMessage& message : messages) HOOKD_RETURN_IF_ERROR(ValidateMessage(message));
    if (messages.empty()) return absl::OkStatus();
    std::vector<ClusterCommand> commands;
    commands.reserve(messages.size());
    for (const DeliveryMessage& message : messages) {
      const int partition = PartitionOf(message.app_id, options_.partitions);
      std::vector<std::string>& command =
          commands
              .emplace_back(ClusterCommand{
                  slots_[partition],
                  {"XADD", stream_keys_[partition], "*", "d", message.delivery_id, "e",
                   message.event_id, "a", message.app_id, "n", std::to_string(message.attempt)}})
              .argv;
      if (message.event) {
        const InlineEvent& e = *message.event;
        command.insert(command.end(),
                       {"t", e.event_type, "p", e.payload, "c",
                        std::to_string(absl::ToUnixMicros(e.create_time)), "tp", e.traceparent});
      }
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    for (const Reply& reply : replies) HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "XADD"));
    return absl::OkStatus();
  }

  absl::Status EnsureGroup(const std::string& group) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    std::vector<ClusterCommand> commands;
    commands.reserve(options_.partitions);
    for (int p = 0; p < options_.partitions; ++p) {
      // Id 0, not $: entries enqueued while the group was missing (Redis restarted empty and
      // ingest enqueued before any worker read) must be delivered too.
      commands.push_back(
          {slots_[p], {"XGROUP", "CREATE", stream_keys_[p], group, "0", "MKSTREAM"}});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    for (const Reply& reply : replies) {
      if (!reply.IsErrorCode("BUSYGROUP")) HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "XGROUP"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StreamEntry>> Read(const std::string& group,
                                                const std::string& consumer,
                                                const std::vector<int>& partitions, int count,
                                                absl::Duration block) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    HOOKD_RETURN_IF_ERROR(ValidateName("consumer", consumer));
    if (count < 1) return InvalidField("count", "must be at least 1");
    if (partitions.empty()) return InvalidField("partitions", "must not be empty");
    std::vector<int> unique = partitions;
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (int p : unique) HOOKD_RETURN_IF_ERROR(CheckPartition(p));

    const std::vector<std::string> head = {"XREADGROUP", "GROUP", group,
                                           consumer,     "COUNT", std::to_string(count)};
    std::vector<StreamEntry> entries;
    std::vector<StreamEntry> malformed;
    bool group_missing = false;
    if (!redis_->is_cluster()) {
      // One server: one command reads every partition, blocking until any has entries.
      ClusterCommand command{0, head};
      absl::Duration wait = absl::ZeroDuration();
      if (block > absl::ZeroDuration()) {
        // BLOCK 0 would wait forever; a positive block below 1ms still blocks briefly.
        wait = std::max(block, absl::Milliseconds(1));
        command.argv.push_back("BLOCK");
        command.argv.push_back(Millis(wait));
      }
      command.argv.push_back("STREAMS");
      for (int p : unique) command.argv.push_back(stream_keys_[p]);
      command.argv.insert(command.argv.end(), unique.size(), ">");
      HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline({command}, wait));
      HOOKD_RETURN_IF_ERROR(TakeRead(replies, entries, malformed, group_missing));
    } else {
      // A Redis Cluster refuses one command over keys of several slots (CROSSSLOT), and a
      // blocking read of one partition would leave the others unread until it timed out. So
      // every partition is read at once without blocking (one pipeline per primary), and an
      // empty round is repeated after a pause growing from 1 ms to 50 ms until `block` has
      // passed: a busy worker never waits, an idle one makes about 20 rounds a second.
      // A primary that cannot be reached (failing over) leaves only its partitions unread: the
      // entries the others' reads took are handed out, not stranded until claimed as stale.
      std::vector<ClusterCommand> commands;
      for (int p : unique) {
        ClusterCommand& command = commands.emplace_back(ClusterCommand{slots_[p], head});
        command.argv.insert(command.argv.end(), {"STREAMS", stream_keys_[p], ">"});
      }
      const absl::Time deadline = absl::Now() + block;
      absl::Duration pause = absl::Milliseconds(1);
      std::vector<absl::Status> unreached;
      while (true) {
        HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                               redis_->Pipeline(commands, absl::ZeroDuration(), &unreached));
        std::vector<Reply> reached;
        for (size_t i = 0; i < replies.size(); ++i) {
          if (unreached[i].ok()) reached.push_back(std::move(replies[i]));
        }
        HOOKD_RETURN_IF_ERROR(TakeRead(reached, entries, malformed, group_missing));
        const absl::Duration left = deadline - absl::Now();
        if (!entries.empty() || !malformed.empty() || group_missing ||
            left <= absl::ZeroDuration()) {
          break;
        }
        absl::SleepFor(std::min(pause, left));
        pause = std::min(pause * 2, absl::Milliseconds(50));
      }
    }
    if (group_missing) {
      // The streams or the group vanished: Redis restarted empty. Postgres re-enqueues what was
      // lost; recreate the group so that those entries reach us.
      HOOKD_RETURN_IF_ERROR(EnsureGroup(group));
    }
    // Failing to drop them only means they come back once more, so the good entries still go out.
    Ack(group, malformed).IgnoreError();
    return entries;
  }

  absl::Status Ack(const std::string& group, const std::vector<StreamEntry>& entries) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    if (entries.empty()) return absl::OkStatus();
    std::map<int, std::vector<const std::string*>> ids_by_partition;
    for (const StreamEntry& entry : entries) {
      HOOKD_RETURN_IF_ERROR(CheckPartition(entry.partition));
      ids_by_partition[entry.partition].push_back(&entry.entry_id);
    }
    std::vector<ClusterCommand> commands;
    commands.reserve(2 * ids_by_partition.size());
    for (const auto& [partition, ids] : ids_by_partition) {
      ClusterCommand ack{slots_[partition], {"XACK", stream_keys_[partition], group}};
      ClusterCommand del{slots_[partition], {"XDEL", stream_keys_[partition]}};
      for (const std::string* id : ids) {
        ack.argv.push_back(*id);
        del.argv.push_back(*id);
      }
      commands.push_back(std::move(ack));
      commands.push_back(std::move(del));
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    for (size_t i = 0; i < replies.size(); ++i) {
      HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[i], commands[i].argv[0]));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StreamEntry>> ClaimStale(const std::string& group,
                                                      const std::string& consumer, int partition,
                                                      absl::Duration min_idle, int count) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    HOOKD_RETURN_IF_ERROR(ValidateName("consumer", consumer));
    HOOKD_RETURN_IF_ERROR(CheckPartition(partition));
    if (count < 1) return InvalidField("count", "must be at least 1");
    std::vector<StreamEntry> entries;
    std::vector<StreamEntry> malformed;
    std::string cursor = "0-0";
    // XAUTOCLAIM scans at most 10 * COUNT pending entries per call, so a long list of fresh
    // pending entries may take several calls before the stale ones are found.
    do {
      int want = count - static_cast<int>(entries.size());
      HOOKD_ASSIGN_OR_RETURN(
          std::vector<Reply> replies,
          redis_->Pipeline({{slots_[partition],
                             {"XAUTOCLAIM", stream_keys_[partition], group, consumer,
                              Millis(min_idle), cursor, "COUNT", std::to_string(want)}}}));
      const Reply& reply = replies[0];
      if (reply.IsErrorCode("NOGROUP")) {
        HOOKD_RETURN_IF_ERROR(EnsureGroup(group));
        break;
      }
      HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "XAUTOCLAIM"));
      if (reply.type != Reply::Type::kArray || reply.elements.size() < 2) {
        return absl::InternalError("redis XAUTOCLAIM: unexpected reply shape");
      }
      cursor = reply.elements[0].str;
      ParseStreamEntries(reply.elements[1], partition, entries, malformed);
    } while (cursor != "0-0" && static_cast<int>(entries.size()) < count);
    // Failing to drop them only means they come back once more, so the good entries still go out.
    Ack(group, malformed).IgnoreError();
    return entries;
  }

  absl::Status ScheduleRetries(
      const std::vector<std::pair<DeliveryMessage, absl::Time>>& retries) override {
    for (const auto& [message, due] : retries) HOOKD_RETURN_IF_ERROR(ValidateMessage(message));
    if (retries.empty()) return absl::OkStatus();
    std::map<int, std::vector<std::string>> commands_by_partition;
    for (const auto& [message, due] : retries) {
      int partition = PartitionOf(message.app_id, options_.partitions);
      std::vector<std::string>& command = commands_by_partition[partition];
      if (command.empty()) command = {"ZADD", retry_keys_[partition]};
      command.push_back(std::to_string(absl::ToUnixMillis(due)));
      command.push_back(EncodeRetryMember(message));
    }
    std::vector<ClusterCommand> commands;
    commands.reserve(commands_by_partition.size());
    for (auto& [partition, command] : commands_by_partition) {
      commands.push_back({slots_[partition], std::move(command)});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    for (const Reply& reply : replies) HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "ZADD"));
    return absl::OkStatus();
  }

  absl::StatusOr<int> PromoteDueRetries(absl::Time now, int limit_per_partition) override {
    if (limit_per_partition < 1) return InvalidField("limit_per_partition", "must be at least 1");
    const std::string now_ms = std::to_string(absl::ToUnixMillis(now));
    const std::string limit = std::to_string(limit_per_partition);
    std::vector<ClusterCommand> calls;
    calls.reserve(options_.partitions);
    for (int p = 0; p < options_.partitions; ++p) {
      calls.push_back({slots_[p], {"2", retry_keys_[p], stream_keys_[p], now_ms, limit}});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Eval(promote_, calls));
    int moved = 0;
    for (const Reply& reply : replies) {
      HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "EVALSHA"));
      moved += static_cast<int>(reply.integer);
    }
    return moved;
  }

  absl::StatusOr<std::vector<StreamEntry>> KeepClaimed(
      const std::string& group, const std::string& consumer,
      const std::vector<StreamEntry>& entries) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    HOOKD_RETURN_IF_ERROR(ValidateName("consumer", consumer));
    std::map<int, std::vector<const StreamEntry*>> by_partition;
    for (const StreamEntry& entry : entries) {
      HOOKD_RETURN_IF_ERROR(CheckPartition(entry.partition));
      by_partition[entry.partition].push_back(&entry);
    }
    std::vector<ClusterCommand> calls;
    std::vector<std::vector<const StreamEntry*>> asked;
    for (auto& [partition, list] : by_partition) {
      // Bounded scripts: Redis runs nothing else while one runs.
      for (size_t start = 0; start < list.size(); start += kKeepBatch) {
        ClusterCommand call{slots_[partition], {"1", stream_keys_[partition], group, consumer}};
        asked.emplace_back();
        for (size_t i = start; i < std::min(list.size(), start + kKeepBatch); ++i) {
          call.argv.push_back(list[i]->entry_id);
          asked.back().push_back(list[i]);
        }
        calls.push_back(std::move(call));
      }
    }
    std::vector<StreamEntry> lost;
    if (calls.empty()) return lost;
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Eval(keep_, calls));
    for (size_t i = 0; i < replies.size(); ++i) {
      // No group (Redis lost its data, and with it every claim); the script's error wraps it.
      if (replies[i].is_error() && absl::StrContains(replies[i].str, "NOGROUP")) {
        for (const StreamEntry* entry : asked[i]) lost.push_back(*entry);
        continue;
      }
      HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[i], "EVALSHA"));
      absl::flat_hash_set<std::string_view> ids;
      for (const Reply& id : replies[i].elements) ids.insert(id.str);
      for (const StreamEntry* entry : asked[i]) {
        if (ids.contains(entry->entry_id)) lost.push_back(*entry);
      }
    }
    return lost;
  }

  absl::StatusOr<std::string> MarkGeneration(const std::string& candidate) override {
    if (candidate.empty()) return InvalidField("candidate", "must not be empty");
    std::vector<ClusterCommand> commands;
    commands.reserve(2 * generation_keys_.size());
    for (int p = 0; p < options_.partitions; ++p) {
      commands.push_back({slots_[p], {"SET", generation_keys_[p], candidate, "NX"}});
      commands.push_back({slots_[p], {"GET", generation_keys_[p]}});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    std::string marker;
    bool agree = true;
    for (size_t i = 0; i < replies.size(); i += 2) {
      HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[i], "SET"));
      HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[i + 1], "GET"));
      const std::string& value = replies[i + 1].str;
      if (i == 0) marker = value;
      agree = agree && value == marker;
    }
    if (agree) return marker;
    // Some partitions lost their marker (a Redis Cluster shard restarted empty), or a caller
    // died while re-marking: every partition gets `candidate`, so the next call sees one value.
    commands.clear();
    for (int p = 0; p < options_.partitions; ++p) {
      commands.push_back({slots_[p], {"SET", generation_keys_[p], candidate}});
    }
    HOOKD_ASSIGN_OR_RETURN(replies, redis_->Pipeline(commands));
    for (const Reply& reply : replies) HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "SET"));
    return candidate;
  }

  absl::StatusOr<Depth> GetDepth(const std::string& group) override {
    HOOKD_RETURN_IF_ERROR(ValidateName("group", group));
    std::vector<ClusterCommand> commands;
    commands.reserve(3 * options_.partitions);
    for (int p = 0; p < options_.partitions; ++p) {
      commands.push_back({slots_[p], {"XLEN", stream_keys_[p]}});
      commands.push_back({slots_[p], {"XPENDING", stream_keys_[p], group}});
      commands.push_back({slots_[p], {"ZCARD", retry_keys_[p]}});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(commands));
    Depth depth;
    for (int p = 0; p < options_.partitions; ++p) {
      const Reply& length = replies[3 * p];
      const Reply& pending = replies[3 * p + 1];
      const Reply& retry = replies[3 * p + 2];
      HOOKD_RETURN_IF_ERROR(ReplyStatus(length, "XLEN"));
      HOOKD_RETURN_IF_ERROR(ReplyStatus(retry, "ZCARD"));
      depth.stream_length += length.integer;
      depth.retry_scheduled += retry.integer;
      // A missing group has nothing pending.
      if (pending.IsErrorCode("NOGROUP")) continue;
      HOOKD_RETURN_IF_ERROR(ReplyStatus(pending, "XPENDING"));
      if (pending.type == Reply::Type::kArray && !pending.elements.empty()) {
        depth.pending += pending.elements[0].integer;
      }
    }
    return depth;
  }

 private:
  // The entries of XREADGROUP replies, appended to `entries` (and those that do not parse to
  // `malformed`). A reply of NOGROUP sets `group_missing`.
  absl::Status TakeRead(const std::vector<Reply>& replies, std::vector<StreamEntry>& entries,
                        std::vector<StreamEntry>& malformed, bool& group_missing) const {
    for (const Reply& reply : replies) {
      if (reply.IsErrorCode("NOGROUP")) {
        group_missing = true;
        continue;
      }
      HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "XREADGROUP"));
      for (const Reply& stream : reply.elements) {
        if (stream.type != Reply::Type::kArray || stream.elements.size() != 2) continue;
        auto it = partition_of_key_.find(stream.elements[0].str);
        if (it == partition_of_key_.end()) continue;
        ParseStreamEntries(stream.elements[1], it->second, entries, malformed);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckPartition(int partition) const {
    if (partition < 0 || partition >= options_.partitions) {
      return InvalidField("partition",
                          absl::StrCat(partition, " is not in 0..", options_.partitions - 1));
    }
    return absl::OkStatus();
  }

  const std::unique_ptr<RedisClient> redis_;
  const RedisOptions& options_;  // redis_'s
  const RedisClient::Script promote_;
  const RedisClient::Script keep_;
  std::vector<std::string> stream_keys_;
  std::vector<std::string> generation_keys_;
  std::vector<std::string> retry_keys_;
  std::vector<int> slots_;  // per partition, the Redis Cluster slot of its keys
  absl::flat_hash_map<std::string, int> partition_of_key_;
};

}  // namespace

int PartitionOf(std::string_view app_id, int partitions) {
  if (partitions <= 1) return 0;
  // 32-bit FNV-1a: cheap, and fixed forever, since changing it would reorder apps' deliveries.
  uint32_t hash = 2166136261u;
  for (unsigned char c : app_id) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<int>(hash % static_cast<uint32_t>(partitions));
}

std::string StreamKey(const RedisOptions& options, int partition) {
  return absl::StrCat(options.key_prefix, ":{p", partition, "}:deliveries");
}

std::string RetryKey(const RedisOptions& options, int partition) {
  return absl::StrCat(options.key_prefix, ":{p", partition, "}:retry");
}

std::string GenerationKey(const RedisOptions& options, int partition) {
  return absl::StrCat(options.key_prefix, ":{p", partition, "}:generation");
}

std::string EncodeRetryMember(const DeliveryMessage& message) {
  std::string out;
  out.reserve(message.delivery_id.size() + message.event_id.size() + message.app_id.size() + 24);
  AppendNetstring(out, message.delivery_id);
  AppendNetstring(out, message.event_id);
  AppendNetstring(out, message.app_id);
  AppendNetstring(out, std::to_string(message.attempt));
  return out;
}

absl::StatusOr<DeliveryMessage> DecodeRetryMember(std::string_view member) {
  std::string fields[4];
  for (std::string& field : fields) {
    size_t colon = member.find(':');
    size_t length = 0;
    if (colon == std::string_view::npos || colon == 0) {
      return InvalidField("member", "not a retry member");
    }
    auto [end, ec] = std::from_chars(member.data(), member.data() + colon, length);
    if (ec != std::errc() || end != member.data() + colon || member.size() < colon + length + 2 ||
        member[colon + 1 + length] != ',') {
      return InvalidField("member", "not a retry member");
    }
    field = std::string(member.substr(colon + 1, length));
    member.remove_prefix(colon + length + 2);
  }
  DeliveryMessage message{std::move(fields[0]), std::move(fields[1]), std::move(fields[2]), 0};
  if (!member.empty() || !ParsePositiveInt(fields[3], message.attempt)) {
    return InvalidField("member", "not a retry member");
  }
  return message;
}

absl::StatusOr<std::unique_ptr<DeliveryQueue>> DeliveryQueue::Create(const RedisOptions& options) {
  HOOKD_RETURN_IF_ERROR(ValidateRedisOptions(options));
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<RedisClient> redis, RedisClient::Create(options));
  // Loading the scripts up front both checks that Redis answers commands and yields the shas
  // that EVALSHA needs; they are reloaded where a node loses them.
  HOOKD_ASSIGN_OR_RETURN(RedisClient::Script promote, redis->Load(kPromoteScript));
  HOOKD_ASSIGN_OR_RETURN(RedisClient::Script keep, redis->Load(kKeepScript));
  return std::unique_ptr<DeliveryQueue>(
      new RedisDeliveryQueue(std::move(redis), std::move(promote), std::move(keep)));
}

}  // namespace hookd::queue
