#pragma once

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "hookd/v1/delivery.pb.h"

// delivery_state.status holds hookd.v1.DeliveryStatus numbers; statements name the enum values
// through these, never bare integers.

namespace hookd::ledger {

// Deliveries that will be attempted again.
inline constexpr std::array<v1::DeliveryStatus, 2> kUnfinished = {v1::PENDING, v1::RETRYING};
// Deliveries that no attempt changes any more (IsFinal).
inline constexpr std::array<v1::DeliveryStatus, 3> kFinished = {v1::SUCCEEDED, v1::FAILED,
                                                                v1::DISCARDED};

// The number of `status`, as SQL: "2" for SUCCEEDED.
inline std::string Sql(v1::DeliveryStatus status) { return absl::StrCat(static_cast<int>(status)); }

// A parenthesized SQL list: "(1, 3)" for kUnfinished.
template <size_t N>
std::string Sql(const std::array<v1::DeliveryStatus, N>& statuses) {
  std::string list = "(";
  for (size_t i = 0; i < N; ++i) absl::StrAppend(&list, i > 0 ? ", " : "", Sql(statuses[i]));
  return list + ")";
}

}  // namespace hookd::ledger
