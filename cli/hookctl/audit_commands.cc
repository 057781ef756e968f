// hookctl audit ...: AuditService.

#include <utility>

#include "cli.h"
#include "hookd/common/status.h"
#include "hookd/v1/audit.grpc.pb.h"
#include "output.h"

namespace hookd::hookctl {
namespace {

absl::Status List(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl audit list [--tenant T] [--action A] [--resource R] [--token ID] [--since T] "
      "[--until T] [--page-size N] [--page-token X] [--all]",
      "Lists the audit log newest first: who changed what, when, and the request id. --since\n"
      "and --until take an RFC 3339 time, or a duration such as 30m or 1h meaning that long\n"
      "ago. Needs an admin token; a tenant's admin sees its own tenant.");
  std::string tenant;
  std::string action;
  std::string resource;
  std::string token_id;
  absl::Time since;
  absl::Time until;
  flags.AddString("tenant", "T", "Only changes of this tenant.", &tenant);
  flags.AddString("action", "A", "Only this action, e.g. app.delete or token.revoke.", &action);
  flags.AddString("resource", "R", "Only changes of this app, delivery, token or event type.",
                  &resource);
  flags.AddString("token", "ID", "Only changes made with this token id (bootstrap: the admin's).",
                  &token_id);
  flags.AddTime("since", "T", "Changes at or after T.", &since);
  flags.AddTime("until", "T", "Changes before T, in the same forms as --since.", &until);
  PageFlags paging;
  paging.Add(flags, "entries", 100);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();

  v1::ListAuditEventsRequest request;
  request.set_tenant(tenant);
  request.set_action(action);
  request.set_resource(resource);
  request.set_token_id(token_id);
  if (flags.IsSet("since")) *request.mutable_since() = ToProto(since);
  if (flags.IsSet("until")) *request.mutable_until() = ToProto(until);
  request.set_page_size(paging.page_size);
  request.set_page_token(paging.page_token);
  auto stub = v1::AuditService::NewStub(inv.channel());
  v1::ListAuditEventsResponse response;
  HOOKD_RETURN_IF_ERROR(ListPages(
      inv, request, paging.all,
      [&](grpc::ClientContext* context, const v1::ListAuditEventsRequest& r,
          v1::ListAuditEventsResponse* page) { return stub->ListAuditEvents(context, r, page); },
      response));
  if (inv.options().json) return PrintListJson(inv, response, paging.all);
  Table table({"TIME", "TOKEN", "ROLE", "ACTION", "RESOURCE", "TENANT", "REQUEST", "DETAIL"});
  for (const v1::AuditEvent& event : response.events()) {
    table.AddRow({FormatTimestamp(event.time()), event.token_id(), RoleText(event.role()),
                  event.action(), event.resource(), event.tenant().empty() ? "-" : event.tenant(),
                  event.request_id(), event.detail().empty() ? "-" : event.detail()});
  }
  table.Print(inv.out());
  PrintNextPageHint(inv.out(), "entries", response.next_page_token());
  return absl::OkStatus();
}

}  // namespace

GroupSpec AuditGroup() {
  return {"audit",
          "Read the audit log of changes.",
          {
              {"list", "List audit log entries.", List},
          }};
}

}  // namespace hookd::hookctl
