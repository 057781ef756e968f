#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/v1/delivery.pb.h"

// The parts of `hookctl deliveries` that need no server: how a delivery is named, shown and
// exported. Declared here so that tests can check them without a delivery log to read.

namespace hookd::hookctl {

// "pending", "succeeded", "retrying" or "failed": the values --status takes, and what tables and
// exports show, so that a value read from an export can be passed back to --status.
std::string DeliveryStatusName(v1::DeliveryStatus status);
// INVALID_ARGUMENT naming --status for anything but those four names.
absl::StatusOr<v1::DeliveryStatus> ParseDeliveryStatus(const std::string& name);

// `deliveries show`: the delivery's fields, its attempts as a table, then the payload indented.
void PrintDelivery(std::ostream& out, const v1::Delivery& delivery);

// The columns of every export format, in order: app_id, time, event_type, event_id, endpoint,
// attempts, status, last_status_code.
const std::vector<std::string>& ExportColumns();
// One delivery's values of those columns as text: the time RFC 3339 UTC ("" when unset), the
// status as DeliveryStatusName, the counts and the code as decimal numbers.
std::vector<std::string> ExportCells(const v1::Delivery& delivery);

// The text formats; pdf is written through PdfTable.
enum class ExportFormat { kCsv, kJsonl };

// What an export starts with: the CSV header record, nothing for JSON lines.
std::string ExportHeader(ExportFormat format);
// One delivery of an export: a CRLF-terminated CSV record, or a JSON object and "\n", with the
// columns app_id, time, event_type, event_id, endpoint, attempts, status, last_status_code.
std::string ExportRecord(ExportFormat format, const v1::Delivery& delivery);

}  // namespace hookd::hookctl
