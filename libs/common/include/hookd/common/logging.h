#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/common.h"
#include "spdlog/formatter.h"

namespace hookd {

// The value of a structured log field: a string, a number or a boolean, kept as its JSON text.
class LogValue {
 public:
  LogValue(std::string_view text);  // NOLINT: implicit on purpose, for {"key", value} lists
  LogValue(const std::string& text) : LogValue(std::string_view(text)) {}  // NOLINT
  LogValue(const char* text) : LogValue(std::string_view(text)) {}         // NOLINT
  LogValue(bool value) : json_(value ? "true" : "false") {}                // NOLINT
  template <typename T,
            typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  LogValue(T value) : json_(std::to_string(value)) {}  // NOLINT
  LogValue(double value);                              // NOLINT

  const std::string& json() const { return json_; }

 private:
  std::string json_;
};

// One field of a log line. Lines about an event, a delivery or an app carry `event_id`,
// `delivery_id` and `app_id`. Never a secret, a password, a token or a payload.
struct LogField {
  std::string_view key;
  LogValue value;
};

// Logs `msg` with `fields` on the default logger, e.g.
//   Log(spdlog::level::warn, "delivery failed", {{"delivery_id", id}, {"attempt", 3}});
// In the JSON format each field is a member of the line's object; in the text format, key=value.
void Log(spdlog::level::level_enum level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

// Sets up the default spdlog logger for a service: one line per record on stderr.
// `format` json (default): {"time":"...Z","level":"info","service":"<service>","msg":"...",
// <fields>}, one JSON object per line; text: `<time> <L> <service> <msg> key=value...` for a
// person at a terminal. (ParseServiceFlags, hookd/service/service_main.h, sends gRPC's and
// protobuf's own log lines through it too.) `level` is trace|debug|info|warn|error|critical|off.
// INVALID_ARGUMENT naming `log_level` or `log_format` otherwise.
absl::Status InitLogging(std::string_view service, std::string_view level,
                         std::string_view format = "json");

// The formatter InitLogging installs, for `format` json or text (tests attach it to a logger of
// their own). INVALID_ARGUMENT naming `log_format` for another format.
absl::StatusOr<std::unique_ptr<spdlog::formatter>> NewLogFormatter(std::string_view service,
                                                                   std::string_view format);

// `text` as a JSON string literal: quoted, with quotes, backslashes and control characters
// escaped and invalid UTF-8 replaced by U+FFFD, so any bytes make a valid JSON string.
std::string JsonString(std::string_view text);

}  // namespace hookd
