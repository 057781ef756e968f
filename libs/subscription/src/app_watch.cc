#include "app_watch.h"

#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "page_token.h"
#include "redact.h"
#include "spdlog/spdlog.h"

namespace hookd::subscription {
namespace {

// Changes fetched per query; a watcher fetches the next batch once the previous one is written,
// so a slow client holds at most this many messages in memory.
constexpr int kFetchBatch = 256;

// A stream that ends at once with an error found before any work.
class FailedWriter final : public grpc::ServerWriteReactor<v1::WatchAppsResponse> {
 public:
  explicit FailedWriter(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One WatchApps stream. All state is guarded by mu_; gRPC calls (StartWrite, Finish) are made
// after releasing it, because gRPC may run reactions inline. Work handed to the pool counts in
// pending_, and the watcher deletes itself only once gRPC is done with it and no such work is
// left, so no task ever runs on a deleted watcher.
class AppWatcher final : public grpc::ServerWriteReactor<v1::WatchAppsResponse> {
 public:
  // `tenant`: the only tenant watched, or empty for all.
  AppWatcher(AppWatchHub& hub, auth::Principal principal, std::string tenant,
             const v1::WatchAppsRequest& request, int64_t head)
      : hub_(hub),
        principal_(std::move(principal)),
        tenant_(std::move(tenant)),
        include_secrets_(request.include_secrets()),
        resume_(request.resume_version() > 0),
        cursor_(request.resume_version()),
        head_(head) {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeFetchLocked();
  }

  const auth::Principal& principal() const { return principal_; }

  // The hub saw the feed reach `head`. Called under the hub's lock: it only schedules work.
  void OnHead(int64_t head) {
    std::lock_guard<std::mutex> lock(mu_);
    head_ = std::max(head_, head);
    MaybeFetchLocked();
  }

  // Ends the stream (server shutting down). Called under the hub's lock: the Finish itself runs
  // on the pool.
  void Close(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || done_) return;
    ++pending_;
    hub_.pool().Submit([this, status] {
      std::unique_lock<std::mutex> lock(mu_);
      FinishLocked(lock, status);
      if (!lock.owns_lock()) lock.lock();
      ReleaseLocked(lock);
    });
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    queue_.pop_front();
    if (!ok) {
      // The client went away; OnCancel / OnDone follow.
      FinishLocked(lock, absl::CancelledError("write failed"));
      return;
    }
    Pump(lock);
  }

  void OnCancel() override {
    std::unique_lock<std::mutex> lock(mu_);
    FinishLocked(lock, absl::CancelledError("cancelled"));
  }

  void OnDone() override {
    hub_.Remove(this);
    std::unique_lock<std::mutex> lock(mu_);
    done_ = true;
    if (pending_ > 0) return;  // the last task deletes us
    lock.unlock();
    delete this;
  }

 private:
  // Writes the next queued message, or fetches more when the queue is empty and the feed moved.
  // Called with the lock held; releases it before calling into gRPC.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (finished_ || done_) return;
    if (!writing_ && !queue_.empty()) {
      writing_ = true;
      const v1::WatchAppsResponse* next = &queue_.front();  // deque keeps the element in place
      lock.unlock();
      StartWrite(next);
      return;
    }
    MaybeFetchLocked();
  }

  void MaybeFetchLocked() {
    if (finished_ || done_ || fetching_ || !queue_.empty()) return;
    if (synced_ && head_ <= cursor_) return;
    fetching_ = true;
    ++pending_;
    hub_.pool().Submit([this] { Fetch(); });
  }

  void FinishLocked(std::unique_lock<std::mutex>& lock, const absl::Status& status) {
    if (finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(ToGrpcStatus(status));
  }

  // Ends a pool task: deletes the watcher when gRPC already finished with it.
  void ReleaseLocked(std::unique_lock<std::mutex>& lock) {
    if (--pending_ > 0 || !done_) return;
    lock.unlock();
    delete this;
  }

  void Fetch() {
    int64_t from;
    bool check_resume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      from = cursor_;
      check_resume = resume_ && !checked_resume_;
      checked_resume_ = true;
    }
    absl::Status error;
    std::vector<apps::AppChange> changes;
    if (check_resume) {
      // A cursor beyond the feed means the database was replaced; the client must start over.
      auto head = hub_.store().HeadVersion();
      if (!head.ok()) {
        error = head.status();
      } else if (from > *head) {
        error = absl::OutOfRangeError("resume_version: ahead of the change feed (head " +
                                      std::to_string(*head) + "); watch again from 0");
      }
    }
    if (error.ok()) {
      auto fetched = hub_.store().ChangesSince(from, kFetchBatch);
      if (fetched.ok()) {
        changes = std::move(*fetched);
      } else {
        error = fetched.status();
      }
    }

    std::unique_lock<std::mutex> lock(mu_);
    fetching_ = false;
    if (done_ || finished_) {
      ReleaseLocked(lock);
      return;
    }
    if (!error.ok()) {
      FinishLocked(lock, error);
      if (!lock.owns_lock()) lock.lock();
      ReleaseLocked(lock);
      return;
    }
    for (auto& change : changes) {
      cursor_ = change.version;
      if (!tenant_.empty() && change.app.tenant() != tenant_) continue;
      // A watch that starts from nothing needs no tombstones of apps it never saw.
      if (change.deleted && !synced_ && !resume_) continue;
      v1::WatchAppsResponse& response = queue_.emplace_back();
      response.set_type(change.deleted ? v1::WatchAppsResponse::DELETED
                                       : v1::WatchAppsResponse::UPSERTED);
      response.set_version(change.version);
      *response.mutable_app() = std::move(change.app);
      if (!include_secrets_) RedactApp(*response.mutable_app());
    }
    if (static_cast<int>(changes.size()) < kFetchBatch) {
      head_ = std::max(head_, cursor_);
      if (!synced_) {
        synced_ = true;
        v1::WatchAppsResponse& marker = queue_.emplace_back();
        marker.set_type(v1::WatchAppsResponse::SYNCED);
        marker.set_version(cursor_);
      }
    } else {
      head_ = std::max(head_, cursor_ + 1);  // a full batch: more may follow
    }
    Pump(lock);
    if (!lock.owns_lock()) lock.lock();
    ReleaseLocked(lock);
  }

  AppWatchHub& hub_;
  const auth::Principal principal_;
  const std::string tenant_;
  const bool include_secrets_;
  const bool resume_;

  std::mutex mu_;
  bool checked_resume_ = false;
  int64_t cursor_;
  int64_t head_;
  bool synced_ = false;
  bool writing_ = false;
  bool fetching_ = false;
  bool finished_ = false;
  bool done_ = false;
  int pending_ = 0;
  std::deque<v1::WatchAppsResponse> queue_;
};

AppWatchHub::AppWatchHub(apps::AppStore& store, ThreadPool& pool, absl::Duration poll_interval,
                         const auth::Authenticator& auth)
    : store_(store), pool_(pool), auth_(auth), poll_interval_(poll_interval) {
  thread_ = std::thread([this] { Loop(); });
}

AppWatchHub::~AppWatchHub() {
  Shutdown();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AppWatchHub::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void AppWatchHub::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
  // Under the lock no watcher can be deleted (OnDone waits in Remove); Close only schedules.
  for (AppWatcher* watcher : watchers_) {
    watcher->Close(absl::UnavailableError("server shutting down; resume the watch elsewhere"));
  }
}

grpc::ServerWriteReactor<v1::WatchAppsResponse>* AppWatchHub::Watch(
    const absl::StatusOr<auth::Access>& access, const v1::WatchAppsRequest& request) {
  if (!access.ok()) return new FailedWriter(access.status());
  if (request.resume_version() < 0) {
    return new FailedWriter(InvalidField("resume_version", "must not be negative"));
  }
  absl::StatusOr<std::string> tenant = ListedTenant(*access, request.tenant());
  if (!tenant.ok()) return new FailedWriter(tenant.status());
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return new FailedWriter(absl::UnavailableError("server shutting down"));
  auto* watcher = new AppWatcher(*this, access->principal(), *tenant, request, head_);
  watchers_.insert(watcher);
  return watcher;
}

size_t AppWatchHub::watchers() {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void AppWatchHub::Remove(AppWatcher* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(watcher);
}

void AppWatchHub::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(poll_interval_),
                 [this] { return stopping_ || notified_; });
    if (stopping_) break;
    notified_ = false;
    // A stream outlives the check of its first call: its token is checked again here (in
    // memory), and a revoked or expired one ends the watch.
    for (AppWatcher* watcher : watchers_) {
      absl::Status valid = auth_.StillValid(watcher->principal());
      if (!valid.ok()) watcher->Close(valid);
    }
    lock.unlock();
    auto head = store_.HeadVersion();
    lock.lock();
    if (!head.ok()) {
      spdlog::warn("watch: reading the change feed head failed: {}", head.status().ToString());
      continue;
    }
    if (*head <= head_) continue;
    head_ = *head;
    for (AppWatcher* watcher : watchers_) watcher->OnHead(head_);
  }
}

}  // namespace hookd::subscription
