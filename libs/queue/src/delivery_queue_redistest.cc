#include <atomic>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/common/status.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/redis_client.h"
#include "hookd/testing/process.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"

namespace hookd::queue {

void PrintTo(const DeliveryMessage& m, std::ostream* os) {
  *os << "{" << m.delivery_id << ", " << m.event_id << ", " << m.app_id << ", " << m.attempt;
  if (m.event) {
    *os << ", event{" << m.event->event_type << ", " << ::testing::PrintToString(m.event->payload)
        << ", " << m.event->traceparent << ", " << absl::ToUnixMicros(m.event->create_time) << "}";
  }
  *os << "}";
}

namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

constexpr char kGroup[] = "workers";

DeliveryMessage Message(int i, int apps = 97) {
  return DeliveryMessage{absl::StrCat("dlv_", i), absl::StrCat("evt_", i / 3),
                         absl::StrCat("app_", i % apps), 1 + i % 3};
}

std::vector<DeliveryMessage> MessagesOf(const std::vector<StreamEntry>& entries) {
  std::vector<DeliveryMessage> out;
  for (const StreamEntry& entry : entries) out.push_back(entry.message);
  return out;
}

class DeliveryQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RedisOptions> options = testing::TestRedisOptions("queue");
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue = DeliveryQueue::Create(options_);
    ASSERT_TRUE(queue.ok()) << queue.status();
    queue_ = std::move(*queue);
    absl::StatusOr<std::unique_ptr<RedisClient>> raw = RedisClient::Create(options_);
    ASSERT_TRUE(raw.ok()) << raw.status();
    raw_ = std::move(*raw);
    for (int p = 0; p < options_.partitions; ++p) all_partitions_.push_back(p);
  }

  void TearDown() override { EXPECT_TRUE(testing::DeleteKeys(options_).ok()); }

  // `argv` sent behind the queue's back, to the node of the key at `argv[key_at]`; an error
  // reply becomes INTERNAL.
  absl::StatusOr<Reply> Raw(std::vector<std::string> argv, size_t key_at = 1) {
    const int slot = KeySlot(argv.at(key_at));
    HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, raw_->Pipeline({{slot, std::move(argv)}}));
    HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[0], "raw command"));
    return std::move(replies[0]);
  }

  int64_t Integer(const std::vector<std::string>& command) {
    absl::StatusOr<Reply> reply = Raw(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->integer : -1;
  }

  // Reads (without blocking) until a read comes back empty.
  std::vector<StreamEntry> Drain(const std::string& consumer) {
    std::vector<StreamEntry> all;
    while (true) {
      absl::StatusOr<std::vector<StreamEntry>> entries =
          queue_->Read(kGroup, consumer, all_partitions_, 1000, absl::ZeroDuration());
      EXPECT_TRUE(entries.ok()) << entries.status();
      if (!entries.ok() || entries->empty()) return all;
      all.insert(all.end(), entries->begin(), entries->end());
    }
  }

  // Pending entries of kGroup per consumer, summed over partitions.
  std::map<std::string, int64_t> PendingByConsumer() {
    std::map<std::string, int64_t> out;
    for (int p = 0; p < options_.partitions; ++p) {
      absl::StatusOr<Reply> reply = Raw({"XPENDING", StreamKey(options_, p), kGroup});
      EXPECT_TRUE(reply.ok()) << reply.status();
      if (!reply.ok() || reply->elements.size() < 4) continue;
      for (const Reply& consumer : reply->elements[3].elements) {
        out[consumer.elements[0].str] += std::stoll(consumer.elements[1].str);
      }
    }
    return out;
  }

  RedisOptions options_;
  std::unique_ptr<DeliveryQueue> queue_;
  std::unique_ptr<RedisClient> raw_;
  std::vector<int> all_partitions_;
};

TEST_F(DeliveryQueueTest, EnqueuesAThousandMessagesOntoTheirPartitions) {
  std::vector<DeliveryMessage> sent;
  for (int i = 0; i < 1000; ++i) sent.push_back(Message(i));
  ASSERT_TRUE(queue_->Enqueue(sent).ok());

  std::vector<std::vector<DeliveryMessage>> expected(options_.partitions);
  for (const DeliveryMessage& m : sent) {
    expected[PartitionOf(m.app_id, options_.partitions)].push_back(m);
  }
  int64_t total = 0;
  for (int p = 0; p < options_.partitions; ++p) {
    EXPECT_EQ(Integer({"XLEN", StreamKey(options_, p)}), static_cast<int64_t>(expected[p].size()));
    EXPECT_GT(expected[p].size(), 0u);
    total += Integer({"XLEN", StreamKey(options_, p)});
  }
  EXPECT_EQ(total, 1000);

  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", all_partitions_, 1000, absl::ZeroDuration());
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1000u);
  std::vector<std::vector<DeliveryMessage>> got(options_.partitions);
  for (const StreamEntry& entry : *read) got[entry.partition].push_back(entry.message);
  for (int p = 0; p < options_.partitions; ++p) {
    // Within a partition, entries come back in the order they were sent.
    EXPECT_THAT(got[p], ElementsAreArray(expected[p])) << "partition " << p;
  }

  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->stream_length, 1000);
  EXPECT_EQ(depth->pending, 1000);
  EXPECT_EQ(depth->retry_scheduled, 0);
}

TEST_F(DeliveryQueueTest, RefusesABadMessageAndEnqueuesNothingOfItsBatch) {
  std::vector<DeliveryMessage> batch = {Message(1), Message(2)};
  batch[1].app_id.clear();
  absl::Status status = queue_->Enqueue(batch);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "app_id")) << status;
  batch[1] = Message(2);
  batch[1].attempt = 0;
  status = queue_->Enqueue(batch);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "attempt")) << status;
  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->stream_length, 0);
  EXPECT_TRUE(queue_->Enqueue({}).ok());
}

TEST_F(DeliveryQueueTest, AckedEntriesAreNotRedeliveredAndStaleOnesAreClaimed) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  // EnsureGroup again is harmless (BUSYGROUP is ignored).
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  std::vector<DeliveryMessage> sent;
  for (int i = 0; i < 10; ++i) sent.push_back(Message(i, 1));  // one app: one partition
  ASSERT_TRUE(queue_->Enqueue(sent).ok());
  const int partition = PartitionOf(sent[0].app_id, options_.partitions);

  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", {partition}, 100, absl::Seconds(1));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_THAT(MessagesOf(*read), ElementsAreArray(sent));
  for (const StreamEntry& entry : *read) EXPECT_EQ(entry.partition, partition);

  std::vector<StreamEntry> acked(read->begin(), read->begin() + 6);
  std::vector<StreamEntry> unacked(read->begin() + 6, read->end());
  ASSERT_TRUE(queue_->Ack(kGroup, acked).ok());

  // Nothing new: an empty read after waiting out the block.
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<StreamEntry>> again =
      queue_->Read(kGroup, "c1", all_partitions_, 100, absl::Milliseconds(200));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));

  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->pending, 4);
  EXPECT_EQ(depth->stream_length, 4);  // acked entries are deleted too
  EXPECT_EQ(PendingByConsumer(), (std::map<std::string, int64_t>{{"c1", 4}}));

  // Not idle long enough yet.
  absl::StatusOr<std::vector<StreamEntry>> claimed =
      queue_->ClaimStale(kGroup, "c2", partition, absl::Hours(1), 100);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, IsEmpty());

  std::vector<StreamEntry> taken;
  ASSERT_TRUE(hookd::testing::PollUntil([&] {
    absl::StatusOr<std::vector<StreamEntry>> more =
        queue_->ClaimStale(kGroup, "c2", partition, absl::Milliseconds(100), 100);
    EXPECT_TRUE(more.ok()) << more.status();
    if (more.ok()) taken.insert(taken.end(), more->begin(), more->end());
    return taken.size() >= unacked.size();
  }));
  EXPECT_THAT(MessagesOf(taken), ElementsAreArray(MessagesOf(unacked)));
  EXPECT_EQ(PendingByConsumer(), (std::map<std::string, int64_t>{{"c2", 4}}));

  ASSERT_TRUE(queue_->Ack(kGroup, taken).ok());
  depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->pending, 0);
  EXPECT_EQ(depth->stream_length, 0);
  claimed = queue_->ClaimStale(kGroup, "c3", partition, absl::ZeroDuration(), 100);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, IsEmpty());
}

// A live consumer keeps what it holds: its entries never become stale while it refreshes them,
// those another consumer took over are reported lost (and not taken back), as are acked ones.
TEST_F(DeliveryQueueTest, KeepClaimedHoldsOnlyTheConsumersOwnEntries) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  std::vector<DeliveryMessage> messages;
  for (int i = 0; i < 6; ++i) messages.push_back(Message(i, /*apps=*/1));
  ASSERT_TRUE(queue_->Enqueue(messages).ok());
  std::vector<StreamEntry> held = Drain("c1");
  ASSERT_EQ(held.size(), 6u);
  const int partition = held[0].partition;

  // Kept for longer than the idle limit: nothing is stale.
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Milliseconds(600)) {
    absl::StatusOr<std::vector<StreamEntry>> lost = queue_->KeepClaimed(kGroup, "c1", held);
    ASSERT_TRUE(lost.ok()) << lost.status();
    EXPECT_THAT(*lost, IsEmpty());
    absl::StatusOr<std::vector<StreamEntry>> stolen =
        queue_->ClaimStale(kGroup, "c2", partition, absl::Milliseconds(300), 100);
    ASSERT_TRUE(stolen.ok()) << stolen.status();
    ASSERT_THAT(*stolen, IsEmpty());
    absl::SleepFor(absl::Milliseconds(100));  // the pace of the refresh under test
  }
  EXPECT_EQ(PendingByConsumer(), (std::map<std::string, int64_t>{{"c1", 6}}));

  // c1 stops refreshing two entries; c2 takes them over after the idle limit.
  std::vector<StreamEntry> kept(held.begin(), held.begin() + 4);
  std::vector<StreamEntry> abandoned(held.begin() + 4, held.end());
  std::vector<StreamEntry> taken;
  ASSERT_TRUE(hookd::testing::PollUntil([&] {
    EXPECT_TRUE(queue_->KeepClaimed(kGroup, "c1", kept).ok());
    absl::StatusOr<std::vector<StreamEntry>> more =
        queue_->ClaimStale(kGroup, "c2", partition, absl::Milliseconds(300), 100);
    EXPECT_TRUE(more.ok()) << more.status();
    if (more.ok()) taken.insert(taken.end(), more->begin(), more->end());
    return taken.size() >= abandoned.size();
  }));
  EXPECT_THAT(MessagesOf(taken), ElementsAreArray(MessagesOf(abandoned)));
  // One acked entry, the two c2 took: all three reported, none taken back from c2.
  ASSERT_TRUE(queue_->Ack(kGroup, {held[0]}).ok());
  absl::StatusOr<std::vector<StreamEntry>> lost = queue_->KeepClaimed(kGroup, "c1", held);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_THAT(MessagesOf(*lost),
              ElementsAreArray({held[0].message, held[4].message, held[5].message}));
  EXPECT_EQ(PendingByConsumer(), (std::map<std::string, int64_t>{{"c1", 3}, {"c2", 2}}));

  // Redis lost its data: everything held is lost.
  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  lost = queue_->KeepClaimed(kGroup, "c1", kept);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_EQ(lost->size(), kept.size());
  EXPECT_EQ(queue_->KeepClaimed(kGroup, "", kept).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The generation marker changes exactly when Redis lost its data, in any one partition.
TEST_F(DeliveryQueueTest, MarkGenerationChangesOnlyWhenRedisLostItsData) {
  absl::StatusOr<std::string> first = queue_->MarkGeneration("g1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "g1");
  absl::StatusOr<std::string> again = queue_->MarkGeneration("g2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "g1");

  ASSERT_TRUE(Raw({"DEL", GenerationKey(options_, options_.partitions - 1)}).ok());
  absl::StatusOr<std::string> after_one = queue_->MarkGeneration("g3");
  ASSERT_TRUE(after_one.ok()) << after_one.status();
  EXPECT_EQ(*after_one, "g3");
  absl::StatusOr<std::string> settled = queue_->MarkGeneration("g5");
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_EQ(*settled, "g3");
  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  absl::StatusOr<std::string> after_all = queue_->MarkGeneration("g4");
  ASSERT_TRUE(after_all.ok()) << after_all.status();
  EXPECT_EQ(*after_all, "g4");
  EXPECT_EQ(queue_->MarkGeneration("").status().code(), absl::StatusCode::kInvalidArgument);
}

// A read that waits is answered by an entry enqueued meanwhile, on any of its partitions, well
// before its block has passed. On a cluster the read polls: this bounds what that costs.
TEST_F(DeliveryQueueTest, AWaitingReadTakesAnEntryEnqueuedMeanwhile) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  for (int p = 0; p < options_.partitions; ++p) {
    DeliveryMessage message;
    for (int i = 0;; ++i) {
      message = Message(i);
      if (PartitionOf(message.app_id, options_.partitions) == p) break;
    }
    std::thread late([&] {
      absl::SleepFor(absl::Milliseconds(200));  // the read below is waiting by then
      EXPECT_TRUE(queue_->Enqueue({message}).ok());
    });
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<StreamEntry>> read =
        queue_->Read(kGroup, "c1", all_partitions_, 10, absl::Seconds(5));
    const absl::Duration waited = absl::Now() - start;
    late.join();
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_THAT(MessagesOf(*read), ElementsAreArray({message})) << "partition " << p;
    EXPECT_GE(waited, absl::Milliseconds(200));
    EXPECT_LT(waited, absl::Milliseconds(500)) << "partition " << p;
    ASSERT_TRUE(queue_->Ack(kGroup, *read).ok());
  }
}

TEST_F(DeliveryQueueTest, RefusesPartitionsOutOfRange) {
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", {0, options_.partitions}, 10, absl::ZeroDuration());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(read.status().message(), "partition")) << read.status();
  absl::StatusOr<std::vector<StreamEntry>> claimed =
      queue_->ClaimStale(kGroup, "c1", -1, absl::Seconds(1), 10);
  EXPECT_EQ(claimed.status().code(), absl::StatusCode::kInvalidArgument);
  read = queue_->Read(kGroup, "c1", all_partitions_, 0, absl::ZeroDuration());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(read.status().message(), "count")) << read.status();
}

TEST_F(DeliveryQueueTest, DropsEntriesThatAreNotDeliveryMessages) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  const std::string key = StreamKey(options_, 0);
  ASSERT_TRUE(Raw({"XADD", key, "*", "junk", "1"}).ok());
  ASSERT_TRUE(Raw({"XADD", key, "*", "d", "dlv_1", "a", "app_1", "n", "zero"}).ok());
  DeliveryMessage good{"dlv_2", "evt_2", "app_2", 2};
  ASSERT_TRUE(Raw({"XADD", key, "*", "d", "dlv_2", "e", "evt_2", "a", "app_2", "n", "2"}).ok());
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", {0}, 10, absl::ZeroDuration());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(MessagesOf(*read), ElementsAreArray({good}));
  EXPECT_EQ(Integer({"XLEN", key}), 1);
  EXPECT_EQ(PendingByConsumer(), (std::map<std::string, int64_t>{{"c1", 1}}));
}

TEST_F(DeliveryQueueTest, CarriesAnInlineEventByteForByte) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  DeliveryMessage with_event = Message(1);
  with_event.attempt = 1;
  with_event.event =
      InlineEvent{.event_type = "video.ready",
                  .payload = std::string("{\"a\":\"\xC3\xA9\\u0000\"}") + '\0' + "x",
                  .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                  .create_time = absl::FromUnixMicros(1795000000123456)};
  DeliveryMessage without = Message(2);
  ASSERT_TRUE(queue_->Enqueue({with_event, without}).ok());
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", all_partitions_, 10, absl::ZeroDuration());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(MessagesOf(*read), UnorderedElementsAreArray({with_event, without}));
}

TEST_F(DeliveryQueueTest, IgnoresAnIncompleteInlineEvent) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  const std::string key = StreamKey(options_, 0);
  // A payload without its type and time: the entry is delivered, its event loaded instead.
  ASSERT_TRUE(
      Raw({"XADD", key, "*", "d", "dlv_3", "e", "evt_3", "a", "app_3", "n", "1", "p", "{}"}).ok());
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", {0}, 10, absl::ZeroDuration());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(MessagesOf(*read), ElementsAreArray({DeliveryMessage{"dlv_3", "evt_3", "app_3", 1}}));
}

TEST_F(DeliveryQueueTest, TwoConsumersOfOneGroupNeverGetTheSameEntry) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  std::vector<DeliveryMessage> sent;
  for (int i = 0; i < 300; ++i) sent.push_back(Message(i));
  ASSERT_TRUE(queue_->Enqueue(sent).ok());

  // First one read each in turn, which must split the head of every stream; then both race.
  std::vector<StreamEntry> got[2];
  for (int c : {0, 1}) {
    absl::StatusOr<std::vector<StreamEntry>> entries =
        queue_->Read(kGroup, absl::StrCat("c", c), all_partitions_, 5, absl::ZeroDuration());
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(entries->size(), 5u * options_.partitions);
    got[c] = *entries;
  }
  std::atomic<int> total{static_cast<int>(got[0].size() + got[1].size())};
  auto consume = [&](int c) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (total.load() < 300 && absl::Now() < deadline) {
      absl::StatusOr<std::vector<StreamEntry>> entries =
          queue_->Read(kGroup, absl::StrCat("c", c), all_partitions_, 7, absl::Milliseconds(20));
      ASSERT_TRUE(entries.ok()) << entries.status();
      total += static_cast<int>(entries->size());
      got[c].insert(got[c].end(), entries->begin(), entries->end());
    }
  };
  std::thread a(consume, 0), b(consume, 1);
  a.join();
  b.join();

  std::set<std::string> ids0, ids1;
  for (const StreamEntry& e : got[0]) ids0.insert(e.message.delivery_id);
  for (const StreamEntry& e : got[1]) ids1.insert(e.message.delivery_id);
  EXPECT_EQ(ids0.size(), got[0].size());
  EXPECT_EQ(ids1.size(), got[1].size());
  for (const std::string& id : ids0) EXPECT_EQ(ids1.count(id), 0u) << id;
  std::vector<DeliveryMessage> all = MessagesOf(got[0]);
  for (const StreamEntry& e : got[1]) all.push_back(e.message);
  EXPECT_THAT(all, UnorderedElementsAreArray(sent));
}

TEST_F(DeliveryQueueTest, PromotesOnlyDueRetriesOnce) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  std::vector<DeliveryMessage> due = {Message(1), Message(2), Message(3)};
  std::vector<DeliveryMessage> later = {Message(4), Message(5)};
  ASSERT_TRUE(queue_
                  ->ScheduleRetries({{due[0], now - absl::Seconds(10)},
                                     {due[1], now - absl::Milliseconds(1)},
                                     {due[2], now},
                                     {later[0], now + absl::Milliseconds(1)},
                                     {later[1], now + absl::Hours(1)}})
                  .ok());
  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->retry_scheduled, 5);

  absl::StatusOr<int> moved = queue_->PromoteDueRetries(now, 100);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 3);
  moved = queue_->PromoteDueRetries(now, 100);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 0);
  depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->retry_scheduled, 2);
  EXPECT_EQ(depth->stream_length, 3);
  EXPECT_THAT(MessagesOf(Drain("c1")), UnorderedElementsAreArray(due));

  moved = queue_->PromoteDueRetries(now + absl::Hours(2), 100);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 2);
  EXPECT_THAT(MessagesOf(Drain("c1")), UnorderedElementsAreArray(later));
}

TEST_F(DeliveryQueueTest, PromotionHonoursTheLimitAndOneMemberPerAttempt) {
  const absl::Time now = absl::Now();
  std::vector<std::pair<DeliveryMessage, absl::Time>> retries;
  for (int i = 0; i < 5; ++i) retries.push_back({Message(i, 1), now - absl::Seconds(1)});
  // The same attempt scheduled again is one member; the next attempt is another.
  retries.push_back({Message(0, 1), now - absl::Seconds(2)});
  DeliveryMessage next = Message(0, 1);
  next.attempt = 7;
  retries.push_back({next, now - absl::Seconds(1)});
  ASSERT_TRUE(queue_->ScheduleRetries(retries).ok());
  const int partition = PartitionOf(next.app_id, options_.partitions);
  EXPECT_EQ(Integer({"ZCARD", RetryKey(options_, partition)}), 6);

  for (int want : {2, 2, 2, 0}) {
    absl::StatusOr<int> moved = queue_->PromoteDueRetries(now, 2);
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(*moved, want);
  }
  EXPECT_EQ(Integer({"XLEN", StreamKey(options_, partition)}), 6);
}

TEST_F(DeliveryQueueTest, ConcurrentPromotersMoveEachRetryExactlyOnce) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  const absl::Time now = absl::Now();
  std::vector<DeliveryMessage> scheduled;
  std::vector<std::pair<DeliveryMessage, absl::Time>> retries;
  for (int i = 0; i < 400; ++i) {
    scheduled.push_back(Message(i));
    retries.push_back({scheduled.back(), now - absl::Milliseconds(i)});
  }
  ASSERT_TRUE(queue_->ScheduleRetries(retries).ok());

  std::atomic<int> total{0};
  std::vector<std::thread> promoters;
  for (int t = 0; t < 4; ++t) {
    promoters.emplace_back([&] {
      // A queue each, so that the four really run in parallel on separate connections.
      absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue = DeliveryQueue::Create(options_);
      ASSERT_TRUE(queue.ok()) << queue.status();
      while (true) {
        absl::StatusOr<int> moved = (*queue)->PromoteDueRetries(now, 5);
        ASSERT_TRUE(moved.ok()) << moved.status();
        if (*moved == 0) break;
        total += *moved;
      }
    });
  }
  for (std::thread& t : promoters) t.join();

  EXPECT_EQ(total.load(), 400);
  std::vector<StreamEntry> read = Drain("c1");
  EXPECT_EQ(read.size(), 400u);
  EXPECT_THAT(MessagesOf(read), UnorderedElementsAreArray(scheduled));
  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->retry_scheduled, 0);
  EXPECT_EQ(depth->stream_length, 400);
}

TEST_F(DeliveryQueueTest, RecoversWhenRedisLosesItsData) {
  ASSERT_TRUE(queue_->EnsureGroup(kGroup).ok());
  ASSERT_TRUE(queue_->Enqueue({Message(1), Message(2)}).ok());
  EXPECT_EQ(Drain("c1").size(), 2u);

  // Redis restarted empty: every key is gone, the group with it.
  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  absl::StatusOr<std::vector<StreamEntry>> read =
      queue_->Read(kGroup, "c1", all_partitions_, 10, absl::Milliseconds(50));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, IsEmpty());
  for (int p = 0; p < options_.partitions; ++p) {
    absl::StatusOr<Reply> groups = Raw({"XINFO", "GROUPS", StreamKey(options_, p)}, 2);
    ASSERT_TRUE(groups.ok()) << groups.status();
    EXPECT_EQ(groups->elements.size(), 1u) << "partition " << p;
  }
  absl::StatusOr<DeliveryQueue::Depth> depth = queue_->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->pending, 0);
  EXPECT_EQ(depth->stream_length, 0);
  ASSERT_TRUE(queue_->Enqueue({Message(3)}).ok());
  EXPECT_THAT(MessagesOf(Drain("c1")), ElementsAreArray({Message(3)}));

  // Ingest (or the outbox sweeper) may enqueue before any worker reads: the stream then exists
  // without the group, and the group created afterwards still delivers those entries.
  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  ASSERT_TRUE(queue_->Enqueue({Message(4), Message(5)}).ok());
  read = queue_->Read(kGroup, "c1", all_partitions_, 10, absl::ZeroDuration());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, IsEmpty());
  EXPECT_THAT(MessagesOf(Drain("c1")), UnorderedElementsAreArray({Message(4), Message(5)}));

  ASSERT_TRUE(testing::DeleteKeys(options_).ok());
  absl::StatusOr<std::vector<StreamEntry>> claimed =
      queue_->ClaimStale(kGroup, "c2", 0, absl::ZeroDuration(), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, IsEmpty());
}

TEST(DeliveryQueueCreateTest, UnreachableRedisIsUnavailableWithinTheConnectTimeout) {
  RedisOptions options;
  options.url = "redis://127.0.0.1:1/0";
  options.connect_timeout = absl::Milliseconds(500);
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue = DeliveryQueue::Create(options);
  EXPECT_EQ(queue.status().code(), absl::StatusCode::kUnavailable) << queue.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
}

// Options for a redis-server of the test's own. Short timeouts, so that a stopped or frozen
// server turns into UNAVAILABLE well within the test's time bounds.
RedisOptions ScratchOptions(const hookd::testing::ScratchRedis& redis) {
  RedisOptions options;
  options.url = redis.url();
  options.key_prefix = "scratch";
  options.partitions = 4;
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Milliseconds(300);
  return options;
}

TEST(DeliveryQueueOutageTest, UnavailableWhileRedisIsDownThenWorksAgain) {
  hookd::testing::ScratchRedis redis;
  // CI installs redis-server: not being able to run it is a broken setup, not a reason to skip.
  absl::Status started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue =
      DeliveryQueue::Create(ScratchOptions(redis));
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_TRUE((*queue)->Enqueue({Message(1)}).ok());

  redis.Stop();
  absl::Time start = absl::Now();
  absl::Status status = (*queue)->Enqueue({Message(2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  status = (*queue)->Enqueue({Message(3)});  // reconnecting fails too
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ((*queue)->GetDepth(kGroup).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*queue)->PromoteDueRetries(absl::Now(), 10).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  // Back, and empty: the queue reconnects on its next call, reloads the promotion script, and
  // the group comes back with the first read.
  // Start() comes back on the same port, so the queue's url still points at it.
  started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE((*queue)->Enqueue({Message(4)}).ok());
  ASSERT_TRUE((*queue)->ScheduleRetries({{Message(5), absl::Now() - absl::Seconds(1)}}).ok());
  absl::StatusOr<int> moved = (*queue)->PromoteDueRetries(absl::Now(), 10);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 1);
  absl::StatusOr<DeliveryQueue::Depth> depth = (*queue)->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->stream_length, 2);
}

TEST(DeliveryQueueOutageTest, AHungRedisTimesOutAsUnavailable) {
  hookd::testing::ScratchRedis redis;
  // CI installs redis-server: not being able to run it is a broken setup, not a reason to skip.
  absl::Status started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::unique_ptr<DeliveryQueue>> queue =
      DeliveryQueue::Create(ScratchOptions(redis));
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_TRUE((*queue)->Enqueue({Message(1)}).ok());

  redis.Freeze();
  absl::Time start = absl::Now();
  absl::Status status = (*queue)->Enqueue({Message(2)});
  absl::Duration took = absl::Now() - start;
  redis.Thaw();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(2));

  ASSERT_TRUE((*queue)->Enqueue({Message(3)}).ok());
  absl::StatusOr<DeliveryQueue::Depth> depth = (*queue)->GetDepth(kGroup);
  ASSERT_TRUE(depth.ok()) << depth.status();
  // The timed-out XADD may or may not have run once Redis woke up: nothing can be assumed.
  EXPECT_GE(depth->stream_length, 2);
  EXPECT_LE(depth->stream_length, 3);
}

}  // namespace
}  // namespace hookd::queue
