#include "hookd/service/grpc_status.h"

#include <string>
#include <string_view>

namespace hookd {

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
