#pragma once

// Steady publishing and the ledger at the end, for the tests that break things under load
// (tests/chaos, replicas_e2etest): only events whose publish answered OK count, and every one of
// them must reach every app.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cluster.h"
#include "grpcpp/channel.h"
#include "hookd/testing/receiver.h"

namespace hookd::e2e {

// Threads that each publish a batch of events, then pause, until stopped. A thread sends to one
// of `ingests` and, after a failed call, to the next one, as a client behind a load balancer
// would.
class Publishers {
 public:
  struct Options {
    std::vector<std::shared_ptr<grpc::Channel>> ingests;
    std::string token;
    std::string tenant;
    std::string event_type;
    int threads = 2;
    int batch = 10;
    absl::Duration pause = absl::Milliseconds(50);
  };

  // Starts publishing; `acknowledged` starts with `seed` (a probe published before).
  Publishers(Options options, std::map<std::string, absl::Time> seed);
  ~Publishers();  // stops

  void Stop();
  // Event id -> when its publish was acknowledged.
  std::map<std::string, absl::Time> Acknowledged() const;
  // How many were acknowledged in [from, to].
  int AcknowledgedBetween(absl::Time from, absl::Time to) const;
  // Events whose publish failed (a service was down): not counted.
  int64_t refused() const { return refused_.load(); }

 private:
  void Run(int thread);

  const Options options_;
  mutable std::mutex mu_;
  std::map<std::string, absl::Time> acknowledged_;  // guarded by mu_
  std::atomic<int64_t> refused_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// What the apps at `paths` received of `events`, by webhook-id.
struct Tally {
  int64_t receipts = 0;
  int64_t missing = 0;     // (event, app) pairs never received
  int64_t duplicates = 0;  // receipts beyond the first of an (event, app)
  int64_t mismatched = 0;  // duplicates whose body differs from the first
};
Tally TallyReceipts(const testing::Receiver& receiver, const std::vector<std::string>& paths,
                    const std::map<std::string, absl::Time>& events);

// Apps of `tenant`, one per path of `receiver`, each subscribed to `event_type` with 8 retries
// 1 s apart (so retries run through the faults), and a probe event published until it reaches
// every one of them, which also shows that ingest routes to them all.
struct LoadApps {
  std::map<std::string, std::string> ids;  // path -> app id
  std::string probe_id;                    // empty when the apps or the probe failed
};
LoadApps CreateLoadApps(Cluster& cluster, const testing::Receiver& receiver,
                        const std::string& tenant, const std::string& event_type,
                        const std::vector<std::string>& paths);

// Starts a service again as an orchestrator does: until it comes up (it may exit at start while
// a dependency recovers), for up to a minute, saying why each try failed.
bool Restart(const std::string& what, const std::function<absl::Status()>& start);

}  // namespace hookd::e2e
