#include "hookd/common/status.h"

#include <string>

namespace hookd {

absl::Status InvalidField(std::string_view field, std::string_view problem) {
  std::string message(field);
  message.append(": ").append(problem);
  return absl::InvalidArgumentError(message);
}

absl::Status RequireId(std::string_view id, std::string_view field) {
  if (id.empty()) return InvalidField(field, "required");
  if (id.size() > 128) return InvalidField(field, "at most 128 characters");
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return InvalidField(field, "printable ASCII only");
  }
  return absl::OkStatus();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  constexpr size_t kMaxMessage = 1024;
  constexpr std::string_view kCut = " ... (cut)";
  std::string message(status.message());
  if (message.size() > kMaxMessage) {
    message.resize(kMaxMessage - kCut.size());
    message.append(kCut);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::move(message));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace hookd
