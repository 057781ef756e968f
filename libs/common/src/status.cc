#include "hookd/common/status.h"

#include <string>

namespace hookd {

absl::Status InvalidField(std::string_view field, std::string_view problem) {
  std::string message(field);
  message.append(": ").append(problem);
  return absl::InvalidArgumentError(message);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace hookd
