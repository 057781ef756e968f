#include "hookd/ledger/expiry.h"

namespace hookd::ledger {
namespace {

Removed Run(pqxx::work& txn, const char* sql, const std::string& bound, int limit) {
  pqxx::row row = txn.exec_params1(sql, bound, limit);
  return {row[0].as<int64_t>(), row[1].as<int64_t>()};
}

}  // namespace

Removed DeleteExpiredDeliveries(pqxx::work& txn, const std::string& bound, int limit) {
  return Run(
      txn,
      "WITH batch AS ("
      " SELECT id FROM deliveries WHERE id < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED),"
      " attempts_gone AS ("
      " DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM batch) RETURNING 1),"
      " deliveries_gone AS ("
      " DELETE FROM deliveries WHERE id IN (SELECT id FROM batch) RETURNING 1)"
      " SELECT (SELECT count(*) FROM deliveries_gone), (SELECT count(*) FROM attempts_gone)",
      bound, limit);
}

Removed DeleteExpiredEvents(pqxx::work& txn, const std::string& bound, int limit) {
  return Run(txn,
             "WITH batch AS ("
             " SELECT id, tenant, idempotency_key FROM events e WHERE id < $1"
             " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)"
             " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED),"
             " keys_gone AS ("
             " DELETE FROM idempotency_keys k USING batch b WHERE b.idempotency_key <> ''"
             " AND k.tenant = b.tenant AND k.key = b.idempotency_key AND k.event_id = b.id"
             " RETURNING 1),"
             " events_gone AS ("
             " DELETE FROM events WHERE id IN (SELECT id FROM batch) RETURNING 1)"
             " SELECT (SELECT count(*) FROM events_gone), (SELECT count(*) FROM keys_gone)",
             bound, limit);
}

}  // namespace hookd::ledger
