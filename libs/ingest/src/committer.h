#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/outbox.h"
#include "hookd/ledger/publish.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd::ingest {

// One validated event with the apps it routes to.
struct PendingEvent {
  const v1::PublishRequest* request;  // owned by the RPC, alive until `done` runs
  ledger::Routes routes;
};

// The events of one RPC. `done` runs once, after the transaction holding them committed (or
// failed), with one response per event in order.
struct Submission {
  std::vector<PendingEvent> events;
  std::function<void(absl::Status, std::vector<v1::PublishResponse>)> done;
};

struct CommitterOptions {
  // Transactions running at once; each takes every submission waiting when it starts.
  int threads = 2;
  // Events in one transaction at most (a single larger submission still goes alone).
  int max_events = 2000;
  // Payload bytes in one transaction at most (same exception): the batch travels as statement
  // parameters, built in memory.
  size_t max_bytes = 8 * 1024 * 1024;
  absl::Duration idempotency_window = absl::Hours(24);
  // Payloads up to this size travel on the stream with their deliveries, so that workers make
  // first attempts without reading Postgres; larger ones are loaded by the worker.
  size_t max_inline_payload_bytes = 64 * 1024;
};

// Group commit: concurrent publishes share transactions, so throughput is not bound by one
// fsync per call. While a transaction commits, new submissions queue up and go together in the
// next one.
class Committer {
 public:
  Committer(db::PgPool& db, ledger::Enqueuer& enqueuer, CommitterOptions options);
  // Commits what is queued, then stops.
  ~Committer();

  void Submit(Submission submission);

 private:
  void Run();
  // Writes the events, deliveries and outbox row of `batch` in one transaction.
  absl::Status Commit(std::vector<Submission>& batch,
                      std::vector<std::vector<v1::PublishResponse>>& responses,
                      ledger::OutboxBatch& outbox);

  db::PgPool& db_;
  ledger::Enqueuer& enqueuer_;
  const CommitterOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Submission> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hookd::ingest
