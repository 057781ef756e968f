#include "hookd/ledger/outbox.h"

#include "hookd/common/status.h"
#include "hookd/db/sql.h"
#include "spdlog/spdlog.h"

namespace hookd::ledger {
namespace {

// Distinct from the migration lock: "hookd" 03.
constexpr int64_t kSweeperLockKey = 0x686f6f6b6403;

}  // namespace

int64_t WriteOutbox(pqxx::work& txn, const std::vector<queue::DeliveryMessage>& messages) {
  return db::ExecPrepared(txn, "ledger_write_outbox",
                          "INSERT INTO outbox (messages) VALUES ($1) RETURNING id",
                          queue::EncodeOutbox(messages))[0][0]
      .as<int64_t>();
}

void EnqueueCommitted(db::PgPool& db, queue::DeliveryQueue* queue, int64_t outbox_id,
                      const std::vector<queue::DeliveryMessage>& messages) {
  if (queue == nullptr || messages.empty()) return;
  absl::Status status = queue->Enqueue(messages);
  if (status.ok()) status = DeleteOutboxRows(db, {outbox_id});
  // A failure leaves the row to the outbox sweeper: slower, never lost.
  if (!status.ok()) spdlog::warn("enqueue left to the outbox sweeper: {}", status.ToString());
}

void DeleteOutboxRows(pqxx::work& txn, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  std::vector<std::string> texts;
  texts.reserve(ids.size());
  for (int64_t id : ids) texts.push_back(std::to_string(id));
  db::ExecPrepared(txn, "ledger_delete_outbox", "DELETE FROM outbox WHERE id = ANY($1::bigint[])",
                   db::ArrayLiteral(texts));
}

absl::Status DeleteOutboxRows(db::PgPool& db, const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return db.Transact("delete outbox rows", [&](pqxx::work& txn) {
    DeleteOutboxRows(txn, ids);
    return absl::OkStatus();
  });
}

Enqueuer::Enqueuer(db::PgPool& db, queue::DeliveryQueue& queue, EnqueuerOptions options)
    : db_(db), queue_(queue), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

Enqueuer::~Enqueuer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (absl::Status status = DeleteOutboxRows(db_, TakeEnqueued()); !status.ok()) {
    spdlog::warn("deleting outbox rows at shutdown failed: {}", status.ToString());
  }
}

std::vector<int64_t> Enqueuer::TakeEnqueued() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> ids;
  ids.swap(enqueued_);
  return ids;
}

void Enqueuer::ReturnEnqueued(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (enqueued_.empty()) oldest_enqueued_ = absl::Now();
    enqueued_.insert(enqueued_.end(), ids.begin(), ids.end());
  }
  cv_.notify_one();
}

void Enqueuer::Push(OutboxBatch batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(std::move(batch));
  }
  cv_.notify_one();
}

void Enqueuer::Run() {
  for (;;) {
    std::deque<OutboxBatch> batches;
    std::vector<int64_t> stale;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Rows no publish transaction took within the delay (publishing paused) are deleted here.
      auto delete_due = [this] {
        return !enqueued_.empty() && absl::Now() - oldest_enqueued_ >= options_.delete_delay;
      };
      while (!stopping_ && batches_.empty() && !delete_due()) {
        if (enqueued_.empty()) {
          cv_.wait(lock);
        } else {
          cv_.wait_for(lock, absl::ToChronoMicroseconds(options_.delete_delay));
        }
      }
      if (delete_due()) stale.swap(enqueued_);
      if (batches_.empty() && stale.empty()) return;  // stopping
      // Everything queued goes out in one pipeline.
      batches.swap(batches_);
    }
    if (absl::Status status = DeleteOutboxRows(db_, stale); !status.ok()) {
      // Harmless: the sweeper enqueues these again, and duplicates are allowed.
      spdlog::warn("deleting {} outbox rows failed: {}", stale.size(), status.ToString());
    }
    if (batches.empty()) continue;
    std::vector<queue::DeliveryMessage> messages;
    std::vector<int64_t> ids;
    for (auto& batch : batches) {
      ids.push_back(batch.outbox_id);
      for (auto& m : batch.messages) messages.push_back(std::move(m));
    }
    absl::Status status = queue_.Enqueue(messages);
    if (!status.ok()) {
      // The rows stay in the outbox; the sweeper enqueues them once Redis is back.
      spdlog::warn("enqueue of {} deliveries failed, left to the outbox sweeper: {}",
                   messages.size(), status.ToString());
      continue;
    }
    // The next publish transaction deletes the rows (TakeEnqueued): one commit, and one fsync,
    // fewer per batch than a transaction of their own.
    ReturnEnqueued(ids);
  }
}

OutboxSweeper::OutboxSweeper(std::string database_url, db::PgPool& db, queue::DeliveryQueue& queue,
                             SweeperOptions options)
    : db_(db),
      queue_(queue),
      options_(options),
      task_(std::move(database_url), kSweeperLockKey, [this] { return Tick(); }) {}

OutboxSweeper::~OutboxSweeper() { Stop(); }

void OutboxSweeper::Start() { task_.Start(); }

absl::Duration OutboxSweeper::Tick() {
  auto swept = SweepOnce();
  if (!swept.ok()) spdlog::warn("outbox sweeper: {}", swept.status().ToString());
  return options_.interval;
}

void OutboxSweeper::Stop() { task_.Stop(); }

absl::StatusOr<int> OutboxSweeper::SweepOnce() {
  int enqueued = 0;
  HOOKD_RETURN_IF_ERROR(task_
                            .WhileLeading([&](pqxx::connection&) -> absl::Status {
                              HOOKD_ASSIGN_OR_RETURN(enqueued, Sweep());
                              return absl::OkStatus();
                            })
                            .status());
  return enqueued;
}

absl::StatusOr<int> OutboxSweeper::Sweep() {
  int enqueued = 0;
  for (;;) {
    std::vector<int64_t> ids;
    std::vector<queue::DeliveryMessage> messages;
    HOOKD_RETURN_IF_ERROR(db_.Transact("sweep outbox", [&](pqxx::work& txn) -> absl::Status {
      pqxx::result rows = txn.exec_params(
          "SELECT id, messages FROM outbox"
          " WHERE create_time < now() - make_interval(secs => $1) ORDER BY id LIMIT $2",
          absl::ToDoubleSeconds(options_.grace), options_.batch_rows);
      for (const auto& row : rows) {
        ids.push_back(row[0].as<int64_t>());
        HOOKD_ASSIGN_OR_RETURN(auto decoded, queue::DecodeOutbox(row[1].as<std::string>()));
        for (auto& m : decoded) messages.push_back(std::move(m));
      }
      return absl::OkStatus();
    }));
    if (ids.empty()) return enqueued;
    HOOKD_RETURN_IF_ERROR(queue_.Enqueue(messages));
    HOOKD_RETURN_IF_ERROR(DeleteOutboxRows(db_, ids));
    enqueued += static_cast<int>(messages.size());
    if (options_.on_swept) options_.on_swept(static_cast<int>(messages.size()));
    spdlog::info("outbox sweeper: re-enqueued {} deliveries of {} batches", messages.size(),
                 ids.size());
    if (static_cast<int>(ids.size()) < options_.batch_rows) return enqueued;
  }
}

}  // namespace hookd::ledger
