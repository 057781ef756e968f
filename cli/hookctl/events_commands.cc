// hookctl events ...: IngestService, served by hookd-ingest (--ingest-server), not by
// hookd-subscription like the other groups.

#include <utility>

#include "absl/strings/str_cat.h"
#include "cli.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "output.h"

namespace hookd::hookctl {
namespace {

using v1::Event;

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

void PrintEvent(std::ostream& out, const Event& event) {
  PrintFields(out, {
                       {"id", event.id()},
                       {"tenant", event.tenant()},
                       {"event_type", event.event_type()},
                       {"channels", JoinOrDash({event.channels().begin(), event.channels().end()})},
                       {"idempotency_key", OrDash(event.idempotency_key())},
                       {"delivery_count", absl::StrCat(event.delivery_count())},
                       {"create_time", FormatTimestamp(event.create_time())},
                       // Last: it is the one value that spans many lines. Indented for
                       // reading; --json prints the stored bytes instead.
                       {"payload", PrettyJson(event.payload())},
                   });
}

std::unique_ptr<v1::IngestService::Stub> Stub(Invocation& inv) {
  return v1::IngestService::NewStub(inv.ingest_channel());
}

absl::Status Publish(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl events publish --tenant T --type TYPE --data JSON|@file [--idempotency-key K] "
      "[--channel C]... [--traceparent TP] [--deliver-at T | --deliver-after D]",
      "Publishes one event through hookd-ingest (--ingest-server) and prints its id, how many\n"
      "deliveries it fanned out to, and whether its idempotency key was seen before. The payload\n"
      "is sent byte for byte as given: receivers get exactly these bytes.");
  std::string tenant;
  std::string type;
  std::string data;
  std::string idempotency_key;
  std::vector<std::string> channels;
  std::string traceparent;
  absl::Time deliver_at;
  absl::Duration deliver_after;
  flags.AddString("tenant", "T", "Tenant whose subscribed apps receive the event (required).",
                  &tenant);
  flags.AddString("type", "TYPE",
                  "Event type of the catalog, e.g. video.ready; must not be archived (required).",
                  &type);
  flags.AddString("data", "JSON|@file",
                  "Payload, a JSON object, or @ and a file holding it, read byte for byte "
                  "(required).",
                  &data);
  flags.AddString("idempotency-key", "K",
                  "A repeat within the idempotency window (default 24h) creates nothing and "
                  "answers the first event's id, duplicate true.",
                  &idempotency_key);
  flags.AddStrings("channel", "C",
                   "Only apps listing this channel (or no channels at all) receive the event.",
                   &channels);
  flags.AddString("traceparent", "TP",
                  "W3C trace context of the publisher, carried to the deliveries' headers.",
                  &traceparent);
  flags.AddTime("deliver-at", "T",
                "Deliver no earlier than T (RFC 3339, at most 7 days ahead); the deliveries wait "
                "as scheduled.",
                &deliver_at);
  flags.AddDuration("deliver-after", "D",
                    "Deliver no earlier than D after publishing, e.g. 30s, at most 7 days.",
                    &deliver_after);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  for (const char* required : {"tenant", "type", "data"}) {
    if (!flags.IsSet(required)) return inv.UsageError(flags, absl::StrCat("missing --", required));
  }

  v1::PublishRequest request;
  request.set_tenant(tenant);
  request.set_event_type(type);
  // Not parsed here: re-serializing would change the bytes receivers sign and see, and the
  // server's JSON check is the one that decides, so its INVALID_ARGUMENT names the problem.
  HOOKD_ASSIGN_OR_RETURN(*request.mutable_payload(), ReadValueOrFile("data", data));
  request.set_idempotency_key(idempotency_key);
  for (const std::string& channel : channels) request.add_channels(channel);
  request.set_traceparent(traceparent);
  if (flags.IsSet("deliver-at") && flags.IsSet("deliver-after")) {
    return inv.UsageError(flags, "--deliver-at and --deliver-after exclude each other");
  }
  if (flags.IsSet("deliver-at")) *request.mutable_deliver_at() = ToProto(deliver_at);
  if (flags.IsSet("deliver-after")) {
    *request.mutable_deliver_after() = ToProto(deliver_after);
  }
  grpc::ClientContext context;
  inv.Prepare(context);
  v1::PublishResponse response;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->Publish(&context, request, &response)));
  if (inv.options().json) return inv.PrintJson(response);
  PrintFields(inv.out(), {
                             {"event_id", response.event_id()},
                             {"delivery_count", absl::StrCat(response.delivery_count())},
                             {"duplicate", response.duplicate() ? "true" : "false"},
                         });
  return absl::OkStatus();
}

absl::Status Get(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl events get ID",
      "Prints an event as stored by hookd-ingest (--ingest-server). The payload is indented\n"
      "for reading; with --json it is the exact string that was published.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::GetEventRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  Event event;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->GetEvent(&context, request, &event)));
  if (inv.options().json) return inv.PrintJson(event);
  PrintEvent(inv.out(), event);
  return absl::OkStatus();
}

}  // namespace

GroupSpec EventsGroup() {
  return {"events",
          "Publish events through hookd-ingest and look them up (uses --ingest-server).",
          {
              {"publish", "Publish an event; prints its id and delivery count.", Publish},
              {"get", "Show one event with its payload.", Get},
          }};
}

}  // namespace hookd::hookctl
