#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hookd::auth {

// What a token may do; the values are hookd.v1.Role's.
enum class Role : uint8_t { kAdmin = 1, kManager = 2, kPublisher = 3, kViewer = 4 };

// "admin", "manager", "publisher", "viewer".
std::string_view RoleName(Role role);
// The role of a hookd.v1.Role number; nullopt for ROLE_UNSPECIFIED and unknown numbers.
std::optional<Role> RoleFromProto(int role);

// Who is calling: the token's id (`bootstrap` for HOOKD_ADMIN_TOKEN), its role and the one
// tenant it is scoped to (empty: every tenant).
struct Principal {
  std::string token_id;
  Role role = Role::kViewer;
  std::string tenant = {};
};

// The principal of HOOKD_ADMIN_TOKEN.
Principal BootstrapAdmin();

// Every call hookd's services answer to a token. WatchApps with include_secrets is its own entry,
// since only an admin of every tenant may read secrets.
enum class Rpc : uint8_t {
  kCreateApp,
  kGetApp,
  kListApps,
  kUpdateApp,
  kDeleteApp,
  kEnableApp,
  kDisableApp,
  kRotateSecret,
  kTestConnection,
  kWatchApps,
  kWatchAppsWithSecrets,
  kCreateEventType,
  kListEventTypes,
  kArchiveEventType,
  kListDeliveries,
  kGetDelivery,
  kRetryDelivery,
  kRecoverFailed,
  kExportDeliveries,
  kGetAppStats,
  kPublish,
  kPublishBatch,
  kGetEvent,
  kCreateToken,
  kListTokens,
  kRevokeToken,
  kListAuditEvents,
  kServerReflection,
};

// Where the tenant a call acts on comes from, which decides how a tenant-scoped token is held to
// its own tenant.
enum class TenantOf : uint8_t {
  // None: the global event type catalog.
  kNothing,
  // The request names it (CreateApp's app, Publish, CreateToken): another tenant is
  // PERMISSION_DENIED.
  kRequest,
  // The resource an id names (an app, a delivery, an event, a token): another tenant's is
  // NOT_FOUND, so ids cannot be probed.
  kResource,
  // A listing's optional tenant filter: none named lists the token's own tenant, another is
  // PERMISSION_DENIED.
  kFilter,
};

// One row of the permission table (README "Tokens and roles" prints the same table).
struct Permission {
  Rpc rpc;
  // "AppService.CreateApp"; "AppService.WatchApps (include_secrets)".
  std::string_view name;
  TenantOf tenant_of;
  // Bit (1 << role) for each role allowed.
  uint8_t roles;
  // Only a token without a tenant may call it (changing the global catalog, reading secrets).
  bool every_tenant_only = false;

  bool Allows(Role role) const { return (roles >> static_cast<int>(role)) & 1; }
};

// The whole table, one row per Rpc in enum order.
std::span<const Permission> PermissionTable();
const Permission& PermissionOf(Rpc rpc);

// What Authorize granted: the tenant checks of the call, by its row of the table.
class Access {
 public:
  Access(const Permission& permission, Principal principal)
      : permission_(&permission), principal_(std::move(principal)) {}

  const Principal& principal() const { return principal_; }
  // The call's request id (its `x-request-id` metadata, or one made for it), for the audit log.
  const std::string& request_id() const { return request_id_; }
  void set_request_id(std::string id) { request_id_ = std::move(id); }

  // Whether the call may act on `tenant`, the tenant its request names or its resource belongs
  // to. A tenant-scoped token and another tenant: PERMISSION_DENIED when the request named it,
  // NOT_FOUND "<resource> not found" when it is a resource's (`resource` names it, e.g.
  // "app app_01...").
  absl::Status Tenant(std::string_view tenant, std::string_view resource = "") const;

  // The tenant a listing is filtered to: `requested` (already validated), or the token's own
  // tenant when none is named (empty for a token of every tenant: no filter).
  // PERMISSION_DENIED for another tenant than the token's.
  absl::StatusOr<std::string> Filter(std::string_view requested) const;

 private:
  const Permission* permission_;
  Principal principal_;
  std::string request_id_;
};

// The one permission decision: may `principal` make the call `rpc` at all. PERMISSION_DENIED
// naming the role and the call when the table says no; the tenant checks follow, on the Access.
absl::StatusOr<Access> Authorize(Rpc rpc, const Principal& principal);

}  // namespace hookd::auth
