#include "hookd/auth/authenticator.h"

#include "gtest/gtest.h"

namespace hookd::auth {
namespace {

TEST(Authenticator, AcceptsTheAdminToken) {
  Authenticator auth("s3cret-admin");
  auto principal = auth.AuthenticateHeader("Bearer s3cret-admin");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_TRUE(principal->admin);
  EXPECT_TRUE(principal->CanAccess("any-tenant"));
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
  EXPECT_EQ(auth.AuthenticateHeader("Bearer ").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(Principal, TenantScope) {
  Principal tenant{.admin = false, .tenant = "acme"};
  EXPECT_TRUE(RequireTenant(tenant, "acme").ok());
  EXPECT_EQ(RequireTenant(tenant, "globex").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(RequireAdmin(tenant).code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace hookd::auth
