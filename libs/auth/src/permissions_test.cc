#include "hookd/auth/permissions.h"

#include <set>

#include "gtest/gtest.h"

namespace hookd::auth {
namespace {

Principal Of(Role role, std::string tenant = "") {
  return Principal{.token_id = "tok_test", .role = role, .tenant = std::move(tenant)};
}

TEST(Permissions, OneRowPerCallWithADistinctName) {
  std::set<std::string_view> names;
  for (const Permission& row : PermissionTable()) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_EQ(&PermissionOf(row.rpc), &row);
    EXPECT_TRUE(row.Allows(Role::kAdmin)) << row.name << ": an admin may call everything";
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Rpc::kServerReflection) + 1);
}

TEST(Permissions, ARoleWithoutTheCallIsPermissionDenied) {
  auto denied = Authorize(Rpc::kPublish, Of(Role::kViewer, "acme"));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), "a viewer token cannot call IngestService.Publish");
  EXPECT_EQ(Authorize(Rpc::kCreateApp, Of(Role::kPublisher)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Authorize(Rpc::kCreateToken, Of(Role::kManager)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Authorize(Rpc::kListEventTypes, Of(Role::kPublisher, "acme")).ok());
}

TEST(Permissions, TheCatalogAndSecretsNeedAnAdminOfEveryTenant) {
  EXPECT_TRUE(Authorize(Rpc::kCreateEventType, Of(Role::kAdmin)).ok());
  EXPECT_TRUE(Authorize(Rpc::kWatchAppsWithSecrets, BootstrapAdmin()).ok());
  for (Rpc rpc : {Rpc::kCreateEventType, Rpc::kArchiveEventType, Rpc::kWatchAppsWithSecrets}) {
    auto scoped = Authorize(rpc, Of(Role::kAdmin, "acme"));
    EXPECT_EQ(scoped.status().code(), absl::StatusCode::kPermissionDenied)
        << PermissionOf(rpc).name;
  }
}

TEST(Permissions, AnotherTenantsResourceIsNotFoundAndANamedOneDenied) {
  auto resource = Authorize(Rpc::kGetApp, Of(Role::kViewer, "acme"));
  ASSERT_TRUE(resource.ok());
  EXPECT_TRUE(resource->Tenant("acme", "app app_1").ok());
  absl::Status other = resource->Tenant("globex", "app app_1");
  EXPECT_EQ(other.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(other.message(), "app app_1 not found");

  auto named = Authorize(Rpc::kPublish, Of(Role::kPublisher, "acme"));
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(named->Tenant("acme").ok());
  EXPECT_EQ(named->Tenant("globex").code(), absl::StatusCode::kPermissionDenied);
  // A tenant admin cannot make a token of every tenant.
  auto token = Authorize(Rpc::kCreateToken, Of(Role::kAdmin, "acme"));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->Tenant("").code(), absl::StatusCode::kPermissionDenied);

  auto everywhere = Authorize(Rpc::kGetApp, Of(Role::kManager));
  ASSERT_TRUE(everywhere.ok());
  EXPECT_TRUE(everywhere->Tenant("globex", "app app_1").ok());
}

TEST(Permissions, AListingIsFilteredToTheTokensTenant) {
  auto scoped = Authorize(Rpc::kListDeliveries, Of(Role::kViewer, "acme"));
  ASSERT_TRUE(scoped.ok());
  EXPECT_EQ(*scoped->Filter(""), "acme");
  EXPECT_EQ(*scoped->Filter("acme"), "acme");
  EXPECT_EQ(scoped->Filter("globex").status().code(), absl::StatusCode::kPermissionDenied);

  auto everywhere = Authorize(Rpc::kListDeliveries, Of(Role::kViewer));
  ASSERT_TRUE(everywhere.ok());
  EXPECT_EQ(*everywhere->Filter(""), "");
  EXPECT_EQ(*everywhere->Filter("globex"), "globex");
}

TEST(Permissions, RolesFromTheProto) {
  EXPECT_EQ(RoleFromProto(1), Role::kAdmin);
  EXPECT_EQ(RoleFromProto(4), Role::kViewer);
  EXPECT_EQ(RoleFromProto(0), std::nullopt);
  EXPECT_EQ(RoleFromProto(5), std::nullopt);
  EXPECT_EQ(RoleName(Role::kPublisher), "publisher");
}

}  // namespace
}  // namespace hookd::auth
