#include <hiredis/hiredis.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/redis_connection.h"
#include "replies.h"

namespace hookd::queue {
namespace {

TEST(ParseRedisUrlTest, AcceptsTheDocumentedShapes) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisUrl("redis://127.0.0.1:6379/0");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);
  EXPECT_EQ(e->user, "");
  EXPECT_EQ(e->password, "");

  e = ParseRedisUrl("redis://redis.internal");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "redis.internal");
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);

  e = ParseRedisUrl("redis://:s3cret@cache:7000/5");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "cache");
  EXPECT_EQ(e->port, 7000);
  EXPECT_EQ(e->user, "");
  EXPECT_EQ(e->password, "s3cret");
  EXPECT_EQ(e->db, 5);

  e = ParseRedisUrl("redis://worker:p%40ss%3Aw%2Fd@[::1]:6380/");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->user, "worker");
  EXPECT_EQ(e->password, "p@ss:w/d");
  EXPECT_EQ(e->db, 0);

  // An unencoded '@' in the password still parses: the last '@' ends the user info.
  e = ParseRedisUrl("redis://:a@b@host:1/2");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->password, "a@b");
  EXPECT_EQ(e->host, "host");
  EXPECT_EQ(e->port, 1);
  EXPECT_EQ(e->db, 2);
}

TEST(ParseRedisUrlTest, RefusesBadUrlsNamingTheFieldWithoutEchoingSecrets) {
  for (const std::string url : {
           "",
           "127.0.0.1:6379",
           "http://127.0.0.1:6379/0",
           "rediss://127.0.0.1:6379/0",
           "redis://",
           "redis://:6379/0",
           "redis://host:/0",
           "redis://host:0/0",
           "redis://host:65536/0",
           "redis://host:63x9/0",
           "redis://host:6379/x",
           "redis://host:6379/-1",
           "redis://host:6379/0/1",
           "redis://host:6379/0?timeout=1",
           "redis://topsecret@host:6379/0",
           "redis://:@host:6379/0",
           "redis://:bad%zzsecret@host:6379/0",
           "redis://[::1/0",
       }) {
    absl::StatusOr<RedisEndpoint> e = ParseRedisUrl(url);
    ASSERT_FALSE(e.ok()) << url;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(absl::StartsWith(e.status().message(), "redis_url")) << e.status();
    EXPECT_FALSE(absl::StrContains(e.status().message(), "secret")) << e.status();
  }
}

// hiredis would allocate the element pointers an array header claims (up to 16 GiB) before any
// element arrives; the limited reader refuses such a header as a protocol error.
TEST(LimitReplySizesTest, RefusesArraysClaimingTooManyElementsAndReadsTheRest) {
  auto read = [](const std::string& bytes) -> std::pair<int, Reply> {
    redisReader* reader = redisReaderCreate();
    LimitReplySizes(reader);
    redisReaderFeed(reader, bytes.data(), bytes.size());
    void* raw = nullptr;
    const int rc = redisReaderGetReply(reader, &raw);
    Reply reply;
    if (raw != nullptr) {
      reply = ConvertReply(*static_cast<redisReply*>(raw));
      freeReplyObject(raw);
    }
    redisReaderFree(reader);
    return {rc, reply};
  };
  EXPECT_EQ(read(absl::StrCat("*", kMaxReplyElements + 1, "\r\n")).first, REDIS_ERR);
  EXPECT_EQ(read("*1800000000\r\n").first, REDIS_ERR);

  auto [rc, reply] = read("*3\r\n:1\r\n$2\r\nab\r\n*1\r\n+OK\r\n");
  ASSERT_EQ(rc, REDIS_OK);
  ASSERT_EQ(reply.type, Reply::Type::kArray);
  ASSERT_EQ(reply.elements.size(), 3u);
  EXPECT_EQ(reply.elements[0].integer, 1);
  EXPECT_EQ(reply.elements[1].str, "ab");
  EXPECT_EQ(reply.elements[2].elements[0].str, "OK");
}

TEST(PartitionOfTest, IsStableAndInRange) {
  // FNV-1a 32 of "app_1" is fixed forever; a change would move apps between streams.
  EXPECT_EQ(PartitionOf("", 16), static_cast<int>(2166136261u % 16));
  EXPECT_EQ(PartitionOf("a", 1000), static_cast<int>(0xe40c292cu % 1000));
  EXPECT_EQ(PartitionOf("app_x", 1), 0);
  for (int partitions : {1, 2, 3, 16, 1024}) {
    for (int i = 0; i < 200; ++i) {
      std::string app = absl::StrCat("app_", i);
      int p = PartitionOf(app, partitions);
      EXPECT_GE(p, 0);
      EXPECT_LT(p, partitions);
      EXPECT_EQ(PartitionOf(app, partitions), p);
    }
  }
}

TEST(PartitionOfTest, SpreadsAThousandAppsOverAllPartitions) {
  for (int partitions : {4, 16}) {
    std::vector<int> counts(partitions);
    for (int i = 0; i < 1000; ++i) ++counts[PartitionOf(absl::StrCat("app_", i), partitions)];
    for (int p = 0; p < partitions; ++p) {
      // A fair share is 1000 / partitions; allow half of it either way.
      EXPECT_GT(counts[p], 1000 / partitions / 2) << "partition " << p << " of " << partitions;
      EXPECT_LT(counts[p], 1000 / partitions * 3 / 2) << "partition " << p << " of " << partitions;
    }
  }
}

TEST(KeysTest, CarryTheHashTagOfThePartition) {
  RedisOptions options;
  options.key_prefix = "hookd";
  EXPECT_EQ(StreamKey(options, 0), "hookd:{p0}:deliveries");
  EXPECT_EQ(RetryKey(options, 0), "hookd:{p0}:retry");
  options.key_prefix = "t:x:1";
  EXPECT_EQ(StreamKey(options, 15), "t:x:1:{p15}:deliveries");
  EXPECT_EQ(RetryKey(options, 15), "t:x:1:{p15}:retry");
}

TEST(RetryMemberTest, RoundTripsAndDistinguishesAttempts) {
  DeliveryMessage message{"dlv_1", "evt_2", "app_3", 4};
  std::string member = EncodeRetryMember(message);
  EXPECT_EQ(member, "5:dlv_1,5:evt_2,5:app_3,1:4,");
  absl::StatusOr<DeliveryMessage> decoded = DecodeRetryMember(member);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, message);

  DeliveryMessage odd{"d,1:x", "", std::string("a\0b", 3), 12};
  decoded = DecodeRetryMember(EncodeRetryMember(odd));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, odd);

  DeliveryMessage next = message;
  next.attempt = 5;
  EXPECT_NE(EncodeRetryMember(next), member);

  for (std::string_view bad :
       {"", "5:dlv_1", "5:dlv_1,5:evt_2,5:app_3,1:4", "5:dlv_1,5:evt_2,5:app_3,1:0,",
        "5:dlv_1,5:evt_2,5:app_3,1:4,x", "x:dlv_1,5:evt_2,5:app_3,1:4,"}) {
    EXPECT_EQ(DecodeRetryMember(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DeliveryQueueCreateTest, RefusesBadOptionsBeforeConnecting) {
  RedisOptions options;
  options.url = "redis://127.0.0.1:1/0";
  options.partitions = 0;
  absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue = DeliveryQueue::Create(options);
  EXPECT_EQ(queue.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(queue.status().message(), "partitions")) << queue.status();

  options.partitions = 1025;
  queue = DeliveryQueue::Create(options);
  EXPECT_EQ(queue.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(queue.status().message(), "partitions")) << queue.status();

  options.partitions = 4;
  options.url = "redis//127.0.0.1:1/0";
  queue = DeliveryQueue::Create(options);
  EXPECT_EQ(queue.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(queue.status().message(), "redis_url")) << queue.status();
}

}  // namespace
}  // namespace hookd::queue
