#include "flag_parser.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hookd/common/config.h"

namespace hookd::hookctl {
namespace {

bool IsHelpArg(const std::string& arg) { return arg == "-h" || arg == "--help"; }

// How the flag is written in help and errors: `-o`, `--tenant`.
std::string Dashed(const std::string& name) { return (name.size() == 1 ? "-" : "--") + name; }

}  // namespace

FlagParser::FlagParser(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

void FlagParser::Add(Flag flag) {
  index_[flag.name] = flags_.size();
  flags_.push_back(std::move(flag));
}

void FlagParser::AddString(std::string name, std::string value_name, std::string help,
                           std::string* value) {
  Add({std::move(name), std::move(value_name), std::move(help), false, false,
       [value](const std::string& v) {
         *value = v;
         return absl::OkStatus();
       }});
}

void FlagParser::AddStrings(std::string name, std::string value_name, std::string help,
                            std::vector<std::string>* values) {
  Add({std::move(name), std::move(value_name), std::move(help), false, true,
       [values](const std::string& v) {
         values->push_back(v);
         return absl::OkStatus();
       }});
}

void FlagParser::AddBool(std::string name, std::string help, bool* value) {
  std::string flag_name = name;
  Add({std::move(name), "", std::move(help), true, false,
       [value, flag_name](const std::string& v) -> absl::Status {
         absl::StatusOr<bool> parsed = ParseBool("--" + flag_name, v);
         if (!parsed.ok()) return parsed.status();
         *value = *parsed;
         return absl::OkStatus();
       }});
}

void FlagParser::AddInt(std::string name, std::string value_name, std::string help, int* value) {
  std::string flag_name = name;
  Add({std::move(name), std::move(value_name), std::move(help), false, false,
       [value, flag_name](const std::string& v) -> absl::Status {
         if (!absl::SimpleAtoi(v, value)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--", flag_name, ": \"", v, "\" is not an integer"));
         }
         return absl::OkStatus();
       }});
}

void FlagParser::AddDuration(std::string name, std::string value_name, std::string help,
                             absl::Duration* value) {
  std::string flag_name = name;
  Add({std::move(name), std::move(value_name), std::move(help), false, false,
       [value, flag_name](const std::string& v) -> absl::Status {
         if (!absl::ParseDuration(v, value) || *value == absl::InfiniteDuration() ||
             *value == -absl::InfiniteDuration()) {
           return absl::InvalidArgumentError(absl::StrCat(
               "--", flag_name, ": \"", v, "\" is not a duration such as 500ms, 10s, 5m, 1h30m"));
         }
         return absl::OkStatus();
       }});
}

void FlagParser::AddTime(std::string name, std::string value_name, std::string help,
                         absl::Time* value) {
  std::string flag_name = name;
  Add({std::move(name), std::move(value_name), std::move(help), false, false,
       [value, flag_name](const std::string& v) -> absl::Status {
         absl::StatusOr<absl::Time> parsed = ParseTimeOrAgo(flag_name, v, absl::Now());
         if (!parsed.ok()) return parsed.status();
         *value = *parsed;
         return absl::OkStatus();
       }});
}

void FlagParser::AddHelpSection(std::string title, std::string text) {
  sections_.emplace_back(std::move(title), std::move(text));
}

absl::Status FlagParser::Apply(const std::string& name, const std::string& value) {
  seen_[name] = true;
  return flags_[index_.at(name)].set(value);
}

absl::StatusOr<FlagParser::Result> FlagParser::Parse(const std::vector<std::string>& args,
                                                     Mode mode) {
  Result result;
  // The first problem is reported only after the whole line was scanned: -h or --help anywhere
  // wins, since someone asking for help is still learning the syntax.
  absl::Status first_error;
  auto fail = [&first_error](absl::Status error) {
    if (first_error.ok()) first_error = std::move(error);
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      result.positional.insert(result.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (IsHelpArg(arg)) {
      result.help = true;
      continue;
    }
    // A lone "-" is an argument (conventionally stdin), not a flag.
    if (arg.size() < 2 || arg[0] != '-') {
      if (mode == Mode::kStopAtPositional) {
        result.positional.insert(result.positional.end(), args.begin() + i, args.end());
        break;
      }
      result.positional.push_back(arg);
      continue;
    }
    // Both "--flag" and "-flag" name a long flag, as Go and Abseil flags accept them.
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    auto it = index_.find(name);
    if (it == index_.end()) {
      fail(absl::InvalidArgumentError(absl::StrCat("unknown flag ", Dashed(name))));
      continue;
    }
    const Flag& flag = flags_[it->second];
    if (!has_value) {
      if (flag.is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        // The next argument is the value even when it starts with '-', so that values such as
        // "-1" or a description starting with a dash need no '='.
        value = args[++i];
      } else {
        fail(absl::InvalidArgumentError(
            absl::StrCat("flag ", Dashed(name), " needs a value (", flag.value_name, ")")));
        continue;
      }
    }
    if (absl::Status applied = Apply(name, value); !applied.ok()) fail(std::move(applied));
  }
  if (!result.help && !first_error.ok()) return first_error;
  return result;
}

bool FlagParser::IsSet(const std::string& name) const {
  auto it = seen_.find(name);
  return it != seen_.end() && it->second;
}

bool FlagParser::Has(const std::string& name) const { return index_.count(name) > 0; }

bool FlagParser::IsBool(const std::string& name) const {
  auto it = index_.find(name);
  return it != index_.end() && flags_[it->second].is_bool;
}

std::string FlagParser::FlagLines(bool with_help) const {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Flag& flag : flags_) {
    std::string left = Dashed(flag.name);
    if (!flag.value_name.empty()) absl::StrAppend(&left, " ", flag.value_name);
    std::string help = flag.help;
    if (flag.repeated) absl::StrAppend(&help, " Repeatable.");
    rows.emplace_back(std::move(left), std::move(help));
  }
  if (with_help) rows.emplace_back("-h, --help", "Show this help.");
  // A flag with a long placeholder gets its help on the next line instead of pushing every
  // help text far to the right.
  constexpr size_t kMaxWidth = 26;
  size_t width = 0;
  for (const auto& row : rows) {
    if (row.first.size() <= kMaxWidth) width = std::max(width, row.first.size());
  }
  std::string out;
  for (const auto& [left, help] : rows) {
    if (left.size() > width) {
      absl::StrAppend(&out, "  ", left, "\n", std::string(width + 5, ' '), help, "\n");
    } else {
      absl::StrAppend(&out, "  ", left, std::string(width - left.size() + 3, ' '), help, "\n");
    }
  }
  return out;
}

std::string FlagParser::Help() const {
  std::string out = absl::StrCat("Usage: ", usage_, "\n");
  if (!description_.empty()) absl::StrAppend(&out, "\n", description_, "\n");
  absl::StrAppend(&out, "\nFlags:\n", FlagLines(/*with_help=*/true));
  for (const auto& [title, text] : sections_) {
    absl::StrAppend(&out, "\n", title, ":\n", text);
    if (!text.empty() && text.back() != '\n') out.push_back('\n');
  }
  return out;
}

absl::StatusOr<absl::Time> ParseTimeOrAgo(const std::string& flag, const std::string& text,
                                          absl::Time now) {
  absl::Duration ago;
  if (absl::ParseDuration(text, &ago)) {
    if (ago >= absl::ZeroDuration() && ago != absl::InfiniteDuration()) return now - ago;
  } else {
    absl::Time time;
    std::string error;
    // ParseTime also takes "infinite-future" and "infinite-past", which no server accepts.
    if (absl::ParseTime(absl::RFC3339_full, text, &time, &error) &&
        time != absl::InfiniteFuture() && time != absl::InfinitePast()) {
      return time;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Dashed(flag), ": \"", text,
                   "\" is neither a duration such as 30m or 2h (meaning that long ago) nor an RFC "
                   "3339 time such as 2024-05-01T12:00:00Z"));
}

}  // namespace hookd::hookctl
