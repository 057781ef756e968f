#include "subscription_metrics.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "hookd/ledger/delivery_log.h"

namespace hookd::subscription {
namespace {

struct AppCounts {
  int64_t live = 0;
  int64_t disabled = 0;
  std::map<std::string, int64_t> held;  // per app that has any
};

}  // namespace

std::vector<metrics::CallbackHandle> ExportSubscriptionMetrics(db::PgPool& db, AppWatchHub& hub) {
  metrics::Registry& r = metrics::DefaultRegistry();
  std::vector<metrics::CallbackHandle> handles;
  auto counts = std::make_shared<metrics::SampleCache<AppCounts>>(
      [&db]() -> std::optional<AppCounts> {
        AppCounts out;
        absl::Status status = db.Transact("count apps", [&](pqxx::work& txn) {
          pqxx::row row = txn.exec1(
              "SELECT count(*), count(*) FILTER (WHERE NOT active) FROM apps"
              " WHERE delete_time IS NULL");
          out.live = row[0].as<int64_t>();
          out.disabled = row[1].as<int64_t>();
          out.held = ledger::DeliveryLog::HeldByApp(txn);
          return absl::OkStatus();
        });
        if (!status.ok()) return std::nullopt;
        return out;
      },
      absl::Seconds(1));
  // Held deliveries per app, set from the same sample; an app whose deliveries were all resumed
  // or discarded goes back to 0.
  auto& held = r.AddGaugeFamily("hookd_subscription_held_deliveries",
                                "Deliveries HELD per app (disabled when they came due), waiting "
                                "for EnableApp to resume or discard them; at most 100 app ids, "
                                "then app_id=\"other\".",
                                {"app_id"}, {.bounded_label = 0});
  auto shown = std::make_shared<std::set<std::string>>();
  auto shown_mu = std::make_shared<std::mutex>();
  handles.push_back(r.AddCallbackGauge("hookd_subscription_deliveries_held",
                                       "Deliveries HELD across every app.",
                                       [counts, &held, shown, shown_mu]() -> std::optional<double> {
                                         std::optional<AppCounts> now = counts->Get(absl::Now());
                                         if (!now.has_value()) return std::nullopt;
                                         std::lock_guard<std::mutex> lock(*shown_mu);
                                         int64_t total = 0;
                                         for (const std::string& app : *shown) {
                                           if (now->held.count(app) == 0) held.With({app}).Set(0);
                                         }
                                         for (const auto& [app, n] : now->held) {
                                           held.With({app}).Set(static_cast<double>(n));
                                           shown->insert(app);
                                           total += n;
                                         }
                                         return static_cast<double>(total);
                                       }));
  handles.push_back(metrics::AddSampledGauge(r, "hookd_subscription_apps",
                                             "Webhook apps (not deleted), active or not.", counts,
                                             &AppCounts::live));
  handles.push_back(metrics::AddSampledGauge(
      r, "hookd_subscription_apps_disabled",
      "Webhook apps disabled (by an operator, a 410 Gone or a streak of failures).", counts,
      &AppCounts::disabled));
  handles.push_back(r.AddCallbackGauge(
      "hookd_subscription_watchers", "Open WatchApps streams (ingest and worker app caches).",
      [&hub]() -> std::optional<double> { return static_cast<double>(hub.watchers()); }));
  return handles;
}

}  // namespace hookd::subscription
