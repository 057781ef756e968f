#include "hookd/common/config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "hookd/common/status.h"

namespace hookd {

std::string FlagOrEnv(const std::string& flag_value, const char* env_name,
                      std::string_view fallback) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv(env_name);
  if (env != nullptr && *env != '\0') return env;
  return std::string(fallback);
}

absl::Status RequireSetting(std::string_view value, std::string_view field,
                            std::string_view env_name) {
  if (!value.empty()) return absl::OkStatus();
  return InvalidField(field, "required (" + std::string(env_name) + ")");
}

absl::StatusOr<bool> ParseBool(std::string_view name, std::string_view value) {
  std::string v = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size())));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
  return InvalidField(name, "must be true or false");
}

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(value.data(), value.size()), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

}  // namespace hookd
