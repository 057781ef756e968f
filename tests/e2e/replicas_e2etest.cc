// Many replicas of every service at once, on a Redis Cluster (README, "Redis Cluster"): two
// hookd-subscription, two hookd-ingest and three hookd-worker processes against a cluster of
// three primaries with one replica each (scripts/redis-cluster.sh), under steady load, while one
// process of each service is killed with SIGKILL and restarted, and one primary is killed so
// that its replica takes over. Then the ledger: every acknowledged event reached every app at
// least once, duplicates carry the same webhook-id and body, and nothing is left unfinished.

#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/common/status.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/redis_cluster.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "load.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

constexpr int kPartitions = 16;
constexpr char kKeyPrefix[] = "replicas";
const std::vector<std::string> kApps = {"/a", "/b", "/c"};

bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }

// A Redis Cluster of the test's own: three primaries with a replica each, which it breaks.
class RedisCluster {
 public:
  struct Node {
    std::string id;
    int port = 0;
    bool primary = false;
    bool failed = false;
    std::string primary_id;  // a replica's primary
  };

  RedisCluster() {
    char pattern[] = "/tmp/hookd-replicas-redis.XXXXXX";
    if (mkdtemp(pattern) != nullptr) dir_ = pattern;
  }
  ~RedisCluster() {
    Shell(Script() + " stop --dir " + dir_ + " >/dev/null 2>&1");
    Shell("rm -rf '" + dir_ + "'");
  }

  absl::Status Start() {
    // --port auto: six free ports from 21000 (a node's bus port is 10000 higher; both below the
    // kernel's ephemeral ports).
    if (!Shell(absl::StrCat(Script(), " start --dir ", dir_,
                            " --port auto --primaries 3 --replicas 1 >", dir_,
                            "/start.log 2>&1")) ||
        !Shell(absl::StrCat(Script(), " url --dir ", dir_, " >", dir_, "/url"))) {
      return absl::InternalError("scripts/redis-cluster.sh start failed; see " + dir_ +
                                 "/start.log");
    }
    std::ifstream in(dir_ + "/url");
    std::getline(in, url_);
    return absl::OkStatus();
  }

  // Every node is a seed: the service must find the cluster whichever nodes are down.
  const std::string& url() const { return url_; }

  absl::StatusOr<queue::Reply> Command(int port, const std::vector<std::string>& argv) const {
    queue::RedisEndpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = port;
    RedisOptions options;
    options.connect_timeout = absl::Milliseconds(500);
    HOOKD_ASSIGN_OR_RETURN(auto connection, queue::RedisConnection::Create(endpoint, options));
    return connection->Command(argv);
  }

  // The cluster as the node on `port` sees it (CLUSTER NODES).
  absl::StatusOr<std::vector<Node>> Nodes(int port) const {
    HOOKD_ASSIGN_OR_RETURN(queue::Reply reply, Command(port, {"CLUSTER", "NODES"}));
    std::vector<Node> nodes;
    for (absl::string_view line : absl::StrSplit(reply.str, '\n', absl::SkipEmpty())) {
      // <id> <ip:port@bus> <flags> <primary id or -> ...
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() < 4) continue;
      Node node;
      node.id = f[0];
      const std::string address = f[1].substr(0, f[1].find('@'));
      if (!absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &node.port)) continue;
      node.primary = absl::StrContains(f[2], "master");
      node.failed = absl::StrContains(f[2], "fail");
      if (f[3] != "-") node.primary_id = f[3];
      nodes.push_back(node);
    }
    return nodes;
  }

  bool Kill(int port) const {
    std::ifstream in(absl::StrCat(dir_, "/node-", port, "/redis.pid"));
    pid_t pid = 0;
    return static_cast<bool>(in >> pid) && pid > 0 && kill(pid, SIGKILL) == 0;
  }

 private:
  static std::string Script() {
    return std::string(HOOKD_SOURCE_DIR) + "/scripts/redis-cluster.sh";
  }
  std::string dir_;
  std::string url_;
};

TEST(ReplicasE2e, KillingOneOfEachServiceAndARedisPrimaryLosesNothing) {
  RedisCluster redis;
  absl::Status started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  auto db = testing::TestDatabase::Create("replicas");
  ASSERT_TRUE(db.ok()) << db.status();
  Cluster cluster((*db)->url(), redis.url(), kKeyPrefix, kPartitions);
  ASSERT_TRUE(cluster.StartSubscription().ok());
  auto subscription_2 = cluster.StartSubscriptionReplica();
  ASSERT_TRUE(subscription_2.ok()) << subscription_2.status();
  ASSERT_TRUE(cluster.CreateEventTypes({"replicas.event"}).ok());
  ASSERT_TRUE(cluster.StartIngest().ok());
  auto ingest_2 = cluster.StartIngestReplica();
  ASSERT_TRUE(ingest_2.ok()) << ingest_2.status();
  for (const char* w : {"w1", "w2", "w3"}) {
    started = cluster.StartWorker(w);
    ASSERT_TRUE(started.ok()) << started;
  }

  Receiver receiver;
  LoadApps apps = CreateLoadApps(cluster, receiver, "replicas", "replicas.event", kApps);
  const std::string& probe_id = apps.probe_id;
  ASSERT_FALSE(probe_id.empty());
  std::map<std::string, std::string>& app_ids = apps.ids;

  // The primary that serves /a's partition is the one to fail, and its replica takes over.
  RedisOptions options;
  options.url = redis.url();
  options.key_prefix = kKeyPrefix;
  options.partitions = kPartitions;
  auto map = queue::ClusterClient::Create(options);
  ASSERT_TRUE(map.ok()) << map.status();
  const int slot =
      queue::KeySlot(queue::StreamKey(options, queue::PartitionOf(app_ids["/a"], kPartitions)));
  const std::string victim_address = *(*map)->slot_map().PrimaryOf(slot);
  int victim_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(victim_address.substr(victim_address.rfind(':') + 1), &victim_port));
  // Its replica, as the primary sees it: a cluster reports ok once the slots are served, and
  // the replicas' links may show up a moment later (seen on a cold CI machine).
  int heir_port = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto nodes = redis.Nodes(victim_port);
        if (!nodes.ok()) return false;
        std::string victim_id;
        for (const auto& n : *nodes) {
          if (n.port == victim_port) victim_id = n.id;
        }
        for (const auto& n : *nodes) {
          if (!victim_id.empty() && n.primary_id == victim_id) heir_port = n.port;
        }
        return heir_port != 0;
      },
      absl::Seconds(30)))
      << "the primary on " << victim_port << " shows no replica";
  ASSERT_TRUE(PollUntil(
      [&] {
        auto info = redis.Command(heir_port, {"INFO", "replication"});
        return info.ok() && absl::StrContains(info->str, "master_link_status:up");
      },
      absl::Seconds(30)))
      << "the replica on " << heir_port << " never synced with its primary";

  // Publishers: two threads, each sending batches of 5 every 50 ms (about 200 events/s, 600
  // deliveries/s) to one ingest replica, and to the other when that one fails.
  Publishers publishers({.ingests = {cluster.ingest_channel(), *ingest_2},
                         .token = cluster.admin_token(),
                         .tenant = "replicas",
                         .event_type = "replicas.event",
                         .batch = 5},
                        {{probe_id, absl::Now()}});

  // One of each service, in turn, 3 s apart.
  auto log = [](const std::string& what) {
    std::cerr << absl::FormatTime("%H:%M:%E3S ", absl::Now(), absl::UTCTimeZone()) << what << "\n";
  };
  absl::SleepFor(absl::Seconds(3));
  log("kill -9 worker w2");
  cluster.worker("w2").Signal(SIGKILL);
  cluster.worker("w2").Wait();
  ASSERT_TRUE(Restart("w2", [&] { return cluster.StartWorker("w2"); }));

  absl::SleepFor(absl::Seconds(3));
  log("kill -9 ingest");
  cluster.ingest().Signal(SIGKILL);
  cluster.ingest().Wait();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(Restart("ingest", [&] { return cluster.StartIngest(); }));

  absl::SleepFor(absl::Seconds(3));
  log("kill -9 subscription");
  cluster.subscription().Signal(SIGKILL);
  cluster.subscription().Wait();
  // The other replica answers meanwhile.
  v1::GetAppRequest get;
  get.set_id(app_ids["/a"]);
  v1::App got;
  grpc::Status answered = v1::AppService::NewStub(*subscription_2)
                              ->GetApp(ClientContext(cluster.admin_token()).get(), get, &got);
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  EXPECT_EQ(got.url(), receiver.url("/a"));
  ASSERT_TRUE(Restart("subscription", [&] { return cluster.StartSubscription(); }));

  absl::SleepFor(absl::Seconds(3));
  log(absl::StrCat("kill -9 the redis primary on ", victim_port, " (its replica is on ", heir_port,
                   ")"));
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(redis.Kill(victim_port));
  // Failed over: a surviving node sees the replica as a primary, and the cluster as ok.
  bool failed_over = PollUntil(
      [&] {
        auto seen = redis.Nodes(heir_port);
        auto info = redis.Command(heir_port, {"CLUSTER", "INFO"});
        if (!seen.ok() || !info.ok() || !absl::StrContains(info->str, "cluster_state:ok")) {
          return false;
        }
        for (const auto& n : *seen) {
          if (n.port == heir_port) return n.primary && !n.failed;
        }
        return false;
      },
      absl::Seconds(30), absl::Milliseconds(50));
  const absl::Time promoted = absl::Now();
  ASSERT_TRUE(failed_over) << "the replica on " << heir_port << " was not promoted in 30 s";
  log("replica promoted");
  // Load goes on for a while on the new primary.
  absl::SleepFor(absl::Seconds(6));
  publishers.Stop();
  log("publishing stopped");

  // The ledger: every acknowledged event at every app, within a deadline.
  const std::map<std::string, absl::Time> events = publishers.Acknowledged();
  const absl::Time drain_start = absl::Now();
  EXPECT_TRUE(PollUntil([&] { return TallyReceipts(receiver, kApps, events).missing == 0; },
                        absl::Minutes(1), absl::Milliseconds(200)));
  const absl::Duration drain = absl::Now() - drain_start;
  const Tally tally = TallyReceipts(receiver, kApps, events);
  // Resuming: the first receipt at /a, whose partition the failed primary served, of an event
  // acknowledged after the kill. Nothing of that partition could be read in between.
  absl::Time resumed = absl::InfiniteFuture();
  for (const auto& r : receiver.Received("/a")) {
    auto it = events.find(r.headers.at("webhook-id"));
    if (it != events.end() && it->second >= killed) resumed = std::min(resumed, r.at);
  }
  auto count = [&](const std::string& sql) {
    pqxx::connection conn((*db)->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  };
  const std::string unfinished_sql =
      "SELECT count(*) FROM delivery_view WHERE status NOT IN (2, 4)";
  PollUntil([&] { return count(unfinished_sql) == 0; }, absl::Minutes(1), absl::Milliseconds(200));

  const int during_failover = publishers.AcknowledgedBetween(killed, promoted);
  std::cerr << "\nreplicas e2e: " << events.size() << " events acknowledged ("
            << publishers.refused() << " refused while an ingest was down), "
            << events.size() * kApps.size() << " deliveries expected\n"
            << "  failover: replica promoted " << (promoted - killed) << " after the kill; "
            << during_failover << " events acknowledged meanwhile\n"
            << "  /a resumed " << (resumed - promoted) << " after the promotion\n"
            << "  receipts: " << tally.receipts << ", duplicates: " << tally.duplicates << " ("
            << tally.mismatched << " with another body), lost: " << tally.missing
            << ", every receipt in " << drain << " after publishing stopped\n";
  EXPECT_EQ(tally.missing, 0);
  EXPECT_EQ(tally.mismatched, 0);
  EXPECT_EQ(count(unfinished_sql), 0);
  EXPECT_EQ(count("SELECT count(*) FROM delivery_view WHERE status = 4"), 0);
  // Ingest kept acknowledging through the failover: the outbox holds what Redis could not take.
  EXPECT_GT(during_failover, 0);
  // Workers resume within the failover time plus 5 s.
  EXPECT_LE(resumed, promoted + absl::Seconds(5));
}

// Each service refuses to start on a cluster url it cannot use, saying why: every seed named
// when none answers, the part that is wrong when the url is malformed.
TEST(ReplicasE2e, EachServiceRefusesAClusterUrlItCannotUseAndSaysWhy) {
  auto db = testing::TestDatabase::Create("replicas_url");
  ASSERT_TRUE(db.ok()) << db.status();
  const int dead_1 = testing::FreePort(), dead_2 = testing::FreePort();
  char pattern[] = "/tmp/hookd-replicas-url.XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {absl::StrCat("redis+cluster://127.0.0.1:", dead_1, ",127.0.0.1:", dead_2),
       {absl::StrCat("127.0.0.1:", dead_1), absl::StrCat("127.0.0.1:", dead_2),
        "no node answered CLUSTER SLOTS"}},
      {"redis+cluster://127.0.0.1:7000,127.0.0.1:70000",
       {"redis_url: node 2: port must be a number in 1..65535"}},
      {"redis+cluster://127.0.0.1:7000,,127.0.0.1:7001", {"redis_url: node 2: empty"}},
  };
  for (const char* service : {"hookd-subscription", "hookd-ingest", "hookd-worker"}) {
    for (const auto& [url, expected] : cases) {
      const std::string log = absl::StrCat(dir, "/", service, ".log");
      auto process = testing::ChildProcess::Spawn(
          {absl::StrCat(HOOKD_BIN_DIR, "/", service)},
          {{"HOOKD_DATABASE_URL", (*db)->url()},
           {"HOOKD_REDIS_URL", url},
           {"HOOKD_ADMIN_TOKEN", "e2e-admin-token"},
           {"HOOKD_MASTER_KEY", testing::kTestMasterKey},
           {"HOOKD_LISTEN", absl::StrCat("127.0.0.1:", testing::FreePort())},
           {"HOOKD_SUBSCRIPTION_ADDR", absl::StrCat("127.0.0.1:", testing::FreePort())}},
          log);
      ASSERT_TRUE(process.ok()) << process.status();
      const int status = (*process)->Wait(absl::Seconds(20));
      ASSERT_NE(status, -1) << service << " still runs with " << url;
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << service << " " << url;
      const std::string tail = (*process)->LogTail();
      for (const std::string& part : expected) {
        EXPECT_TRUE(absl::StrContains(tail, part)) << service << " " << url << ": " << tail;
      }
    }
  }
  Shell("rm -rf '" + dir + "'");
}

}  // namespace
}  // namespace hookd::e2e
