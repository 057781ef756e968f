#include "hookd/common/logging.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include "hookd/common/status.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace hookd {
namespace {

// Log() packs its fields into the record's payload after the message, each as
// kFieldMark key kValueMark json-value, and the formatters unpack them. Marks in the message or
// a key are replaced by spaces; JSON values cannot hold them (control characters are escaped).
constexpr char kFieldMark = '\x1f';
constexpr char kValueMark = '\x1e';

// Names matching --log_level's values.
constexpr std::string_view kLevelNames[] = {"trace", "debug",    "info", "warn",
                                            "error", "critical", "off"};

void AppendClean(std::string& out, std::string_view text) {
  for (char c : text) out += (c == kFieldMark || c == kValueMark) ? ' ' : c;
}

struct Unpacked {
  std::string_view msg;
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // key, JSON value
};

Unpacked Unpack(std::string_view payload) {
  Unpacked out;
  size_t mark = payload.find(kFieldMark);
  out.msg = payload.substr(0, mark);
  while (mark != std::string_view::npos) {
    size_t next = payload.find(kFieldMark, mark + 1);
    std::string_view field = payload.substr(
        mark + 1, next == std::string_view::npos ? std::string_view::npos : next - mark - 1);
    size_t split = field.find(kValueMark);
    if (split != std::string_view::npos) {
      out.fields.emplace_back(field.substr(0, split), field.substr(split + 1));
    }
    mark = next;
  }
  return out;
}

// 2026-11-23T17:34:21.123Z
void AppendTime(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  dest.append(buf, buf + n);
  n = std::snprintf(buf, sizeof(buf), ".%03dZ", static_cast<int>(millis.count()));
  dest.append(buf, buf + n);
}

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string service) : service_(JsonString(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Unpacked record = Unpack(std::string_view(msg.payload.data(), msg.payload.size()));
    Append(dest, "{\"time\":\"");
    AppendTime(dest, msg.time);
    Append(dest, "\",\"level\":\"");
    Append(dest, kLevelNames[msg.level]);
    Append(dest, "\",\"service\":");
    Append(dest, service_);
    Append(dest, ",\"msg\":");
    Append(dest, JsonString(record.msg));
    for (const auto& [key, value] : record.fields) {
      Append(dest, ",");
      Append(dest, JsonString(key));
      Append(dest, ":");
      Append(dest, value);
    }
    Append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    auto copy = std::make_unique<JsonFormatter>("");
    copy->service_ = service_;
    return copy;
  }

 private:
  std::string service_;  // as a JSON string
};

class TextFormatter final : public spdlog::formatter {
 public:
  explicit TextFormatter(std::string service) : service_(std::move(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Unpacked record = Unpack(std::string_view(msg.payload.data(), msg.payload.size()));
    AppendTime(dest, msg.time);
    Append(dest, " ");
    Append(dest, spdlog::level::to_short_c_str(msg.level));
    Append(dest, " ");
    Append(dest, service_);
    Append(dest, " ");
    Append(dest, record.msg);
    for (const auto& [key, value] : record.fields) {
      Append(dest, " ");
      Append(dest, key);
      Append(dest, "=");
      Append(dest, value);
    }
    Append(dest, "\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>(service_);
  }

 private:
  std::string service_;
};

}  // namespace

std::string JsonString(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LogValue::LogValue(std::string_view text) : json_(JsonString(text)) {}

LogValue::LogValue(double value) {
  if (!std::isfinite(value)) {
    // JSON has no infinity or NaN.
    json_ = JsonString(std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf"));
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  json_.assign(buf, end);
}

void Log(spdlog::level::level_enum level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(level)) return;
  std::string payload;
  AppendClean(payload, msg);
  for (const LogField& field : fields) {
    payload += kFieldMark;
    AppendClean(payload, field.key);
    payload += kValueMark;
    payload += field.value.json();
  }
  logger->log(level, "{}", payload);
}

absl::StatusOr<std::unique_ptr<spdlog::formatter>> NewLogFormatter(std::string_view service,
                                                                   std::string_view format) {
  if (format == "json") return std::make_unique<JsonFormatter>(std::string(service));
  if (format == "text") return std::make_unique<TextFormatter>(std::string(service));
  return InvalidField("log_format", "must be json or text");
}

absl::Status InitLogging(std::string_view service, std::string_view level,
                         std::string_view format) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers `off` for anything it does not know; only accept that when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidField("log_level", "must be trace, debug, info, warn, error, critical or off");
  }
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<spdlog::formatter> formatter,
                         NewLogFormatter(service, format));
  auto logger = spdlog::get(std::string(service));
  if (logger == nullptr) logger = spdlog::stderr_logger_mt(std::string(service));
  logger->set_formatter(std::move(formatter));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

}  // namespace hookd
