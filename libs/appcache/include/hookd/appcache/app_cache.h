#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "hookd/v1/app.grpc.pb.h"

namespace hookd::appcache {

// An immutable view of every live app, indexed by tenant. Readers hold a shared_ptr to one view
// while the cache builds the next, so routing never takes a lock per event.
class AppSet {
 public:
  using AppPtr = std::shared_ptr<const v1::App>;

  explicit AppSet(std::unordered_map<std::string, AppPtr> by_id);

  // The app with this id, or null.
  AppPtr Find(std::string_view id) const;
  // Every app of `tenant` (active or not).
  const std::vector<AppPtr>& OfTenant(std::string_view tenant) const;
  // Apps of `tenant` that receive an event of `event_type` on `channels`: subscribed by one of
  // their patterns, and sharing a channel when they list any. Disabled apps are among them:
  // their deliveries are made HELD.
  std::vector<AppPtr> Route(std::string_view tenant, std::string_view event_type,
                            const std::vector<std::string>& channels) const;
  size_t size() const { return by_id_.size(); }

 private:
  std::unordered_map<std::string, AppPtr> by_id_;
  std::unordered_map<std::string, std::vector<AppPtr>> by_tenant_;
};

struct AppCacheOptions {
  // hookd-subscription's address (HOOKD_SUBSCRIPTION_ADDR).
  std::string subscription_addr;
  // Bearer token for WatchApps (the admin token; secrets need it).
  std::string token;
  // Ask for signing secrets and passwords (the worker signs; ingest does not need them).
  bool include_secrets = false;
  // Waits between reconnection attempts grow from `min_backoff` to `max_backoff`.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

// Keeps every app in memory from hookd-subscription's WatchApps change feed. After a broken
// stream it reconnects and resumes from the last version seen, so no change is missed.
class AppCache {
 public:
  explicit AppCache(AppCacheOptions options);
  // Stops the watch thread.
  ~AppCache();

  void Start();
  void Stop();

  // The current view; empty until the first sync.
  std::shared_ptr<const AppSet> Current() const;
  // Whether the first full sync has completed (ingest answers UNAVAILABLE until then).
  bool synced() const { return synced_.load(); }
  // Waits until synced or `timeout`; returns synced().
  bool WaitSynced(absl::Duration timeout);
  // How long ago the cache last knew itself current (the stream was up and synced); infinite
  // before the first sync. Exported as a metric.
  absl::Duration Staleness() const;

 private:
  void Run();
  // One watch stream until it ends; returns its final status.
  absl::Status WatchOnce();
  void Publish();

  const AppCacheOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AppService::Stub> stub_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::unique_ptr<grpc::ClientContext> context_;  // of the running stream, to cancel it
  std::shared_ptr<const AppSet> current_;
  absl::Time current_since_ = absl::InfinitePast();
  bool connected_ = false;

  // Only the watch thread touches these.
  std::unordered_map<std::string, AppSet::AppPtr> apps_;
  bool stream_synced_ = false;

  std::atomic<bool> synced_{false};
  std::atomic<int64_t> version_{0};
  std::thread thread_;
};

}  // namespace hookd::appcache
