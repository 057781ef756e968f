// hookctl deliveries ...: DeliveryService, the delivery log of hookd-subscription.

#include <cerrno>
#include <fstream>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli.h"
#include "deliveries.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "output.h"
#include "pdf_table.h"

namespace hookd::hookctl {
namespace {

using v1::Delivery;

constexpr std::pair<const char*, v1::DeliveryStatus> kStatuses[] = {
    {"pending", v1::PENDING},     {"succeeded", v1::SUCCEEDED}, {"retrying", v1::RETRYING},
    {"failed", v1::FAILED},       {"held", v1::HELD},           {"discarded", v1::DISCARDED},
    {"scheduled", v1::SCHEDULED},
};

// How much of a response body the attempts table shows; `--json` has all of it.
constexpr size_t kResponseChars = 60;

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

// 0 means that no answer arrived, which is not an HTTP status.
std::string StatusCodeOrDash(int code) { return code == 0 ? "-" : absl::StrCat(code); }

// "http_status", "timeout", ...; "-" when the attempt succeeded.
std::string AttemptErrorName(v1::AttemptError error) {
  if (error == v1::ATTEMPT_ERROR_UNSPECIFIED || error == v1::ATTEMPT_ERROR_NONE) return "-";
  const std::string& name = v1::AttemptError_Name(error);
  if (name.empty()) return absl::StrCat(static_cast<int>(error));
  return absl::AsciiStrToLower(absl::StripPrefix(name, "ATTEMPT_ERROR_"));
}

// A table cell from text that may span lines: line breaks and tabs would break the alignment.
std::string OneLine(const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return line;
}

// The first `count` characters of UTF-8 text. Cutting bytes could split a character and print
// an invalid sequence; continuation bytes (10xxxxxx) are never where a character starts.
std::string FirstChars(const std::string& text, size_t count) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == count) return text.substr(0, i);
  }
  return text;
}

// RFC 3339 in UTC, "" when unset: an export leaves a missing value empty rather than "-".
std::string ExportTime(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(timestamp);
}

// The fields a delivery of every RPC carries; payload and attempts come from GetDelivery only.
Fields DeliveryFields(const Delivery& delivery) {
  return {
      {"id", delivery.id()},
      {"tenant", delivery.tenant()},
      {"app_id", delivery.app_id()},
      {"endpoint_url", OrDash(delivery.endpoint_url())},
      {"event_id", delivery.event_id()},
      {"event_type", delivery.event_type()},
      {"status", DeliveryStatusName(delivery.status())},
      {"attempt_count", absl::StrCat(delivery.attempt_count())},
      {"last_status_code", StatusCodeOrDash(delivery.last_status_code())},
      {"next_attempt_time", FormatTimestamp(delivery.next_attempt_time())},
      {"create_time", FormatTimestamp(delivery.create_time())},
      {"update_time", FormatTimestamp(delivery.update_time())},
  };
}

std::unique_ptr<v1::DeliveryService::Stub> Stub(Invocation& inv) {
  return v1::DeliveryService::NewStub(inv.channel());
}

// The filters list and export share.
struct FilterFlags {
  std::string tenant;
  std::string app;
  std::string event_type;
  std::string status;
  absl::Time since;
  absl::Time until;
};

void AddFilterFlags(FlagParser& flags, FilterFlags& values) {
  flags.AddString("tenant", "T", "Only deliveries of this tenant.", &values.tenant);
  flags.AddString("app", "A", "Only deliveries to this app id.", &values.app);
  flags.AddString("event-type", "E", "Only deliveries of this event type, e.g. video.ready.",
                  &values.event_type);
  flags.AddString("status", "S",
                  "Only deliveries in this state: pending, succeeded, retrying, failed, held, "
                  "discarded, scheduled.",
                  &values.status);
  flags.AddTime("since", "T",
                "Created at or after T: a duration such as 1h (that long ago) or an RFC 3339 time.",
                &values.since);
  flags.AddTime("until", "T", "Created before T, in the same forms as --since.", &values.until);
}

// Copies the filters that were given into `request`. INVALID_ARGUMENT naming the flag for a
// malformed value; the caller reports it as a usage error.
absl::Status FillFilters(const FlagParser& flags, const FilterFlags& values,
                         v1::ListDeliveriesRequest& request) {
  request.set_tenant(values.tenant);
  request.set_app_id(values.app);
  request.set_event_type(values.event_type);
  if (flags.IsSet("status")) {
    HOOKD_ASSIGN_OR_RETURN(v1::DeliveryStatus status, ParseDeliveryStatus(values.status));
    request.set_status(status);
  }
  // Resolved once, here: every page of --all or export then asks for the same range, which the
  // page tokens are bound to.
  if (flags.IsSet("since")) *request.mutable_since() = ToProto(values.since);
  if (flags.IsSet("until")) *request.mutable_until() = ToProto(values.until);
  return absl::OkStatus();
}

// Calls `each` with every page from request's page token to the last one.
absl::Status FollowPages(Invocation& inv, v1::ListDeliveriesRequest request,
                         const std::function<absl::Status(v1::ListDeliveriesResponse&)>& each) {
  auto stub = Stub(inv);
  while (true) {
    grpc::ClientContext context;
    inv.Prepare(context);
    v1::ListDeliveriesResponse page;
    HOOKD_RETURN_IF_ERROR(FromGrpcStatus(stub->ListDeliveries(&context, request, &page)));
    HOOKD_RETURN_IF_ERROR(each(page));
    // A repeated token would loop forever; it can only come from a broken server.
    if (page.next_page_token().empty() || page.next_page_token() == request.page_token()) {
      return absl::OkStatus();
    }
    request.set_page_token(page.next_page_token());
  }
}

absl::Status List(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl deliveries list [--tenant T] [--app A] [--event-type E] [--status S] [--since T] "
      "[--until T] [--page-size N] [--page-token X] [--all]",
      "Lists deliveries newest first, a page at a time. --since and --until take an RFC 3339\n"
      "time, or a duration such as 30m or 1h meaning that long ago.");
  FilterFlags filters;
  AddFilterFlags(flags, filters);
  PageFlags paging;
  paging.Add(flags, "deliveries", 100);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  v1::ListDeliveriesRequest request;
  if (absl::Status filled = FillFilters(flags, filters, request); !filled.ok()) {
    return inv.UsageError(flags, std::string(filled.message()));
  }
  request.set_page_size(paging.page_size);
  request.set_page_token(paging.page_token);

  auto stub = Stub(inv);
  v1::ListDeliveriesResponse response;
  HOOKD_RETURN_IF_ERROR(ListPages(
      inv, request, paging.all,
      [&](grpc::ClientContext* context, const v1::ListDeliveriesRequest& r,
          v1::ListDeliveriesResponse* page) { return stub->ListDeliveries(context, r, page); },
      response));
  if (inv.options().json) return PrintListJson(inv, response, paging.all);
  Table table({"ID", "APP", "EVENT TYPE", "STATUS", "ATTEMPTS", "LAST CODE", "CREATED"});
  for (const Delivery& delivery : response.deliveries()) {
    table.AddRow({delivery.id(), delivery.app_id(), delivery.event_type(),
                  DeliveryStatusName(delivery.status()), absl::StrCat(delivery.attempt_count()),
                  StatusCodeOrDash(delivery.last_status_code()),
                  FormatTimestamp(delivery.create_time())});
  }
  table.Print(inv.out());
  PrintNextPageHint(inv.out(), "deliveries", response.next_page_token());
  return absl::OkStatus();
}

absl::Status Show(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl deliveries show ID",
      "Prints a delivery, every attempt with the endpoint's answer, and the event's payload\n"
      "indented for reading; with --json the payload is the exact string that was published.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::GetDeliveryRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  Delivery delivery;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->GetDelivery(&context, request, &delivery)));
  if (inv.options().json) return inv.PrintJson(delivery);
  PrintDelivery(inv.out(), delivery);
  return absl::OkStatus();
}

absl::Status Retry(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl deliveries retry ID",
      "Queues a new attempt of a delivery now, whatever its state, and prints the delivery.\n"
      "The endpoint gets the same webhook-id, so receivers that deduplicate see a repeat.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::RetryDeliveryRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  Delivery delivery;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->RetryDelivery(&context, request, &delivery)));
  if (inv.options().json) return inv.PrintJson(delivery);
  PrintFields(inv.out(), DeliveryFields(delivery));
  return absl::OkStatus();
}

absl::Status Recover(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl deliveries recover --app A --since T [--until T] [--exclude-held] [--dry-run]",
      "Re-queues an app's failed deliveries created in [--since, --until), and those held while\n"
      "it was disabled unless --exclude-held, e.g. after an outage of its endpoint. Enable the "
      "app\n"
      "first: the server refuses to re-queue for a disabled app (--dry-run still counts).\n"
      "--since and --until take an RFC 3339 time, or a duration such as 2h meaning that long ago.");
  std::string app;
  absl::Time since;
  absl::Time until;
  bool dry_run = false;
  bool exclude_held = false;
  flags.AddString("app", "A", "The app whose deliveries to re-queue (required).", &app);
  flags.AddBool("exclude-held", "Leave the app's held deliveries held.", &exclude_held);
  flags.AddTime("since", "T", "Created at or after T (required).", &since);
  flags.AddTime("until", "T", "Created before T (default now).", &until);
  flags.AddBool("dry-run", "Only count what would be re-queued; change nothing.", &dry_run);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  for (const char* required : {"app", "since"}) {
    if (!flags.IsSet(required)) return inv.UsageError(flags, absl::StrCat("missing --", required));
  }

  v1::RecoverFailedRequest request;
  request.set_app_id(app);
  *request.mutable_since() = ToProto(since);
  if (flags.IsSet("until")) *request.mutable_until() = ToProto(until);
  request.set_dry_run(dry_run);
  request.set_exclude_held(exclude_held);
  grpc::ClientContext context;
  inv.Prepare(context);
  v1::RecoverFailedResponse response;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->RecoverFailed(&context, request, &response)));
  if (inv.options().json) return inv.PrintJson(response);
  const std::string deliveries = response.count() == 1 ? "delivery" : "deliveries";
  inv.out() << (dry_run ? "would re-queue " : "re-queued ") << response.count() << " " << deliveries
            << "\n";
  return absl::OkStatus();
}

// The title of a PDF export: what was exported and when.
std::string ExportTitle(const v1::ListDeliveriesRequest& request) {
  std::string title = "hookd deliveries";
  auto add = [&title](const char* name, const std::string& value) {
    if (!value.empty()) absl::StrAppend(&title, "  ", name, " ", value);
  };
  add("tenant", request.tenant());
  add("app", request.app_id());
  add("event type", request.event_type());
  if (request.status() != v1::DELIVERY_STATUS_UNSPECIFIED) {
    add("status", DeliveryStatusName(request.status()));
  }
  if (request.has_since()) add("since", FormatTimestamp(request.since()));
  if (request.has_until()) add("until", FormatTimestamp(request.until()));
  absl::StrAppend(&title, "  (exported ",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()), ")");
  return title;
}

// The export columns as PDF table columns: ids and times whole, the endpoint in what is left.
std::vector<PdfTable::Column> PdfColumns() {
  return {{"APP ID", 30},  {"TIME", 27},    {"EVENT TYPE", 24}, {"EVENT ID", 30},
          {"ENDPOINT", 0}, {"ATTEMPTS", 8}, {"STATUS", 9},      {"LAST CODE", 9}};
}

// Export's output: every page of `request` to `output` ("-" for stdout) as `format`, or as a
// PDF table when `pdf`.
absl::Status WriteExport(Invocation& inv, const v1::ListDeliveriesRequest& request,
                         ExportFormat format, bool pdf, const std::string& output) {
  // Opened before the first request, so that a path that cannot be written costs the server
  // nothing.
  std::ofstream file;
  std::ostream* out = &inv.out();
  if (output != "-") {
    errno = 0;
    // Binary: the CRLF record ends reach the file unchanged on every platform.
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::ErrnoToStatus(errno != 0 ? errno : EIO,
                                 absl::StrCat("-o: cannot write ", output));
    }
    out = &file;
  }
  // A PDF is built in memory and written once complete.
  std::unique_ptr<PdfTable> table;
  if (pdf) {
    HOOKD_ASSIGN_OR_RETURN(table, PdfTable::Create(ExportTitle(request), PdfColumns()));
  } else {
    *out << ExportHeader(format);
  }
  HOOKD_RETURN_IF_ERROR(FollowPages(inv, request, [&](v1::ListDeliveriesResponse& page) {
    for (const Delivery& delivery : page.deliveries()) {
      if (table != nullptr) {
        HOOKD_RETURN_IF_ERROR(table->AddRow(ExportCells(delivery)));
      } else {
        *out << ExportRecord(format, delivery);
      }
    }
    // Checked per page: a full disk should stop the export, not let it read every page.
    if (!*out) return absl::DataLossError(absl::StrCat("-o: cannot write ", output));
    return absl::OkStatus();
  }));
  if (table != nullptr) HOOKD_RETURN_IF_ERROR(table->Write(*out));
  if (file.is_open()) {
    file.close();
    if (!file) return absl::DataLossError(absl::StrCat("-o: cannot write ", output));
  }
  return absl::OkStatus();
}

absl::Status Export(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl deliveries export --format csv|jsonl|pdf [-o FILE] [--tenant T] [--app A] "
      "[--event-type E] [--status S] [--since T] [--until T] [--page-size N]",
      "Writes every delivery matching the filters, newest first, following the pages to the\n"
      "end. Columns: app_id, time (creation, RFC 3339 UTC), event_type, event_id, endpoint,\n"
      "attempts, status, last_status_code (0 when no answer arrived).\n"
      "csv is RFC 4180: a header row, CRLF line ends, fields holding a comma, quote or line\n"
      "break quoted. jsonl is one JSON object per line with the same keys. pdf is a table on\n"
      "landscape A4 pages, 40 rows and the header row on each, long endpoints cut with ...;\n"
      "it needs -o FILE. If a request fails, a csv or jsonl output ends after the rows written\n"
      "so far, a pdf file stays empty, and hookctl exits 1.");
  std::string format_name;
  std::string output = "-";
  int page_size = 0;
  FilterFlags filters;
  flags.AddString("format", "csv|jsonl|pdf", "Output format (required).", &format_name);
  flags.AddString("o", "FILE",
                  "Write to FILE, replacing it; - is stdout (default -; pdf needs a FILE).",
                  &output);
  AddFilterFlags(flags, filters);
  flags.AddInt("page-size", "N", "Deliveries per request, 1..1000 (default 1000).", &page_size);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  if (!flags.IsSet("format")) return inv.UsageError(flags, "missing --format");
  ExportFormat format = ExportFormat::kCsv;
  const bool pdf = format_name == "pdf";
  if (format_name == "jsonl") {
    format = ExportFormat::kJsonl;
  } else if (format_name != "csv" && !pdf) {
    return inv.UsageError(flags,
                          absl::StrCat("--format: \"", format_name, "\" is not csv, jsonl or pdf"));
  }
  if (output.empty()) return inv.UsageError(flags, "-o: empty file name (- is stdout)");
  // A PDF is binary: never to a terminal or a pipe by accident.
  if (pdf && output == "-") return inv.UsageError(flags, "--format pdf needs -o FILE");
  v1::ListDeliveriesRequest request;
  if (absl::Status filled = FillFilters(flags, filters, request); !filled.ok()) {
    return inv.UsageError(flags, std::string(filled.message()));
  }
  // The largest page the server allows: an export wants every row in as few round trips as
  // possible.
  request.set_page_size(flags.IsSet("page-size") ? page_size : 1000);

  return WriteExport(inv, request, format, pdf, output);
}

}  // namespace

std::string DeliveryStatusName(v1::DeliveryStatus status) {
  for (const auto& [name, value] : kStatuses) {
    if (value == status) return name;
  }
  // UNSPECIFIED or a state newer than this hookctl: shown rather than hidden.
  return absl::StrCat("unknown(", static_cast<int>(status), ")");
}

absl::StatusOr<v1::DeliveryStatus> ParseDeliveryStatus(const std::string& name) {
  for (const auto& [candidate, value] : kStatuses) {
    if (name == candidate) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--status: \"", name,
                   "\" is not one of pending, succeeded, retrying, failed, held, discarded, "
                   "scheduled"));
}

void PrintDelivery(std::ostream& out, const Delivery& delivery) {
  PrintFields(out, DeliveryFields(delivery));
  if (delivery.attempts().empty()) {
    out << "\nAttempts: none\n";
  } else {
    out << "\nAttempts:\n";
    Table table({"#", "START", "DURATION", "STATUS", "ERROR", "WORKER", "RESPONSE"});
    for (const v1::Attempt& attempt : delivery.attempts()) {
      std::string error = AttemptErrorName(attempt.error());
      if (!attempt.error_detail().empty()) absl::StrAppend(&error, ": ", attempt.error_detail());
      // A 0ms attempt (refused at once) is a real duration, not a missing one.
      const std::string duration = absl::FormatDuration(ToAbslDuration(attempt.duration()));
      table.AddRow({absl::StrCat(attempt.attempt()), FormatTimestamp(attempt.start_time()),
                    duration, StatusCodeOrDash(attempt.status_code()), OneLine(error),
                    OrDash(attempt.worker()),
                    OrDash(OneLine(FirstChars(attempt.response_excerpt(), kResponseChars)))});
    }
    table.Print(out);
  }
  out << "\nPayload:\n" << PrettyJson(delivery.payload()) << "\n";
}

const std::vector<std::string>& ExportColumns() {
  static const auto* columns =
      new std::vector<std::string>{"app_id",   "time",     "event_type", "event_id",
                                   "endpoint", "attempts", "status",     "last_status_code"};
  return *columns;
}

std::vector<std::string> ExportCells(const Delivery& delivery) {
  return {delivery.app_id(),
          ExportTime(delivery.create_time()),
          delivery.event_type(),
          delivery.event_id(),
          delivery.endpoint_url(),
          absl::StrCat(delivery.attempt_count()),
          DeliveryStatusName(delivery.status()),
          absl::StrCat(delivery.last_status_code())};
}

std::string ExportHeader(ExportFormat format) {
  if (format == ExportFormat::kJsonl) return "";
  return CsvRecord(ExportColumns());
}

std::string ExportRecord(ExportFormat format, const Delivery& delivery) {
  const std::vector<std::string> cells = ExportCells(delivery);
  if (format == ExportFormat::kCsv) return CsvRecord(cells);
  // ordered_json: the keys in the order of the CSV columns. Counts stay numbers.
  nlohmann::ordered_json line;
  const std::vector<std::string>& columns = ExportColumns();
  for (size_t i = 0; i < columns.size(); ++i) line[columns[i]] = cells[i];
  line["attempts"] = delivery.attempt_count();
  line["last_status_code"] = delivery.last_status_code();
  return line.dump() + "\n";
}

GroupSpec DeliveriesGroup() {
  return {
      "deliveries",
      "Inspect the delivery log: find deliveries, see every attempt, send them again.",
      {
          {"list", "List deliveries newest first, with filters.", List},
          {"show", "Show a delivery with its attempts and payload.", Show},
          {"retry", "Queue a new attempt of a delivery now.", Retry},
          {"recover", "Re-queue an app's failed deliveries of a time range.", Recover},
          {"export", "Write every matching delivery as CSV, JSON lines or a PDF table.", Export},
      }};
}

}  // namespace hookd::hookctl
