#include "hookd/auth/authenticator.h"

#include "hookd/crypto/signing.h"

namespace hookd::auth {

bool Principal::CanAccess(std::string_view other) const { return admin || tenant == other; }

absl::StatusOr<Principal> Authenticator::Authenticate(
    const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing authorization metadata: send 'Bearer <token>'");
  }
  return AuthenticateHeader(std::string_view(it->second.data(), it->second.size()));
}

absl::StatusOr<Principal> Authenticator::AuthenticateHeader(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  std::string_view token = authorization.substr(kBearer.size());
  // Constant-time, so response timing does not reveal how much of a guess was right.
  if (!admin_token_.empty() && ConstantTimeEquals(token, admin_token_)) {
    return Principal{.admin = true, .tenant = ""};
  }
  return absl::UnauthenticatedError("invalid token");
}

absl::Status RequireAdmin(const Principal& principal) {
  if (principal.admin) return absl::OkStatus();
  return absl::PermissionDeniedError("this call needs the admin token");
}

absl::Status RequireTenant(const Principal& principal, std::string_view tenant) {
  if (principal.CanAccess(tenant)) return absl::OkStatus();
  return absl::PermissionDeniedError("the token is not scoped to this tenant");
}

}  // namespace hookd::auth
