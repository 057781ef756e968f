#include "hookd/service/grpc_status.h"

#include <string>

#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(ToGrpcStatus, KeepsCodeAndMessageAndCutsAHugeMessage) {
  grpc::Status kept = ToGrpcStatus(absl::NotFoundError("app app_1 not found"));
  EXPECT_EQ(kept.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(kept.error_message(), "app app_1 not found");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());

  grpc::Status cut = ToGrpcStatus(absl::NotFoundError("app " + std::string(1 << 20, 'a')));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(cut.error_message().size(), 1024u);
  EXPECT_EQ(cut.error_message().substr(0, 5), "app a");
  EXPECT_EQ(cut.error_message().substr(1024 - 10), " ... (cut)");
}

TEST(FromGrpcStatus, KeepsCodeAndMessage) {
  absl::Status status = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "down");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace hookd
