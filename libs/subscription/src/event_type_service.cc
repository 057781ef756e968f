#include "hookd/apps/validation.h"
#include "hookd/common/status.h"
#include "hookd/schema/json_schema.h"
#include "hookd/service/grpc_util.h"
#include "page_token.h"
#include "services.h"

namespace hookd::subscription {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxDescription = 1000;

absl::Status ValidateEventType(const v1::EventType& type) {
  HOOKD_RETURN_IF_ERROR(apps::ValidateEventTypeName(type.name(), "event_type.name"));
  HOOKD_RETURN_IF_ERROR(apps::RefuseReservedEventType(type.name(), "event_type.name"));
  if (type.description().size() > kMaxDescription) {
    return InvalidField("event_type.description", "at most 1000 characters");
  }
  if (type.has_schema()) {
    // Compiled as ingest will compile it, so that a schema it cannot apply is refused here.
    HOOKD_RETURN_IF_ERROR(
        schema::CompiledSchema::Compile(type.schema(), "event_type.schema").status());
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* EventTypeServiceImpl::CreateEventType(
    grpc::CallbackServerContext* context, const v1::CreateEventTypeRequest* request,
    v1::EventType* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kCreateEventType, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    if (!request->has_event_type()) return InvalidField("event_type", "required");
    v1::EventType type = request->event_type();
    type.clear_archived();  // output only
    HOOKD_RETURN_IF_ERROR(ValidateEventType(type));
    HOOKD_ASSIGN_OR_RETURN(
        *response,
        ctx_.event_types.Create(type, audit::Recorder(access, {.action = "event_type.create",
                                                               .resource = type.name()})));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* EventTypeServiceImpl::ListEventTypes(
    grpc::CallbackServerContext* context, const v1::ListEventTypesRequest* request,
    v1::ListEventTypesResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kListEventTypes, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, request, response]() {
    HOOKD_ASSIGN_OR_RETURN(int page_size,
                           ResolvePageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    std::string filters = request->include_archived() ? "archived=1" : "archived=0";
    HOOKD_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request->page_token(), filters));
    HOOKD_ASSIGN_OR_RETURN(apps::EventTypePage page,
                           ctx_.event_types.List(page_size, after, request->include_archived()));
    for (auto& type : page.event_types) *response->add_event_types() = std::move(type);
    if (!page.last_name.empty()) {
      response->set_next_page_token(EncodePageToken(filters, page.last_name));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* EventTypeServiceImpl::ArchiveEventType(
    grpc::CallbackServerContext* context, const v1::ArchiveEventTypeRequest* request,
    v1::EventType* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kArchiveEventType, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    if (request->name().empty()) return InvalidField("name", "required");
    HOOKD_RETURN_IF_ERROR(apps::RefuseReservedEventType(request->name(), "name"));
    HOOKD_ASSIGN_OR_RETURN(
        *response, ctx_.event_types.Archive(
                       request->name(), audit::Recorder(access, {.action = "event_type.archive",
                                                                 .resource = request->name()})));
    return absl::OkStatus();
  });
}

}  // namespace hookd::subscription
