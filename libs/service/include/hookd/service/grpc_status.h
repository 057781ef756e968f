#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace hookd {

// Between hookd's absl::Status and gRPC's, for the services and their clients. The numeric codes
// are gRPC's, and the message is cut to 1 KiB (marked as cut): a message that quoted a huge input
// would not fit gRPC's trailers, and the call would hang.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace hookd
