#pragma once

#include "committer.h"
#include "hookd/appcache/app_cache.h"
#include "hookd/appcache/event_type_catalog.h"
#include "hookd/auth/authenticator.h"
#include "hookd/common/clock.h"
#include "hookd/common/thread_pool.h"
#include "hookd/db/pg_pool.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "publish_validation.h"

namespace hookd::ingest {

struct IngestContext {
  const auth::Authenticator& auth;
  appcache::AppCache& apps;
  appcache::EventTypeCatalog& catalog;
  Committer& committer;
  db::PgPool& db;
  // Validation and routing run here, off the gRPC reactor threads: an unknown event type may
  // need a round trip to hookd-subscription.
  ThreadPool& pool;
  PublishLimits limits;
  int max_batch_events = 1000;
  // When a delivery is due (deliver_at, deliver_after, an app's delivery delay) is decided at its
  // Now().
  const Clock& clock;
};

class IngestServiceImpl final : public v1::IngestService::CallbackService {
 public:
  explicit IngestServiceImpl(IngestContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override;
  grpc::ServerUnaryReactor* PublishBatch(grpc::CallbackServerContext* context,
                                         const v1::PublishBatchRequest* request,
                                         v1::PublishBatchResponse* response) override;
  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* context,
                                     const v1::GetEventRequest* request,
                                     v1::Event* response) override;

 private:
  // Validates one event, checks the caller may publish for its tenant, and routes it.
  absl::StatusOr<PendingEvent> Prepare(const auth::Access& access,
                                       const v1::PublishRequest& request,
                                       const std::string& prefix);

  IngestContext& ctx_;
};

}  // namespace hookd::ingest
