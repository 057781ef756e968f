// libFuzzer harness (README, "Sanitizers and fuzzing"): hookctl's command lines. The input is split
// at NUL bytes into argv for a parser with one flag of each kind; any argv parses or fails with
// INVALID_ARGUMENT, and a duration given to ParseTimeOrAgo never means a time after now.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "flag_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args = absl::StrSplit(input, '\0');

  std::string tenant;
  std::vector<std::string> types;
  bool all = false;
  int limit = 0;
  absl::Duration timeout;
  absl::Time since;
  hookd::hookctl::FlagParser parser("hookctl fuzz [flags]", "Every kind of flag.");
  parser.AddString("tenant", "T", "a string", &tenant);
  parser.AddStrings("event-type", "TYPE", "a repeated string", &types);
  parser.AddBool("all", "a boolean", &all);
  parser.AddString("o", "FORMAT", "a one-letter flag", &tenant);
  parser.AddInt("limit", "N", "an integer", &limit);
  parser.AddDuration("timeout", "D", "a duration", &timeout);
  parser.AddTime("since", "TIME", "a time", &since);
  for (auto mode : {hookd::hookctl::FlagParser::Mode::kInterspersed,
                    hookd::hookctl::FlagParser::Mode::kStopAtPositional}) {
    auto result = parser.Parse(args, mode);
    if (!result.ok() && result.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
  }

  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto time = hookd::hookctl::ParseTimeOrAgo("since", input, now);
  if (!time.ok() && time.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
  // A duration means "that long ago": never later than now.
  absl::Duration ago;
  if (time.ok() && absl::ParseDuration(input, &ago) && *time > now) std::abort();
  return 0;
}
