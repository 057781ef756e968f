#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "endpoint_probe.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/ids.h"
#include "hookd/common/logging.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/crypto/signing.h"
#include "hookd/dialect/signature_profile.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "page_token.h"
#include "redact.h"
#include "services.h"

namespace hookd::subscription {
namespace {

using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// Old keys kept signing at once during overlapping rotations; older ones are dropped.
constexpr int kMaxSigningKeys = 5;
constexpr size_t kMaxReasonLength = 500;

// Paths UpdateApp may change.
const std::set<std::string>& UpdatablePaths() {
  static const auto* paths = new std::set<std::string>{"name",
                                                       "description",
                                                       "url",
                                                       "event_types",
                                                       "channels",
                                                       "headers",
                                                       "auth",
                                                       "auth.basic",
                                                       "auth.basic.username",
                                                       "auth.basic.password",
                                                       "timeout",
                                                       "retry",
                                                       "retry.delays",
                                                       "retry.exponential",
                                                       "rate_limit_per_second",
                                                       "signature",
                                                       "disable_after_failures",
                                                       "payload_format",
                                                       "payload_template",
                                                       "disable_on_permanent_error",
                                                       "delivery_delay",
                                                       "signature_profiles",
                                                       "compat_signature_header"};
  return *paths;
}

const std::set<std::string>& OutputOnlyPaths() {
  static const auto* paths = new std::set<std::string>{
      "id",          "tenant",      "active",       "secret", "disabled_reason", "failure_streak",
      "create_time", "update_time", "signing_keys", "version"};
  return *paths;
}

absl::Status CheckUpdateMask(const google::protobuf::FieldMask& mask) {
  if (mask.paths().empty()) {
    return InvalidField("update_mask", "required: name the fields to change, e.g. \"url\"");
  }
  for (const std::string& path : mask.paths()) {
    if (UpdatablePaths().count(path) > 0) continue;
    if (path == "active") {
      return InvalidField("update_mask", "active is changed by EnableApp and DisableApp");
    }
    if (path == "secret" || path == "signing_keys") {
      return InvalidField("update_mask", path + " is changed by RotateSecret");
    }
    if (OutputOnlyPaths().count(path) > 0) {
      return InvalidField("update_mask", path + " cannot be changed");
    }
    return InvalidField("update_mask", "unknown field " + path);
  }
  return absl::OkStatus();
}

// A sensitive header sent empty keeps its stored value: GetApp answers those values empty, so a
// client's read-modify-write must not wipe them (README, "Custom headers").
void KeepWriteOnlyHeaders(const google::protobuf::Map<std::string, std::string>& stored,
                          v1::App& app) {
  for (auto& [name, value] : *app.mutable_headers()) {
    if (!value.empty() || !apps::IsSensitiveHeader(name)) continue;
    for (const auto& [stored_name, stored_value] : stored) {
      if (absl::EqualsIgnoreCase(AbslView(stored_name), AbslView(name))) value = stored_value;
    }
  }
}

// Another tenant's app answers NOT_FOUND, so a token cannot probe which ids exist.
absl::Status CheckAccess(const auth::Access& access, const v1::App& app) {
  return access.Tenant(app.tenant(), "app " + app.id());
}

// A key of the kind `scheme` signs with: an HMAC secret for v1, an Ed25519 key for v1a; or the
// secret a caller chose (already validated).
v1::SigningKey NewSigningKey(absl::Time now, v1::SignatureScheme scheme,
                             const std::string& chosen = "") {
  v1::SigningKey key;
  key.set_id(NewId("key"));
  key.set_secret(!chosen.empty()                              ? chosen
                 : scheme == v1::SIGNATURE_SCHEME_V1A_ED25519 ? NewEd25519SigningSecret()
                                                              : NewSigningSecret());
  *key.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  return key;
}

// The answer to CreateApp, RotateSecret and a scheme change: redacted, but with the new current
// secret when it is a shared secret the receiver must hold (generated or chosen). An Ed25519
// secret key never leaves hookd: receivers verify with the public key, which RedactApp fills in.
void AnswerWithSecret(const v1::App& stored, v1::App* response) {
  *response = stored;
  std::string secret = stored.signing_keys().empty() ? "" : stored.signing_keys(0).secret();
  RedactApp(*response);
  if (!secret.empty() && dialect::KindOfSecret(secret) != dialect::SecretKind::kEd25519) {
    response->set_secret(secret);
  }
}

// Checks a secret chosen by a caller for `app` as `field`: its own rules, the app's scheme, and
// every signature profile and the payload template of the app.
absl::Status CheckChosenSecret(const v1::App& app, const std::string& secret,
                               std::string_view field) {
  if (app.signature() == v1::SIGNATURE_SCHEME_V1A_ED25519) {
    return InvalidField(field,
                        "cannot be chosen for SIGNATURE_SCHEME_V1A_ED25519: hookd generates the "
                        "Ed25519 key pair");
  }
  HOOKD_RETURN_IF_ERROR(dialect::ValidateChosenSecret(secret, field));
  return apps::ValidateSecretForApp(app, secret, field);
}

// Makes a new current key of the app's scheme (or the secret a caller chose); the keys before it
// keep signing for `grace`.
void RotateKeys(v1::App& app, absl::Duration grace, const std::string& chosen = "") {
  absl::Time now = absl::Now();
  auto expire = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now + grace));
  google::protobuf::RepeatedPtrField<v1::SigningKey> keys;
  *keys.Add() = NewSigningKey(now, app.signature(), chosen);
  for (v1::SigningKey& key : *app.mutable_signing_keys()) {
    if (keys.size() == kMaxSigningKeys || grace == absl::ZeroDuration()) break;
    if (!key.has_expire_time()) *key.mutable_expire_time() = expire;
    *keys.Add() = std::move(key);
  }
  *app.mutable_signing_keys() = std::move(keys);
}

// Whether the app's current key signs with its scheme (a scheme change needs a new key).
bool KeyMatchesScheme(const v1::App& app) {
  if (app.signing_keys().empty()) return false;
  bool ed25519 = app.signing_keys(0).secret().rfind("whsk_", 0) == 0;
  return ed25519 == (app.signature() == v1::SIGNATURE_SCHEME_V1A_ED25519);
}

// An audit line: which app changed how. Ids only: never the app's secrets, auth or url.
void LogAppChange(std::string_view change, const v1::App& app) {
  Log(spdlog::level::info, change, {{"app_id", app.id()}, {"tenant", app.tenant()}});
}

}  // namespace

absl::Status AppServiceImpl::StoreNewApp(const auth::Access& access, const v1::App& app,
                                         v1::App* response) {
  HOOKD_ASSIGN_OR_RETURN(v1::App stored,
                         ctx_.apps.Create(app, audit::Recorder(access, {.action = "app.create",
                                                                        .resource = app.id(),
                                                                        .tenant = app.tenant()})));
  ctx_.watch_hub.Notify();
  LogAppChange("app created", stored);
  AnswerWithSecret(stored, response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AppServiceImpl::CreateApp(grpc::CallbackServerContext* context,
                                                    const v1::CreateAppRequest* request,
                                                    v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kCreateApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ctx_.pool.Submit([this, access = *std::move(access), request, response, reactor] {
    auto prepared = [&]() -> absl::StatusOr<v1::App> {
      if (!request->has_app()) return InvalidField("app", "required");
      v1::App app = request->app();
      HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(app.tenant(), "app.tenant"));
      HOOKD_RETURN_IF_ERROR(access.Tenant(app.tenant()));
      const std::string chosen_secret = app.secret();
      // Output-only fields a client sent are ignored, as AIP-203 asks.
      app.clear_id();
      app.clear_secret();
      app.clear_public_key();
      app.clear_disabled_reason();
      app.clear_failure_streak();
      app.clear_create_time();
      app.clear_update_time();
      app.clear_signing_keys();
      app.clear_version();
      app.set_active(true);
      apps::ApplyDefaults(app);
      HOOKD_RETURN_IF_ERROR(apps::ValidateApp(app, ctx_.validation));
      apps::ResolveSignatureProfiles(app);
      if (!chosen_secret.empty()) {
        HOOKD_RETURN_IF_ERROR(CheckChosenSecret(app, chosen_secret, "app.secret"));
      }
      v1::SigningKey key = NewSigningKey(absl::Now(), app.signature(), chosen_secret);
      HOOKD_RETURN_IF_ERROR(apps::ValidateSecretForApp(app, key.secret(), "app.secret"));
      app.set_id(NewId("app"));
      *app.add_signing_keys() = std::move(key);
      return app;
    }();
    if (!prepared.ok()) return reactor->Finish(ToGrpcStatus(prepared.status()));
    if (request->skip_connection_test()) {
      return reactor->Finish(ToGrpcStatus(StoreNewApp(access, *prepared, response)));
    }
    // The test request runs on the sender's thread; no pool thread waits for the endpoint.
    auto app = std::make_shared<v1::App>(std::move(*prepared));
    SendPing(ctx_.sender, *app, [this, access, app, response, reactor](http::HttpResult result) {
      absl::Status verdict = ConnectionVerdict(result);
      if (!verdict.ok()) return reactor->Finish(ToGrpcStatus(verdict));
      ctx_.pool.Submit([this, access, app, response, reactor] {
        reactor->Finish(ToGrpcStatus(StoreNewApp(access, *app, response)));
      });
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AppServiceImpl::GetApp(grpc::CallbackServerContext* context,
                                                 const v1::GetAppRequest* request,
                                                 v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kGetApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_RETURN_IF_ERROR(RequireId(request->id(), "id"));
    HOOKD_ASSIGN_OR_RETURN(v1::App app, ctx_.apps.Get(request->id()));
    HOOKD_RETURN_IF_ERROR(CheckAccess(access, app));
    RedactApp(app);
    *response = std::move(app);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AppServiceImpl::ListApps(grpc::CallbackServerContext* context,
                                                   const v1::ListAppsRequest* request,
                                                   v1::ListAppsResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kListApps, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_ASSIGN_OR_RETURN(std::string tenant, ListedTenant(access, request->tenant()));
    HOOKD_ASSIGN_OR_RETURN(int page_size,
                           ResolvePageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    std::string filters = "tenant=" + tenant;
    HOOKD_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request->page_token(), filters));
    HOOKD_ASSIGN_OR_RETURN(apps::AppPage page, ctx_.apps.List(tenant, page_size, after));
    for (v1::App& app : page.apps) {
      RedactApp(app);
      *response->add_apps() = std::move(app);
    }
    if (!page.last_id.empty()) {
      response->set_next_page_token(EncodePageToken(filters, page.last_id));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AppServiceImpl::Mutate(grpc::CallbackServerContext* context,
                                                 auth::Access access, const std::string& id,
                                                 std::string_view change, audit::Change audited,
                                                 MutateFn mutate, v1::App* response, AfterFn after,
                                                 ReportFn report) {
  return FinishOnPool(
      context, ctx_.pool,
      [this, access = std::move(access), id, change, audited = std::move(audited),
       mutate = std::move(mutate), after = std::move(after), report = std::move(report),
       response]() -> absl::Status {
        HOOKD_RETURN_IF_ERROR(RequireId(id, "id"));
        bool answer_with_secret = false;
        ledger::OutboxBatch reported;
        auto in_txn = [&](pqxx::work& txn, const v1::App& before,
                          const v1::App& stored) -> absl::Status {
          audit::Change entry = audited;
          entry.resource = stored.id();
          entry.tenant = stored.tenant();
          audit::Record(txn, access, entry);
          if (report) {
            HOOKD_ASSIGN_OR_RETURN(reported,
                                   ctx_.ops.Publish(txn, report(txn, before, stored), absl::Now()));
          }
          return absl::OkStatus();
        };
        HOOKD_ASSIGN_OR_RETURN(v1::App stored,
                               ctx_.apps.Update(
                                   id,
                                   [&](v1::App& app) {
                                     HOOKD_RETURN_IF_ERROR(CheckAccess(access, app));
                                     return mutate(app, answer_with_secret);
                                   },
                                   in_txn));
        // Watchers first: the workers learn of a disabled app before its report is queued.
        ctx_.watch_hub.Notify();
        if (reported.outbox_id != 0) {
          ledger::EnqueueCommitted(ctx_.db, ctx_.queue, reported.outbox_id, reported.messages);
        }
        LogAppChange(change, stored);
        if (after) HOOKD_RETURN_IF_ERROR(after(stored));
        if (answer_with_secret) {
          AnswerWithSecret(stored, response);
        } else {
          RedactApp(stored);
          *response = std::move(stored);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AppServiceImpl::UpdateApp(grpc::CallbackServerContext* context,
                                                    const v1::UpdateAppRequest* request,
                                                    v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kUpdateApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  absl::Status mask = CheckUpdateMask(request->update_mask());
  if (!mask.ok()) return FinishNow(context, mask);
  return Mutate(
      context, *std::move(access), request->app().id(), "app updated",
      {.action = "app.update", .detail = absl::StrJoin(request->update_mask().paths(), ",")},
      [this, request](v1::App& app, bool& with_secret) {
        const auto stored_headers = app.headers();
        FieldMaskUtil::MergeOptions options;
        options.set_replace_message_fields(true);
        options.set_replace_repeated_fields(true);
        FieldMaskUtil::MergeMessageTo(request->app(), request->update_mask(), options, &app);
        KeepWriteOnlyHeaders(stored_headers, app);
        apps::ApplyDefaults(app);
        HOOKD_RETURN_IF_ERROR(apps::ValidateApp(app, ctx_.validation));
        apps::ResolveSignatureProfiles(app);
        if (!KeyMatchesScheme(app)) {
          // A new scheme needs a key of its kind; the old key signs alongside it for the
          // default grace period so receivers can switch without a failed delivery.
          RotateKeys(app, ctx_.default_grace_period);
          with_secret = true;
        }
        // New profiles or a new template must work with the key that signs now.
        if (!app.signing_keys().empty()) {
          HOOKD_RETURN_IF_ERROR(apps::ValidateSecretForApp(app, app.signing_keys(0).secret(),
                                                           "app.signature_profiles"));
        }
        return absl::OkStatus();
      },
      response);
}

grpc::ServerUnaryReactor* AppServiceImpl::DeleteApp(grpc::CallbackServerContext* context,
                                                    const v1::DeleteAppRequest* request,
                                                    google::protobuf::Empty* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kDeleteApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request]() {
    HOOKD_RETURN_IF_ERROR(RequireId(request->id(), "id"));
    HOOKD_ASSIGN_OR_RETURN(v1::App app, ctx_.apps.Get(request->id()));
    HOOKD_RETURN_IF_ERROR(CheckAccess(access, app));
    HOOKD_RETURN_IF_ERROR(ctx_.apps.Delete(
        request->id(),
        audit::Recorder(access,
                        {.action = "app.delete", .resource = app.id(), .tenant = app.tenant()})));
    ctx_.watch_hub.Notify();
    LogAppChange("app deleted", app);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AppServiceImpl::EnableApp(grpc::CallbackServerContext* context,
                                                    const v1::EnableAppRequest* request,
                                                    v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kEnableApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  if (!v1::HeldDeliveries_IsValid(request->held_deliveries())) {
    return FinishNow(context, InvalidField("held_deliveries",
                                           "must be HELD_DELIVERIES_RESUME or "
                                           "HELD_DELIVERIES_DISCARD"));
  }
  const bool resume = request->held_deliveries() != v1::HELD_DELIVERIES_DISCARD;
  return Mutate(
      context, *std::move(access), request->id(), "app enabled",
      {.action = "app.enable",
       .detail = resume ? "held_deliveries=resume" : "held_deliveries=discard"},
      [](v1::App& app, bool&) {
        app.set_active(true);
        app.clear_disabled_reason();
        app.set_failure_streak(0);
        return absl::OkStatus();
      },
      response,
      // After the app is active, so that no delivery is held behind the ones settled here; one
      // held meanwhile by a worker that had not seen the change is swept up by the workers.
      [this, resume](const v1::App& app) -> absl::Status {
        HOOKD_ASSIGN_OR_RETURN(int64_t settled, ctx_.deliveries.SettleHeld(app.id(), resume));
        if (settled > 0) {
          Log(spdlog::level::info, resume ? "held deliveries resumed" : "held deliveries discarded",
              {{"app_id", app.id()}, {"count", settled}});
        }
        return absl::OkStatus();
      },
      [resume](pqxx::work&, const v1::App& before,
               const v1::App& stored) -> std::vector<opsevents::OpsEvent> {
        if (before.active()) return {};  // enabled already: nothing changed
        return {
            {.event_type = opsevents::kAppEnabled,
             .payload = [stored, resume] { return opsevents::AppEnabledPayload(stored, resume); },
             .about_tenant = stored.tenant(),
             .about_app_id = stored.id()}};
      });
}

grpc::ServerUnaryReactor* AppServiceImpl::DisableApp(grpc::CallbackServerContext* context,
                                                     const v1::DisableAppRequest* request,
                                                     v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kDisableApp, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return Mutate(
      context, *std::move(access), request->id(), "app disabled", {.action = "app.disable"},
      [request](v1::App& app, bool&) {
        if (request->reason().size() > kMaxReasonLength) {
          return InvalidField("reason", "at most 500 characters");
        }
        app.set_active(false);
        app.set_disabled_reason(request->reason().empty() ? "disabled by operator"
                                                          : request->reason());
        return absl::OkStatus();
      },
      response, /*after=*/nullptr,
      [](pqxx::work& txn, const v1::App& before,
         const v1::App& stored) -> std::vector<opsevents::OpsEvent> {
        if (!before.active()) return {};  // disabled already: nothing changed
        return {{.event_type = opsevents::kAppDisabled,
                 .payload =
                     [&txn, stored] {
                       return opsevents::AppDisabledPayload(
                           stored, ledger::LatestAttemptOfApp(txn, stored.id()));
                     },
                 .about_tenant = stored.tenant(),
                 .about_app_id = stored.id()}};
      });
}

grpc::ServerUnaryReactor* AppServiceImpl::RotateSecret(grpc::CallbackServerContext* context,
                                                       const v1::RotateSecretRequest* request,
                                                       v1::App* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kRotateSecret, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  absl::Duration grace = ctx_.default_grace_period;
  if (request->has_grace_period()) {
    grace = ToAbslDuration(request->grace_period());
  }
  if (grace < absl::ZeroDuration() || grace > absl::Hours(24 * 7)) {
    return FinishNow(context, InvalidField("grace_period", "must be between 0 and 7 days"));
  }
  return Mutate(
      context, *std::move(access), request->id(), "app secret rotated",
      {.action = "app.rotate_secret", .detail = request->secret().empty() ? "generated" : "chosen"},
      [grace, chosen = request->secret()](v1::App& app, bool& with_secret) {
        if (!chosen.empty()) HOOKD_RETURN_IF_ERROR(CheckChosenSecret(app, chosen, "secret"));
        RotateKeys(app, grace, chosen);
        with_secret = true;
        return absl::OkStatus();
      },
      response);
}

grpc::ServerUnaryReactor* AppServiceImpl::TestConnection(grpc::CallbackServerContext* context,
                                                         const v1::TestConnectionRequest* request,
                                                         v1::TestConnectionResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kTestConnection, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ctx_.pool.Submit([this, access = *std::move(access), request, response, reactor] {
    auto app = [&]() -> absl::StatusOr<v1::App> {
      HOOKD_RETURN_IF_ERROR(RequireId(request->id(), "id"));
      HOOKD_ASSIGN_OR_RETURN(v1::App found, ctx_.apps.Get(request->id()));
      HOOKD_RETURN_IF_ERROR(CheckAccess(access, found));
      return found;
    }();
    if (!app.ok()) return reactor->Finish(ToGrpcStatus(app.status()));
    SendPing(ctx_.sender, *app, [response, reactor](http::HttpResult result) {
      *response = ToResponse(result);
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchAppsResponse>* AppServiceImpl::WatchApps(
    grpc::CallbackServerContext* context, const v1::WatchAppsRequest* request) {
  auto access = ctx_.auth.Authorize(
      request->include_secrets() ? auth::Rpc::kWatchAppsWithSecrets : auth::Rpc::kWatchApps,
      *context, *request);
  return ctx_.watch_hub.Watch(access, *request);
}

}  // namespace hookd::subscription
