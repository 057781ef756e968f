#include "output.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/proto_time.h"
#include "nlohmann/json.hpp"

namespace hookd::hookctl {

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(rows_.front().size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  const size_t columns = rows_.front().size();
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < columns; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      line += row[c];
      // The last column is not padded, so lines carry no trailing blanks.
      if (c + 1 < columns) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string RoleText(v1::Role role) {
  if (role == v1::ROLE_UNSPECIFIED) return "-";
  // ROLE_ADMIN -> admin
  return absl::AsciiStrToLower(v1::Role_Name(role).substr(5));
}

void PrintNextPageHint(std::ostream& out, std::string_view what, const std::string& token) {
  if (token.empty()) return;
  out << "\nMore " << what << ": add --page-token " << token << ", or --all for every page.\n";
}

void PrintFields(std::ostream& out, const Fields& fields) {
  size_t width = 0;
  for (const auto& field : fields) width = std::max(width, field.first.size() + 1);
  for (const auto& [key, value] : fields) {
    std::string indent(width + 1, ' ');
    std::string shown = absl::StrReplaceAll(value, {{"\n", "\n" + indent}});
    out << key << ":" << std::string(width - key.size(), ' ') << shown << "\n";
  }
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print JSON: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  google::protobuf::Duration proto;
  int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &duration);
  proto.set_seconds(seconds);
  proto.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(duration)));
  return proto;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  if (duration.seconds() == 0 && duration.nanos() == 0) return "-";
  return absl::FormatDuration(ToAbslDuration(duration));
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "-";
  return google::protobuf::util::TimeUtil::ToString(timestamp);
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp proto;
  // Seconds and nanoseconds separately: nanoseconds since the epoch overflow past 2262.
  const int64_t seconds = absl::ToUnixSeconds(time);
  proto.set_seconds(seconds);
  proto.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return proto;
}

std::string PrettyJson(const std::string& text) {
  // ordered_json keeps the keys in the order they were published instead of sorting them.
  auto json = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return text;
  return json.dump(2);
}

std::string CsvField(absl::string_view value) {
  if (value.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(value);
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\"", "\"\""}}), "\"");
}

std::string CsvRecord(const std::vector<std::string>& fields) {
  std::string record;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) record.push_back(',');
    record += CsvField(fields[i]);
  }
  record += "\r\n";
  return record;
}

std::string JoinOrDash(const std::vector<std::string>& items) {
  if (items.empty()) return "-";
  return absl::StrJoin(items, ", ");
}

}  // namespace hookd::hookctl
