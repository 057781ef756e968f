#pragma once

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "hookd/auth/authenticator.h"

namespace hookd::auth {

// gRPC server reflection (v1alpha) over the descriptors compiled into the binary, behind the
// same token check as every other RPC (any role; README, "Tokens and roles"): gRPC's own plugin
// answers anyone, and 1.51's interceptors cannot refuse a call. Lists `services`, and answers
// files by name or by symbol with the files they import; hookd defines no extensions.
class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: the fully-qualified names the server offers, reflection included.
  ReflectionService(Authenticator& auth, std::vector<std::string> services)
      : auth_(auth), services_(std::move(services)) {}

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // The answer to one request (exposed for unit tests).
  grpc::reflection::v1alpha::ServerReflectionResponse Answer(
      const grpc::reflection::v1alpha::ServerReflectionRequest& request) const;

 private:
  Authenticator& auth_;
  const std::vector<std::string> services_;
};

}  // namespace hookd::auth
