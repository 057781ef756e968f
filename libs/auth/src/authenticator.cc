#include "hookd/auth/authenticator.h"

#include "absl/strings/ascii.h"
#include "hookd/common/ids.h"
#include "hookd/common/proto_input.h"
#include "hookd/crypto/signing.h"

namespace hookd::auth {
namespace {

constexpr char kRequestIdHeader[] = "x-request-id";

bool IsRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// The call's request id, echoed to the client.
std::string RequestId(grpc::ServerContextBase& context) {
  std::string id;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find(kRequestIdHeader); it != metadata.end()) {
    id.assign(it->second.data(), it->second.size());
  }
  if (!IsRequestId(id)) id = NewId("req");
  context.AddInitialMetadata(kRequestIdHeader, id);
  return id;
}

}  // namespace

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

absl::Status Authenticator::StillValid(const Principal& principal) const {
  if (principal.token_id == BootstrapAdmin().token_id) return absl::OkStatus();
  if (tokens_ == nullptr) return absl::UnauthenticatedError("invalid token");
  return tokens_->StillValid(principal.token_id);
}

absl::StatusOr<Access> Authenticator::Authorize(Rpc rpc, grpc::ServerContextBase& context,
                                                const google::protobuf::Message& request) const {
  const std::string request_id = RequestId(context);
  absl::StatusOr<Principal> principal = Authenticate(context);
  if (!principal.ok()) return principal.status();
  absl::StatusOr<Access> access = auth::Authorize(rpc, *principal);
  if (!access.ok()) return access;
  if (absl::Status clean = RefuseNulCharacters(request); !clean.ok()) return clean;
  access->set_request_id(request_id);
  return access;
}

}  // namespace hookd::auth
