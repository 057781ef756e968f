#include "hookd/queue/redis_cluster.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/status.h"
#include "replies.h"

namespace hookd::queue {
namespace {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection; the cluster
// specification's key hash. The table is built once at compile time.
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(c)) & 0xff]);
  }
  return crc;
}

// Whether `host` can be a node's address: an IPv4 or IPv6 address (with a zone) or a DNS name.
// Anything else in a reply is garbage that no connection could use.
bool IsHostName(std::string_view host) {
  return !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '%';
  });
}

// "host:port" of a node; an unknown host ("" or "?") is `asked_host`. IPv6 hosts keep no
// brackets in CLUSTER SLOTS and MOVED, so the port is after the last ':'.
std::string NodeName(std::string_view host, int port, const std::string& asked_host) {
  const std::string_view known = host.empty() || host == "?" ? std::string_view(asked_host) : host;
  return absl::StrCat(AbslView(known), ":", port);
}

}  // namespace

int KeySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

absl::StatusOr<SlotMap> SlotMap::FromClusterSlots(const Reply& reply,
                                                  const std::string& asked_host) {
  if (reply.type != Reply::Type::kArray) {
    return absl::InternalError("CLUSTER SLOTS: the reply is not an array");
  }
  if (reply.elements.size() > kClusterSlots) {
    return absl::InternalError("CLUSTER SLOTS: more ranges than slots");
  }
  SlotMap map;
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    const Reply& range = reply.elements[i];
    const std::string where = absl::StrCat("CLUSTER SLOTS: range ", i + 1, ": ");
    if (range.type != Reply::Type::kArray || range.elements.size() < 3 ||
        range.elements[0].type != Reply::Type::kInteger ||
        range.elements[1].type != Reply::Type::kInteger) {
      return absl::InternalError(where + "not [first, last, primary, ...]");
    }
    const int64_t first = range.elements[0].integer;
    const int64_t last = range.elements[1].integer;
    if (first < 0 || last >= kClusterSlots || first > last) {
      return absl::InternalError(absl::StrCat(where, "slots ", first, "-", last, " out of range"));
    }
    const Reply& primary = range.elements[2];
    if (primary.type != Reply::Type::kArray || primary.elements.size() < 2 ||
        primary.elements[0].type != Reply::Type::kString ||
        primary.elements[1].type != Reply::Type::kInteger || primary.elements[1].integer < 1 ||
        primary.elements[1].integer > 65535) {
      return absl::InternalError(where + "the primary is not [host, port, ...]");
    }
    const std::string& host = primary.elements[0].str;
    if (!host.empty() && host != "?" && !IsHostName(host)) {
      return absl::InternalError(where + "the primary's host is not an address");
    }
    const int owner =
        map.IndexOf(NodeName(host, static_cast<int>(primary.elements[1].integer), asked_host));
    std::fill(map.owner_.begin() + first, map.owner_.begin() + last + 1, owner);
  }
  return map;
}

const std::string* SlotMap::PrimaryOf(int slot) const {
  if (slot < 0 || slot >= kClusterSlots || owner_[slot] < 0) return nullptr;
  return &nodes_[owner_[slot]];
}

std::vector<std::string> SlotMap::Primaries() const {
  std::vector<bool> used(nodes_.size(), false);
  for (int owner : owner_) {
    if (owner >= 0) used[owner] = true;
  }
  std::vector<std::string> primaries;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (used[i]) primaries.push_back(nodes_[i]);
  }
  std::sort(primaries.begin(), primaries.end());
  return primaries;
}

int SlotMap::CoveredSlots() const {
  return static_cast<int>(
      std::count_if(owner_.begin(), owner_.end(), [](int owner) { return owner >= 0; }));
}

int SlotMap::IndexOf(const std::string& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), node);
  return static_cast<int>(it - nodes_.begin());
}

void SlotMap::Move(int slot, const std::string& node) {
  if (slot < 0 || slot >= kClusterSlots) return;
  owner_[slot] = IndexOf(node);
}

std::optional<Redirect> ParseRedirect(const Reply& reply, const std::string& asked_host) {
  if (!reply.is_error()) return std::nullopt;
  std::vector<absl::string_view> words = absl::StrSplit(AbslView(reply.str), ' ');
  if (words.size() != 3) return std::nullopt;
  Redirect redirect;
  if (words[0] == "MOVED") {
    redirect.kind = Redirect::Kind::kMoved;
  } else if (words[0] == "ASK") {
    redirect.kind = Redirect::Kind::kAsk;
  } else {
    return std::nullopt;
  }
  int slot = 0, port = 0;
  const std::string_view address(words[2].data(), words[2].size());
  const size_t colon = address.rfind(':');
  if (!ParseIntInRange(std::string_view(words[1].data(), words[1].size()), 0, kClusterSlots - 1,
                       slot) ||
      colon == std::string_view::npos ||
      !ParseIntInRange(address.substr(colon + 1), 1, 65535, port) ||
      (colon > 0 && !IsHostName(address.substr(0, colon)))) {
    return std::nullopt;
  }
  redirect.slot = slot;
  redirect.node = NodeName(address.substr(0, colon), port, asked_host);
  return redirect;
}

bool IsRetryableClusterError(const Reply& reply) {
  return reply.IsErrorCode("TRYAGAIN") || reply.IsErrorCode("CLUSTERDOWN") ||
         reply.IsErrorCode("LOADING");
}

namespace {

// The host of "host:port" (IPv6 hosts hold colons: the port is after the last).
std::string HostOf(const std::string& node) { return node.substr(0, node.rfind(':')); }

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterClient>> ClusterClient::Create(const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(std::vector<RedisEndpoint> seeds, ParseRedisClusterUrl(options.url));
  std::unique_ptr<ClusterClient> client(new ClusterClient(std::move(seeds), options));
  HOOKD_RETURN_IF_ERROR(client->RefreshSlotMap());
  return client;
}

absl::Status ClusterClient::RefreshSlotMap() {
  // Nodes already connected first (no new connection), then the map's primaries, then the
  // seeds: after a failover the seeds may be the nodes that are gone.
  std::vector<std::string> candidates;
  for (const auto& [node, connection] : connections_) candidates.push_back(node);
  for (const std::string& node : map_.Primaries()) candidates.push_back(node);
  for (const RedisEndpoint& seed : seeds_)
    candidates.push_back(absl::StrCat(seed.host, ":", seed.port));
  std::vector<std::string> errors;
  std::vector<std::string> tried;
  for (const std::string& node : candidates) {
    if (std::find(tried.begin(), tried.end(), node) != tried.end()) continue;
    tried.push_back(node);
    absl::StatusOr<RedisConnection*> connection = ConnectionTo(node);
    absl::StatusOr<Reply> reply =
        connection.ok() ? (*connection)->Command({"CLUSTER", "SLOTS"}) : connection.status();
    if (reply.ok()) {
      absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(*reply, HostOf(node));
      if (map.ok() && map->CoveredSlots() > 0) {
        map_ = *std::move(map);
        ++map_changes_;
        return absl::OkStatus();
      }
      reply = map.ok() ? absl::UnavailableError("serves no slot") : map.status();
    }
    connections_.erase(node);
    errors.push_back(absl::StrCat(node, ": ", reply.status().message()));
  }
  return absl::UnavailableError(absl::StrCat("redis cluster: no node answered CLUSTER SLOTS (",
                                             absl::StrJoin(errors, "; "), ")"));
}

absl::StatusOr<RedisConnection*> ClusterClient::ConnectionTo(const std::string& node) {
  auto it = connections_.find(node);
  if (it != connections_.end()) return it->second.get();
  RedisEndpoint endpoint = seeds_.front();  // the url's credentials
  endpoint.host = HostOf(node);
  endpoint.port = std::stoi(node.substr(node.rfind(':') + 1));
  endpoint.db = 0;
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<RedisConnection> connection,
                         RedisConnection::Create(std::move(endpoint), options_));
  return connections_.emplace(node, std::move(connection)).first->second.get();
}

absl::StatusOr<std::vector<Reply>> ClusterClient::PipelineOn(
    const std::string& node, const std::vector<std::vector<std::string>>& commands) {
  absl::StatusOr<RedisConnection*> connection = ConnectionTo(node);
  absl::StatusOr<std::vector<Reply>> replies =
      connection.ok() ? (*connection)->Pipeline(commands) : connection.status();
  if (!replies.ok()) {
    connections_.erase(node);
    RefreshSlotMap().IgnoreError();
  }
  return replies;
}

absl::StatusOr<std::map<std::string, std::vector<size_t>>> ClusterClient::Route(
    const std::vector<ClusterCommand>& commands, const std::vector<size_t>& pending,
    const std::map<size_t, std::string>& asked) {
  std::map<std::string, std::vector<size_t>> by_node;
  for (size_t i : pending) {
    if (auto it = asked.find(i); it != asked.end()) {
      by_node[it->second].push_back(i);
      continue;
    }
    const std::string* node = map_.PrimaryOf(commands[i].slot);
    if (node == nullptr) {
      HOOKD_RETURN_IF_ERROR(RefreshSlotMap());
      node = map_.PrimaryOf(commands[i].slot);
      if (node == nullptr) {
        return absl::UnavailableError(
            absl::StrCat("redis cluster: no node serves slot ", commands[i].slot));
      }
    }
    by_node[*node].push_back(i);
  }
  return by_node;
}

absl::StatusOr<std::vector<Reply>> ClusterClient::Pipeline(
    const std::vector<ClusterCommand>& commands, absl::Duration extra_wait,
    std::vector<absl::Status>* unreached) {
  if (unreached != nullptr) unreached->assign(commands.size(), absl::OkStatus());
  size_t reached = commands.size();
  absl::Status first_failure;
  std::vector<Reply> replies(commands.size());
  std::vector<size_t> pending(commands.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  std::map<size_t, std::string> asked;  // command -> the node an ASK named
  const absl::Time deadline =
      absl::Now() + options_.command_timeout + std::max(extra_wait, absl::ZeroDuration());
  absl::Duration pause = absl::Milliseconds(10);
  std::string last_refusal;
  while (true) {
    HOOKD_ASSIGN_OR_RETURN(auto by_node, Route(commands, pending, asked));
    std::vector<size_t> again;
    bool wait = false;
    for (const auto& [node, indices] : by_node) {
      static const std::vector<std::string> kAsking = {"ASKING"};
      std::vector<const std::vector<std::string>*> batch;
      for (size_t i : indices) {
        if (asked.count(i) > 0) batch.push_back(&kAsking);
        batch.push_back(&commands[i].argv);
      }
      absl::StatusOr<RedisConnection*> connection = ConnectionTo(node);
      absl::StatusOr<std::vector<Reply>> got =
          connection.ok() ? (*connection)->Pipeline(batch, extra_wait) : connection.status();
      if (!got.ok()) {
        connections_.erase(node);
        RefreshSlotMap().IgnoreError();  // the next call finds the slot's new primary
        if (unreached == nullptr) return got.status();
        // The other nodes' commands go on; these are given up, ASKs included.
        for (size_t i : indices) {
          (*unreached)[i] = got.status();
          asked.erase(i);
        }
        reached -= indices.size();
        if (first_failure.ok()) first_failure = got.status();
        continue;
      }
      size_t at = 0;
      for (size_t i : indices) {
        if (asked.erase(i) > 0) ++at;  // ASKING's +OK
        Reply& reply = (*got)[at++];
        if (std::optional<Redirect> redirect = ParseRedirect(reply, HostOf(node))) {
          if (redirect->kind == Redirect::Kind::kMoved) {
            map_.Move(redirect->slot, redirect->node);
            ++map_changes_;
          } else {
            asked[i] = redirect->node;
          }
          again.push_back(i);
        } else if (IsRetryableClusterError(reply)) {
          last_refusal = reply.str;
          wait = true;
          again.push_back(i);
        } else {
          replies[i] = std::move(reply);
        }
      }
    }
    if (again.empty()) {
      if (reached == 0) return first_failure;
      return replies;
    }
    pending = std::move(again);
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("redis cluster: ", pending.size(),
                       " commands still redirected or refused at the deadline",
                       last_refusal.empty() ? "" : absl::StrCat(" (", last_refusal, ")")));
    }
    if (wait) {
      absl::SleepFor(
          std::min(pause, deadline - absl::Now()));  // a backoff, not a wait for an event
      pause = std::min(pause * 2, absl::Milliseconds(200));
    }
  }
}

}  // namespace hookd::queue
