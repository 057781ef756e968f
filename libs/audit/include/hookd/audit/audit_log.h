#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/auth/permissions.h"
#include "hookd/db/pg_pool.h"
#include "hookd/v1/audit.pb.h"

namespace hookd::audit {

// One change made through the API (README "Audit log"): never a secret, a header value or a
// token, only ids, names and counts.
struct Change {
  // `app.create`, `token.revoke`, ... (hookd.v1.AuditEvent.action lists them).
  std::string action = "";
  // The id (or event type name) of what changed.
  std::string resource = "";
  // Its tenant; empty for the global event type catalog.
  std::string tenant = "";
  std::string detail = "";
};

// Writes the entry of `change`, made by the caller `by` authorized, in `txn`: the change's own
// transaction, so the entry commits with it or not at all.
void Record(pqxx::work& txn, const auth::Access& by, const Change& change);

// Record as the db::InTransaction a store's mutation takes.
db::InTransaction Recorder(const auth::Access& by, Change change);

struct Filter {
  std::string tenant = "";
  std::string action = "";
  std::string resource = "";
  std::string token_id = "";
  std::optional<absl::Time> since = std::nullopt;
  std::optional<absl::Time> until = std::nullopt;
};

struct Page {
  std::vector<v1::AuditEvent> events;
  // Non-empty when another page may follow.
  std::string last_id;
};

// Entries matching `filter`, newest first, older than `before_id` when set.
absl::StatusOr<Page> List(db::PgPool& db, const Filter& filter, int page_size,
                          const std::string& before_id);

// Deletes up to `limit` entries from before `cutoff`, oldest first; answers how many.
int DeleteBefore(pqxx::work& txn, absl::Time cutoff, int limit);

}  // namespace hookd::audit
