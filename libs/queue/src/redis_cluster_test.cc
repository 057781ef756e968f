// Redis Cluster routing against replies recorded from a real cluster (Redis 7.0.15, three
// primaries made by `redis-cli --cluster create`), and the key slots that cluster's CLUSTER
// KEYSLOT gave.
#include "hookd/queue/redis_cluster.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replies.h"

namespace hookd::queue {
namespace {

using ::testing::ElementsAre;

// The one reply in `resp`.
Reply One(const std::string& resp) {
  std::vector<Reply> replies = ReadReplies(resp);
  EXPECT_EQ(replies.size(), 1u) << resp;
  return replies.empty() ? Reply() : replies[0];
}

constexpr char kRecordedClusterSlots[] =
    "*3\r\n"
    "*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:27121\r\n"
    "$40\r\n2cce9f5923d0fc2eb25661207339113e6c54bb1d\r\n*0\r\n"
    "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:27122\r\n"
    "$40\r\nf6887f40935ea541fb2a5fbfd7da24deb14e6cd7\r\n*0\r\n"
    "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:27123\r\n"
    "$40\r\n2b6b85fc1aea20efa7ca7fb05f33706bee6f7ad5\r\n*0\r\n";

TEST(KeySlotTest, MatchesClusterKeyslot) {
  EXPECT_EQ(KeySlot("somekey"), 11058);
  EXPECT_EQ(KeySlot("123456789"), 12739);  // CRC16-XMODEM 0x31C3, the specification's check
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot(""), 0);
  // Hash tags: the first {...} that is not empty.
  EXPECT_EQ(KeySlot("foo{hash_tag}"), 2515);
  EXPECT_EQ(KeySlot("bar{hash_tag}"), 2515);
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), 5061);
  EXPECT_EQ(KeySlot("foo{}{bar}"), 8363);  // an empty tag: the whole key
  EXPECT_EQ(KeySlot("foo{{bar}}"), 4015);  // the tag is "{bar"
  EXPECT_EQ(KeySlot("{bar"), 4015);        // no closing brace: the whole key
  // hookd's keys: a partition's stream and retry set share a slot, as an app's rate limit keys.
  EXPECT_EQ(KeySlot("hookd:{p7}:deliveries"), 3821);
  EXPECT_EQ(KeySlot("hookd:{p7}:retry"), 3821);
  EXPECT_EQ(KeySlot("hookd:{rl:app_1}:tokens"), 9814);
}

TEST(SlotMapTest, ReadsTheRecordedClusterSlots) {
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(One(kRecordedClusterSlots), "10.0.0.1");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->CoveredSlots(), kClusterSlots);
  EXPECT_THAT(map->Primaries(),
              ElementsAre("127.0.0.1:27121", "127.0.0.1:27122", "127.0.0.1:27123"));
  EXPECT_EQ(*map->PrimaryOf(0), "127.0.0.1:27121");
  EXPECT_EQ(*map->PrimaryOf(5460), "127.0.0.1:27121");
  EXPECT_EQ(*map->PrimaryOf(5461), "127.0.0.1:27122");
  EXPECT_EQ(*map->PrimaryOf(KeySlot("foo")), "127.0.0.1:27123");  // as MOVED said, below
  EXPECT_EQ(*map->PrimaryOf(16383), "127.0.0.1:27123");
  EXPECT_EQ(map->PrimaryOf(16384), nullptr);
  EXPECT_EQ(map->PrimaryOf(-1), nullptr);

  // A MOVED updates one slot; the others stay.
  map->Move(12182, "127.0.0.1:27121");
  EXPECT_EQ(*map->PrimaryOf(12182), "127.0.0.1:27121");
  EXPECT_EQ(*map->PrimaryOf(12183), "127.0.0.1:27123");
}

TEST(SlotMapTest, AnUnknownEndpointIsTheHostThatAnswered) {
  // Redis 7 announces "?" (or "") for a node whose address it does not know.
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(
      One("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\n?\r\n:7000\r\n"), "10.0.0.1");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(*map->PrimaryOf(100), "10.0.0.1:7000");
}

TEST(SlotMapTest, LeavesUncoveredSlotsEmptyAndRefusesMalformedReplies) {
  absl::StatusOr<SlotMap> partial =
      SlotMap::FromClusterSlots(One("*1\r\n*3\r\n:0\r\n:99\r\n*2\r\n$1\r\nh\r\n:1\r\n"), "x");
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->CoveredSlots(), 100);
  EXPECT_EQ(partial->PrimaryOf(100), nullptr);

  for (const std::string& bad : {
           std::string("+OK\r\n"), std::string("*1\r\n:1\r\n"),
           std::string("*1\r\n*3\r\n:5\r\n:4\r\n*2\r\n$1\r\nh\r\n:1\r\n"),      // first > last
           std::string("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n"),  // past the end
           std::string("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n"),      // port 0
           std::string("*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n"),            // no port
           std::string("*1\r\n*2\r\n:0\r\n:1\r\n"),                             // no primary
           std::string("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$3\r\nh/x\r\n:1\r\n"),    // not an address
       }) {
    absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(One(bad), "x");
    ASSERT_FALSE(map.ok()) << bad;
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInternal);
    EXPECT_TRUE(absl::StartsWith(map.status().message(), "CLUSTER SLOTS")) << map.status();
  }
}

TEST(SlotMapTest, RefusesMoreRangesThanSlots) {
  // Each range may name another node; a reply cannot hold more ranges than there are slots.
  Reply range = One("*3\r\n:0\r\n:0\r\n*2\r\n$1\r\nh\r\n:1\r\n");
  Reply reply;
  reply.type = Reply::Type::kArray;
  reply.elements.assign(kClusterSlots, range);
  EXPECT_TRUE(SlotMap::FromClusterSlots(reply, "x").ok());
  reply.elements.push_back(range);
  absl::StatusOr<SlotMap> map = SlotMap::FromClusterSlots(reply, "x");
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().message(), "CLUSTER SLOTS: more ranges than slots");
}

TEST(ParseRedirectTest, ReadsRecordedMovedAndAsk) {
  std::optional<Redirect> moved = ParseRedirect(One("-MOVED 12182 127.0.0.1:27123\r\n"), "x");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->kind, Redirect::Kind::kMoved);
  EXPECT_EQ(moved->slot, 12182);
  EXPECT_EQ(moved->node, "127.0.0.1:27123");

  // While slot 12182 migrated from :27123 to :27121, :27123 sent a missing key's GET on.
  std::optional<Redirect> ask = ParseRedirect(One("-ASK 12182 127.0.0.1:27121\r\n"), "x");
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->kind, Redirect::Kind::kAsk);
  EXPECT_EQ(ask->slot, 12182);
  EXPECT_EQ(ask->node, "127.0.0.1:27121");

  // A node that does not know its address; IPv6 without brackets.
  EXPECT_EQ(ParseRedirect(One("-MOVED 1 :6380\r\n"), "10.0.0.7")->node, "10.0.0.7:6380");
  EXPECT_EQ(ParseRedirect(One("-MOVED 1 ::1:6380\r\n"), "x")->node, "::1:6380");
}

TEST(ParseRedirectTest, OtherRepliesAreNoRedirect) {
  for (const std::string& resp : {
           std::string("$-1\r\n"),
           std::string("+MOVED 1 h:1\r\n"),  // a status, not an error
           std::string("-CLUSTERDOWN The cluster is down\r\n"),
           std::string("-ERR unknown command\r\n"), std::string("-MOVED 16384 h:1\r\n"),
           std::string("-MOVED x h:1\r\n"), std::string("-MOVED 1 h\r\n"),
           std::string("-MOVED 1 h:0\r\n"), std::string("-ASK 1\r\n"),
           std::string("-MOVED 1 h:1 extra\r\n"),
           std::string("-MOVED 1 h@st:1\r\n"),  // not an address
       }) {
    EXPECT_FALSE(ParseRedirect(One(resp), "x").has_value()) << resp;
  }
}

TEST(IsRetryableClusterErrorTest, KnowsTheTransientRefusals) {
  // Recorded from the cluster with one of three primaries gone.
  EXPECT_TRUE(IsRetryableClusterError(One("-CLUSTERDOWN The cluster is down\r\n")));
  // As the specification gives them.
  EXPECT_TRUE(
      IsRetryableClusterError(One("-TRYAGAIN Multiple keys request during rehashing of slot\r\n")));
  EXPECT_TRUE(IsRetryableClusterError(One("-LOADING Redis is loading the dataset in memory\r\n")));
  EXPECT_FALSE(IsRetryableClusterError(One("-MOVED 1 h:1\r\n")));
  EXPECT_FALSE(IsRetryableClusterError(One("-ERR TRYAGAIN\r\n")));
  EXPECT_FALSE(IsRetryableClusterError(One("+OK\r\n")));
}

TEST(ParseRedisClusterUrlTest, ReadsTheSeedNodesWithTheirCredentials) {
  absl::StatusOr<std::vector<RedisEndpoint>> seeds =
      ParseRedisClusterUrl("redis+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2,[::1]:7002/0");
  ASSERT_TRUE(seeds.ok()) << seeds.status();
  ASSERT_EQ(seeds->size(), 3u);
  EXPECT_EQ((*seeds)[0].host, "10.0.0.1");
  EXPECT_EQ((*seeds)[0].port, 7000);
  EXPECT_EQ((*seeds)[1].host, "10.0.0.2");
  EXPECT_EQ((*seeds)[1].port, 6379);
  EXPECT_EQ((*seeds)[2].host, "::1");
  EXPECT_EQ((*seeds)[2].port, 7002);
  for (const RedisEndpoint& seed : *seeds) {
    EXPECT_EQ(seed.user, "app");
    EXPECT_EQ(seed.password, "p@ss");
    EXPECT_EQ(seed.db, 0);
  }
  // Schemes are case-insensitive (RFC 3986).
  ASSERT_TRUE(ParseRedisClusterUrl("REDIS+CLUSTER://h:1").ok());
}

TEST(ParseRedisClusterUrlTest, RefusesBadUrlsNamingThePartWithoutEchoingSecrets) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"redis://h:1", "redis_url: expected redis+cluster://"},
      {"rediss+cluster://h:1", "redis_url: TLS (rediss+cluster://) is not supported"},
      {"redis+cluster://", "redis_url: node 1: empty"},
      {"redis+cluster://h:1,,h:3", "redis_url: node 2: empty"},
      {"redis+cluster://h:1,h:", "redis_url: node 2: empty port"},
      {"redis+cluster://h:1,h:99999", "redis_url: node 2: port must be a number in 1..65535"},
      {"redis+cluster://h:1,:7000", "redis_url: node 2: expected redis+cluster://"},
      {"redis+cluster://h:1/3", "redis_url: a Redis Cluster has only db 0"},
      {"redis+cluster://h:1?x=1", "redis_url: expected redis+cluster://"},
      {"redis+cluster://topsecret@h:1", "redis_url: expected redis+cluster://"},
      {"redis+cluster://:bad%zzsecret@h:1", "redis_url: bad percent-encoding in user info"},
  };
  for (const auto& [url, message] : cases) {
    absl::StatusOr<std::vector<RedisEndpoint>> seeds = ParseRedisClusterUrl(url);
    ASSERT_FALSE(seeds.ok()) << url;
    EXPECT_EQ(seeds.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(absl::StartsWith(seeds.status().message(), message))
        << url << ": " << seeds.status();
    EXPECT_FALSE(absl::StrContains(seeds.status().message(), "secret")) << seeds.status();
  }
}

}  // namespace
}  // namespace hookd::queue
