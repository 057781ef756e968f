#pragma once

// Rows of the delivery log written straight into Postgres the way hookd-ingest and hookd-worker
// write them, but at a time the test chooses: for tests of what reads or removes old rows.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "hookd/common/ids.h"
#include "pqxx/pqxx"

namespace hookd::testing {

struct LoggedEvent {
  std::string id;
  std::vector<std::string> delivery_ids;  // in the order of the app ids given
};

// An event of `tenant` published at `time` (its id, its deliveries' ids and their create_time
// are of that time) with one PENDING delivery per app of `app_ids`; creates the partitions of that
// day when missing.
LoggedEvent InsertEvent(pqxx::transaction_base& txn, IdGenerator& ids, absl::Time time,
                        const std::string& tenant, const std::vector<std::string>& app_ids,
                        const std::string& idempotency_key = "",
                        const std::string& event_type = "video.ready");

// One attempt of a delivery: an answer with `status_code`, or none (0, a timeout).
void InsertAttempt(pqxx::transaction_base& txn, const std::string& delivery_id, int attempt,
                   const std::string& app_id, absl::Time start, int duration_ms, int status_code);

}  // namespace hookd::testing
