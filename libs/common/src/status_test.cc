#include "hookd/common/status.h"

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

TEST(RequireId, RefusesEmptyLongAndUnprintableIds) {
  EXPECT_TRUE(RequireId("app_01JDXK8N5V3Q9G2M7T4R6W8Y0Z", "id").ok());
  EXPECT_TRUE(RequireId(std::string(128, 'a'), "id").ok());
  EXPECT_EQ(RequireId("", "app_id").message(), "app_id: required");
  EXPECT_EQ(RequireId(std::string(129, 'a'), "id").message(), "id: at most 128 characters");
  for (std::string_view bad : {std::string_view("a b"), std::string_view("a\0b", 3),
                               std::string_view("caf\xc3\xa9"), std::string_view("a\n")}) {
    absl::Status status = RequireId(bad, "id");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "id: printable ASCII only");
  }
}

}  // namespace
}  // namespace hookd
