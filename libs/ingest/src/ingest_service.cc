#include "ingest_service.h"

#include "absl/time/clock.h"
#include "hookd/apps/routing.h"
#include "hookd/apps/validation.h"
#include "hookd/common/status.h"
#include "hookd/ledger/publish.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "ingest_metrics.h"

namespace hookd::ingest {
namespace {

absl::Status NotReady() {
  return absl::UnavailableError(
      "routing is not ready: waiting for the first app sync from hookd-subscription");
}

}  // namespace

absl::StatusOr<PendingEvent> IngestServiceImpl::Prepare(const auth::Access& access,
                                                        const v1::PublishRequest& request,
                                                        const std::string& prefix) {
  const absl::Time now = ctx_.clock.Now();
  HOOKD_RETURN_IF_ERROR(ValidatePublish(request, ctx_.limits, ctx_.catalog, prefix, now));
  HOOKD_RETURN_IF_ERROR(access.Tenant(request.tenant()));
  std::vector<std::string> channels(request.channels().begin(), request.channels().end());
  PendingEvent event{.request = &request, .routes = {}};
  const absl::Time deliver_at = DeliverAt(request, now);
  for (const auto& app :
       ctx_.apps.Current()->Route(request.tenant(), request.event_type(), channels)) {
    event.routes.Add(app->id(), app->active(), apps::DueTime(*app, deliver_at), now);
  }
  return event;
}

grpc::ServerUnaryReactor* IngestServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                     const v1::PublishRequest* request,
                                                     v1::PublishResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kPublish, *context, *request);
  if (!access.ok()) return FinishNow(context, Refused(access.status(), 1));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ctx_.pool.Submit([this, access = *std::move(access), request, response, reactor] {
    if (!ctx_.apps.synced()) return reactor->Finish(ToGrpcStatus(Refused(NotReady(), 1)));
    auto event = Prepare(access, *request, "");
    if (!event.ok()) return reactor->Finish(ToGrpcStatus(Refused(event.status(), 1)));
    Submission submission;
    submission.events.push_back(std::move(*event));
    submission.done = [response, reactor](absl::Status status,
                                          std::vector<v1::PublishResponse> responses) {
      CountCommit(status, responses, 1);
      if (status.ok()) *response = std::move(responses[0]);
      reactor->Finish(ToGrpcStatus(status));
    };
    ctx_.committer.Submit(std::move(submission));
  });
  return reactor;
}

grpc::ServerUnaryReactor* IngestServiceImpl::PublishBatch(grpc::CallbackServerContext* context,
                                                          const v1::PublishBatchRequest* request,
                                                          v1::PublishBatchResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kPublishBatch, *context, *request);
  if (!access.ok()) return FinishNow(context, Refused(access.status(), request->events_size()));
  if (request->events().empty()) return FinishNow(context, InvalidField("events", "required"));
  if (request->events_size() > ctx_.max_batch_events) {
    // A limit, not a malformed request: the same events in smaller batches are fine.
    return FinishNow(context,
                     Refused(absl::ResourceExhaustedError(absl::StrCat(
                                 "events: at most ", ctx_.max_batch_events,
                                 " per batch (--max_batch_events); got ", request->events_size())),
                             request->events_size()));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ctx_.pool.Submit([this, access = *std::move(access), request, response, reactor] {
    if (!ctx_.apps.synced()) {
      return reactor->Finish(ToGrpcStatus(Refused(NotReady(), request->events_size())));
    }
    Submission submission;
    std::vector<int> positions;  // where each submitted event's answer goes
    for (int i = 0; i < request->events_size(); ++i) {
      response->add_results();
      v1::PublishError* error = response->add_errors();
      auto event = Prepare(access, request->events(i), "events[" + std::to_string(i) + "].");
      if (!event.ok()) {
        CountRefused(event.status(), 1);
        error->set_code(static_cast<int>(event.status().code()));
        error->set_message(std::string(event.status().message()));
        continue;
      }
      positions.push_back(i);
      submission.events.push_back(std::move(*event));
    }
    if (submission.events.empty()) return reactor->Finish(grpc::Status::OK);
    submission.done = [response, reactor, positions](absl::Status status,
                                                     std::vector<v1::PublishResponse> responses) {
      CountCommit(status, responses, positions.size());
      if (!status.ok()) return reactor->Finish(ToGrpcStatus(status));
      for (size_t k = 0; k < positions.size(); ++k) {
        *response->mutable_results(positions[k]) = std::move(responses[k]);
      }
      reactor->Finish(grpc::Status::OK);
    };
    ctx_.committer.Submit(std::move(submission));
  });
  return reactor;
}

grpc::ServerUnaryReactor* IngestServiceImpl::GetEvent(grpc::CallbackServerContext* context,
                                                      const v1::GetEventRequest* request,
                                                      v1::Event* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kGetEvent, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response] {
    HOOKD_RETURN_IF_ERROR(RequireId(request->id(), "id"));
    HOOKD_ASSIGN_OR_RETURN(std::optional<v1::Event> event,
                           ledger::GetEvent(ctx_.db, request->id()));
    if (!event) return absl::NotFoundError("event " + request->id() + " not found");
    // Another tenant's event answers NOT_FOUND too, so ids cannot be probed.
    HOOKD_RETURN_IF_ERROR(access.Tenant(event->tenant(), "event " + request->id()));
    *response = *std::move(event);
    return absl::OkStatus();
  });
}

}  // namespace hookd::ingest
