#include "hookd/common/status.h"

#include "gtest/gtest.h"

namespace hookd {
namespace {

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
