#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace hookd::auth {

// Who is calling. The admin reaches every tenant; a tenant principal only its own.
struct Principal {
  bool admin = false;
  std::string tenant;

  // Whether this principal may read or change resources of `tenant`.
  bool CanAccess(std::string_view tenant) const;
};

// Checks the `authorization: Bearer <token>` metadata of a call. Every RPC but the health
// service goes through it first.
class Authenticator {
 public:
  // `admin_token` is HOOKD_ADMIN_TOKEN; it must be non-empty (callers refuse to start without).
  explicit Authenticator(std::string admin_token) : admin_token_(std::move(admin_token)) {}

  // UNAUTHENTICATED when the metadata is missing, malformed or names an unknown token.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const;

  // Same, from the header value itself.
  absl::StatusOr<Principal> AuthenticateHeader(std::string_view authorization) const;

 private:
  std::string admin_token_;
};

// PERMISSION_DENIED unless `principal` is the admin.
absl::Status RequireAdmin(const Principal& principal);

// PERMISSION_DENIED unless `principal` may access `tenant`. The message does not say whether
// anything of that tenant exists.
absl::Status RequireTenant(const Principal& principal, std::string_view tenant);

}  // namespace hookd::auth
