#pragma once

#include "app_watch.h"
#include "hookd/apps/app_store.h"
#include "hookd/apps/event_type_store.h"
#include "hookd/apps/validation.h"
#include "hookd/audit/audit_log.h"
#include "hookd/auth/authenticator.h"
#include "hookd/common/thread_pool.h"
#include "hookd/http/http_sender.h"
#include "hookd/ledger/delivery_log.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/audit.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/token.grpc.pb.h"

namespace hookd::subscription {

// What the RPC handlers share. Every blocking call runs on `pool`.
struct ServiceContext {
  const auth::Authenticator& auth;
  // The API tokens: stored, and this replica's cache of them (the one `auth` reads).
  auth::TokenStore& token_store;
  auth::TokenCache& token_cache;
  apps::AppStore& apps;
  apps::EventTypeStore& event_types;
  AppWatchHub& watch_hub;
  ledger::DeliveryLog& deliveries;
  // Operational events of enable and disable, and where they are written and queued (`queue` is
  // null without Redis: the outbox sweeper queues them).
  const opsevents::Publisher& ops;
  db::PgPool& db;
  queue::DeliveryQueue* queue;
  // Connection tests (TestConnection, CreateApp): the workers' HTTP code.
  http::HttpSender& sender;
  ThreadPool& pool;
  apps::ValidationOptions validation;
  absl::Duration default_grace_period = absl::Hours(24);
};

class AppServiceImpl final : public v1::AppService::CallbackService {
 public:
  explicit AppServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* CreateApp(grpc::CallbackServerContext* context,
                                      const v1::CreateAppRequest* request,
                                      v1::App* response) override;
  grpc::ServerUnaryReactor* GetApp(grpc::CallbackServerContext* context,
                                   const v1::GetAppRequest* request, v1::App* response) override;
  grpc::ServerUnaryReactor* ListApps(grpc::CallbackServerContext* context,
                                     const v1::ListAppsRequest* request,
                                     v1::ListAppsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateApp(grpc::CallbackServerContext* context,
                                      const v1::UpdateAppRequest* request,
                                      v1::App* response) override;
  grpc::ServerUnaryReactor* DeleteApp(grpc::CallbackServerContext* context,
                                      const v1::DeleteAppRequest* request,
                                      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* EnableApp(grpc::CallbackServerContext* context,
                                      const v1::EnableAppRequest* request,
                                      v1::App* response) override;
  grpc::ServerUnaryReactor* DisableApp(grpc::CallbackServerContext* context,
                                       const v1::DisableAppRequest* request,
                                       v1::App* response) override;
  grpc::ServerUnaryReactor* RotateSecret(grpc::CallbackServerContext* context,
                                         const v1::RotateSecretRequest* request,
                                         v1::App* response) override;
  grpc::ServerUnaryReactor* TestConnection(grpc::CallbackServerContext* context,
                                           const v1::TestConnectionRequest* request,
                                           v1::TestConnectionResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchAppsResponse>* WatchApps(
      grpc::CallbackServerContext* context, const v1::WatchAppsRequest* request) override;

 private:
  // Changes an app; sets its bool to answer with the new current secret (a new key).
  using MutateFn = std::function<absl::Status(v1::App&, bool&)>;
  // Runs after the change is stored, with the stored app; an error is the call's answer.
  using AfterFn = std::function<absl::Status(const v1::App&)>;
  // The operational events a change reports, from the app before it and as stored; runs in the
  // change's transaction, so that they commit with it or not at all.
  using ReportFn = std::function<std::vector<opsevents::OpsEvent>(
      pqxx::work& txn, const v1::App& before, const v1::App& stored)>;
  // Runs `mutate` on the app `id` of a tenant `access` reaches (Authorize was the handler's first
  // statement), records `audited` (its action and detail; the app's id and tenant are filled in)
  // and publishes what `report` returns in the same transaction, then runs `after`, and answers
  // the app redacted, or with the new current secret when `mutate` asked for it; logs `change`
  // (e.g. "app enabled") with the app's id.
  grpc::ServerUnaryReactor* Mutate(grpc::CallbackServerContext* context, auth::Access access,
                                   const std::string& id, std::string_view change,
                                   audit::Change audited, MutateFn mutate, v1::App* response,
                                   AfterFn after = nullptr, ReportFn report = nullptr);

  // Stores a validated new app, audited as made by `access`, and answers it with its secret.
  absl::Status StoreNewApp(const auth::Access& access, const v1::App& app, v1::App* response);

  ServiceContext& ctx_;
};

class EventTypeServiceImpl final : public v1::EventTypeService::CallbackService {
 public:
  explicit EventTypeServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* CreateEventType(grpc::CallbackServerContext* context,
                                            const v1::CreateEventTypeRequest* request,
                                            v1::EventType* response) override;
  grpc::ServerUnaryReactor* ListEventTypes(grpc::CallbackServerContext* context,
                                           const v1::ListEventTypesRequest* request,
                                           v1::ListEventTypesResponse* response) override;
  grpc::ServerUnaryReactor* ArchiveEventType(grpc::CallbackServerContext* context,
                                             const v1::ArchiveEventTypeRequest* request,
                                             v1::EventType* response) override;

 private:
  ServiceContext& ctx_;
};

class DeliveryServiceImpl final : public v1::DeliveryService::CallbackService {
 public:
  explicit DeliveryServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* ListDeliveries(grpc::CallbackServerContext* context,
                                           const v1::ListDeliveriesRequest* request,
                                           v1::ListDeliveriesResponse* response) override;
  grpc::ServerUnaryReactor* GetDelivery(grpc::CallbackServerContext* context,
                                        const v1::GetDeliveryRequest* request,
                                        v1::Delivery* response) override;
  grpc::ServerUnaryReactor* RetryDelivery(grpc::CallbackServerContext* context,
                                          const v1::RetryDeliveryRequest* request,
                                          v1::Delivery* response) override;
  grpc::ServerUnaryReactor* RecoverFailed(grpc::CallbackServerContext* context,
                                          const v1::RecoverFailedRequest* request,
                                          v1::RecoverFailedResponse* response) override;
  grpc::ServerWriteReactor<v1::Delivery>* ExportDeliveries(
      grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request) override;
  grpc::ServerUnaryReactor* GetAppStats(grpc::CallbackServerContext* context,
                                        const v1::GetAppStatsRequest* request,
                                        v1::AppStats* response) override;

 private:
  // The filter of a list or export request, checked against the caller's scope.
  absl::StatusOr<ledger::DeliveryFilter> Filter(const auth::Access& access,
                                                const v1::ListDeliveriesRequest& request);

  // The delivery if the caller may see it; another tenant's answers NOT_FOUND.
  absl::StatusOr<v1::Delivery> GetAccessible(const auth::Access& access, const std::string& id);

  // The app `id` if the caller may see it: INVALID_ARGUMENT naming app_id when empty,
  // NOT_FOUND when absent or of another tenant.
  absl::StatusOr<v1::App> GetAccessibleApp(const auth::Access& access, const std::string& id);

  ServiceContext& ctx_;
};

class TokenServiceImpl final : public v1::TokenService::CallbackService {
 public:
  explicit TokenServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* CreateToken(grpc::CallbackServerContext* context,
                                        const v1::CreateTokenRequest* request,
                                        v1::Token* response) override;
  grpc::ServerUnaryReactor* ListTokens(grpc::CallbackServerContext* context,
                                       const v1::ListTokensRequest* request,
                                       v1::ListTokensResponse* response) override;
  grpc::ServerUnaryReactor* RevokeToken(grpc::CallbackServerContext* context,
                                        const v1::RevokeTokenRequest* request,
                                        v1::Token* response) override;

 private:
  // Reads the token changes into this replica's cache (on a pool thread).
  void RefreshCache();

  ServiceContext& ctx_;
};

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  explicit AuditServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* context,
                                            const v1::ListAuditEventsRequest* request,
                                            v1::ListAuditEventsResponse* response) override;

 private:
  ServiceContext& ctx_;
};

}  // namespace hookd::subscription
