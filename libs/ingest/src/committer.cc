#include "committer.h"

#include <map>
#include <set>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/ledger/publish.h"
#include "ingest_metrics.h"
#include "spdlog/spdlog.h"

namespace hookd::ingest {

Committer::Committer(db::PgPool& db, ledger::Enqueuer& enqueuer, CommitterOptions options)
    : db_(db), enqueuer_(enqueuer), options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

Committer::~Committer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Committer::Submit(Submission submission) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(submission));
  }
  cv_.notify_one();
}

void Committer::Run() {
  for (;;) {
    std::vector<Submission> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      size_t events = 0;
      size_t bytes = 0;
      auto payload_bytes = [](const Submission& submission) {
        size_t total = 0;
        for (const PendingEvent& e : submission.events) total += e.request->payload().size();
        return total;
      };
      while (!queue_.empty()) {
        size_t more_bytes = payload_bytes(queue_.front());
        if (!batch.empty() &&
            (events + queue_.front().events.size() > static_cast<size_t>(options_.max_events) ||
             bytes + more_bytes > options_.max_bytes)) {
          break;
        }
        events += queue_.front().events.size();
        bytes += more_bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      Metrics().commit_batch_events.Observe(static_cast<double>(events));
    }
    std::vector<std::vector<v1::PublishResponse>> responses;
    ledger::OutboxBatch outbox;
    absl::Status status = Commit(batch, responses, outbox);
    if (!status.ok())
      spdlog::warn("commit of {} submissions failed: {}", batch.size(), status.ToString());
    // Answer first: the events are durable now; the XADD happens off the publish path.
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(status,
                    status.ok() ? std::move(responses[i]) : std::vector<v1::PublishResponse>());
    }
    if (status.ok() && !outbox.messages.empty()) enqueuer_.Push(std::move(outbox));
  }
}

absl::Status Committer::Commit(std::vector<Submission>& batch,
                               std::vector<std::vector<v1::PublishResponse>>& responses,
                               ledger::OutboxBatch& outbox) {
  // Flatten, and give every event its id and answer up front.
  struct Item {
    const PendingEvent* event;
    v1::PublishResponse* response;
    int owner = -1;  // for a key repeated inside the batch: index of its first use
  };
  std::vector<Item> items;
  responses.assign(batch.size(), {});
  for (size_t s = 0; s < batch.size(); ++s) {
    responses[s].resize(batch[s].events.size());
    for (size_t e = 0; e < batch[s].events.size(); ++e) {
      items.push_back({&batch[s].events[e], &responses[s][e]});
    }
  }
  std::map<std::pair<std::string, std::string>, int> first_use;  // (tenant, key) -> item
  for (size_t i = 0; i < items.size(); ++i) {
    const v1::PublishRequest& r = *items[i].event->request;
    items[i].response->set_event_id(NewId("evt"));
    items[i].response->set_delivery_count(static_cast<int>(items[i].event->routes.size()));
    if (r.idempotency_key().empty()) continue;
    auto [it, inserted] =
        first_use.emplace(std::make_pair(r.tenant(), r.idempotency_key()), static_cast<int>(i));
    if (!inserted) items[i].owner = it->second;
  }

  // Outbox rows of batches already on the streams go in this transaction's commit.
  const std::vector<int64_t> enqueued = enqueuer_.TakeEnqueued();
  absl::Status status = db_.Transact("publish", [&](pqxx::work& txn) -> absl::Status {
    ledger::DeleteOutboxRows(txn, enqueued);
    // Claim the idempotency keys: a key already held within the window is not claimed, and its
    // event answers as a duplicate.
    std::map<ledger::IdempotencyKey, std::string> claims;
    for (const auto& [key, index] : first_use) claims[key] = items[index].response->event_id();
    const std::set<ledger::IdempotencyKey> won =
        ledger::ClaimIdempotencyKeys(txn, claims, options_.idempotency_window);
    std::vector<ledger::IdempotencyKey> lost;
    for (const auto& [key, index] : first_use) {
      if (won.count(key) == 0) lost.push_back(key);
    }
    for (const auto& [key, before] : ledger::PublishedUnder(txn, lost)) {
      auto it = first_use.find(key);
      if (it == first_use.end()) continue;
      v1::PublishResponse* response = items[it->second].response;
      response->set_event_id(before.event_id);
      response->set_delivery_count(before.delivery_count);
      response->set_duplicate(true);
    }
    for (Item& item : items) {
      if (item.owner < 0) continue;
      // Same key earlier in this batch: the same answer, as a duplicate.
      *item.response = *items[item.owner].response;
      item.response->set_duplicate(true);
    }

    std::vector<ledger::NewEvent> events;
    for (const Item& item : items) {
      if (item.response->duplicate()) continue;
      events.push_back({.request = item.event->request,
                        .id = item.response->event_id(),
                        .routes = &item.event->routes});
    }
    if (events.empty()) return absl::OkStatus();  // every event was a duplicate
    // Set here rather than by the column default: the stream carries the same time to the
    // workers (InlineEvent), and a retry loaded from Postgres must sign the same envelope.
    const absl::Time create_time = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
    outbox = ledger::InsertPublished(txn, events, create_time, options_.max_inline_payload_bytes);
    return absl::OkStatus();
  });
  if (!status.ok()) enqueuer_.ReturnEnqueued(enqueued);
  return status;
}

}  // namespace hookd::ingest
