#include "hookd/appcache/cache_metrics.h"

#include <limits>

namespace hookd::appcache {

std::vector<metrics::CallbackHandle> ExportCacheMetrics(const AppCache& cache) {
  metrics::Registry& r = metrics::DefaultRegistry();
  std::vector<metrics::CallbackHandle> handles;
  handles.push_back(r.AddCallbackGauge(
      "hookd_app_cache_sync_age_seconds",
      "Seconds since the app cache was last known current: 0 while the WatchApps feed is up, "
      "+Inf before the first sync.",
      [&cache]() -> std::optional<double> {
        absl::Duration staleness = cache.Staleness();
        if (staleness == absl::InfiniteDuration()) return std::numeric_limits<double>::infinity();
        return absl::ToDoubleSeconds(staleness);
      }));
  handles.push_back(r.AddCallbackGauge("hookd_app_cache_apps",
                                       "Apps (active or not) in the app cache's current view.",
                                       [&cache]() -> std::optional<double> {
                                         return static_cast<double>(cache.Current()->size());
                                       }));
  return handles;
}

}  // namespace hookd::appcache
