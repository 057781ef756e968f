#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace hookd {

// Resolves one setting 12-factor style: the flag when given on the command line (non-empty),
// else the environment variable, else `fallback`. Flags keep empty defaults so that `--help`
// never prints a secret taken from the environment.
std::string FlagOrEnv(const std::string& flag_value, const char* env_name,
                      std::string_view fallback = "");

// INVALID_ARGUMENT "field: required (ENV)" when `value` is empty, so a service that lacks a
// setting says which flag and variable to set.
absl::Status RequireSetting(std::string_view value, std::string_view field,
                            std::string_view env_name);

// Parses "true/false/1/0/yes/no/on/off" (any case). INVALID_ARGUMENT naming `name` otherwise.
absl::StatusOr<bool> ParseBool(std::string_view name, std::string_view value);

// Splits a comma-separated list, trimming blanks and dropping empty items.
std::vector<std::string> SplitList(std::string_view value);

}  // namespace hookd
