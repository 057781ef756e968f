#pragma once

// Real hookd processes for end-to-end tests: each service is its built binary, started with the
// environment DESIGN.md documents, on free loopback ports, against the test's own database and
// Redis key prefix.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "hookd/testing/process.h"

namespace hookd::e2e {

class Cluster {
 public:
  Cluster(std::string database_url, std::string redis_url, std::string redis_key_prefix,
          int partitions);
  ~Cluster();

  // Starts hookd-subscription and waits until its health check answers SERVING.
  absl::Status StartSubscription();
  // Starts hookd-ingest (again, on the same port) with `extra_flags`, and waits until it
  // accepts a Publish for `probe_tenant` without UNAVAILABLE.
  absl::Status StartIngest(const std::vector<std::string>& extra_flags = {});

  // Starts a hookd-worker called `name` (its consumer name and log) with `extra_flags` and
  // waits until its health check answers. Workers get test-friendly timing by default:
  // retries scaled by 0.001, short request and visibility timeouts, a short lost-delivery grace.
  absl::Status StartWorker(const std::string& name,
                           const std::vector<std::string>& extra_flags = {});
  testing::ChildProcess& worker(const std::string& name) { return *workers_.at(name); }
  void StopWorker(const std::string& name) { workers_.erase(name); }

  testing::ChildProcess& ingest() { return *ingest_; }
  testing::ChildProcess& subscription() { return *subscription_; }
  void StopIngest() { ingest_.reset(); }

  std::shared_ptr<grpc::Channel> subscription_channel() const;
  std::shared_ptr<grpc::Channel> ingest_channel() const;
  const std::string& admin_token() const { return admin_token_; }

 private:
  std::map<std::string, std::string> Environment(int port) const;
  std::string LogPath(const std::string& name) const;

  const std::string database_url_;
  const std::string redis_url_;
  const std::string redis_key_prefix_;
  const int partitions_;
  const std::string admin_token_ = "e2e-admin-token";
  const int subscription_port_;
  const int ingest_port_;
  std::string log_dir_;
  std::unique_ptr<testing::ChildProcess> subscription_;
  std::unique_ptr<testing::ChildProcess> ingest_;
  std::map<std::string, std::unique_ptr<testing::ChildProcess>> workers_;
};

}  // namespace hookd::e2e
