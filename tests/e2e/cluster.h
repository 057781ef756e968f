#pragma once

// Real hookd processes for end-to-end tests: each service is its built binary, started with the
// environment README documents ("Configuration"), on free loopback ports, against the test's
// own database and Redis key prefix.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "hookd/queue/redis_connection.h"
#include "hookd/testing/process.h"
#include "hookd/testing/test_database.h"
#include "hookd/v1/app.pb.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd::e2e {

class Cluster {
 public:
  Cluster(std::string database_url, std::string redis_url, std::string redis_key_prefix,
          int partitions);
  ~Cluster();

  // Starts hookd-subscription with `extra_flags` and waits until its health check answers
  // SERVING.
  absl::Status StartSubscription(const std::vector<std::string>& extra_flags = {});
  // Starts another hookd-subscription replica on the same database, on a port of its own (its
  // log is "subscription-2", "subscription-3", ...), and answers a channel to it.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> StartSubscriptionReplica(
      const std::vector<std::string>& extra_flags = {});
  // Starts hookd-ingest (again, on the same port) with `extra_flags`, and waits until it
  // accepts a Publish for `probe_tenant` without UNAVAILABLE.
  absl::Status StartIngest(const std::vector<std::string>& extra_flags = {});
  // Starts another hookd-ingest replica, on a port of its own (its log is "ingest-2", ...), and
  // answers a channel to it once it is ready.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> StartIngestReplica(
      const std::vector<std::string>& extra_flags = {});

  // Starts a hookd-worker called `name` (its consumer name and log) with `extra_flags` and
  // waits until its health check answers. Workers get test-friendly timing by default:
  // retries scaled by 0.001, short request and visibility timeouts, a short lost-delivery grace.
  absl::Status StartWorker(const std::string& name,
                           const std::vector<std::string>& extra_flags = {});
  // Creates these event types through hookd-subscription (which must be running).
  absl::Status CreateEventTypes(const std::vector<std::string>& names);
  // Creates `app` through hookd-subscription without a connection test and returns it (with its
  // secret); fails the calling test and returns an empty App when the call fails.
  v1::App CreateApp(const v1::App& app);
  // Publishes `request` through hookd-ingest until the event reaches `expected_deliveries`
  // apps (ingest routes from a cache that learns of a new app within milliseconds), and returns
  // the event id; fails the calling test and returns "" when that never happens.
  std::string PublishRouted(const v1::PublishRequest& request, int expected_deliveries = 1);
  // The usual start: hookd-subscription, `event_types`, hookd-ingest and one worker "w1", each
  // with `extra_flags`.
  absl::Status StartAll(const std::vector<std::string>& event_types,
                        const std::vector<std::string>& extra_flags = {});

  // Adds `name=value` to the environment of every service started from now on (HOOKD_TLS_*).
  void SetEnvironment(const std::string& name, const std::string& value) {
    extra_env_[name] = value;
  }

  testing::ChildProcess& worker(const std::string& name) { return *workers_.at(name); }
  void StopWorker(const std::string& name) { workers_.erase(name); }

  testing::ChildProcess& ingest() { return *ingest_; }
  testing::ChildProcess& subscription() { return *subscription_; }
  void StopIngest() { ingest_.reset(); }

  // Every service serves /metrics (HOOKD_METRICS_LISTEN) on a port of its own.
  int subscription_port() const { return subscription_port_; }
  int subscription_metrics_port() const { return subscription_metrics_port_; }
  int ingest_metrics_port() const { return ingest_metrics_port_; }
  int worker_metrics_port(const std::string& name) const { return worker_metrics_ports_.at(name); }

  // The file a service writes its stdout and stderr to: "subscription", "ingest" or
  // "worker-<name>". The files stay until the cluster is destroyed.
  std::string LogPath(const std::string& name) const;

  std::shared_ptr<grpc::Channel> subscription_channel() const;
  std::shared_ptr<grpc::Channel> ingest_channel() const;
  const std::string& admin_token() const { return admin_token_; }

 private:
  std::map<std::string, std::string> Environment(int port, int metrics_port) const;
  absl::StatusOr<std::unique_ptr<testing::ChildProcess>> SpawnSubscription(
      int port, int metrics_port, const std::string& log_name,
      const std::vector<std::string>& extra_flags) const;
  absl::StatusOr<std::unique_ptr<testing::ChildProcess>> SpawnIngest(
      int port, int metrics_port, const std::string& log_name,
      const std::vector<std::string>& extra_flags) const;

  const std::string database_url_;
  const std::string redis_url_;
  const std::string redis_key_prefix_;
  const int partitions_;
  const std::string admin_token_ = "e2e-admin-token";
  const int subscription_port_;
  const int ingest_port_;
  const int subscription_metrics_port_;
  const int ingest_metrics_port_;
  std::map<std::string, int> worker_metrics_ports_;
  std::map<std::string, std::string> extra_env_;
  std::string log_dir_;
  std::unique_ptr<testing::ChildProcess> subscription_;
  std::unique_ptr<testing::ChildProcess> ingest_;
  std::vector<std::unique_ptr<testing::ChildProcess>> replicas_;
  std::vector<std::unique_ptr<testing::ChildProcess>> ingest_replicas_;
  std::map<std::string, std::unique_ptr<testing::ChildProcess>> workers_;
};

// What an end-to-end test runs against: a database and a Redis key prefix of its own, and a
// Cluster (not started) on them. Destroying it stops the processes, deletes the keys and drops
// the database.
struct TestBed {
  // `suite` names the database and the key prefix. The error of a setup that failed.
  static absl::StatusOr<std::unique_ptr<TestBed>> Create(std::string_view suite);
  ~TestBed();

  std::unique_ptr<testing::TestDatabase> db;
  RedisOptions redis;
  std::unique_ptr<Cluster> cluster;
};

}  // namespace hookd::e2e
