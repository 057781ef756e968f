#pragma once

#include <cstdint>
#include <string>

#include "pqxx/pqxx"

// Retention's statements (hookd-subscription runs them under its leader lock, batch after
// batch).

namespace hookd::ledger {

// What one batch removed.
struct Removed {
  int64_t rows = 0;     // deliveries, or events
  int64_t related = 0;  // their attempts, or their idempotency keys
};

// The oldest deliveries with an id below `bound`, at most `limit`, with their attempts.
Removed DeleteExpiredDeliveries(pqxx::work& txn, const std::string& bound, int limit);

// The oldest events with an id below `bound` that have no delivery left, at most `limit`, with
// their idempotency keys unless a later publish took the key over. Run after the deliveries: a
// delivery never outlives its event, which GetDelivery reads with it.
Removed DeleteExpiredEvents(pqxx::work& txn, const std::string& bound, int limit);

}  // namespace hookd::ledger
