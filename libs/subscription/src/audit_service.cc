#include "absl/strings/str_cat.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_util.h"
#include "page_token.h"
#include "services.h"

namespace hookd::subscription {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

grpc::ServerUnaryReactor* AuditServiceImpl::ListAuditEvents(
    grpc::CallbackServerContext* context, const v1::ListAuditEventsRequest* request,
    v1::ListAuditEventsResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kListAuditEvents, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    audit::Filter filter;
    HOOKD_ASSIGN_OR_RETURN(filter.tenant, ListedTenant(access, request->tenant()));
    filter.action = request->action();
    filter.resource = request->resource();
    filter.token_id = request->token_id();
    HOOKD_ASSIGN_OR_RETURN(ListWindow window,
                           CheckListWindow(request->since(), request->has_since(), request->until(),
                                           request->has_until()));
    filter.since = window.since;
    filter.until = window.until;
    HOOKD_ASSIGN_OR_RETURN(int page_size,
                           ResolvePageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    // The token is bound to every filter, so a page of one query is never read as another's.
    const std::string filters =
        absl::StrCat(filter.tenant, "|", filter.action, "|", filter.resource, "|", filter.token_id,
                     "|", window.Key());
    HOOKD_ASSIGN_OR_RETURN(std::string before, DecodePageToken(request->page_token(), filters));
    HOOKD_ASSIGN_OR_RETURN(audit::Page page, audit::List(ctx_.db, filter, page_size, before));
    for (v1::AuditEvent& event : page.events) *response->add_events() = std::move(event);
    if (!page.last_id.empty()) {
      response->set_next_page_token(EncodePageToken(filters, page.last_id));
    }
    return absl::OkStatus();
  });
}

}  // namespace hookd::subscription
