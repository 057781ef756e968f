#include "hookd/worker/worker.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "fair_scheduler.h"
#include "grpcpp/grpcpp.h"
#include "hookd/appcache/app_cache.h"
#include "hookd/apps/validation.h"
#include "hookd/common/config.h"
#include "hookd/common/logging.h"
#include "hookd/common/periodic_task.h"
#include "hookd/common/status.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/delivery/outcome.h"
#include "hookd/delivery/request.h"
#include "hookd/http/http_sender.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/ledger/outbox.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/service/grpc_util.h"
#include "hookd/v1/app.grpc.pb.h"
#include "rate_limiter.h"
#include "spdlog/spdlog.h"
#include "worker_metrics.h"

namespace hookd::worker {
namespace {

// An app unknown to the cache is probably younger than the cache's last update; after this
// long it is taken as deleted.
constexpr absl::Duration kUnknownAppPatience = absl::Minutes(1);
// How soon a delivery for an app the cache does not know yet is looked at again.
constexpr absl::Duration kUnknownAppRecheck = absl::Seconds(1);
// How often held entries are kept claimed at most, and Redis's generation checked.
constexpr absl::Duration kKeepInterval = absl::Seconds(1);
// Deliveries claimed from Postgres per round after Redis lost its data.
constexpr int kRecoveryBatch = 1000;
// Stale stream entries claimed per call, and calls per partition and sweep at most.
constexpr int kClaimBatch = 100;
constexpr int kClaimRounds = 50;

std::string DefaultName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

// One stream entry on its way through the worker.
struct Job {
  queue::StreamEntry entry;
  LoadedDelivery delivery;
  std::shared_ptr<const v1::App> app;
  http::HttpResult result;
  // Set when the entry needs no attempt; the outcome is then final as given.
  std::optional<Outcome> decided;
};

// A stream entry as the keeper refreshes it: its partition and id.
using EntryKey = std::pair<int, std::string>;
EntryKey KeyOf(const queue::StreamEntry& entry) { return {entry.partition, entry.entry_id}; }

// The decision step for a job whose delivery is loaded and whose app (null: unknown here) is
// looked up: nullopt when it is to be sent, else its outcome, recorded without an attempt (an
// empty Outcome records nothing).
std::optional<Outcome> DecideBeforeSending(const Job& job, absl::Time now) {
  if (ledger::IsFinal(job.delivery.status)) return Outcome{};  // a duplicate entry
  Outcome outcome;
  outcome.delivery_id = job.delivery.id;
  outcome.app_id = job.delivery.app_id;
  outcome.attempted = false;
  if (job.app == nullptr) {
    if (now - job.delivery.event.create_time > kUnknownAppPatience) {
      outcome.status = v1::FAILED;  // the app was deleted
    } else {
      outcome.status = job.delivery.status;
      outcome.next_attempt_time = now + kUnknownAppRecheck;
    }
    return outcome;
  }
  if (!job.app->active()) {
    // Held, not attempted: EnableApp resumes or discards it, RecoverFailed re-queues it.
    outcome.status = v1::HELD;
    outcome.next_attempt_time = absl::InfiniteFuture();
    return outcome;
  }
  return std::nullopt;
}

}  // namespace

struct Worker::State {
  WorkerOptions options;
  std::unique_ptr<db::PgPool> db;
  std::unique_ptr<queue::DeliveryQueue> queue;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<appcache::AppCache> apps;
  std::unique_ptr<ledger::DeliveryStore> store;
  std::unique_ptr<opsevents::Publisher> ops;
  std::unique_ptr<http::HttpSender> sender;
  std::unique_ptr<v1::AppService::Stub> app_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> health_server;  // shut down first
  // Cleared before `sender` and `apps` go (see Shutdown): the gauges read them.
  std::vector<metrics::CallbackHandle> gauges;
  int port = 0;

  std::mutex mu;
  // One condition variable per kind of waiter, so that a notification wakes only the thread
  // that waits for it: every finished request used to wake the completer and the maintenance
  // thread through one shared variable, 2.7 context switches per delivery.
  std::condition_variable room_cv;       // the reader: room for more work; Shutdown: none left
  std::condition_variable completed_cv;  // the completer: new results, or stop
  std::condition_variable stop_cv;       // the maintenance thread and the reader's back-off
  std::deque<Job> completed;             // finished jobs waiting to be recorded
  // Whether the completer waits for results: only then does a finished job need to wake it.
  bool completer_waiting = false;
  int in_flight = 0;  // jobs read and not yet recorded
  // The entries of those jobs, which the keeper keeps claimed.
  // The entries of those jobs, which the keeper keeps claimed, with their delivery ids.
  std::map<EntryKey, std::string> held;
  // Jobs to attempt: running, or waiting for their app's turn.
  std::unique_ptr<FairScheduler<Job>> scheduler;
  bool stop_dispatching = false;  // Shutdown: waiting jobs go back to the streams
  bool stop_reading = false;
  bool stop_completing = false;
  std::atomic<bool> stopping{false};

  std::thread reader;
  std::thread completer;
  std::thread maintenance;
  // Keeps held entries claimed, and watches Redis's generation (KeepTick).
  std::unique_ptr<PeriodicTask> keeper;
  std::string generation;  // the keeper's: the marker last seen
  absl::Time next_touch;   // the keeper's: when held deliveries are next marked in progress
  // While a recovery from lost Redis data has deliveries left to claim, and the moment it
  // started (the keeper's).
  bool recovery_needed = false;
  std::optional<absl::Time> recovery_cutoff;
  std::once_flag shutdown_once;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  // HostIsUnknown's answers by url, with when they were asked (the completer thread's).
  std::map<std::string, std::pair<bool, absl::Time>> host_lookups;

  std::vector<int> Partitions() const {
    std::vector<int> all;
    for (int p = 0; p < options.redis.partitions; ++p) all.push_back(p);
    return all;
  }

  void Finish(std::vector<Job> jobs) {
    if (jobs.empty()) return;
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& job : jobs) completed.push_back(std::move(job));
      wake = completer_waiting;
    }
    if (wake) completed_cv.notify_one();
  }

  // The deliveries of `entries`. `fresh` entries were never read before: a first attempt
  // carrying its event needs nothing from Postgres (entries taken over from a dead worker may be
  // finished already, so are loaded).
  absl::StatusOr<std::map<std::string, LoadedDelivery>> Load(
      const std::vector<queue::StreamEntry>& entries, bool fresh) {
    std::vector<std::string> ids;
    std::map<std::string, LoadedDelivery> carried;
    for (const auto& e : entries) {
      const queue::DeliveryMessage& m = e.message;
      if (fresh && m.attempt == 1 && m.event) {
        carried.emplace(m.delivery_id,
                        LoadedDelivery{.id = m.delivery_id,
                                       .app_id = m.app_id,
                                       .status = v1::PENDING,
                                       .attempt_count = 0,
                                       .event = {.id = m.event_id,
                                                 .event_type = m.event->event_type,
                                                 .payload = m.event->payload,
                                                 .create_time = m.event->create_time,
                                                 .traceparent = m.event->traceparent}});
      } else {
        ids.push_back(m.delivery_id);
      }
    }
    HOOKD_ASSIGN_OR_RETURN(auto loaded, store->Load(ids));
    loaded.merge(carried);
    return loaded;
  }

  // Loads the deliveries of `entries` and starts their attempts (or decides them at once).
  void Process(std::vector<queue::StreamEntry> entries, bool fresh) {
    if (entries.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      in_flight += static_cast<int>(entries.size());
      for (const auto& e : entries) held.emplace(KeyOf(e), e.message.delivery_id);
    }
    auto loaded = Load(entries, fresh);
    if (!loaded.ok()) {
      // Left unacknowledged: the entries are claimed again after the visibility timeout.
      spdlog::warn("loading {} deliveries failed: {}", entries.size(), loaded.status().ToString());
      Forget(entries);
      return;
    }
    auto current = apps->Current();
    const absl::Time now = options.clock->Now();
    std::vector<Job> decided;
    std::vector<Job> to_send;
    for (auto& entry : entries) {
      Job job;
      job.entry = std::move(entry);
      auto it = loaded->find(job.entry.message.delivery_id);
      if (it == loaded->end()) {
        Log(spdlog::level::warn, "delivery not in Postgres; dropping its stream entry",
            {{"delivery_id", job.entry.message.delivery_id},
             {"event_id", job.entry.message.event_id},
             {"app_id", job.entry.message.app_id}});
        job.decided = Outcome{};  // nothing to record
        decided.push_back(std::move(job));
        continue;
      }
      job.delivery = std::move(it->second);
      job.app = current->Find(job.delivery.app_id);
      job.decided = DecideBeforeSending(job, now);
      (job.decided ? decided : to_send).push_back(std::move(job));
    }
    DeferRateLimited(to_send, now);
    Finish(std::move(decided));
    {
      std::lock_guard<std::mutex> lock(mu);
      for (Job& job : to_send) {
        const std::string app_id = job.app->id();
        const int partition = job.entry.partition;
        scheduler->Push(app_id, partition, std::move(job));
      }
    }
    Dispatch();
  }

  // Takes the jobs of apps over their rate limit out of `to_send`: back to the retry set for when
  // a token is free, not an attempt. Should the limiter or Redis fail, they are sent anyway.
  void DeferRateLimited(std::vector<Job>& to_send, absl::Time now) {
    std::vector<RateLimiter::Ask> asks;
    std::vector<size_t> asked;  // index into to_send
    for (size_t i = 0; i < to_send.size(); ++i) {
      const v1::App& app = *to_send[i].app;
      if (app.rate_limit_per_second() > 0) {
        asks.push_back({app.id(), app.rate_limit_per_second()});
        asked.push_back(i);
      }
    }
    if (asks.empty()) return;
    absl::StatusOr<std::vector<absl::Duration>> waits = limiter->Take(asks);
    if (!waits.ok()) {
      spdlog::warn("rate limiter unavailable, delivering unlimited: {}", waits.status().ToString());
      return;
    }
    std::vector<std::pair<queue::DeliveryMessage, absl::Time>> later;
    std::vector<queue::StreamEntry> later_entries;
    std::set<size_t> deferred;
    for (size_t k = 0; k < asks.size(); ++k) {
      if ((*waits)[k] <= absl::ZeroDuration()) continue;
      Job& job = to_send[asked[k]];
      later.push_back({job.entry.message, now + (*waits)[k]});
      later_entries.push_back(job.entry);
      deferred.insert(asked[k]);
    }
    if (later.empty() || !queue->ScheduleRetries(later).ok() ||
        !queue->Ack(options.group, later_entries).ok()) {
      return;
    }
    std::vector<Job> kept;
    for (size_t i = 0; i < to_send.size(); ++i) {
      if (deferred.count(i) == 0) kept.push_back(std::move(to_send[i]));
    }
    to_send = std::move(kept);
    Metrics().rate_limited.Increment(static_cast<double>(later.size()));
    Forget(later_entries);
  }

  // Jobs whose entries are done with, acknowledged or left for another worker to claim: no longer
  // held, and their room goes back to the reader.
  void Forget(const std::vector<queue::StreamEntry>& entries) {
    if (entries.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      in_flight -= static_cast<int>(entries.size());
      for (const auto& e : entries) held.erase(KeyOf(e));
    }
    room_cv.notify_all();
  }

  // Starts the jobs whose turn has come. Runs on whichever thread made room: the reader after
  // queueing, the sender's thread after a request ended.
  void Dispatch() { Dispatch(std::nullopt); }

  // The same, after first freeing a slot of app `ended` (one lock for both).
  void Dispatch(const std::optional<std::string>& ended) {
    std::vector<std::pair<std::string, Job>> start;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (ended) scheduler->Done(*ended);
      if (stop_dispatching) return;
      start = scheduler->TakeStartable();
    }
    // Signed now, not when read: a job that waited in its lane still carries a fresh timestamp.
    const absl::Time now = absl::Now();
    for (auto& [app_id, job] : start) Send(std::move(job), now);
  }

  // A started job's request ended (or never began): its app's slot is free for the next. The
  // reader is not woken here: a freed slot adds no room for reading (the app's waiting
  // deliveries take it), and Forget wakes it once the job is recorded, which also shows a lane
  // that drained below max_queued_per_app. (This was one more wake-up per delivery.)
  void Ended(Job job) {
    const std::string app_id = job.app->id();
    std::vector<Job> done;
    done.push_back(std::move(job));
    Finish(std::move(done));
    Dispatch(app_id);
  }

  void Send(Job job, absl::Time now) {
    auto request = delivery::BuildRequest(*job.app, job.delivery.event, now);
    if (!request.ok()) {
      job.result.error = delivery::BuildErrorOf(request.status());
      job.result.error_detail = std::string(request.status().message());
      job.result.start_time = now;
      Ended(std::move(job));
      return;
    }
    request->timeout = std::min(request->timeout, options.max_request_timeout);
    auto shared = std::make_shared<Job>(std::move(job));
    sender->Send(std::move(*request), [this, shared](http::HttpResult result) {
      shared->result = std::move(result);
      Ended(std::move(*shared));
    });
  }

  // http::HostIsUnknown of `url`, remembered per url for a minute. The lookup, which tells "no
  // such host" from a resolver timeout, blocks this (the completer) thread for up to 2 s; it is
  // made only for apps that disable on a permanent error, after curl could not resolve their
  // host, and at most once a minute per url, so a batch of deliveries to one unresolvable host
  // waits for one lookup. Only the completer thread calls it.
  bool HostIsUnknown(const std::string& url, absl::Time now) {
    constexpr absl::Duration kRemember = absl::Minutes(1);
    auto it = host_lookups.find(url);
    if (it == host_lookups.end() || now - it->second.second > kRemember) {
      if (host_lookups.size() > 1000) host_lookups.clear();  // bounded; lookups are rare
      it = host_lookups.insert_or_assign(url, std::make_pair(http::HostIsUnknown(url), now)).first;
    }
    return it->second.first;
  }

  // Turns a finished attempt into its outcome and, for a retry, the message to schedule.
  Outcome Decide(const Job& job, delivery::Random& random,
                 std::vector<std::pair<queue::DeliveryMessage, absl::Time>>& retries,
                 std::vector<std::pair<std::string, std::string>>& disable) {
    Outcome o;
    o.delivery_id = job.delivery.id;
    o.app_id = job.delivery.app_id;
    o.event_id = job.delivery.event.id;
    o.event_type = job.delivery.event.event_type;
    o.attempt = job.delivery.attempt_count + 1;
    o.result = {.status_code = job.result.status_code,
                .body_excerpt = job.result.body_excerpt,
                .error = delivery::AttemptErrorOf(job.result),
                .error_detail = job.result.error_detail,
                .start_time = job.result.start_time,
                .duration = job.result.duration};
    const absl::Time now = options.clock->Now();  // retry times are decided on the clock
    switch (delivery::Classify(job.result)) {
      case delivery::Verdict::kSucceeded:
        o.status = v1::SUCCEEDED;
        o.counts_success = true;
        break;
      case delivery::Verdict::kGone:
        o.status = v1::FAILED;
        o.counts_failure = true;
        disable.push_back({job.app->id(), "the endpoint answered 410 Gone"});
        break;
      case delivery::Verdict::kRetry: {
        if (job.app->disable_on_permanent_error()) {
          std::optional<std::string> permanent = delivery::PermanentError(
              job.result, [&] { return HostIsUnknown(job.app->url(), now); });
          if (permanent.has_value()) {
            disable.push_back({job.app->id(), "non-transient error: " + *permanent});
          }
        }
        auto delay = delivery::NextRetryDelay(job.app->retry(), o.attempt,
                                              delivery::RetryAfter(job.result, now), random,
                                              {.delay_scale = options.retry_delay_scale});
        if (!delay) {
          o.status = v1::FAILED;
          o.counts_failure = true;
          break;
        }
        o.status = v1::RETRYING;
        o.next_attempt_time = now + *delay;
        queue::DeliveryMessage next = job.entry.message;
        next.attempt = o.attempt + 1;
        retries.push_back({next, o.next_attempt_time});
        break;
      }
    }
    ReportAttempt(o, job.delivery);
    return o;
  }

  void DisableApp(const std::string& app_id, const std::string& reason) {
    v1::DisableAppRequest request;
    request.set_id(app_id);
    request.set_reason(reason);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + options.admin_token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::App out;
    grpc::Status status = app_service->DisableApp(&context, request, &out);
    if (status.ok()) {
      Metrics().apps_disabled.Increment();
      Log(spdlog::level::warn, "app disabled", {{"app_id", app_id}, {"reason", reason}});
    } else {
      Log(spdlog::level::err, "disabling app failed",
          {{"app_id", app_id}, {"error", status.error_message()}});
    }
  }

  // What a recorded batch reports: its exhausted deliveries and failing apps (the apps that
  // reached their threshold are reported by hookd-subscription, which disables them).
  static std::vector<opsevents::OpsEvent> OpsEvents(const ledger::Recorded& recorded) {
    std::vector<opsevents::OpsEvent> events;
    const absl::Time now = absl::Now();
    for (const ledger::Exhausted& e : recorded.exhausted) {
      events.push_back(
          {.event_type = opsevents::kDeliveryExhausted,
           .payload = [&e, now] { return opsevents::DeliveryExhaustedPayload(e, now); },
           .about_tenant = e.tenant,
           .about_app_id = e.app_id});
    }
    for (const ledger::StreakReached& f : recorded.failing) {
      events.push_back({.event_type = opsevents::kAppFailing,
                        .payload = [&f, now] { return opsevents::AppFailingPayload(f, now); },
                        .about_tenant = f.tenant,
                        .about_app_id = f.app_id});
    }
    return events;
  }

  void CompleteLoop() {
    delivery::DefaultRandom random;
    for (;;) {
      std::deque<Job> batch;
      {
        std::unique_lock<std::mutex> lock(mu);
        completer_waiting = true;
        completed_cv.wait(lock, [this] { return stop_completing || !completed.empty(); });
        completer_waiting = false;
        if (completed.empty()) return;
        batch.swap(completed);
      }
      std::vector<Outcome> outcomes;
      std::vector<std::pair<queue::DeliveryMessage, absl::Time>> retries;
      std::vector<std::pair<std::string, std::string>> disable;
      std::vector<queue::StreamEntry> acks;
      for (Job& job : batch) {
        if (job.decided) {
          if (!job.decided->delivery_id.empty()) {
            outcomes.push_back(*job.decided);
            if (job.decided->next_attempt_time != absl::InfinitePast() &&
                job.decided->next_attempt_time != absl::InfiniteFuture()) {
              retries.push_back({job.entry.message, job.decided->next_attempt_time});
            }
          }
        } else {
          outcomes.push_back(Decide(job, random, retries, disable));
        }
        acks.push_back(job.entry);
      }
      // Durable first, then the next step, then the acknowledgement: a crash anywhere in between
      // leaves the entry pending, and it is delivered again (a duplicate, never a loss). The
      // operational events of the batch commit with it.
      ledger::OutboxBatch reported;
      const auto report = [&](pqxx::work& txn, const ledger::Recorded& r) -> absl::Status {
        reported = {};
        HOOKD_ASSIGN_OR_RETURN(reported, ops->Publish(txn, OpsEvents(r), absl::Now()));
        return absl::OkStatus();
      };
      absl::StatusOr<ledger::Recorded> recorded = store->Record(outcomes, report);
      while (!recorded.ok() && !stopping.load()) {
        spdlog::warn("recording {} outcomes failed, retrying: {}", outcomes.size(),
                     recorded.status().ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        recorded = store->Record(outcomes, report);
      }
      if (recorded.ok()) {
        if (reported.outbox_id != 0) {
          ledger::EnqueueCommitted(*db, queue.get(), reported.outbox_id, reported.messages);
        }
        absl::Status scheduled = queue->ScheduleRetries(retries);
        if (scheduled.ok()) {
          absl::Status ack = queue->Ack(options.group, acks);
          // Unacknowledged entries are claimed again after the visibility timeout.
          if (!ack.ok()) spdlog::warn("ack failed: {}", ack.ToString());
        } else {
          spdlog::warn("scheduling {} retries failed: {}", retries.size(), scheduled.ToString());
        }
        for (const auto& r : recorded->reached) {
          disable.push_back({r.app_id, "disabled after " + std::to_string(r.streak) +
                                           " consecutive failed deliveries"});
        }
      }
      std::set<std::string> disabled;
      for (const auto& [app_id, reason] : disable) {
        if (disabled.insert(app_id).second) DisableApp(app_id, reason);
      }
      Forget(acks);
    }
  }

  // Room for reading: jobs read and not recorded count against max_in_flight, except those
  // waiting behind their app's share (they hold no slot a newly read job could take).
  int Room() const { return options.max_in_flight - (in_flight - scheduler->Blocked()); }

  void ReadLoop() {
    while (!stopping.load()) {
      int room;
      std::vector<int> partitions;
      {
        std::unique_lock<std::mutex> lock(mu);
        room_cv.wait(lock, [&] {
          if (stop_reading) return true;
          room = Room();
          if (room <= 0) return false;
          // A partition whose app has a full lane waits for it to drain; the others are read.
          const std::set<int> full = scheduler->FullPartitions();
          partitions.clear();
          for (int p = 0; p < options.redis.partitions; ++p) {
            if (full.count(p) == 0) partitions.push_back(p);
          }
          return !partitions.empty();
        });
        if (stop_reading) return;
      }
      int per_partition = std::max(1, room / static_cast<int>(partitions.size()));
      auto entries = queue->Read(options.group, options.name, partitions, per_partition,
                                 absl::Milliseconds(500));
      if (!entries.ok()) {
        spdlog::warn("reading the streams failed: {}", entries.status().ToString());
        std::unique_lock<std::mutex> lock(mu);
        stop_cv.wait_for(lock, std::chrono::seconds(1), [this] { return stop_reading; });
        continue;
      }
      Process(std::move(*entries), /*fresh=*/true);
    }
  }

  // Queues deliveries a sweep claimed from Postgres for their next attempt, logging success at
  // `level`. One that fails to queue is claimed again by a later ClaimLost.
  void EnqueueClaimed(std::string_view what, spdlog::level::level_enum level,
                      const std::vector<ledger::DeliveryStore::Lost>& claimed) {
    if (claimed.empty()) return;
    std::vector<queue::DeliveryMessage> messages;
    for (const auto& c : claimed) {
      messages.push_back({c.delivery_id, c.event_id, c.app_id, c.attempt_count + 1});
    }
    absl::Status enqueued = queue->Enqueue(messages);
    if (enqueued.ok()) {
      spdlog::log(level, "queued {} {} deliveries", messages.size(), what);
    } else {
      spdlog::warn("queueing {} {} deliveries: {}", messages.size(), what, enqueued.ToString());
    }
  }

  // The keeper's tick: keeps every held entry claimed, so that no other worker takes one while
  // this worker lives (the visibility timeout then only has to outlast a dead worker's last
  // refresh, not the longest request); drops waiting jobs whose entries are no longer this
  // worker's; and watches for Redis losing its data.
  absl::Duration KeepTick() {
    const bool touch_due = absl::Now() >= next_touch;
    std::vector<queue::StreamEntry> entries;
    {
      std::lock_guard<std::mutex> lock(mu);
      entries.reserve(held.size());
      for (const auto& [key, delivery_id] : held) {
        entries.push_back({.partition = key.first, .entry_id = key.second, .message = {}});
        if (touch_due) entries.back().message.delivery_id = delivery_id;
      }
    }
    if (touch_due) {
      // Progress in Postgres too, so that the lost-delivery sweep (no progress for lost_grace)
      // never queues a copy of a delivery that waits here behind a slow app's backlog.
      std::vector<std::string> ids;
      ids.reserve(entries.size());
      for (const auto& e : entries) ids.push_back(e.message.delivery_id);
      if (absl::Status touched = store->Touch(ids); touched.ok()) {
        next_touch = absl::Now() + options.lost_grace / 4;
      } else {
        spdlog::warn("marking {} held deliveries in progress: {}", ids.size(), touched.ToString());
      }
    }
    absl::StatusOr<std::vector<queue::StreamEntry>> lost =
        queue->KeepClaimed(options.group, options.name, entries);
    if (!lost.ok()) {
      spdlog::warn("keeping {} entries claimed: {}", entries.size(), lost.status().ToString());
    } else if (!lost->empty()) {
      DropWaiting(*lost);
    }
    WatchGeneration();
    return std::min(kKeepInterval, options.visibility_timeout / 4);
  }

  // Waiting jobs of `lost` entries go: another worker took them over (this one seemed dead), or
  // Redis lost them (and WatchGeneration queues them again). Running ones finish as they are.
  void DropWaiting(const std::vector<queue::StreamEntry>& lost) {
    std::set<EntryKey> keys;
    for (const auto& e : lost) keys.insert(KeyOf(e));
    std::vector<Job> dropped;
    {
      std::lock_guard<std::mutex> lock(mu);
      dropped = scheduler->RemoveWaitingIf(
          [&](const Job& job) { return keys.count(KeyOf(job.entry)) > 0; });
    }
    if (dropped.empty()) return;
    std::vector<queue::StreamEntry> entries;
    for (const Job& job : dropped) entries.push_back(job.entry);
    spdlog::warn("dropped {} waiting deliveries whose stream entries are no longer this worker's",
                 entries.size());
    Forget(entries);
  }

  // Sets Redis's generation marker where it is missing. The worker that finds it missing (Redis
  // restarted empty, was flushed, or this is the first worker ever) queues again, from Postgres,
  // every unfinished delivery changed before that moment: Redis may have held its stream entry
  // or its retry (README, "What hookd is": nothing acknowledged is lost).
  void WatchGeneration() {
    const std::string candidate = absl::StrCat(options.name, "@", absl::ToUnixMicros(absl::Now()));
    absl::StatusOr<std::string> marker = queue->MarkGeneration(candidate);
    if (!marker.ok()) {
      spdlog::warn("checking Redis's generation: {}", marker.status().ToString());
      return;
    }
    if (*marker != generation) {
      const bool first_look = generation.empty();
      generation = *marker;
      if (*marker == candidate) {
        if (!first_look) spdlog::warn("Redis lost its data; queueing its deliveries again");
        recovery_needed = true;
      }
    }
    if (!recovery_needed) return;
    if (!recovery_cutoff) {
      // Postgres's clock, as update_time is: anything changed later was queued after the loss.
      absl::StatusOr<absl::Time> now = store->Now();
      if (!now.ok()) {
        spdlog::warn("reading Postgres's clock for the recovery: {}", now.status().ToString());
        return;
      }
      recovery_cutoff = *now;
    }
    while (!keeper->stopping()) {
      auto claimed = store->ClaimChangedBefore(*recovery_cutoff, kRecoveryBatch);
      if (!claimed.ok()) {
        spdlog::warn("claiming deliveries Redis lost: {}", claimed.status().ToString());
        return;  // the next tick goes on
      }
      std::vector<ledger::DeliveryStore::Lost> due;
      std::vector<std::pair<queue::DeliveryMessage, absl::Time>> later;
      const absl::Time now = absl::Now();
      for (auto& c : *claimed) {
        if (c.next_attempt_time <= now) {
          due.push_back(std::move(c));
        } else {
          later.push_back(
              {{c.delivery_id, c.event_id, c.app_id, c.attempt_count + 1}, c.next_attempt_time});
        }
      }
      EnqueueClaimed("lost with Redis's data", spdlog::level::info, due);
      // One that fails to schedule is found by ClaimLost once it is due and lost_grace passed.
      if (absl::Status scheduled = queue->ScheduleRetries(later); !scheduled.ok()) {
        spdlog::warn("scheduling {} retries again: {}", later.size(), scheduled.ToString());
      }
      if (static_cast<int>(claimed->size()) < kRecoveryBatch) {
        recovery_needed = false;
        recovery_cutoff.reset();
        return;
      }
    }
  }

  void MaintenanceLoop() {
    absl::Time next_claim = absl::Now();
    absl::Time next_lost = absl::Now();
    while (!stopping.load()) {
      auto promoted = queue->PromoteDueRetries(options.clock->Now(), 1000);
      if (!promoted.ok()) spdlog::warn("promoting retries: {}", promoted.status().ToString());
      // Scheduled deliveries become due from Postgres (so a Redis restarted empty neither loses
      // nor hastens them); one that fails to queue here is found by ClaimLost below.
      auto due = store->ClaimDue(1000);
      if (!due.ok()) spdlog::warn("claiming due deliveries: {}", due.status().ToString());
      if (due.ok()) EnqueueClaimed("due", spdlog::level::debug, *due);
      absl::Time now = absl::Now();
      if (now >= next_claim) {
        // Entries a dead worker read and never acknowledged: all of them, not a batch per
        // sweep, since a dead worker may have held hundreds in one partition (its waiting
        // deliveries too), and each sweep left behind is another interval of delay.
        for (int p : Partitions()) {
          for (int round = 0; round < kClaimRounds && !stopping.load(); ++round) {
            auto claimed = queue->ClaimStale(options.group, options.name, p,
                                             options.visibility_timeout, kClaimBatch);
            if (!claimed.ok() || claimed->empty()) break;
            const bool more = static_cast<int>(claimed->size()) == kClaimBatch;
            spdlog::info("claimed {} stale entries of partition {}", claimed->size(), p);
            Process(std::move(*claimed), /*fresh=*/false);
            if (!more) break;
          }
        }
        next_claim = now + std::min(kKeepInterval, options.visibility_timeout / 4);
      }
      if (now >= next_lost) {
        // Deliveries Redis lost (restarted empty): due, unfinished, no progress for a while.
        auto lost = store->ClaimLost(options.lost_grace, 1000);
        if (lost.ok()) EnqueueClaimed("lost (no progress)", spdlog::level::info, *lost);
        next_lost = now + std::max(options.lost_grace / 4, options.maintenance_interval);
      }
      std::unique_lock<std::mutex> lock(mu);
      stop_cv.wait_for(lock, absl::ToChronoMilliseconds(options.maintenance_interval),
                       [this] { return stopping.load(); });
    }
  }
};

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(const WorkerOptions& options) {
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.admin_token, "admin_token", "HOOKD_ADMIN_TOKEN"));
  HOOKD_RETURN_IF_ERROR(db::ValidatePgOptions(options.postgres));
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.redis.url, "redis_url", "HOOKD_REDIS_URL"));
  HOOKD_RETURN_IF_ERROR(queue::ValidateRedisOptions(options.redis));
  HOOKD_RETURN_IF_ERROR(
      RequireSetting(options.subscription_addr, "subscription_addr", "HOOKD_SUBSCRIPTION_ADDR"));
  if (options.visibility_timeout < absl::Seconds(1)) {
    return InvalidField("visibility_timeout", "must be at least 1s");
  }
  if (options.max_in_flight < 1) return InvalidField("max_in_flight", "must be at least 1");
  if (options.max_in_flight_per_app < 1) {
    return InvalidField("max_in_flight_per_app", "must be at least 1");
  }
  if (options.max_queued_per_app < 1) {
    return InvalidField("max_queued_per_app", "must be at least 1");
  }
  HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(options.ops_tenant, "ops_tenant"));
  if (options.max_connections_per_host < 0) {
    return InvalidField("max_connections_per_host", "must be 0 (no limit) or more");
  }
  auto state = std::make_unique<State>();
  state->options = options;
  if (state->options.name.empty()) state->options.name = DefaultName();
  HOOKD_RETURN_IF_ERROR(db::Migrate(options.postgres.url));
  HOOKD_ASSIGN_OR_RETURN(state->db, db::PgPool::Create(options.postgres));
  HOOKD_ASSIGN_OR_RETURN(state->queue, queue::DeliveryQueue::Create(options.redis));
  HOOKD_RETURN_IF_ERROR(state->queue->EnsureGroup(options.group));
  HOOKD_ASSIGN_OR_RETURN(state->limiter, RateLimiter::Create(options.redis));
  state->store = std::make_unique<ledger::DeliveryStore>(*state->db, state->options.name);
  state->ops = std::make_unique<opsevents::Publisher>(options.ops_tenant);
  http::HttpSenderOptions http;
  http.max_in_flight = options.max_in_flight;
  http.max_connections_per_host = options.max_connections_per_host;
  http.allow_http = options.allow_http;
  http.private_allowlist = options.private_allowlist;
  HOOKD_ASSIGN_OR_RETURN(state->sender, http::NewCurlSender(http));
  state->app_service = v1::AppService::NewStub(NewInternalChannel(options.subscription_addr));
  appcache::AppCacheOptions cache;
  cache.subscription_addr = options.subscription_addr;
  cache.token = options.admin_token;
  cache.include_secrets = true;  // the worker signs
  state->apps = std::make_unique<appcache::AppCache>(cache);
  state->apps->Start();
  state->gauges = ExportWorkerGauges(*state->queue, options.group, *state->sender, *state->apps);
  state->scheduler = std::make_unique<FairScheduler<Job>>(
      FairScheduler<Job>::Options{.max_running = options.max_in_flight,
                                  .max_running_per_app = options.max_in_flight_per_app,
                                  .max_waiting_per_app = options.max_queued_per_app,
                                  .gauges = [](const std::string& app_id) {
                                    return std::make_pair(&Metrics().app_in_flight.With({app_id}),
                                                          &Metrics().app_queued.With({app_id}));
                                  }});
  HOOKD_ASSIGN_OR_RETURN(StartedServer started,
                         StartGrpcServer(options.listen, {}, 4 << 20, options.health_listen));
  state->server = std::move(started.server);
  state->health_server = std::move(started.health_server);
  state->port = started.port;

  State* s = state.get();
  s->keeper = std::make_unique<PeriodicTask>([s] { return s->KeepTick(); });
  s->keeper->Start();
  s->completer = std::thread([s] { s->CompleteLoop(); });
  s->maintenance = std::thread([s] { s->MaintenanceLoop(); });
  // Reading waits for the first app sync: without apps every delivery would look orphaned.
  s->reader = std::thread([s] {
    while (!s->stopping.load() && !s->apps->WaitSynced(absl::Milliseconds(200))) {
    }
    s->ReadLoop();
  });
  spdlog::info("hookd-worker {} listening on port {}", s->options.name, s->port);
  return std::unique_ptr<Worker>(new Worker(std::move(state)));
}

Worker::Worker(std::unique_ptr<State> state) : state_(std::move(state)) {}

Worker::~Worker() { Shutdown(); }

int Worker::port() const { return state_->port; }

void Worker::Wait() {
  std::unique_lock<std::mutex> lock(state_->done_mu);
  state_->done_cv.wait(lock, [this] { return state_->done; });
}

void Worker::Shutdown() {
  std::call_once(state_->shutdown_once, [this] {
    State& s = *state_;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.stop_reading = true;
    }
    s.stopping.store(true);
    s.room_cv.notify_all();
    s.stop_cv.notify_all();
    s.reader.join();
    s.maintenance.join();
    // Waiting jobs go back to the streams at once for other workers, rather than waiting there
    // for the visibility timeout: queued again first, then acknowledged (a duplicate at worst).
    std::vector<Job> waiting;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.stop_dispatching = true;
      waiting = s.scheduler->RemoveWaitingIf([](const Job&) { return true; });
    }
    if (!waiting.empty()) {
      std::vector<queue::DeliveryMessage> messages;
      std::vector<queue::StreamEntry> entries;
      for (Job& job : waiting) {
        messages.push_back(job.entry.message);
        entries.push_back(std::move(job.entry));
      }
      absl::Status requeued = s.queue->Enqueue(messages);
      if (requeued.ok()) requeued = s.queue->Ack(s.options.group, entries);
      if (!requeued.ok()) {
        spdlog::warn("returning {} waiting deliveries to the streams: {}", entries.size(),
                     requeued.ToString());
      }
      s.Forget(entries);
    }
    // In-flight requests finish (or the grace runs out), and their outcomes are recorded; their
    // entries are kept claimed meanwhile.
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.room_cv.wait_for(lock, absl::ToChronoMilliseconds(s.options.shutdown_grace),
                         [&] { return s.in_flight == 0; });
      if (s.in_flight > 0) {
        spdlog::warn(
            "{} deliveries still in flight after the grace period; other workers take "
            "them over",
            s.in_flight);
      }
      s.stop_completing = true;
    }
    s.completed_cv.notify_all();
    s.completer.join();
    s.keeper->Stop();
    s.gauges.clear();
    s.sender.reset();  // aborts what is left; their entries stay pending for other workers
    s.apps->Stop();
    if (s.health_server) s.health_server->Shutdown();
    s.server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    {
      std::lock_guard<std::mutex> lock(s.done_mu);
      s.done = true;
    }
    s.done_cv.notify_all();
    spdlog::info("hookd-worker {} stopped", s.options.name);
  });
}

}  // namespace hookd::worker
