#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace hookd {

// Sets up the default spdlog logger for a service: one line per record on stderr carrying time,
// level and `service`. `level` is trace|debug|info|warn|error|critical|off; INVALID_ARGUMENT
// naming `log_level` otherwise.
absl::Status InitLogging(std::string_view service, std::string_view level);

}  // namespace hookd
