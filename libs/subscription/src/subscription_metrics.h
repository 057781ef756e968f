#pragma once

#include <vector>

#include "app_watch.h"
#include "hookd/db/pg_pool.h"
#include "hookd/metrics/metrics.h"

namespace hookd::subscription {

// Exports hookd-subscription's gauges while the handles live (destroy them before `db` and
// `hub`): live apps and disabled apps (one count query per scrape at most once a second) and
// open WatchApps streams. gRPC calls are counted at the RPC edge (StartGrpcServer).
std::vector<metrics::CallbackHandle> ExportSubscriptionMetrics(db::PgPool& db, AppWatchHub& hub);

}  // namespace hookd::subscription
