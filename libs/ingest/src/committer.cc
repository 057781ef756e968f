#include "committer.h"

#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/sql.h"
#include "ingest_metrics.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace hookd::ingest {

Committer::Committer(db::PgPool& db, Enqueuer& enqueuer, CommitterOptions options)
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
    OutboxBatch outbox;
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
                               OutboxBatch& outbox) {
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
    items[i].response->set_delivery_count(static_cast<int>(items[i].event->app_ids.size()));
    if (r.idempotency_key().empty()) continue;
    auto [it, inserted] =
        first_use.emplace(std::make_pair(r.tenant(), r.idempotency_key()), static_cast<int>(i));
    if (!inserted) items[i].owner = it->second;
  }

  // Outbox rows of batches already on the streams go in this transaction's commit.
  const std::vector<int64_t> enqueued = enqueuer_.TakeEnqueued();
  absl::Status status = db_.Transact("publish", [&](pqxx::work& txn) -> absl::Status {
    DeleteOutboxRows(txn, enqueued);
    // Claim the idempotency keys: a key already held within the window is not claimed, and its
    // event answers as a duplicate.
    if (!first_use.empty()) {
      std::string values;
      for (const auto& [key, index] : first_use) {
        if (!values.empty()) values += ',';
        values += "(" + txn.quote(key.first) + "," + txn.quote(key.second) + "," +
                  txn.quote(items[index].response->event_id()) + ")";
      }
      const std::string window = std::to_string(absl::ToInt64Seconds(options_.idempotency_window));
      pqxx::result claimed =
          txn.exec("INSERT INTO idempotency_keys (tenant, key, event_id) VALUES " + values +
                   " ON CONFLICT (tenant, key) DO UPDATE SET event_id = EXCLUDED.event_id,"
                   " create_time = now() WHERE idempotency_keys.create_time < now() - interval '" +
                   window + " seconds' RETURNING tenant, key");
      std::set<std::pair<std::string, std::string>> won;
      for (const auto& row : claimed)
        won.emplace(row[0].as<std::string>(), row[1].as<std::string>());
      std::string lost;
      for (const auto& [key, index] : first_use) {
        if (won.count(key) > 0) continue;
        if (!lost.empty()) lost += ',';
        lost += "(" + txn.quote(key.first) + "," + txn.quote(key.second) + ")";
      }
      if (!lost.empty()) {
        pqxx::result existing = txn.exec(
            "SELECT k.tenant, k.key, k.event_id, e.delivery_count FROM idempotency_keys k"
            " JOIN events e ON e.id = k.event_id WHERE (k.tenant, k.key) IN (" +
            lost + ")");
        for (const auto& row : existing) {
          auto it = first_use.find({row[0].as<std::string>(), row[1].as<std::string>()});
          if (it == first_use.end()) continue;
          v1::PublishResponse* response = items[it->second].response;
          response->set_event_id(row[2].as<std::string>());
          response->set_delivery_count(row[3].as<int>());
          response->set_duplicate(true);
        }
      }
    }
    for (Item& item : items) {
      if (item.owner < 0) continue;
      // Same key earlier in this batch: the same answer, as a duplicate.
      *item.response = *items[item.owner].response;
      item.response->set_duplicate(true);
    }

    // Set here rather than by the column default: the stream carries the same time to the
    // workers (InlineEvent), and a retry loaded from Postgres must sign the same envelope.
    const absl::Time create_time = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
    // Events, deliveries and the outbox row as parallel arrays of one prepared statement: one
    // round trip for the whole batch, where COPY needs two per table.
    std::vector<std::string> event_ids, tenants, types, payloads, channel_lists, keys, traces,
        counts;
    std::vector<std::string> delivery_ids, delivery_events, delivery_apps, delivery_tenants,
        delivery_types;
    for (const Item& item : items) {
      if (item.response->duplicate()) continue;
      const v1::PublishRequest& r = *item.event->request;
      nlohmann::json channels = nlohmann::json::array();
      for (const auto& c : r.channels()) channels.push_back(c);
      event_ids.push_back(item.response->event_id());
      tenants.push_back(r.tenant());
      types.push_back(r.event_type());
      payloads.push_back(r.payload());
      channel_lists.push_back(channels.dump());
      keys.push_back(r.idempotency_key());
      traces.push_back(r.traceparent());
      counts.push_back(std::to_string(item.event->app_ids.size()));
      std::optional<queue::InlineEvent> inline_event;
      if (r.payload().size() <= options_.max_inline_payload_bytes) {
        inline_event = queue::InlineEvent{.event_type = r.event_type(),
                                          .payload = r.payload(),
                                          .traceparent = r.traceparent(),
                                          .create_time = create_time};
      }
      for (const std::string& app_id : item.event->app_ids) {
        std::string delivery_id = NewId("dlv");
        delivery_ids.push_back(delivery_id);
        delivery_events.push_back(item.response->event_id());
        delivery_apps.push_back(app_id);
        delivery_tenants.push_back(r.tenant());
        delivery_types.push_back(r.event_type());
        outbox.messages.push_back({.delivery_id = std::move(delivery_id),
                                   .event_id = item.response->event_id(),
                                   .app_id = app_id,
                                   .event = inline_event});
      }
    }
    if (event_ids.empty()) return absl::OkStatus();  // every event was a duplicate
    pqxx::result outbox_row = db::ExecPrepared(
        txn, "ingest_publish",
        "WITH e AS (INSERT INTO events (id, tenant, event_type, payload, channels,"
        " idempotency_key, traceparent, delivery_count, create_time)"
        " SELECT id, tenant, event_type, payload, channels::jsonb, key, trace, n, $9::timestamptz"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::int[]) AS t(id, tenant, event_type, payload, channels, key, trace, n)),"
        " d AS (INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
        " SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[]))"
        " INSERT INTO outbox (messages) SELECT $15 WHERE cardinality($10::text[]) > 0"
        " RETURNING id",
        db::ArrayLiteral(event_ids), db::ArrayLiteral(tenants), db::ArrayLiteral(types),
        db::ArrayLiteral(payloads), db::ArrayLiteral(channel_lists), db::ArrayLiteral(keys),
        db::ArrayLiteral(traces), db::ArrayLiteral(counts), db::TimestampLiteral(create_time),
        db::ArrayLiteral(delivery_ids), db::ArrayLiteral(delivery_events),
        db::ArrayLiteral(delivery_apps), db::ArrayLiteral(delivery_tenants),
        db::ArrayLiteral(delivery_types), queue::EncodeOutbox(outbox.messages));
    if (!outbox_row.empty()) outbox.outbox_id = outbox_row[0][0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!status.ok()) enqueuer_.ReturnEnqueued(enqueued);
  return status;
}

}  // namespace hookd::ingest
