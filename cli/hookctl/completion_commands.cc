// hookctl completion bash|zsh: a shell completion script for the groups, commands and flags.

#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli.h"

namespace hookd::hookctl {
namespace {

// The flags a command's help lists (its own, then the global ones), as they are typed. The help
// is the one list of them: each command builds its flags when it runs.
std::set<std::string> FlagsOf(const CommandSpec& command) {
  std::ostringstream out, err;
  Invocation help(GlobalFlags{}, GlobalOptions{}, out, err);
  // Asking for help stops at parsing: no request is sent.
  (void)command.run(help, {"--help"});
  static const std::regex kFlagLine(R"(^  (?:-[a-z], )?(--[a-z0-9-]+))");
  std::set<std::string> flags;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kFlagLine)) flags.insert(match[1]);
  }
  return flags;
}

// A bash function completing hookctl's words: the group, then its command, then the command's
// flags. Global flags that take a value may come before the group; their values are skipped.
std::string BashScript(const std::vector<GroupSpec>& groups) {
  std::vector<std::string> group_names, command_cases, flag_cases;
  for (const GroupSpec& group : groups) {
    group_names.push_back(group.name);
    std::vector<std::string> commands;
    for (const CommandSpec& command : group.commands) {
      commands.push_back(command.name);
      const std::set<std::string> flags = FlagsOf(command);
      flag_cases.push_back(absl::StrCat("    \"", group.name, " ", command.name, "\") words=\"",
                                        absl::StrJoin(flags, " "), "\" ;;\n"));
    }
    command_cases.push_back(
        absl::StrCat("    ", group.name, ") words=\"", absl::StrJoin(commands, " "), "\" ;;\n"));
  }
  std::set<std::string> global_flags;  // those taking a value
  {
    static const std::regex kGlobalFlag(R"(^  (--[a-z0-9-]+) [A-Z])");
    std::istringstream lines(GlobalFlagsHelp());
    for (std::string line; std::getline(lines, line);) {
      std::smatch match;
      if (std::regex_search(line, match, kGlobalFlag)) global_flags.insert(match[1]);
    }
  }
  return absl::StrCat(
      "# hookctl completion for bash: source <(hookctl completion bash)\n"
      "_hookctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" words=\"\" i w skip=0\n"
      "  local -a found=()\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=\"${COMP_WORDS[i]}\"\n"
      "    if [ \"$skip\" = 1 ]; then skip=0; continue; fi\n"
      "    case \"$w\" in\n"
      "      ",
      absl::StrJoin(global_flags, "|"),
      ") [ \"${#found[@]}\" -lt 2 ] && skip=1 ;;\n"
      "      -*) ;;\n"
      "      *) found+=(\"$w\") ;;\n"
      "    esac\n"
      "  done\n"
      "  if [ \"${#found[@]}\" = 0 ]; then\n"
      "    words=\"",
      absl::StrJoin(group_names, " "), " --help\"\n",
      "  elif [ \"${#found[@]}\" = 1 ]; then\n"
      "    case \"${found[0]}\" in\n",
      absl::StrJoin(command_cases, ""),
      "    esac\n"
      "  else\n"
      "    case \"${found[0]} ${found[1]}\" in\n",
      absl::StrJoin(flag_cases, ""),
      "    esac\n"
      "  fi\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "}\n"
      "complete -F _hookctl hookctl\n");
}

absl::Status Print(Invocation& inv, const std::vector<std::string>& args,
                   const std::string& shell) {
  FlagParser flags = CommandFlags(
      absl::StrCat("hookctl completion ", shell),
      shell == "bash"
          ? "Prints a bash completion script: source <(hookctl completion bash), or save it in\n"
            "/etc/bash_completion.d/hookctl."
          : "Prints a zsh completion script (bash's, through bashcompinit): source <(hookctl\n"
            "completion zsh) in ~/.zshrc.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  if (shell == "zsh")
    inv.out() << "#compdef hookctl\nautoload -U +X bashcompinit && bashcompinit\n";
  inv.out() << BashScript(Groups());
  return absl::OkStatus();
}

}  // namespace

GroupSpec CompletionGroup() {
  return {"completion",
          "Print a shell completion script.",
          {
              {"bash", "A bash completion script.",
               [](Invocation& inv, const std::vector<std::string>& args) {
                 return Print(inv, args, "bash");
               }},
              {"zsh", "A zsh completion script.",
               [](Invocation& inv, const std::vector<std::string>& args) {
                 return Print(inv, args, "zsh");
               }},
          }};
}

}  // namespace hookd::hookctl
