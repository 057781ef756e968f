#include "hookd/auth/authenticator.h"

#include "hookd/crypto/signing.h"

namespace hookd::auth {

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
  // Constant-time, so response timing does not reveal how much of a guess was right. API tokens
  // are found by their SHA-256, which reveals nothing of the token either.
  if (!admin_token_.empty() && ConstantTimeEquals(token, admin_token_)) return BootstrapAdmin();
  if (tokens_ != nullptr && !token.empty()) return tokens_->Find(token);
  return absl::UnauthenticatedError("invalid token");
}

absl::StatusOr<Access> Authenticator::Authorize(Rpc rpc,
                                                const grpc::ServerContextBase& context) const {
  absl::StatusOr<Principal> principal = Authenticate(context);
  if (!principal.ok()) return principal.status();
  return auth::Authorize(rpc, *principal);
}

}  // namespace hookd::auth
