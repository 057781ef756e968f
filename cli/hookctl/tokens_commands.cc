// hookctl tokens ...: TokenService.

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "cli.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/v1/token.grpc.pb.h"
#include "output.h"

namespace hookd::hookctl {
namespace {

using v1::Token;

constexpr char kRoles[] = "admin, manager, publisher or viewer";

std::string TimeOrDash(bool set, const google::protobuf::Timestamp& time) {
  return set ? FormatTimestamp(time) : "-";
}

absl::Status Answer(Invocation& inv, const Token& token) {
  if (inv.options().json) return inv.PrintJson(token);
  PrintFields(inv.out(),
              {
                  {"id", token.id()},
                  {"name", token.name()},
                  {"role", RoleText(token.role())},
                  {"tenant", token.tenant().empty() ? "(every tenant)" : token.tenant()},
                  {"created", FormatTimestamp(token.create_time())},
                  {"created by", token.created_by()},
                  {"expires", TimeOrDash(token.has_expire_time(), token.expire_time())},
                  {"revoked", TimeOrDash(token.has_revoke_time(), token.revoke_time())},
                  {"last used", TimeOrDash(token.has_last_use_time(), token.last_use_time())},
              });
  if (!token.secret().empty()) {
    inv.out() << "\ntoken: " << token.secret()
              << "\nSend it as `authorization: Bearer <token>`. It is shown this once: hookd keeps "
                 "only its hash.\n";
  }
  return absl::OkStatus();
}

std::unique_ptr<v1::TokenService::Stub> Stub(Invocation& inv) {
  return v1::TokenService::NewStub(inv.channel());
}

absl::Status Create(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl tokens create NAME --role ROLE [--tenant T] [--expires-in DURATION]",
      "Issues an API token and prints it once. ROLE is admin, manager, publisher or viewer\n"
      "(README \"Tokens and roles\"); with --tenant the token sees that tenant only. Needs an\n"
      "admin token; a tenant's admin issues tokens of its own tenant only.");
  std::string role;
  std::string tenant;
  absl::Duration expires_in = absl::ZeroDuration();
  flags.AddString("role", "ROLE", absl::StrCat("What the token may do: ", kRoles, "."), &role);
  flags.AddString("tenant", "T", "The one tenant the token sees (default: every tenant).", &tenant);
  flags.AddDuration("expires-in", "DURATION",
                    "The token stops working this long from now, e.g. 720h (default: never).",
                    &expires_in);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"NAME"}));
  if (parsed.help) return absl::OkStatus();
  v1::Role parsed_role = v1::ROLE_UNSPECIFIED;
  if (!v1::Role_Parse("ROLE_" + absl::AsciiStrToUpper(role), &parsed_role) ||
      parsed_role == v1::ROLE_UNSPECIFIED) {
    return inv.UsageError(flags, absl::StrCat("--role: must be ", kRoles));
  }
  if (flags.IsSet("expires-in") && expires_in <= absl::ZeroDuration()) {
    return inv.UsageError(flags, "--expires-in: must be positive");
  }

  v1::CreateTokenRequest request;
  Token* token = request.mutable_token();
  token->set_name(parsed.positional[0]);
  token->set_role(parsed_role);
  token->set_tenant(tenant);
  if (flags.IsSet("expires-in")) *token->mutable_expire_time() = ToProto(absl::Now() + expires_in);
  grpc::ClientContext context;
  inv.Prepare(context);
  Token created;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->CreateToken(&context, request, &created)));
  return Answer(inv, created);
}

absl::Status List(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags =
      CommandFlags("hookctl tokens list [--tenant T] [--page-size N] [--page-token X] [--all]",
                   "Lists API tokens ordered by id, revoked ones included; never their text.");
  v1::ListTokensResponse response;
  HOOKD_ASSIGN_OR_RETURN(
      bool print_table,
      ListOfTenant<v1::ListTokensRequest>(
          inv, flags, args, "tokens", "Only tokens of this tenant.",
          [&](grpc::ClientContext* context, const v1::ListTokensRequest& r,
              v1::ListTokensResponse* page) { return Stub(inv)->ListTokens(context, r, page); },
          response));
  if (!print_table) return absl::OkStatus();
  Table table({"ID", "NAME", "ROLE", "TENANT", "EXPIRES", "REVOKED", "LAST USED"});
  for (const Token& token : response.tokens()) {
    table.AddRow({token.id(), token.name(), RoleText(token.role()),
                  token.tenant().empty() ? "*" : token.tenant(),
                  TimeOrDash(token.has_expire_time(), token.expire_time()),
                  TimeOrDash(token.has_revoke_time(), token.revoke_time()),
                  TimeOrDash(token.has_last_use_time(), token.last_use_time())});
  }
  table.Print(inv.out());
  PrintNextPageHint(inv.out(), "tokens", response.next_page_token());
  return absl::OkStatus();
}

absl::Status Revoke(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl tokens revoke ID",
      "Revokes a token: every replica of every hookd service refuses it within a second.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::RevokeTokenRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  Token token;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->RevokeToken(&context, request, &token)));
  return Answer(inv, token);
}

}  // namespace

GroupSpec TokensGroup() {
  return {"tokens",
          "Issue, list and revoke API tokens (roles and tenants).",
          {
              {"create", "Issue a token.", Create},
              {"list", "List tokens.", List},
              {"revoke", "Revoke a token.", Revoke},
          }};
}

}  // namespace hookd::hookctl
