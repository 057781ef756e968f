// hookctl event-types ...: EventTypeService.

#include <utility>

#include "cli.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "output.h"

namespace hookd::hookctl {
namespace {

using v1::EventType;

void PrintEventType(std::ostream& out, const EventType& type) {
  PrintFields(out, {
                       {"name", type.name()},
                       {"description", type.description().empty() ? "-" : type.description()},
                       {"archived", type.archived() ? "true" : "false"},
                       {"schema", type.has_schema() ? type.schema() : "-"},
                   });
}

absl::Status Answer(Invocation& inv, const EventType& type) {
  if (inv.options().json) return inv.PrintJson(type);
  PrintEventType(inv.out(), type);
  return absl::OkStatus();
}

std::unique_ptr<v1::EventTypeService::Stub> Stub(Invocation& inv) {
  return v1::EventTypeService::NewStub(inv.channel());
}

absl::Status Create(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl event-types create NAME [--description D] [--schema JSON|@file]",
      "Adds an event type to the catalog publishers may use. NAME is dot-separated segments\n"
      "of [a-z0-9_-], e.g. video.ready; hookd.* names are hookd's own. Needs an admin token\n"
      "of every tenant.");
  std::string description;
  std::string schema;
  flags.AddString("description", "D", "Free text, up to 1000 characters.", &description);
  flags.AddString("schema", "JSON|@file",
                  "JSON Schema of the payload, as a JSON object or @ and a file holding it.",
                  &schema);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"NAME"}));
  if (parsed.help) return absl::OkStatus();

  v1::CreateEventTypeRequest request;
  EventType* type = request.mutable_event_type();
  type->set_name(parsed.positional[0]);
  type->set_description(description);
  if (flags.IsSet("schema")) {
    // `--schema @path`: JSON Schemas rarely fit a command line.
    HOOKD_ASSIGN_OR_RETURN(std::string text, ReadValueOrFile("schema", schema));
    // Checked here too so that a typo is reported with the flag's name before any request.
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      return inv.UsageError(flags, "--schema: not a JSON object");
    }
    type->set_schema(std::move(text));
  }
  grpc::ClientContext context;
  inv.Prepare(context);
  EventType created;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->CreateEventType(&context, request, &created)));
  return Answer(inv, created);
}

absl::Status List(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl event-types list [--include-archived] [--page-size N] [--page-token X] [--all]",
      "Lists event types ordered by name, a page at a time.");
  bool include_archived = false;
  flags.AddBool("include-archived", "Also list archived event types.", &include_archived);
  PageFlags paging;
  paging.Add(flags, "event types", 100);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();

  v1::ListEventTypesRequest request;
  request.set_include_archived(include_archived);
  request.set_page_size(paging.page_size);
  request.set_page_token(paging.page_token);
  auto stub = Stub(inv);
  v1::ListEventTypesResponse response;
  HOOKD_RETURN_IF_ERROR(ListPages(
      inv, request, paging.all,
      [&](grpc::ClientContext* context, const v1::ListEventTypesRequest& r,
          v1::ListEventTypesResponse* page) { return stub->ListEventTypes(context, r, page); },
      response));
  if (inv.options().json) return PrintListJson(inv, response, paging.all);
  Table table({"NAME", "ARCHIVED", "DESCRIPTION"});
  for (const EventType& type : response.event_types()) {
    table.AddRow({type.name(), type.archived() ? "true" : "false", type.description()});
  }
  table.Print(inv.out());
  PrintNextPageHint(inv.out(), "event types", response.next_page_token());
  return absl::OkStatus();
}

absl::Status Archive(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl event-types archive NAME",
      "Archives an event type: publishing it is refused from now on; apps keep their patterns.\n"
      "Needs an admin token of every tenant.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"NAME"}));
  if (parsed.help) return absl::OkStatus();
  v1::ArchiveEventTypeRequest request;
  request.set_name(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  EventType type;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->ArchiveEventType(&context, request, &type)));
  return Answer(inv, type);
}

}  // namespace

GroupSpec EventTypesGroup() {
  return {"event-types",
          "Manage the catalog of event types that publishers may use.",
          {
              {"create", "Add an event type.", Create},
              {"list", "List event types.", List},
              {"archive", "Archive an event type so it can no longer be published.", Archive},
          }};
}

}  // namespace hookd::hookctl
