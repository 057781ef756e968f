#include "absl/time/clock.h"
#include "hookd/apps/validation.h"
#include "hookd/common/ids.h"
#include "hookd/common/logging.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_util.h"
#include "page_token.h"
#include "services.h"
#include "spdlog/spdlog.h"

namespace hookd::subscription {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxNameLength = 200;

// The new token a CreateToken request describes, checked field by field; output-only fields a
// client sent are ignored.
absl::StatusOr<v1::Token> NewToken(const v1::CreateTokenRequest& request) {
  if (!request.has_token()) return InvalidField("token", "required");
  const v1::Token& asked = request.token();
  if (asked.name().empty() || asked.name().size() > kMaxNameLength) {
    return InvalidField("token.name", "1 to 200 characters");
  }
  for (unsigned char c : asked.name()) {
    if (c < 0x20 || c == 0x7f) return InvalidField("token.name", "control characters");
  }
  if (!auth::RoleFromProto(asked.role())) {
    return InvalidField("token.role",
                        "must be ROLE_ADMIN, ROLE_MANAGER, ROLE_PUBLISHER or ROLE_VIEWER");
  }
  if (!asked.tenant().empty()) {
    HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(asked.tenant(), "token.tenant"));
  }
  HOOKD_ASSIGN_OR_RETURN(
      std::optional<absl::Time> expire,
      OptionalTime(asked.expire_time(), asked.has_expire_time(), "token.expire_time"));
  if (expire && *expire <= absl::Now()) {
    return InvalidField("token.expire_time", "must be in the future");
  }
  v1::Token token;
  token.set_name(asked.name());
  token.set_role(asked.role());
  token.set_tenant(asked.tenant());
  if (asked.has_expire_time()) *token.mutable_expire_time() = asked.expire_time();
  return token;
}

std::string RoleText(const v1::Token& token) {
  return std::string(auth::RoleName(*auth::RoleFromProto(token.role())));
}

// A change of a token, logged with ids and role only: never the token's text.
void LogTokenChange(std::string_view change, const v1::Token& token, const auth::Principal& by) {
  Log(spdlog::level::info, change,
      {{"token_id", token.id()},
       {"role", RoleText(token)},
       {"tenant", token.tenant()},
       {"by", by.token_id}});
}

}  // namespace

void TokenServiceImpl::RefreshCache() {
  // This replica honours the change at once; the other replicas and services within their poll
  // interval (README "Tokens and roles").
  absl::Status refreshed = ctx_.token_cache.Refresh();
  if (!refreshed.ok()) spdlog::warn("token cache not refreshed: {}", refreshed.ToString());
}

grpc::ServerUnaryReactor* TokenServiceImpl::CreateToken(grpc::CallbackServerContext* context,
                                                        const v1::CreateTokenRequest* request,
                                                        v1::Token* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kCreateToken, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(
      context, ctx_.pool, [this, access = *std::move(access), request, response]() -> absl::Status {
        HOOKD_ASSIGN_OR_RETURN(v1::Token token, NewToken(*request));
        HOOKD_RETURN_IF_ERROR(access.Tenant(token.tenant()));
        token.set_id(NewId("tok"));
        token.set_created_by(access.principal().token_id);
        const std::string secret = auth::NewTokenSecret();
        HOOKD_ASSIGN_OR_RETURN(*response,
                               ctx_.token_store.Create(
                                   token, auth::TokenHash(secret),
                                   audit::Recorder(access, {.action = "token.create",
                                                            .resource = token.id(),
                                                            .tenant = token.tenant(),
                                                            .detail = "role=" + RoleText(token)})));
        response->set_secret(secret);
        LogTokenChange("token created", *response, access.principal());
        RefreshCache();
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* TokenServiceImpl::ListTokens(grpc::CallbackServerContext* context,
                                                       const v1::ListTokensRequest* request,
                                                       v1::ListTokensResponse* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kListTokens, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_ASSIGN_OR_RETURN(std::string tenant, ListedTenant(access, request->tenant()));
    HOOKD_ASSIGN_OR_RETURN(int page_size,
                           ResolvePageSize(request->page_size(), kDefaultPageSize, kMaxPageSize));
    std::string filters = "tenant=" + tenant;
    HOOKD_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request->page_token(), filters));
    HOOKD_ASSIGN_OR_RETURN(auth::TokenPage page, ctx_.token_store.List(tenant, page_size, after));
    for (v1::Token& token : page.tokens) *response->add_tokens() = std::move(token);
    if (!page.last_id.empty()) {
      response->set_next_page_token(EncodePageToken(filters, page.last_id));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TokenServiceImpl::RevokeToken(grpc::CallbackServerContext* context,
                                                        const v1::RevokeTokenRequest* request,
                                                        v1::Token* response) {
  auto access = ctx_.auth.Authorize(auth::Rpc::kRevokeToken, *context, *request);
  if (!access.ok()) return FinishNow(context, access.status());
  return FinishOnPool(context, ctx_.pool, [this, access = *std::move(access), request, response]() {
    HOOKD_RETURN_IF_ERROR(RequireId(request->id(), "id"));
    std::string tenant;
    HOOKD_ASSIGN_OR_RETURN(
        *response,
        ctx_.token_store.Revoke(
            request->id(),
            [&](const v1::Token& token) {
              tenant = token.tenant();
              return access.Tenant(token.tenant(), "token " + token.id());
            },
            [&](pqxx::work& txn) {
              audit::Record(
                  txn, access,
                  {.action = "token.revoke", .resource = request->id(), .tenant = tenant});
              return absl::OkStatus();
            }));
    LogTokenChange("token revoked", *response, access.principal());
    RefreshCache();
    return absl::OkStatus();
  });
}

}  // namespace hookd::subscription
