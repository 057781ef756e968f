#include "hookd/auth/authenticator.h"

#include "gtest/gtest.h"

namespace hookd::auth {
namespace {

TEST(Authenticator, AcceptsTheAdminToken) {
  Authenticator auth("s3cret-admin");
  auto principal = auth.AuthenticateHeader("Bearer s3cret-admin");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->role, Role::kAdmin);
  EXPECT_EQ(principal->tenant, "");
  EXPECT_EQ(principal->token_id, "bootstrap");
}

TEST(Authenticator, RefusesWrongMalformedAndEmpty) {
  Authenticator auth("s3cret-admin");
  for (std::string_view header : {"Bearer s3cret-admiN", "Bearer ", "bearer s3cret-admin",
                                  "s3cret-admin", "Basic czNjcmV0", ""}) {
    auto principal = auth.AuthenticateHeader(header);
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated) << header;
  }
}

TEST(Authenticator, AnEmptyAdminTokenAcceptsNothing) {
  Authenticator auth("");
  EXPECT_EQ(auth.AuthenticateHeader("Bearer ").status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace hookd::auth
