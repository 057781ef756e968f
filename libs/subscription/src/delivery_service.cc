#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/apps/validation.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "page_token.h"
#include "services.h"

namespace hookd::subscription {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// GetAppStats without `since`: the day before `until`.
constexpr absl::Duration kDefaultStatsWindow = absl::Hours(24);

struct Window {
  absl::Time since;
  absl::Time until;
};

// The [since, until) of a request: `until` defaults to now, and `since` to `default_length`
// before `until` (required when there is no default). INVALID_ARGUMENT naming the field.
template <typename Request>
absl::StatusOr<Window> RequestWindow(const Request& request,
                                     std::optional<absl::Duration> default_length) {
  if (!request.has_since() && !default_length) return InvalidField("since", "required");
  HOOKD_ASSIGN_OR_RETURN(auto since, OptionalTime(request.since(), request.has_since(), "since"));
  HOOKD_ASSIGN_OR_RETURN(auto until, OptionalTime(request.until(), request.has_until(), "until"));
  Window window;
  window.until = until ? *until : absl::Now();
  window.since = since ? *since : window.until - *default_length;
  if (window.until <= window.since) return InvalidField("until", "must be after since");
  return window;
}

}  // namespace

absl::StatusOr<v1::Delivery> DeliveryServiceImpl::GetAccessible(const auth::Access& access,
                                                                const std::string& id) {
  HOOKD_RETURN_IF_ERROR(RequireId(id, "id"));
  HOOKD_ASSIGN_OR_RETURN(v1::Delivery delivery, ctx_.deliveries.Get(id));
  HOOKD_RETURN_IF_ERROR(access.Tenant(delivery.tenant(), "delivery " + id));
  return delivery;
}

absl::StatusOr<v1::App> DeliveryServiceImpl::GetAccessibleApp(const auth::Access& access,
                                                              const std::string& id) {
  HOOKD_RETURN_IF_ERROR(RequireId(id, "app_id"));
  HOOKD_ASSIGN_OR_RETURN(v1::App app, ctx_.apps.Get(id));
  HOOKD_RETURN_IF_ERROR(access.Tenant(app.tenant(), "app " + id));
  return app;
}

absl::StatusOr<ledger::DeliveryFilter> DeliveryServiceImpl::Filter(
    const auth::Access& access, const v1::ListDeliveriesRequest& request) {
  ledger::DeliveryFilter filter;
  HOOKD_ASSIGN_OR_RETURN(filter.tenant, ListedTenant(access, request.tenant()));
  filter.app_id = request.app_id();
  filter.event_type = request.event_type();
  if (!v1::DeliveryStatus_IsValid(request.status())) {
    return InvalidField("status", "unknown status");
  }
  filter.status = request.status();
  HOOKD_ASSIGN_OR_RETURN(ListWindow window, CheckListWindow(request.since(), request.has_since(),
                                                            request.until(), request.has_until()));
  filter.since = window.since;
  filter.until = window.until;
  return filter;
}

namespace {

// Streams every delivery of a filter: a page is read on the pool, written one message at a
// time, and the next page read once the last message is written, so a slow client holds at
// most one page in memory and no thread waits on it. Before each page `still_valid` checks the
// caller's token again: a long export stops once it is revoked.
class ExportWriter final : public grpc::ServerWriteReactor<v1::Delivery> {
 public:
  ExportWriter(ledger::DeliveryLog& log, ThreadPool& pool, ledger::DeliveryFilter filter,
               int page_size, std::function<absl::Status()> still_valid)
      : log_(log),
        pool_(pool),
        filter_(std::move(filter)),
        page_size_(page_size),
        still_valid_(std::move(still_valid)) {
    Fetch();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    ++next_;
    WriteNext();
  }

  void OnDone() override {
    std::unique_lock<std::mutex> lock(mu_);
    done_ = true;
    if (fetching_) return;  // the fetch deletes us
    lock.unlock();
    delete this;
  }

 private:
  void Fetch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      fetching_ = true;
    }
    pool_.Submit([this] {
      absl::Status valid = still_valid_();
      auto page = valid.ok() ? log_.List(filter_, page_size_, before_)
                             : absl::StatusOr<ledger::DeliveryLog::Page>(valid);
      std::unique_lock<std::mutex> lock(mu_);
      fetching_ = false;
      if (done_) {
        lock.unlock();
        delete this;
        return;
      }
      lock.unlock();
      if (!page.ok()) return Finish(ToGrpcStatus(page.status()));
      page_ = std::move(page->deliveries);
      before_ = page->last_id;
      next_ = 0;
      WriteNext();
    });
  }

  void WriteNext() {
    if (next_ < page_.size()) return StartWrite(&page_[next_]);
    if (before_.empty()) return Finish(grpc::Status::OK);  // that was the last page
    Fetch();
  }

  ledger::DeliveryLog& log_;
  ThreadPool& pool_;
  const ledger::DeliveryFilter filter_;
  const int page_size_;
  const std::function<absl::Status()> still_valid_;
  std::string before_;
  std::vector<v1::Delivery> page_;
  size_t next_ = 0;
  std::mutex mu_;
  bool fetching_ = false;
  bool done_ = false;
};

class FailedExport final : public grpc::ServerWriteReactor<v1::Delivery> {
 public:
  explicit FailedExport(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::Delivery>* DeliveryServiceImpl::ExportDeliveries(
    grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kExportDeliveries, *context, *request);
  if (!access.ok()) return new FailedExport(access.status());
  auto filter = Filter(*access, *request);
  if (!filter.ok()) return new FailedExport(filter.status());
  auto page_size = ResolvePageSize(request->page_size(), 500, kMaxPageSize);
  if (!page_size.ok()) return new FailedExport(page_size.status());
  return new ExportWriter(
      ctx_.deliveries, ctx_.pool, std::move(*filter), *page_size,
      [this, principal = access->principal()] { return ctx_.auth.StillValid(principal); });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ListDeliveries(
    grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request,
    v1::ListDeliveriesResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kListDeliveries, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_ASSIGN_OR_RETURN(ledger::DeliveryFilter filter, Filter(access, *request));
    HOOKD_ASSIGN_OR_RETURN(int page_size,
                           ResolvePageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    // The token is bound to every filter, so a page of one query is never read as another's.
    std::string filters = filter.tenant + "|" + filter.app_id + "|" + filter.event_type + "|" +
                          std::to_string(filter.status) + "|" +
                          ListWindow{filter.since, filter.until}.Key();
    HOOKD_ASSIGN_OR_RETURN(std::string before, DecodePageToken(request->page_token(), filters));
    HOOKD_ASSIGN_OR_RETURN(ledger::DeliveryLog::Page page,
                           ctx_.deliveries.List(filter, page_size, before));
    for (auto& d : page.deliveries) *response->add_deliveries() = std::move(d);
    if (!page.last_id.empty()) {
      response->set_next_page_token(EncodePageToken(filters, page.last_id));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::GetDelivery(grpc::CallbackServerContext* context,
                                                           const v1::GetDeliveryRequest* request,
                                                           v1::Delivery* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kGetDelivery, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_ASSIGN_OR_RETURN(*response, GetAccessible(access, request->id()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RetryDelivery(
    grpc::CallbackServerContext* context, const v1::RetryDeliveryRequest* request,
    v1::Delivery* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kRetryDelivery, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_ASSIGN_OR_RETURN(v1::Delivery delivery, GetAccessible(access, request->id()));
    HOOKD_ASSIGN_OR_RETURN(
        *response, ctx_.deliveries.Retry(request->id(),
                                         audit::Recorder(access, {.action = "delivery.retry",
                                                                  .resource = delivery.id(),
                                                                  .tenant = delivery.tenant()})));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RecoverFailed(
    grpc::CallbackServerContext* context, const v1::RecoverFailedRequest* request,
    v1::RecoverFailedResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kRecoverFailed, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_RETURN_IF_ERROR(RequireId(request->app_id(), "app_id"));
    HOOKD_ASSIGN_OR_RETURN(Window window, RequestWindow(*request, std::nullopt));
    HOOKD_ASSIGN_OR_RETURN(v1::App app, GetAccessibleApp(access, request->app_id()));
    if (!app.active() && !request->dry_run()) {
      return absl::FailedPreconditionError("app " + app.id() +
                                           " is disabled: EnableApp first, or the recovered "
                                           "deliveries would be held again");
    }
    // A dry run changes nothing, so it is not audited.
    auto audited = [&](pqxx::work& txn, int count) {
      audit::Record(txn, access,
                    {.action = "delivery.recover",
                     .resource = app.id(),
                     .tenant = app.tenant(),
                     .detail = absl::StrCat("count=", count, request->exclude_held() ? "" : " held",
                                            " since=", absl::FormatTime(window.since),
                                            " until=", absl::FormatTime(window.until))});
      return absl::OkStatus();
    };
    HOOKD_ASSIGN_OR_RETURN(
        int count, ctx_.deliveries.Recover(app.id(), window.since, window.until, request->dry_run(),
                                           !request->exclude_held(), audited));
    response->set_count(count);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::GetAppStats(grpc::CallbackServerContext* context,
                                                           const v1::GetAppStatsRequest* request,
                                                           v1::AppStats* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kGetAppStats, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    // Every argument is checked before the app is looked up, so a bad window of an unknown app
    // says what is wrong with the request.
    HOOKD_RETURN_IF_ERROR(RequireId(request->app_id(), "app_id"));
    HOOKD_ASSIGN_OR_RETURN(Window window, RequestWindow(*request, kDefaultStatsWindow));
    HOOKD_ASSIGN_OR_RETURN(v1::App app, GetAccessibleApp(access, request->app_id()));
    HOOKD_ASSIGN_OR_RETURN(*response, ctx_.deliveries.Stats(app.id(), window.since, window.until));
    response->set_failure_streak(app.failure_streak());
    return absl::OkStatus();
  });
}

}  // namespace hookd::subscription
