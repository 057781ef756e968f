#pragma once

#include <vector>

#include "hookd/appcache/app_cache.h"
#include "hookd/metrics/metrics.h"

namespace hookd::appcache {

// Exports `cache` in the default metrics registry while the handles live (destroy them before
// the cache): hookd_app_cache_sync_age_seconds (Staleness(): 0 while the change feed is up,
// +Inf before the first sync) and hookd_app_cache_apps (apps in the current view).
std::vector<metrics::CallbackHandle> ExportCacheMetrics(const AppCache& cache);

}  // namespace hookd::appcache
