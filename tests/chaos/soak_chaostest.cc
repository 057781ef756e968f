// The chaos soak (README, "Chaos soak"): mixed load with fan-out while, at random, every kind of
// hookd service is killed with SIGKILL, Postgres crashes (immediate stop) and Redis restarts,
// with and without FLUSHALL. Then the ledger: every acknowledged event reached every app at
// least once, duplicates carry the same webhook-id and body, and nothing is left unfinished.
//
// HOOKD_SOAK_DURATION (default 2m) is the chaos window; tests/chaos/soak.sh runs it long.
// Real processes throughout: the service binaries, a Postgres of its own (scripts/pg.sh), a
// redis-server of its own, an HTTP receiver in this process.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/queue/redis_connection.h"
#include "hookd/testing/process.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "load.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

const std::vector<std::string> kApps = {"/a", "/b", "/flaky"};
// Production recovery timing: a dead worker's entries after 10 s, and the 5-minute lost-delivery
// sweep out of reach, so every recovery seen here is the fast one.
const std::vector<std::string> kWorkerFlags = {"--visibility_timeout=10s", "--lost_grace=5m",
                                               "--max_request_timeout=5s"};

absl::Duration SoakDuration() {
  absl::Duration duration = absl::Minutes(2);
  if (const char* text = std::getenv("HOOKD_SOAK_DURATION"); text != nullptr && *text != '\0') {
    EXPECT_TRUE(absl::ParseDuration(text, &duration)) << "HOOKD_SOAK_DURATION=" << text;
  }
  return duration;
}

bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }

// A Postgres of the soak's own, which it crashes and restarts.
class Postgres {
 public:
  Postgres() {
    char pattern[] = "/tmp/hookd-soak-pg.XXXXXX";
    dir_ = mkdtemp(pattern);
  }
  ~Postgres() {
    Shell(Script() + " stop --dir " + dir_ + " >/dev/null 2>&1");
    Shell("rm -rf '" + dir_ + "'");
  }
  bool Start() {
    return Shell(Script() + " start --dir " + dir_ + " --port " + std::to_string(port_) + " >>" +
                 dir_ + "/pg.sh.log 2>&1");
  }
  bool Crash() {
    return Shell(Script() + " stop --immediate --dir " + dir_ + " >>" + dir_ + "/pg.sh.log 2>&1");
  }
  std::string url() const {
    return "postgresql://hookd@127.0.0.1:" + std::to_string(port_) + "/hookd";
  }

 private:
  static std::string Script() { return std::string(HOOKD_SOURCE_DIR) + "/scripts/pg.sh"; }
  std::string dir_;
  int port_ = testing::FreePort();
};

struct Fault {
  std::string kind;
  absl::Time at;
};

TEST(ChaosSoak, NothingAcknowledgedIsLostWhateverCrashes) {
  const absl::Duration duration = SoakDuration();
  Postgres pg;
  ASSERT_TRUE(pg.Start());
  testing::ScratchRedis redis(/*persistent=*/true);
  ASSERT_TRUE(redis.Start().ok());
  Cluster cluster(pg.url(), redis.url(), "soak", 16);
  ASSERT_TRUE(cluster.StartSubscription().ok());
  ASSERT_TRUE(cluster.CreateEventTypes({"soak.event"}).ok());
  ASSERT_TRUE(cluster.StartIngest().ok());
  for (const char* w : {"w1", "w2"}) {
    absl::Status started = cluster.StartWorker(w, kWorkerFlags);
    ASSERT_TRUE(started.ok()) << started;
  }

  // /flaky fails one request in ten: retries run through the chaos too.
  Receiver receiver;
  std::atomic<int> flaky_count{0};
  receiver.Handle("/flaky", [&](const Receiver::Request&) {
    Receiver::Response response;
    if (flaky_count.fetch_add(1) % 10 == 0) response.status = 503;
    return response;
  });
  const LoadApps apps = CreateLoadApps(cluster, receiver, "soak", "soak.event", kApps);
  const std::string& probe_id = apps.probe_id;
  ASSERT_FALSE(probe_id.empty());

  // Publishers: batches of 10 every 50 ms each (about 400 events/s offered, 1,200 deliveries/s);
  // only events whose publish answered OK count as acknowledged.
  Publishers publishers({.ingests = {cluster.ingest_channel()},
                         .token = cluster.admin_token(),
                         .tenant = "soak",
                         .event_type = "soak.event"},
                        {{probe_id, absl::Now()}});

  // The chaos: a fault every 4-10 s, each kind in turn in random order.
  std::mt19937 random(static_cast<unsigned>(absl::ToUnixNanos(absl::Now())));
  const std::vector<std::string> kinds = {"kill ingest",       "kill worker",
                                          "kill subscription", "crash postgres",
                                          "restart redis",     "flush and restart redis"};
  std::vector<Fault> faults;
  auto raw_redis = [&]() {
    RedisOptions options;
    options.url = redis.url();
    return queue::RedisConnection::Create(options);
  };
  const absl::Time end = absl::Now() + duration;
  std::vector<std::string> order;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(4000, 10000)(random)));
    if (order.empty()) {
      order = kinds;
      std::shuffle(order.begin(), order.end(), random);
    }
    const std::string kind = order.back();
    order.pop_back();
    faults.push_back({kind, absl::Now()});
    std::cerr << absl::FormatTime("%H:%M:%S", absl::Now(), absl::UTCTimeZone()) << " " << kind
              << "\n";
    if (kind == "kill ingest") {
      cluster.ingest().Signal(SIGKILL);
      cluster.ingest().Wait();
      absl::SleepFor(absl::Seconds(1));
      ASSERT_TRUE(Restart("ingest", [&] { return cluster.StartIngest(); }));
    } else if (kind == "kill worker") {
      const std::string name = std::uniform_int_distribution<int>(0, 1)(random) ? "w1" : "w2";
      cluster.worker(name).Signal(SIGKILL);
      cluster.worker(name).Wait();
      absl::SleepFor(absl::Seconds(1));
      ASSERT_TRUE(Restart(name, [&] { return cluster.StartWorker(name, kWorkerFlags); }));
    } else if (kind == "kill subscription") {
      cluster.subscription().Signal(SIGKILL);
      cluster.subscription().Wait();
      absl::SleepFor(absl::Seconds(1));
      ASSERT_TRUE(Restart("subscription", [&] { return cluster.StartSubscription(); }));
    } else if (kind == "crash postgres") {
      ASSERT_TRUE(pg.Crash());
      absl::SleepFor(absl::Seconds(1));
      ASSERT_TRUE(pg.Start());
    } else {
      if (kind == "flush and restart redis") {
        auto raw = raw_redis();
        ASSERT_TRUE(raw.ok()) << raw.status();
        ASSERT_TRUE((*raw)->Command({"FLUSHALL"}).ok());
      }
      redis.Stop();
      absl::SleepFor(absl::Seconds(1));
      ASSERT_TRUE(redis.Start().ok());
    }
  }
  publishers.Stop();

  // The ledger: every acknowledged event at every app, within a deadline.
  const std::map<std::string, absl::Time> events = publishers.Acknowledged();
  const absl::Time drain_start = absl::Now();
  const bool drained =
      PollUntil([&] { return TallyReceipts(receiver, kApps, events).missing == 0; },
                absl::Minutes(2), absl::Milliseconds(500));
  const absl::Duration drain = absl::Now() - drain_start;
  const Tally tally = TallyReceipts(receiver, kApps, events);

  int64_t deliveries = 0;
  std::map<std::string, absl::Duration> worst_after;  // fault kind -> longest delay after it
  for (const std::string& path : kApps) {
    std::map<std::string, absl::Time> first;
    for (const auto& r : receiver.Received(path)) first.emplace(r.headers.at("webhook-id"), r.at);
    for (const auto& [id, published] : events) {
      auto it = first.find(id);
      if (it == first.end()) continue;
      ++deliveries;
      // The longest delay of an event published within 10 s after a fault and before the next
      // one, by the fault's kind.
      for (size_t k = 0; k < faults.size(); ++k) {
        const absl::Time until =
            std::min(faults[k].at + absl::Seconds(10),
                     k + 1 < faults.size() ? faults[k + 1].at : absl::InfiniteFuture());
        if (published >= faults[k].at && published < until) {
          worst_after[faults[k].kind] =
              std::max(worst_after[faults[k].kind], it->second - published);
        }
      }
    }
  }
  // Postgres settles too: a delivery received just before its worker was killed is recorded
  // when another worker takes it over, after the visibility timeout.
  auto count = [&](const std::string& sql) {
    pqxx::connection conn(pg.url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  };
  const std::string unfinished_sql =
      "SELECT count(*) FROM delivery_view WHERE status NOT IN (2, 4)";
  const absl::Time settle_start = absl::Now();
  PollUntil([&] { return count(unfinished_sql) == 0; }, absl::Minutes(2), absl::Milliseconds(500));
  const absl::Duration settled = absl::Now() - settle_start;
  const int64_t unfinished = count(unfinished_sql);
  const int64_t failed = count("SELECT count(*) FROM delivery_view WHERE status = 4");

  std::map<std::string, int> fault_counts;
  for (const Fault& f : faults) ++fault_counts[f.kind];
  std::cerr << "\nchaos soak: " << duration << " of chaos, " << faults.size() << " faults\n";
  for (const auto& [kind, n] : fault_counts) {
    std::cerr << "  " << kind << ": " << n << " (longest delay of an event published within 10 s "
              << "after, before the next fault: " << worst_after[kind] << ")\n";
  }
  std::cerr << "  events acknowledged: " << events.size() << " (" << publishers.refused()
            << " refused while services were down), deliveries expected: "
            << events.size() * kApps.size() << "\n"
            << "  delivered: " << deliveries << ", lost: " << tally.missing
            << ", duplicates: " << tally.duplicates << " (" << tally.mismatched
            << " with a different body), unfinished in Postgres: " << unfinished
            << ", failed for good: " << failed << "\n"
            << "  every receipt in " << drain << " after the chaos ended, Postgres settled "
            << settled << " later\n";
  EXPECT_TRUE(drained);
  EXPECT_EQ(tally.missing, 0);
  EXPECT_EQ(tally.mismatched, 0);
  EXPECT_EQ(unfinished, 0);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(deliveries, static_cast<int64_t>(events.size() * kApps.size()));
}

}  // namespace
}  // namespace hookd::e2e
