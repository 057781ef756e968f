#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hookd::hookctl {

// The flags of one hookctl command. Hand-written instead of Abseil flags because those are
// process-global, while every subcommand needs flags and a help text of its own.
//
// Accepts `--flag value`, `--flag=value`, and for booleans `--flag` or `--flag=true|false`.
// A one-letter flag (`o`) is shown as `-o`; it is parsed like any other.
// Repeated flags accumulate into their list; any other flag given twice keeps the last value.
// `--` ends the flags; `-h` and `--help` ask for the help text.
class FlagParser {
 public:
  // `usage` is the synopsis printed after "Usage: ", `description` says what the command does.
  FlagParser(std::string usage, std::string description);

  // The adders bind a flag to caller-owned storage, which must outlive Parse(). `value_name` is
  // the placeholder shown in the help text (`--tenant T`).
  void AddString(std::string name, std::string value_name, std::string help, std::string* value);
  void AddStrings(std::string name, std::string value_name, std::string help,
                  std::vector<std::string>* values);
  void AddBool(std::string name, std::string help, bool* value);
  void AddInt(std::string name, std::string value_name, std::string help, int* value);
  // Go-style durations: "500ms", "10s", "1h30m".
  void AddDuration(std::string name, std::string value_name, std::string help,
                   absl::Duration* value);
  // An instant, parsed by ParseTimeOrAgo against the time of parsing.
  void AddTime(std::string name, std::string value_name, std::string help, absl::Time* value);

  // A titled block of text appended to the help, e.g. the global flags.
  void AddHelpSection(std::string title, std::string text);

  struct Result {
    // -h or --help was given: the caller prints Help() and does nothing else.
    bool help = false;
    // The arguments that are not flags, in order. In kStopAtPositional mode, the first
    // positional argument and everything after it.
    std::vector<std::string> positional;
  };

  enum class Mode {
    // Flags and positional arguments may be mixed.
    kInterspersed,
    // Parsing stops at the first positional argument: the rest belongs to a subcommand.
    kStopAtPositional,
  };

  // Returns INVALID_ARGUMENT naming the flag for an unknown flag, a missing value or a value of
  // the wrong type.
  absl::StatusOr<Result> Parse(const std::vector<std::string>& args,
                               Mode mode = Mode::kInterspersed);

  // Whether the flag `name` (without dashes) appeared on the command line, even with an empty
  // value; update commands build their field mask from this.
  bool IsSet(const std::string& name) const;

  // Whether `name` is a defined flag.
  bool Has(const std::string& name) const;
  // Whether `name` is a defined boolean flag (it takes no separate value).
  bool IsBool(const std::string& name) const;

  const std::string& usage() const { return usage_; }

  // "Usage: ...", the description, every flag with its one-line help, and the extra sections.
  std::string Help() const;

  // Just the flag lines, indented: for listing these flags inside another help.
  std::string FlagLines(bool with_help = false) const;

 private:
  struct Flag {
    std::string name;
    // Empty for boolean flags, which take no separate value.
    std::string value_name;
    std::string help;
    bool is_bool = false;
    bool repeated = false;
    std::function<absl::Status(const std::string&)> set;
  };

  void Add(Flag flag);
  absl::Status Apply(const std::string& name, const std::string& value);

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  std::map<std::string, size_t> index_;
  std::map<std::string, bool> seen_;
  std::vector<std::pair<std::string, std::string>> sections_;
};

// The value of a time flag such as --since: a Go-style duration ("30m", "1h") means that long
// before `now`, so "--since 1h" reads as "in the last hour"; an RFC 3339 time
// ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00") is taken as it is. INVALID_ARGUMENT
// naming `flag` for anything else, including negative durations (a future that "ago" cannot mean).
absl::StatusOr<absl::Time> ParseTimeOrAgo(const std::string& flag, const std::string& text,
                                          absl::Time now);

}  // namespace hookd::hookctl
