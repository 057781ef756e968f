#include "hookd/auth/permissions.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "hookd/common/absl_view.h"

namespace hookd::auth {
namespace {

constexpr uint8_t Bit(Role role) { return static_cast<uint8_t>(1u << static_cast<int>(role)); }

constexpr uint8_t kAdmin = Bit(Role::kAdmin);
constexpr uint8_t kManager = Bit(Role::kManager);
constexpr uint8_t kPublisher = Bit(Role::kPublisher);
constexpr uint8_t kViewer = Bit(Role::kViewer);
constexpr uint8_t kEveryRole = kAdmin | kManager | kPublisher | kViewer;
// Reading apps, the delivery log and stats.
constexpr uint8_t kReaders = kAdmin | kManager | kViewer;
// Changing apps, retrying and recovering.
constexpr uint8_t kManagers = kAdmin | kManager;

using enum Rpc;
using enum TenantOf;

// README "Tokens and roles" prints this table; keep them the same.
constexpr std::array<Permission, 28> kTable = {{
    {kCreateApp, "AppService.CreateApp", kRequest, kManagers},
    {kGetApp, "AppService.GetApp", kResource, kReaders},
    {kListApps, "AppService.ListApps", kFilter, kReaders},
    {kUpdateApp, "AppService.UpdateApp", kResource, kManagers},
    {kDeleteApp, "AppService.DeleteApp", kResource, kManagers},
    {kEnableApp, "AppService.EnableApp", kResource, kManagers},
    {kDisableApp, "AppService.DisableApp", kResource, kManagers},
    {kRotateSecret, "AppService.RotateSecret", kResource, kManagers},
    {kTestConnection, "AppService.TestConnection", kResource, kManagers},
    {kWatchApps, "AppService.WatchApps", kFilter, kReaders},
    {kWatchAppsWithSecrets, "AppService.WatchApps (include_secrets)", kNothing, kAdmin, true},
    {kCreateEventType, "EventTypeService.CreateEventType", kNothing, kAdmin, true},
    {kListEventTypes, "EventTypeService.ListEventTypes", kNothing, kEveryRole},
    {kArchiveEventType, "EventTypeService.ArchiveEventType", kNothing, kAdmin, true},
    {kListDeliveries, "DeliveryService.ListDeliveries", kFilter, kReaders},
    {kGetDelivery, "DeliveryService.GetDelivery", kResource, kReaders},
    {kRetryDelivery, "DeliveryService.RetryDelivery", kResource, kManagers},
    {kRecoverFailed, "DeliveryService.RecoverFailed", kResource, kManagers},
    {kExportDeliveries, "DeliveryService.ExportDeliveries", kFilter, kReaders},
    {kGetAppStats, "DeliveryService.GetAppStats", kResource, kReaders},
    {kPublish, "IngestService.Publish", kRequest, kAdmin | kPublisher},
    {kPublishBatch, "IngestService.PublishBatch", kRequest, kAdmin | kPublisher},
    {kGetEvent, "IngestService.GetEvent", kResource, kEveryRole},
    {kCreateToken, "TokenService.CreateToken", kRequest, kAdmin},
    {kListTokens, "TokenService.ListTokens", kFilter, kAdmin},
    {kRevokeToken, "TokenService.RevokeToken", kResource, kAdmin},
    {kListAuditEvents, "AuditService.ListAuditEvents", kFilter, kAdmin},
    {kServerReflection, "ServerReflection.ServerReflectionInfo", kNothing, kEveryRole},
}};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].rpc) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "one row per Rpc, in enum order");
static_assert(kTable.back().rpc == kServerReflection, "every Rpc has its row");

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kManager:
      return "manager";
    case Role::kPublisher:
      return "publisher";
    case Role::kViewer:
      return "viewer";
  }
  return "unknown";
}

std::optional<Role> RoleFromProto(int role) {
  if (role < static_cast<int>(Role::kAdmin) || role > static_cast<int>(Role::kViewer)) {
    return std::nullopt;
  }
  return static_cast<Role>(role);
}

Principal BootstrapAdmin() { return Principal{.token_id = "bootstrap", .role = Role::kAdmin}; }

std::span<const Permission> PermissionTable() { return kTable; }

const Permission& PermissionOf(Rpc rpc) { return kTable[static_cast<size_t>(rpc)]; }

absl::StatusOr<Access> Authorize(Rpc rpc, const Principal& principal) {
  const Permission& permission = PermissionOf(rpc);
  if (!permission.Allows(principal.role)) {
    return absl::PermissionDeniedError(absl::StrCat("a ", AbslView(RoleName(principal.role)),
                                                    " token cannot call ",
                                                    AbslView(permission.name)));
  }
  if (permission.every_tenant_only && !principal.tenant.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        AbslView(permission.name), " needs an admin token of every tenant; this one is scoped to ",
        principal.tenant));
  }
  return Access(permission, principal);
}

absl::Status Access::Tenant(std::string_view tenant, std::string_view resource) const {
  if (principal_.tenant.empty() || principal_.tenant == tenant) return absl::OkStatus();
  if (permission_->tenant_of == TenantOf::kResource) {
    return absl::NotFoundError(absl::StrCat(AbslView(resource), " not found"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("the token is scoped to tenant ", principal_.tenant));
}

absl::StatusOr<std::string> Access::Filter(std::string_view requested) const {
  if (requested.empty()) return principal_.tenant;
  if (principal_.tenant.empty() || principal_.tenant == requested) return std::string(requested);
  return absl::PermissionDeniedError(
      absl::StrCat("the token is scoped to tenant ", principal_.tenant));
}

}  // namespace hookd::auth
