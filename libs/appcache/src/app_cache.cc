#include "hookd/appcache/app_cache.h"

#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "hookd/apps/routing.h"
#include "hookd/apps/validation.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "spdlog/spdlog.h"

namespace hookd::appcache {

AppSet::AppSet(std::unordered_map<std::string, AppPtr> by_id) : by_id_(std::move(by_id)) {
  for (const auto& [id, app] : by_id_) by_tenant_[app->tenant()].push_back(app);
  // Stable order (by id) keeps routing results deterministic.
  for (auto& [tenant, list] : by_tenant_) {
    std::sort(list.begin(), list.end(),
              [](const AppPtr& a, const AppPtr& b) { return a->id() < b->id(); });
  }
}

AppSet::AppPtr AppSet::Find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : it->second;
}

const std::vector<AppSet::AppPtr>& AppSet::OfTenant(std::string_view tenant) const {
  static const auto* empty = new std::vector<AppPtr>();
  auto it = by_tenant_.find(std::string(tenant));
  return it == by_tenant_.end() ? *empty : it->second;
}

std::vector<AppSet::AppPtr> AppSet::Route(std::string_view tenant, std::string_view event_type,
                                          const std::vector<std::string>& channels) const {
  std::vector<AppPtr> out;
  for (const AppPtr& app : OfTenant(tenant)) {
    if (apps::AppMatches(*app, event_type, channels)) out.push_back(app);
  }
  return out;
}

AppCache::AppCache(AppCacheOptions options)
    : options_(std::move(options)),
      channel_(NewInternalChannel(options_.subscription_addr)),
      stub_(v1::AppService::NewStub(channel_)),
      current_(std::make_shared<AppSet>(std::unordered_map<std::string, AppSet::AppPtr>())) {}

AppCache::~AppCache() { Stop(); }

void AppCache::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AppCache::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const AppSet> AppCache::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool AppCache::WaitSynced(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [this] { return synced_.load(); });
  return synced_.load();
}

absl::Duration AppCache::Staleness() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!synced_.load()) return absl::InfiniteDuration();
  if (connected_) return absl::ZeroDuration();
  return absl::Now() - current_since_;
}

void AppCache::Publish() {
  auto next = std::make_shared<const AppSet>(apps_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(next);
    current_since_ = absl::Now();
    connected_ = true;
  }
  if (!synced_.exchange(true)) cv_.notify_all();
}

absl::Status AppCache::WatchOnce() {
  v1::WatchAppsRequest request;
  request.set_resume_version(version_.load());
  request.set_include_secrets(options_.include_secrets);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::CancelledError("stopping");
    context_ = std::make_unique<grpc::ClientContext>();
    context_->AddMetadata("authorization", "Bearer " + options_.token);
  }
  auto reader = stub_->WatchApps(context_.get(), request);
  // A fresh watch (version 0) starts with a snapshot: what it lacks was deleted meanwhile.
  if (request.resume_version() == 0) apps_.clear();
  stream_synced_ = false;
  v1::WatchAppsResponse change;
  while (reader->Read(&change)) {
    switch (change.type()) {
      case v1::WatchAppsResponse::UPSERTED: {
        std::string id = change.app().id();  // read before the app is moved out
        apps_[id] = std::make_shared<const v1::App>(std::move(*change.mutable_app()));
        break;
      }
      case v1::WatchAppsResponse::DELETED:
        apps_.erase(change.app().id());
        break;
      case v1::WatchAppsResponse::SYNCED:
        stream_synced_ = true;
        break;
      default:
        break;
    }
    version_.store(std::max(version_.load(), change.version()));
    // Rebuild the view once the snapshot is complete, then on every live change.
    if (stream_synced_) Publish();
  }
  absl::Status status = FromGrpcStatus(reader->Finish());
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = false;
    context_.reset();
  }
  return status;
}

void AppCache::Run() {
  absl::Duration backoff = options_.min_backoff;
  for (;;) {
    absl::Status status = WatchOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (status.code() == absl::StatusCode::kOutOfRange) {
      // Our cursor is ahead of the feed (the database was replaced): start over.
      version_.store(0);
    }
    spdlog::warn("app watch ended ({}); reconnecting in {}", status.ToString(),
                 absl::FormatDuration(backoff));
    cv_.wait_for(lock, absl::ToChronoMilliseconds(backoff), [this] { return stopping_; });
    if (stopping_) return;
    backoff = stream_synced_ ? options_.min_backoff : std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace hookd::appcache
