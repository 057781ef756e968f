#include "hookd/common/logging.h"

#include <string>

#include "hookd/common/status.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace hookd {

absl::Status InitLogging(std::string_view service, std::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str answers `off` for anything it does not know; only accept that when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidField("log_level", "must be trace, debug, info, warn, error, critical or off");
  }
  auto logger = spdlog::stderr_logger_mt(std::string(service));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %L " + std::string(service) + " %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

}  // namespace hookd
