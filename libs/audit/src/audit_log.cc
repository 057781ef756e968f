#include "hookd/audit/audit_log.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"

namespace hookd::audit {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kColumns[] =
    "id, (extract(epoch FROM time) * 1000000)::bigint, token_id, role, action, resource, tenant,"
    " request_id, detail";

v1::AuditEvent FromRow(const pqxx::row& row) {
  v1::AuditEvent event;
  event.set_id(row[0].as<std::string>());
  *event.mutable_time() = TimeUtil::MicrosecondsToTimestamp(row[1].as<int64_t>());
  event.set_token_id(row[2].as<std::string>());
  event.set_role(static_cast<v1::Role>(row[3].as<int>()));
  event.set_action(row[4].as<std::string>());
  event.set_resource(row[5].as<std::string>());
  event.set_tenant(row[6].as<std::string>());
  event.set_request_id(row[7].as<std::string>());
  event.set_detail(row[8].as<std::string>());
  return event;
}

}  // namespace

void Record(pqxx::work& txn, const auth::Access& by, const Change& change) {
  const auth::Principal& principal = by.principal();
  txn.exec_params(
      "INSERT INTO audit_events (id, token_id, role, action, resource, tenant, request_id, detail)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      NewId("aud"), principal.token_id, static_cast<int>(principal.role), change.action,
      change.resource, change.tenant, by.request_id(), change.detail);
}

db::InTransaction Recorder(const auth::Access& by, Change change) {
  return [by, change = std::move(change)](pqxx::work& txn) {
    Record(txn, by, change);
    return absl::OkStatus();
  };
}

absl::StatusOr<Page> List(db::PgPool& db, const Filter& filter, int page_size,
                          const std::string& before_id) {
  Page page;
  HOOKD_RETURN_IF_ERROR(db.Transact("list audit events", [&](pqxx::work& txn) -> absl::Status {
    // The time window as id bounds: ids start with their time.
    const std::string since = filter.since ? IdLowerBoundAt("aud", *filter.since) : "";
    const std::string until = filter.until ? IdLowerBoundAt("aud", *filter.until) : "";
    pqxx::result rows = txn.exec_params(
        absl::StrCat("SELECT ", kColumns,
                     " FROM audit_events WHERE ($1 = '' OR tenant = $1) AND ($2 = '' OR"
                     " action = $2) AND ($3 = '' OR resource = $3) AND ($4 = '' OR token_id = $4)"
                     " AND ($5 = '' OR id >= $5) AND ($6 = '' OR id < $6) AND ($7 = '' OR id < $7)"
                     " ORDER BY id DESC LIMIT $8"),
        filter.tenant, filter.action, filter.resource, filter.token_id, since, until, before_id,
        page_size + 1);
    for (int i = 0; i < static_cast<int>(rows.size()) && i < page_size; ++i) {
      page.events.push_back(FromRow(rows[i]));
    }
    if (static_cast<int>(rows.size()) > page_size) page.last_id = page.events.back().id();
    return absl::OkStatus();
  }));
  return page;
}

int DeleteBefore(pqxx::work& txn, absl::Time cutoff, int limit) {
  return static_cast<int>(
      txn.exec_params("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE"
                      " id < $1 ORDER BY id LIMIT $2)",
                      IdLowerBoundAt("aud", cutoff), limit)
          .affected_rows());
}

}  // namespace hookd::audit
