#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "hookd/auth/permissions.h"
#include "hookd/auth/token_cache.h"

namespace hookd::auth {

// Checks the `authorization: Bearer <token>` metadata of a call: HOOKD_ADMIN_TOKEN, or an API
// token of `tokens`. Every RPC but the health service goes through it first.
class Authenticator {
 public:
  // `admin_token` is HOOKD_ADMIN_TOKEN; it must be non-empty (callers refuse to start without).
  // Without `tokens` only the admin token is accepted (unit tests).
  explicit Authenticator(std::string admin_token, TokenCache* tokens = nullptr)
      : admin_token_(std::move(admin_token)), tokens_(tokens) {}

  // The principal of an `authorization` metadata value: UNAUTHENTICATED when it is malformed or
  // names an unknown, expired or revoked token; UNAVAILABLE when the token cache is stale.
  absl::StatusOr<Principal> AuthenticateHeader(std::string_view authorization) const;

  // Whether `principal` still holds (its token not revoked nor expired since), for streams,
  // which outlive the check of their first call. HOOKD_ADMIN_TOKEN always holds.
  absl::Status StillValid(const Principal& principal) const;

  // The first statement of every handler: authenticates the call, then asks the permission table
  // whether its token may make the call `rpc` (see Authorize in permissions.h), then refuses a
  // `request` holding a NUL character in any string (RefuseNulCharacters), before any work. Also
  // gives the call its request id: the client's `x-request-id` metadata when it is 1..128 of
  // [A-Za-z0-9._:-], else `req_` and a ULID, echoed in the answer's `x-request-id` metadata
  // either way.
  absl::StatusOr<Access> Authorize(Rpc rpc, grpc::ServerContextBase& context,
                                   const google::protobuf::Message& request) const;

 private:
  // AuthenticateHeader of the call's metadata; UNAUTHENTICATED when it has none.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const;

  std::string admin_token_;
  TokenCache* tokens_;
};

}  // namespace hookd::auth
