#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/crypto/secret_box.h"
#include "hookd/db/pg_pool.h"
#include "hookd/v1/app.pb.h"

namespace hookd::apps {

struct AppPage {
  std::vector<v1::App> apps;
  // Id of the last app of the page when more may follow; empty on the last page.
  std::string last_id;
};

// One entry of the change feed: the app as of `version`, or its tombstone.
struct AppChange {
  v1::App app;  // with `id` and `tenant` only when deleted
  bool deleted = false;
  int64_t version = 0;
};

// Where apps live. Apps come back "whole": the basic-auth password, custom header values and
// every still-valid signing key with its secret, all of them sealed at rest; callers redact
// before answering a client.
class AppStore {
 public:
  virtual ~AppStore() = default;

  // Inserts `app`, which carries its id, signing keys and password, then runs `also` (when set)
  // in the same transaction. ALREADY_EXISTS on a taken id. Returns the stored app with version
  // and times set.
  virtual absl::StatusOr<v1::App> Create(const v1::App& app,
                                         const db::InTransaction& also = nullptr) = 0;

  // NOT_FOUND when no live app has this id.
  virtual absl::StatusOr<v1::App> Get(std::string_view id) = 0;

  // Live apps ordered by id after `after_id`; all tenants when `tenant` is empty.
  virtual absl::StatusOr<AppPage> List(std::string_view tenant, int page_size,
                                       std::string_view after_id) = 0;

  // Runs in Update's transaction after the write, with the app before and as stored: what must
  // commit with the change or not at all (its operational event). An error rolls it back.
  using AfterUpdate =
      std::function<absl::Status(pqxx::work& txn, const v1::App& before, const v1::App& stored)>;

  // Reads the app under a lock, lets `mutate` change it and stores the result with a new version,
  // then runs `after` (when set) in the same transaction. NOT_FOUND when the app does not exist;
  // an error from `mutate` or `after` changes nothing.
  virtual absl::StatusOr<v1::App> Update(std::string_view id,
                                         const std::function<absl::Status(v1::App&)>& mutate,
                                         const AfterUpdate& after) = 0;
  absl::StatusOr<v1::App> Update(std::string_view id,
                                 const std::function<absl::Status(v1::App&)>& mutate) {
    return Update(id, mutate, nullptr);
  }

  // Marks the app deleted with a new version, then runs `also` (when set) in the same
  // transaction. NOT_FOUND when it does not exist; an error from `also` changes nothing.
  virtual absl::Status Delete(std::string_view id, const db::InTransaction& also = nullptr) = 0;

  // Up to `limit` changes with a version above `after_version`, oldest first. Each app appears
  // once, as of its latest change: a change feed that compacts, like a Kubernetes watch.
  virtual absl::StatusOr<std::vector<AppChange>> ChangesSince(int64_t after_version, int limit) = 0;

  // The version of the newest change, 0 when there is none.
  virtual absl::StatusOr<int64_t> HeadVersion() = 0;
};

// The live apps of `tenant`, without their secrets, read in the caller's transaction: hookd's
// operational events are routed to the operations tenant's apps in the transaction of the change
// they report. An app whose config cannot be read is skipped with a warning.
absl::StatusOr<std::vector<v1::App>> TenantAppsForRouting(pqxx::work& txn, std::string_view tenant);

// Seals the custom header values that rows written before they were sealed keep in clear in
// their config (hookd-subscription at start). Returns how many apps it rewrote.
absl::StatusOr<int> SealPlaintextHeaders(db::PgPool& pool, AppStore& store);

// The Postgres AppStore; secrets are sealed with `box`, bound to the app id.
std::unique_ptr<AppStore> NewPgAppStore(db::PgPool& pool, const SecretBox& box);

}  // namespace hookd::apps
