#include "cli.h"

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "hookd/common/config.h"
#include "nlohmann/json.hpp"
#include "output.h"

namespace hookd::hookctl {
namespace {

constexpr char kDefaultServer[] = "127.0.0.1:50051";
constexpr char kDefaultIngestServer[] = "127.0.0.1:50052";
// Marks a status as a usage error; the payload is the usage text to print.
constexpr char kUsagePayload[] = "type.hookd.dev/hookctl.Usage";

const char kDescription[] =
    "hookctl is the operator CLI of hookd, a webhook delivery cluster: it manages webhook apps\n"
    "and event types and inspects and re-sends deliveries through hookd-subscription's gRPC API,\n"
    "publishes and looks up events through hookd-ingest's, issues API tokens and reads the audit "
    "log.";

const char kTrailer[] =
    "Environment:\n"
    "  HOOKD_SERVER          default of --server\n"
    "  HOOKD_INGEST_SERVER   default of --ingest-server\n"
    "  HOOKD_TOKEN           default of --token\n"
    "  HOOKD_TLS_CA          default of --tls-ca\n"
    "  HOOKD_TLS_CERT        default of --tls-cert\n"
    "  HOOKD_TLS_KEY         default of --tls-key\n"
    "\n"
    "Exit status: 0 on success; 1 when the request failed, printed as\n"
    "\"hookctl: <GRPC_CODE>: <message>\" on stderr; 2 for a usage error.\n";

void AddGlobalFlags(FlagParser& parser, GlobalFlags& flags) {
  parser.AddString("server", "ADDR",
                   absl::StrCat("hookd-subscription address host:port (default $HOOKD_SERVER, "
                                "else ",
                                kDefaultServer, ")."),
                   &flags.server);
  parser.AddString("ingest-server", "ADDR",
                   absl::StrCat("hookd-ingest address host:port, used by the events commands "
                                "(default $HOOKD_INGEST_SERVER, else ",
                                kDefaultIngestServer, ")."),
                   &flags.ingest_server);
  parser.AddString("token", "TOKEN",
                   "Bearer token sent as `authorization: Bearer <token>` (default $HOOKD_TOKEN).",
                   &flags.token);
  parser.AddString("tls-ca", "FILE",
                   "PEM CAs to verify the servers against; set, hookctl speaks TLS (default "
                   "$HOOKD_TLS_CA).",
                   &flags.tls_ca);
  parser.AddString("tls-cert", "FILE",
                   "PEM client certificate for servers that require one (mTLS) (default "
                   "$HOOKD_TLS_CERT).",
                   &flags.tls_cert);
  parser.AddString("tls-key", "FILE", "PEM key of --tls-cert (default $HOOKD_TLS_KEY).",
                   &flags.tls_key);
  parser.AddBool("json", "Print the answer as protobuf JSON (proto field names) for scripts.",
                 &flags.json);
  parser.AddDuration("timeout", "DURATION", "Deadline of each request, e.g. 30s (default 10s).",
                     &flags.timeout);
}

// The options `flags` give, the environment filling in what they leave out; INVALID_ARGUMENT
// naming the flag when they cannot work.
absl::StatusOr<GlobalOptions> ResolveGlobalOptions(const GlobalFlags& flags) {
  if (flags.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  GlobalOptions options;
  options.server = FlagOrEnv(flags.server, "HOOKD_SERVER", kDefaultServer);
  options.ingest_server =
      FlagOrEnv(flags.ingest_server, "HOOKD_INGEST_SERVER", kDefaultIngestServer);
  options.token = FlagOrEnv(flags.token, "HOOKD_TOKEN");
  options.tls.ca_file = FlagOrEnv(flags.tls_ca, "HOOKD_TLS_CA");
  options.tls.cert_file = FlagOrEnv(flags.tls_cert, "HOOKD_TLS_CERT");
  options.tls.key_file = FlagOrEnv(flags.tls_key, "HOOKD_TLS_KEY");
  if ((!options.tls.cert_file.empty() || !options.tls.key_file.empty()) &&
      options.tls.ca_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key need --tls-ca (or $HOOKD_TLS_CA)");
  }
  // Checked here, so that a bad file is named rather than failing every handshake.
  HOOKD_RETURN_IF_ERROR(
      CheckTlsFiles(options.tls, {.cert = "--tls-cert", .key = "--tls-key", .ca = "--tls-ca"}));
  options.json = flags.json;
  options.timeout = flags.timeout;
  return options;
}

absl::Status MakeUsageError(const std::string& message, const std::string& usage) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord(usage));
  return status;
}

std::string TopLevelHelp(const FlagParser& global, const std::vector<GroupSpec>& groups) {
  std::string out =
      absl::StrCat("Usage: ", global.usage(), "\n\n", kDescription, "\n\nCommands:\n");
  size_t width = 0;
  for (const GroupSpec& group : groups) {
    for (const CommandSpec& command : group.commands) {
      width = std::max(width, group.name.size() + 1 + command.name.size());
    }
  }
  for (const GroupSpec& group : groups) {
    for (const CommandSpec& command : group.commands) {
      std::string name = absl::StrCat(group.name, " ", command.name);
      absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 3, ' '), command.summary,
                      "\n");
    }
  }
  absl::StrAppend(&out,
                  "\nRun \"hookctl <group> --help\" or \"hookctl <group> <command> --help\" for "
                  "details.\n\nGlobal flags:\n",
                  global.FlagLines(/*with_help=*/true), "\n", kTrailer);
  return out;
}

std::string GroupHelp(const GroupSpec& group) {
  std::string out = absl::StrCat("Usage: hookctl [global flags] ", group.name,
                                 " <command> [flags] [args]\n\n", group.summary, "\n\nCommands:\n");
  size_t width = 0;
  for (const CommandSpec& command : group.commands) width = std::max(width, command.name.size());
  for (const CommandSpec& command : group.commands) {
    absl::StrAppend(&out, "  ", command.name, std::string(width - command.name.size() + 3, ' '),
                    command.summary, "\n");
  }
  absl::StrAppend(
      &out, "\nRun \"hookctl ", group.name,
      " <command> --help\" for the flags of a command.\n\nGlobal flags (before the group or "
      "among the command's flags):\n",
      GlobalFlagsHelp());
  return out;
}

int Report(const absl::Status& status, std::ostream& err) {
  if (status.ok()) return kExitOk;
  if (auto usage = status.GetPayload(kUsagePayload); usage.has_value()) {
    err << "hookctl: " << status.message() << "\n\n" << std::string(*usage);
    return kExitUsage;
  }
  err << "hookctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << "\n";
  return kExitFailure;
}

}  // namespace

std::string GlobalFlagsHelp() {
  FlagParser parser("", "");
  GlobalFlags flags;
  AddGlobalFlags(parser, flags);
  return absl::StrCat(parser.FlagLines(), "\n", kTrailer);
}

FlagParser CommandFlags(std::string usage, std::string description) {
  FlagParser parser(std::move(usage), std::move(description));
  parser.AddHelpSection("Global flags (here too, unless the command has a flag of that name)",
                        GlobalFlagsHelp());
  return parser;
}

void PageFlags::Add(FlagParser& flags, const std::string& items, int default_size) {
  std::string what = items;
  what[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(what[0])));
  flags.AddInt("page-size", "N",
               absl::StrCat(what, " per page, 1..1000 (default ", default_size, ")."), &page_size);
  flags.AddString("page-token", "X", "Continue from the page token a previous list printed.",
                  &page_token);
  flags.AddBool("all", absl::StrCat("Follow the page tokens and list every ", items, "."), &all);
}

absl::Status PrintListJson(Invocation& inv, const google::protobuf::Message& response, bool all) {
  if (!all) return inv.PrintJson(response);
  HOOKD_ASSIGN_OR_RETURN(std::string json, ToJson(response));
  // Every page was followed, so there is no token to continue from.
  auto object = nlohmann::ordered_json::parse(json);
  object.erase("next_page_token");
  inv.out() << object.dump(1) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadValueOrFile(const std::string& flag, const std::string& value) {
  if (value.empty() || value[0] != '@') return value;
  const std::string path = value.substr(1);
  // Binary mode and no parsing: the bytes are passed on exactly as the file holds them.
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read ", path));
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

Invocation::Invocation(GlobalFlags flags, GlobalOptions options, std::ostream& out,
                       std::ostream& err)
    : flags_(std::move(flags)), options_(std::move(options)), out_(out), err_(err) {}

absl::StatusOr<FlagParser::Result> Invocation::Parse(FlagParser& flags,
                                                     const std::vector<std::string>& args,
                                                     const std::vector<std::string>& arg_names) {
  // The global flags among the command's arguments (up to "--"), unless the command has its own
  // of that name; a global that takes a value takes the next argument when it has no "=".
  FlagParser globals("", "");
  GlobalFlags late = flags_;
  AddGlobalFlags(globals, late);
  std::vector<std::string> own, global_args;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      own.insert(own.end(), args.begin() + i, args.end());
      break;
    }
    std::string name;
    if (arg.size() >= 2 && arg[0] == '-') {
      name = arg.substr(arg[1] == '-' ? 2 : 1);
      name = name.substr(0, name.find('='));
    }
    if (name.empty() || !globals.Has(name) || flags.Has(name)) {
      own.push_back(arg);
      continue;
    }
    global_args.push_back(arg);
    if (arg.find('=') == std::string::npos && !globals.IsBool(name) && i + 1 < args.size()) {
      global_args.push_back(args[++i]);
    }
  }
  if (!global_args.empty()) {
    absl::StatusOr<FlagParser::Result> parsed = globals.Parse(global_args);
    if (!parsed.ok()) return UsageError(flags, std::string(parsed.status().message()));
    absl::StatusOr<GlobalOptions> options = ResolveGlobalOptions(late);
    if (!options.ok()) return UsageError(flags, std::string(options.status().message()));
    flags_ = late;
    options_ = *std::move(options);
  }
  absl::StatusOr<FlagParser::Result> result = flags.Parse(own);
  if (!result.ok()) return UsageError(flags, std::string(result.status().message()));
  if (result->help) {
    out_ << flags.Help();
    return result;
  }
  const size_t count = result->positional.size();
  if (count < arg_names.size()) return UsageError(flags, "missing " + arg_names[count]);
  if (count > arg_names.size()) {
    return UsageError(
        flags, absl::StrCat("unexpected argument \"", result->positional[arg_names.size()], "\""));
  }
  return result;
}

absl::Status Invocation::UsageError(const FlagParser& flags, const std::string& message) const {
  return MakeUsageError(message, flags.Help());
}

void Invocation::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMicroseconds(options_.timeout));
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.token);
  }
}

std::shared_ptr<grpc::Channel> Invocation::channel() {
  if (channel_ == nullptr) {
    channel_ = grpc::CreateChannel(options_.server, ChannelCredentialsFor(options_.tls));
  }
  return channel_;
}

std::shared_ptr<grpc::Channel> Invocation::ingest_channel() {
  if (ingest_channel_ == nullptr) {
    ingest_channel_ =
        grpc::CreateChannel(options_.ingest_server, ChannelCredentialsFor(options_.tls));
  }
  return ingest_channel_;
}

absl::Status Invocation::PrintJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return json.status();
  out_ << *json;
  return absl::OkStatus();
}

std::vector<GroupSpec> Groups() {
  return {AppsGroup(),   EventTypesGroup(), EventsGroup(), DeliveriesGroup(),
          TokensGroup(), AuditGroup(),      HealthGroup(), CompletionGroup()};
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::vector<GroupSpec> groups = Groups();

  FlagParser global(
      "hookctl [--server ADDR] [--ingest-server ADDR] [--token TOKEN] [--json] [--timeout 10s] "
      "<group> <command> [flags] [args]",
      kDescription);
  GlobalFlags flags;
  AddGlobalFlags(global, flags);
  const std::string top_help = TopLevelHelp(global, groups);

  absl::StatusOr<FlagParser::Result> parsed =
      global.Parse(args, FlagParser::Mode::kStopAtPositional);
  if (!parsed.ok()) {
    return Report(MakeUsageError(std::string(parsed.status().message()), top_help), err);
  }
  if (parsed->help) {
    out << top_help;
    return kExitOk;
  }
  std::vector<std::string> rest = std::move(parsed->positional);
  if (rest.empty()) return Report(MakeUsageError("missing command", top_help), err);

  const GroupSpec* group = nullptr;
  for (const GroupSpec& candidate : groups) {
    if (candidate.name == rest[0]) group = &candidate;
  }
  if (group == nullptr) {
    return Report(MakeUsageError(absl::StrCat("unknown command \"", rest[0], "\""), top_help), err);
  }
  const std::string group_help = GroupHelp(*group);
  if (rest.size() < 2) return Report(MakeUsageError("missing command", group_help), err);
  if (rest[1] == "-h" || rest[1] == "--help") {
    out << group_help;
    return kExitOk;
  }
  const CommandSpec* command = nullptr;
  for (const CommandSpec& candidate : group->commands) {
    if (candidate.name == rest[1]) command = &candidate;
  }
  if (command == nullptr) {
    return Report(
        MakeUsageError(absl::StrCat("unknown command \"", group->name, " ", rest[1], "\""),
                       group_help),
        err);
  }

  absl::StatusOr<GlobalOptions> options = ResolveGlobalOptions(flags);
  if (!options.ok()) {
    return Report(MakeUsageError(std::string(options.status().message()), top_help), err);
  }
  Invocation invocation(flags, *std::move(options), out, err);
  return Report(command->run(invocation, std::vector<std::string>(rest.begin() + 2, rest.end())),
                err);
}

}  // namespace hookd::hookctl
