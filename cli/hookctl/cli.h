#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flag_parser.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/tls.h"

// hookctl: `hookctl [global flags] <group> <command> [flags] [args]`. Each group (apps,
// event-types, events, deliveries, ...) is a list of commands; a command parses its own flags with
// a FlagParser and talks to the servers through the Invocation it is given.

namespace hookd::hookctl {

// Exit codes, the contract scripts rely on.
inline constexpr int kExitOk = 0;
// The server refused or failed the request, or it could not be reached.
inline constexpr int kExitFailure = 1;
// Unknown command or flag, missing or malformed argument.
inline constexpr int kExitUsage = 2;

// The global flags as typed, before the environment's defaults fill them in.
struct GlobalFlags {
  std::string server;
  std::string ingest_server;
  std::string token;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);
};

struct GlobalOptions {
  // host:port of hookd-subscription.
  std::string server;
  // host:port of hookd-ingest, which serves the events commands; a separate service and address.
  std::string ingest_server;
  // Bearer token; empty sends no authorization metadata.
  std::string token;
  // TLS: with a CA, both channels verify the servers against it and present the certificate
  // (mTLS) when one is set; without, they speak plaintext.
  TlsSettings tls;
  // Print answers as protobuf JSON instead of tables.
  bool json = false;
  // Deadline of each RPC.
  absl::Duration timeout = absl::Seconds(10);
};

// What one command run gets: the resolved global options, the output streams, and a channel
// made on first use (so that --help and usage errors never touch the network).
class Invocation {
 public:
  // `flags` as typed before the group, `options` resolved from them (ResolveGlobalOptions).
  Invocation(GlobalFlags flags, GlobalOptions options, std::ostream& out, std::ostream& err);

  // Parses the command's arguments and checks that it got exactly one positional argument per
  // name in `arg_names` (e.g. {"ID"}). A global flag may come among them, as with kubectl and gh
  // (`hookctl apps list --json`), unless the command has a flag of that name (`apps create
  // --timeout` is the app's delivery timeout, `audit list --token` a filter): it overrides the
  // one given before the group. With -h/--help, prints the help to out and returns
  // help = true: the command then returns OK without doing anything. Returns a usage error (see
  // UsageError) for an unknown flag, a malformed value, or a missing or extra argument.
  absl::StatusOr<FlagParser::Result> Parse(FlagParser& flags, const std::vector<std::string>& args,
                                           const std::vector<std::string>& arg_names);

  // An error that makes hookctl print `message` and the command's usage to stderr and exit 2.
  absl::Status UsageError(const FlagParser& flags, const std::string& message) const;

  // Sets the deadline and the bearer token of one call.
  void Prepare(grpc::ClientContext& context) const;

  // To hookd-subscription (options().server).
  std::shared_ptr<grpc::Channel> channel();
  // To hookd-ingest (options().ingest_server).
  std::shared_ptr<grpc::Channel> ingest_channel();

  // Prints `message` as protobuf JSON to out. INTERNAL if it cannot be converted.
  absl::Status PrintJson(const google::protobuf::Message& message);

  const GlobalOptions& options() const { return options_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

 private:
  GlobalFlags flags_;
  GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::Channel> ingest_channel_;
};

// The paging flags of a list command: --page-size, --page-token and --all.
struct PageFlags {
  int page_size = 0;
  std::string page_token;
  bool all = false;

  // `items` names what is listed ("apps"), `default_size` the server's default page size.
  void Add(FlagParser& flags, const std::string& items, int default_size);
};

// Calls a List RPC with `request` (`call` is e.g. `stub->ListApps` in a lambda), into `response`;
// with `all`, follows the page tokens and merges every page's items into `response`, which then
// has no next_page_token (every page was read).
template <typename Request, typename Response, typename Call>
absl::Status ListPages(Invocation& inv, Request request, bool all, Call call, Response& response) {
  while (true) {
    grpc::ClientContext context;
    inv.Prepare(context);
    Response page;
    HOOKD_RETURN_IF_ERROR(FromGrpcStatus(call(&context, request, &page)));
    if (!all) {
      response = std::move(page);
      return absl::OkStatus();
    }
    const std::string next = page.next_page_token();
    response.MergeFrom(page);
    // A repeated token would loop forever; it can only come from a broken server.
    if (next.empty() || next == request.page_token()) break;
    request.set_page_token(next);
  }
  response.clear_next_page_token();
  return absl::OkStatus();
}

// Prints a List answer as protobuf JSON; after ListPages with `all`, without next_page_token.
absl::Status PrintListJson(Invocation& inv, const google::protobuf::Message& response, bool all);

// A list command whose one filter is --tenant (apps list, tokens list): adds that flag (its help
// `tenant_help`) and the paging flags of `items` to `flags`, parses `args`, and reads the pages
// (every one with --all) through `call` into `response`, printed as JSON with --json. Returns
// whether the caller prints its table: false after --help or --json.
template <typename Request, typename Response, typename Call>
absl::StatusOr<bool> ListOfTenant(Invocation& inv, FlagParser& flags,
                                  const std::vector<std::string>& args, const std::string& items,
                                  const std::string& tenant_help, Call call, Response& response) {
  std::string tenant;
  flags.AddString("tenant", "T", tenant_help, &tenant);
  PageFlags paging;
  paging.Add(flags, items, 50);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return false;
  Request request;
  request.set_tenant(tenant);
  request.set_page_size(paging.page_size);
  request.set_page_token(paging.page_token);
  HOOKD_RETURN_IF_ERROR(ListPages(inv, request, paging.all, call, response));
  if (!inv.options().json) return true;
  HOOKD_RETURN_IF_ERROR(PrintListJson(inv, response, paging.all));
  return false;
}

// A command runs with the arguments after its name; returns the RPC's status, or a UsageError.
using CommandFn = absl::Status (*)(Invocation& invocation, const std::vector<std::string>& args);

struct CommandSpec {
  std::string name;
  // One line for the group's help.
  std::string summary;
  CommandFn run;
};

struct GroupSpec {
  std::string name;
  std::string summary;
  std::vector<CommandSpec> commands;
};

// The groups, each defined next to its commands.
GroupSpec AppsGroup();
GroupSpec EventTypesGroup();
GroupSpec EventsGroup();
GroupSpec DeliveriesGroup();
GroupSpec TokensGroup();
GroupSpec AuditGroup();
GroupSpec HealthGroup();
GroupSpec CompletionGroup();

// Every group, in the order of the top-level help.
std::vector<GroupSpec> Groups();

// The "Global flags" help section every command's help ends with.
std::string GlobalFlagsHelp();

// A parser for one command whose help ends with the global flags.
FlagParser CommandFlags(std::string usage, std::string description);

// The value of a flag that takes `TEXT|@file`: `value` itself, or for `@path` the bytes of that
// file unchanged. NOT_FOUND naming `flag` when the file cannot be read.
absl::StatusOr<std::string> ReadValueOrFile(const std::string& flag, const std::string& value);

// Runs hookctl with the arguments after the program name, writing answers to `out` and errors
// to `err`. Returns the exit code: kExitOk, kExitFailure or kExitUsage.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace hookd::hookctl
