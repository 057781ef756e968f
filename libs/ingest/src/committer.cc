#include "committer.h"

#include <map>
#include <set>
#include <tuple>

#include "hookd/common/ids.h"
#include "hookd/common/status.h"
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
      while (!queue_.empty() && (batch.empty() || events + queue_.front().events.size() <=
                                                      static_cast<size_t>(options_.max_events))) {
        events += queue_.front().events.size();
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

  return db_.Transact("publish", [&](pqxx::work& txn) -> absl::Status {
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

    pqxx::stream_to events(
        txn, "events",
        std::vector<std::string>{"id", "tenant", "event_type", "payload", "channels",
                                 "idempotency_key", "traceparent", "delivery_count"});
    using DeliveryRow = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    std::vector<DeliveryRow> delivery_rows;
    for (const Item& item : items) {
      if (item.response->duplicate()) continue;
      const v1::PublishRequest& r = *item.event->request;
      nlohmann::json channels = nlohmann::json::array();
      for (const auto& c : r.channels()) channels.push_back(c);
      // libpqxx 6.4 streams tuples only.
      events << std::make_tuple(item.response->event_id(), r.tenant(), r.event_type(), r.payload(),
                                channels.dump(), r.idempotency_key(), r.traceparent(),
                                static_cast<int>(item.event->app_ids.size()));
      for (const std::string& app_id : item.event->app_ids) {
        std::string delivery_id = NewId("dlv");
        delivery_rows.emplace_back(delivery_id, item.response->event_id(), app_id, r.tenant(),
                                   r.event_type());
        outbox.messages.push_back(
            {.delivery_id = delivery_id, .event_id = item.response->event_id(), .app_id = app_id});
      }
    }
    events.complete();
    if (!delivery_rows.empty()) {
      pqxx::stream_to deliveries(
          txn, "deliveries",
          std::vector<std::string>{"id", "event_id", "app_id", "tenant", "event_type"});
      for (const auto& row : delivery_rows) deliveries << row;
      deliveries.complete();
      outbox.outbox_id = txn.exec_params1("INSERT INTO outbox (messages) VALUES ($1) RETURNING id",
                                          queue::EncodeOutbox(outbox.messages))[0]
                             .as<int64_t>();
    }
    return absl::OkStatus();
  });
}

}  // namespace hookd::ingest
