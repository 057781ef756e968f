// ClusterClient against the Redis Cluster scripts/test.sh starts (three primaries,
// HOOKD_TEST_REDIS_CLUSTER_URL): a pipeline spread over every primary, and a slot migrated
// under it (ASK while it moves, MOVED once it has).
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hookd/queue/redis_client.h"
#include "hookd/queue/redis_cluster.h"
#include "hookd/testing/test_redis.h"

namespace hookd::queue {
namespace {

class ClusterClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RedisOptions> options = testing::TestRedisClusterOptions("cluster");
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    absl::StatusOr<std::unique_ptr<ClusterClient>> client = ClusterClient::Create(options_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // A connection of its own to `node` ("host:port"), for what the test does behind the client.
  std::unique_ptr<RedisConnection> Admin(const std::string& node) {
    RedisEndpoint endpoint;
    endpoint.host = node.substr(0, node.rfind(':'));
    endpoint.port = std::stoi(node.substr(node.rfind(':') + 1));
    absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
        RedisConnection::Create(endpoint, options_);
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.ok() ? *std::move(connection) : nullptr;
  }

  // `argv` on `node`, expected to succeed.
  Reply Run(const std::string& node, const std::vector<std::string>& argv) {
    std::unique_ptr<RedisConnection> admin = Admin(node);
    if (admin == nullptr) return Reply();
    absl::StatusOr<Reply> reply = admin->Command(argv);
    EXPECT_TRUE(reply.ok()) << absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "", " on ",
                                            node, ": ", reply.status().ToString());
    return reply.ok() ? *reply : Reply();
  }

  // Moves `slot` from the primary `from` to the primary `to` as redis-cli --cluster reshard
  // does, with `keys` (MIGRATE); with `finish` false it stops there, the slot still migrating.
  void MoveSlot(int slot, const std::vector<std::string>& keys, const std::string& from,
                const std::string& to, bool finish) {
    const std::string from_id = Run(from, {"CLUSTER", "MYID"}).str;
    const std::string to_id = Run(to, {"CLUSTER", "MYID"}).str;
    const std::string s = std::to_string(slot);
    Run(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", from_id});
    Run(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
    std::vector<std::string> migrate = {
        "MIGRATE", to.substr(0, to.rfind(':')), to.substr(to.rfind(':') + 1), "", "0", "5000",
        "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    Run(from, migrate);
    if (!finish) return;
    for (const std::string& node : client_->slot_map().Primaries()) {
      Run(node, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
    }
  }

  // `commands` through the client, each on the slot of its second argument (the key).
  std::vector<Reply> Send(const std::vector<std::vector<std::string>>& commands) {
    std::vector<ClusterCommand> routed;
    for (const auto& argv : commands) routed.push_back({KeySlot(argv[1]), argv});
    absl::StatusOr<std::vector<Reply>> replies = client_->Pipeline(routed);
    EXPECT_TRUE(replies.ok()) << replies.status();
    return replies.ok() ? *replies : std::vector<Reply>(commands.size());
  }

  RedisOptions options_;
  std::unique_ptr<ClusterClient> client_;
};

TEST_F(ClusterClientTest, OnePipelineReachesEveryPrimary) {
  const std::vector<std::string> primaries = client_->slot_map().Primaries();
  ASSERT_EQ(primaries.size(), 3u);
  EXPECT_EQ(client_->slot_map().CoveredSlots(), kClusterSlots);

  std::vector<std::vector<std::string>> sets, gets;
  for (int p = 0; p < 16; ++p) {
    const std::string key = absl::StrCat(options_.key_prefix, ":{p", p, "}:deliveries");
    sets.push_back({"SET", key, absl::StrCat("v", p)});
    gets.push_back({"GET", key});
  }
  for (const Reply& reply : Send(sets)) EXPECT_EQ(reply.str, "OK") << reply.str;
  std::vector<Reply> values = Send(gets);
  std::set<std::string> used;
  for (int p = 0; p < 16; ++p) {
    EXPECT_EQ(values[p].str, absl::StrCat("v", p));
    // Each key is on the primary the map names: asked directly, that node answers, not MOVED.
    const std::string node = *client_->slot_map().PrimaryOf(KeySlot(gets[p][1]));
    used.insert(node);
    EXPECT_EQ(Run(node, gets[p]).str, absl::StrCat("v", p)) << node;
    Run(node, {"DEL", gets[p][1]});
  }
  EXPECT_EQ(used.size(), 3u) << "16 partitions' keys should spread over all three primaries";
}

TEST_F(ClusterClientTest, FollowsAskWhileASlotMovesAndMovedOnceItHas) {
  const std::string a = absl::StrCat(options_.key_prefix, ":{migrating}a");
  const std::string b = absl::StrCat(options_.key_prefix, ":{migrating}b");
  const int slot = KeySlot(a);
  ASSERT_EQ(KeySlot(b), slot);
  const std::string from = *client_->slot_map().PrimaryOf(slot);
  std::string to;
  for (const std::string& node : client_->slot_map().Primaries()) {
    if (node != from) to = node;
  }
  std::vector<Reply> set = Send({{"SET", a, "kept a"}, {"SET", b, "kept b"}});
  ASSERT_EQ(set[0].str, "OK");
  ASSERT_EQ(set[1].str, "OK");

  // `a` is on `to`, `b` still on `from`, the slot still `from`'s: `from` answers a's GET with
  // ASK, and the client follows it.
  MoveSlot(slot, {a}, from, to, /*finish=*/false);
  EXPECT_EQ(Send({{"GET", a}})[0].str, "kept a");
  EXPECT_EQ(Send({{"GET", b}})[0].str, "kept b");
  EXPECT_EQ(*client_->slot_map().PrimaryOf(slot), from) << "an ASK moves no slot";

  // A command on both keys, split between two nodes, is refused with TRYAGAIN until the move
  // ends: retried with backoff, then UNAVAILABLE at the command timeout.
  RedisOptions impatient = options_;
  impatient.command_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<ClusterClient>> short_client = ClusterClient::Create(impatient);
  ASSERT_TRUE(short_client.ok()) << short_client.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Reply>> both = (*short_client)->Pipeline({{slot, {"MGET", a, b}}});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(both.status().message(), "TRYAGAIN")) << both.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));

  // The slot is `to`'s now: `from` answers MOVED, and the map follows.
  MoveSlot(slot, {b}, from, to, /*finish=*/true);
  std::vector<Reply> values = Send({{"MGET", a, b}});
  ASSERT_EQ(values[0].elements.size(), 2u);
  EXPECT_EQ(values[0].elements[0].str, "kept a");
  EXPECT_EQ(values[0].elements[1].str, "kept b");
  EXPECT_EQ(*client_->slot_map().PrimaryOf(slot), to);
  EXPECT_EQ(*client_->slot_map().PrimaryOf(slot + 1 < kClusterSlots ? slot + 1 : slot - 1), from)
      << "a MOVED moves its slot alone";

  // Back as it was, for the other suites.
  MoveSlot(slot, {a, b}, to, from, /*finish=*/true);
  EXPECT_EQ(Send({{"DEL", a, b}})[0].integer, 2);
  EXPECT_EQ(*client_->slot_map().PrimaryOf(slot), from);
}

// A node that cannot be reached: with `unreached`, only its commands fail and the others are
// answered; without, the call fails. Either way the map is read again, finding the real owner.
TEST_F(ClusterClientTest, AnUnreachableNodeFailsOnlyItsOwnCommandsWhenAsked) {
  const std::string dead_key = absl::StrCat(options_.key_prefix, ":{p0}:x");
  const std::string live_key = absl::StrCat(options_.key_prefix, ":{p1}:x");
  const int dead_slot = KeySlot(dead_key), live_slot = KeySlot(live_key);
  ASSERT_NE(*client_->slot_map().PrimaryOf(dead_slot), "127.0.0.1:1");
  const std::string owner = *client_->slot_map().PrimaryOf(dead_slot);
  auto break_map = [&] {
    SlotMap map = client_->slot_map();
    map.Move(dead_slot, "127.0.0.1:1");  // nothing listens there
    client_->UseSlotMap(map);
  };
  const std::vector<ClusterCommand> commands = {{dead_slot, {"SET", dead_key, "d"}},
                                                {live_slot, {"SET", live_key, "l"}}};

  break_map();
  std::vector<absl::Status> unreached;
  absl::StatusOr<std::vector<Reply>> replies =
      client_->Pipeline(commands, absl::ZeroDuration(), &unreached);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(unreached.size(), 2u);
  EXPECT_EQ(unreached[0].code(), absl::StatusCode::kUnavailable) << unreached[0];
  EXPECT_TRUE(absl::StrContains(unreached[0].message(), "127.0.0.1:1")) << unreached[0];
  EXPECT_TRUE(unreached[1].ok()) << unreached[1];
  EXPECT_EQ((*replies)[1].str, "OK");
  EXPECT_TRUE(Run(owner, {"GET", dead_key}).is_nil()) << "the unreachable node's command ran";
  EXPECT_EQ(*client_->slot_map().PrimaryOf(dead_slot), owner) << "the map was not read again";

  break_map();
  replies = client_->Pipeline(commands);
  EXPECT_EQ(replies.status().code(), absl::StatusCode::kUnavailable) << replies.status();
  EXPECT_EQ(*client_->slot_map().PrimaryOf(dead_slot), owner);

  // Nothing reached: the call fails even when asked for per-command failures.
  break_map();
  replies = client_->Pipeline({commands[0]}, absl::ZeroDuration(), &unreached);
  EXPECT_EQ(replies.status().code(), absl::StatusCode::kUnavailable) << replies.status();

  for (const std::string& key : {dead_key, live_key}) {
    Run(*client_->slot_map().PrimaryOf(KeySlot(key)), {"DEL", key});
  }
}

// Scripts are not replicated, so a promoted replica, or a restarted primary, answers NOSCRIPT:
// RedisClient loads the script on that node and calls again, whichever node it is.
TEST_F(ClusterClientTest, ARedisClientLoadsAScriptAgainWhereANodeLostIt) {
  absl::StatusOr<std::unique_ptr<RedisClient>> redis = RedisClient::Create(options_);
  ASSERT_TRUE(redis.ok()) << redis.status();
  ASSERT_TRUE((*redis)->is_cluster());
  // A script of its own (the sha differs from every other test's), touching one key per call.
  const std::string source =
      absl::StrCat("-- ", options_.key_prefix, "\nreturn redis.call('INCR', KEYS[1])");
  absl::StatusOr<RedisClient::Script> script = (*redis)->Load(source);
  ASSERT_TRUE(script.ok()) << script.status();
  std::vector<ClusterCommand> calls;
  for (int p = 0; p < 16; ++p) {
    const std::string key = absl::StrCat(options_.key_prefix, ":{p", p, "}:n");
    calls.push_back({KeySlot(key), {"1", key}});
  }
  const std::vector<std::string> primaries = client_->slot_map().Primaries();
  for (int round = 1; round <= 2; ++round) {
    // Loaded everywhere before the first round; forgotten everywhere before the second.
    for (const std::string& node : primaries) {
      EXPECT_EQ(Run(node, {"SCRIPT", "EXISTS", script->sha}).elements.at(0).integer,
                round == 1 ? 1 : 0)
          << node;
    }
    absl::StatusOr<std::vector<Reply>> replies = (*redis)->Eval(*script, calls);
    ASSERT_TRUE(replies.ok()) << replies.status();
    for (const Reply& reply : *replies) EXPECT_EQ(reply.integer, round) << reply.str;
    for (const std::string& node : primaries) Run(node, {"SCRIPT", "FLUSH"});
  }
  for (const ClusterCommand& call : calls) {
    Run(*client_->slot_map().PrimaryOf(call.slot), {"DEL", call.argv[1]});
  }
}

TEST(ClusterClientCreateTest, NamesEverySeedWhenNoneAnswers) {
  RedisOptions options;
  options.url = "redis+cluster://127.0.0.1:1,127.0.0.1:2";
  options.connect_timeout = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<ClusterClient>> client = ClusterClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(client.status().message(), "127.0.0.1:1")) << client.status();
  EXPECT_TRUE(absl::StrContains(client.status().message(), "127.0.0.1:2")) << client.status();

  options.url = "redis+cluster://127.0.0.1:1,";
  client = ClusterClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.status().message(), "redis_url: node 2: empty");
}

}  // namespace
}  // namespace hookd::queue
