#include "hookd/queue/redis_client.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "hookd/common/status.h"

namespace hookd::queue {
namespace {

// Links beyond this many idle ones are closed when returned; the pool grows with the number of
// concurrent callers and shrinks back to this.
constexpr size_t kMaxIdleLinks = 16;

// One SCAN walk of a server: every key matching `pattern`. `run` sends one command.
absl::Status ScanAll(const std::string& pattern,
                     absl::FunctionRef<absl::StatusOr<Reply>(const std::vector<std::string>&)> run,
                     std::vector<std::string>& keys) {
  std::string cursor = "0";
  do {
    HOOKD_ASSIGN_OR_RETURN(Reply reply, run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
    HOOKD_RETURN_IF_ERROR(ReplyStatus(reply, "SCAN"));
    if (reply.type != Reply::Type::kArray || reply.elements.size() != 2) {
      return absl::InternalError("redis SCAN: unexpected reply shape");
    }
    cursor = reply.elements[0].str;
    for (const Reply& key : reply.elements[1].elements) keys.push_back(key.str);
  } while (cursor != "0");
  return absl::OkStatus();
}

}  // namespace

RedisClient::RedisClient(RedisOptions options, bool cluster, Link first)
    : options_(std::move(options)), cluster_(cluster) {
  idle_.push_back(std::move(first));
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(const RedisOptions& options) {
  const bool cluster = IsClusterUrl(options.url);
  // The first link both proves the url and keeps the connection for the first call.
  HOOKD_ASSIGN_OR_RETURN(Link first, NewLink(options, cluster));
  return std::unique_ptr<RedisClient>(new RedisClient(options, cluster, std::move(first)));
}

absl::StatusOr<RedisClient::Link> RedisClient::NewLink(const RedisOptions& options, bool cluster) {
  Link link;
  if (cluster) {
    HOOKD_ASSIGN_OR_RETURN(link.cluster, ClusterClient::Create(options));
  } else {
    HOOKD_ASSIGN_OR_RETURN(link.server, RedisConnection::Create(options));
  }
  return link;
}

absl::Status RedisClient::WithLink(absl::FunctionRef<absl::Status(Link&)> use) {
  Link link;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      link = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (link.server == nullptr && link.cluster == nullptr) {
    HOOKD_ASSIGN_OR_RETURN(link, NewLink(options_, cluster_));
  }
  if (link.cluster != nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (link.map_generation < shared_map_generation_) {
      link.cluster->UseSlotMap(shared_map_);
      link.map_generation = shared_map_generation_;
      link.map_changes = link.cluster->map_changes();
    }
  }
  absl::Status status = use(link);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (link.cluster != nullptr && link.cluster->map_changes() != link.map_changes) {
      // This link read the map again or followed a MOVED: the others take its map.
      shared_map_ = link.cluster->slot_map();
      link.map_generation = ++shared_map_generation_;
      link.map_changes = link.cluster->map_changes();
    }
    if (idle_.size() < kMaxIdleLinks) idle_.push_back(std::move(link));
  }
  return status;
}

absl::StatusOr<std::vector<Reply>> RedisClient::Pipeline(
    const std::vector<ClusterCommand>& commands, absl::Duration extra_wait,
    std::vector<absl::Status>* unreached) {
  if (unreached != nullptr) unreached->assign(commands.size(), absl::OkStatus());
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  HOOKD_RETURN_IF_ERROR(WithLink([&](Link& link) -> absl::Status {
    absl::StatusOr<std::vector<Reply>> got;
    if (link.cluster != nullptr) {
      got = link.cluster->Pipeline(commands, extra_wait, unreached);
    } else {
      std::vector<const std::vector<std::string>*> argvs;
      argvs.reserve(commands.size());
      for (const ClusterCommand& command : commands) argvs.push_back(&command.argv);
      got = link.server->Pipeline(argvs, extra_wait);
    }
    if (!got.ok()) return got.status();
    replies = *std::move(got);
    return absl::OkStatus();
  }));
  return replies;
}

absl::StatusOr<RedisClient::Script> RedisClient::Load(std::string source) {
  Script script{std::move(source), ""};
  const std::vector<std::string> load = {"SCRIPT", "LOAD", script.source};
  HOOKD_RETURN_IF_ERROR(WithLink([&](Link& link) -> absl::Status {
    std::vector<std::string> nodes = {""};
    if (link.cluster != nullptr) nodes = link.cluster->slot_map().Primaries();
    for (const std::string& node : nodes) {
      absl::StatusOr<std::vector<Reply>> got = link.cluster != nullptr
                                                   ? link.cluster->PipelineOn(node, {load})
                                                   : link.server->Pipeline({load});
      if (!got.ok()) return got.status();
      HOOKD_RETURN_IF_ERROR(ReplyStatus((*got)[0], "SCRIPT LOAD"));
      script.sha = (*got)[0].str;
    }
    return absl::OkStatus();
  }));
  return script;
}

absl::StatusOr<std::vector<Reply>> RedisClient::Eval(const Script& script,
                                                     const std::vector<ClusterCommand>& calls) {
  std::vector<ClusterCommand> commands;
  commands.reserve(calls.size());
  for (const ClusterCommand& call : calls) {
    ClusterCommand& command =
        commands.emplace_back(ClusterCommand{call.slot, {"EVALSHA", script.sha}});
    command.argv.insert(command.argv.end(), call.argv.begin(), call.argv.end());
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(commands));
  // Twice: a slot that moved between the load and the call can miss the script once more.
  for (int round = 0; round < 2; ++round) {
    std::vector<ClusterCommand> again;
    std::vector<size_t> retried;  // index into `commands` of each EVALSHA in `again`
    std::vector<bool> is_load;
    std::set<int> loaded;  // slots (one server: 0) whose node gets the script in `again`
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].IsErrorCode("NOSCRIPT")) continue;
      if (loaded.insert(cluster_ ? commands[i].slot : 0).second) {
        again.push_back({commands[i].slot, {"SCRIPT", "LOAD", script.source}});
        is_load.push_back(true);
      }
      again.push_back(commands[i]);
      is_load.push_back(false);
      retried.push_back(i);
    }
    if (again.empty()) break;
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> got, Pipeline(again));
    size_t next = 0;
    for (size_t k = 0; k < got.size(); ++k) {
      if (is_load[k]) {
        HOOKD_RETURN_IF_ERROR(ReplyStatus(got[k], "SCRIPT LOAD"));
      } else {
        replies[retried[next++]] = std::move(got[k]);
      }
    }
  }
  return replies;
}

absl::StatusOr<std::vector<std::string>> RedisClient::ScanKeys(const std::string& pattern) {
  std::vector<std::string> keys;
  HOOKD_RETURN_IF_ERROR(WithLink([&](Link& link) -> absl::Status {
    if (link.server != nullptr) {
      return ScanAll(
          pattern, [&](const std::vector<std::string>& argv) { return link.server->Command(argv); },
          keys);
    }
    for (const std::string& node : link.cluster->slot_map().Primaries()) {
      HOOKD_RETURN_IF_ERROR(ScanAll(
          pattern,
          [&](const std::vector<std::string>& argv) -> absl::StatusOr<Reply> {
            HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies,
                                   link.cluster->PipelineOn(node, {argv}));
            return std::move(replies[0]);
          },
          keys));
    }
    return absl::OkStatus();
  }));
  return keys;
}

}  // namespace hookd::queue
