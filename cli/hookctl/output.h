#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "hookd/v1/token.pb.h"

// Rendering of answers: aligned tables and "key: value" blocks for people, protobuf JSON for
// scripts.

namespace hookd::hookctl {

// Columns separated by at least two spaces, each as wide as its widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // Missing trailing cells print empty; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// One "key: value" line per field, values aligned. Multi-line values continue indented.
using Fields = std::vector<std::pair<std::string, std::string>>;
void PrintFields(std::ostream& out, const Fields& fields);

// A token's role as hookctl's --role takes it: "admin", ...; "-" when unspecified.
std::string RoleText(v1::Role role);

// After a listed page: how to get the next one, when there is one. `what` is plural ("apps").
void PrintNextPageHint(std::ostream& out, std::string_view what, const std::string& token);

// The message as protobuf JSON with proto field names, default values included (so that
// scripts read `"active": false` rather than a missing key), pretty-printed, newline-terminated.
// Returns INTERNAL if the message cannot be converted.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

// Go-style durations ("1h30m", "500ms"), as the flags take them. "-" when unset.
google::protobuf::Duration ToProto(absl::Duration duration);
std::string FormatDuration(const google::protobuf::Duration& duration);

// RFC 3339 in UTC, "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);
google::protobuf::Timestamp ToProto(absl::Time time);

// A payload indented for reading (2 spaces, keys in their stored order); text that is not JSON
// is returned as it is, since the point is to see what was stored.
std::string PrettyJson(const std::string& text);

// One CSV field per RFC 4180: quoted, with its quotes doubled, when it holds a comma, a quote,
// CR or LF; otherwise unchanged.
std::string CsvField(absl::string_view value);
// The fields as one RFC 4180 record, comma-separated and ending in CRLF.
std::string CsvRecord(const std::vector<std::string>& fields);

// Elements joined by ", ", or "-" for an empty list, so that a column never looks missing.
std::string JoinOrDash(const std::vector<std::string>& items);

}  // namespace hookd::hookctl
