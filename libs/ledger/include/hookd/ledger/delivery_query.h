#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "hookd/v1/delivery.pb.h"
#include "pqxx/pqxx"

namespace hookd::ledger {

// The filters of ListDeliveries and ExportDeliveries, already checked against the caller.
struct DeliveryFilter {
  std::string tenant;  // "" for any (admin only)
  std::string app_id;
  std::string event_type;
  v1::DeliveryStatus status = v1::DELIVERY_STATUS_UNSPECIFIED;
  std::optional<absl::Time> since;
  std::optional<absl::Time> until;
};

// The SELECT that reads one page of the delivery log: at most `limit` rows matching `filter`
// with an id below `before_id` (none when empty), newest first. `txn` quotes the values.
// Public so that the ListDeliveries benchmark can EXPLAIN exactly the query the service runs.
std::string ListDeliveriesQuery(pqxx::transaction_base& txn, const DeliveryFilter& filter,
                                int limit, const std::string& before_id);

}  // namespace hookd::ledger
