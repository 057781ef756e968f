#include "subscription_metrics.h"

#include <memory>

#include "absl/time/clock.h"

namespace hookd::subscription {
namespace {

struct AppCounts {
  int64_t live = 0;
  int64_t disabled = 0;
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
          return absl::OkStatus();
        });
        if (!status.ok()) return std::nullopt;
        return out;
      },
      absl::Seconds(1));
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
