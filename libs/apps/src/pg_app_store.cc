#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/apps/app_store.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace hookd::apps {
namespace {

using google::protobuf::util::TimeUtil;

// Serializes app writes so versions commit in the order they are drawn (see the migration).
constexpr int64_t kAppVersionLockKey = 0x686f6f6b6402;  // "hookd" 02

constexpr char kColumns[] =
    "id, tenant, config::text, secrets, active, disabled_reason, failure_streak, version,"
    " (extract(epoch FROM create_time) * 1000000)::bigint,"
    " (extract(epoch FROM update_time) * 1000000)::bigint, delete_time IS NOT NULL";

// The config column: everything but output-only fields and secrets.
absl::StatusOr<std::string> ConfigJson(const v1::App& app) {
  v1::App config = app;
  config.clear_id();
  config.clear_tenant();
  config.clear_active();
  config.clear_secret();
  config.clear_disabled_reason();
  config.clear_failure_streak();
  config.clear_create_time();
  config.clear_update_time();
  config.clear_signing_keys();
  config.clear_version();
  // Header names stay in the config; their values are sealed with the other secrets.
  for (auto& [name, value] : *config.mutable_headers()) value.clear();
  if (config.auth().has_basic()) config.mutable_auth()->mutable_basic()->clear_password();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(config, &json, options);
  if (!status.ok()) return absl::InternalError("encode app config");
  return json;
}

int64_t ToMicros(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

// The secrets column: one sealed JSON document, so that no secret sits in any column in clear.
absl::StatusOr<std::string> SealSecrets(const v1::App& app, const SecretBox& box) {
  nlohmann::json doc;
  doc["password"] = app.auth().basic().password();
  doc["headers"] = nlohmann::json::object();
  for (const auto& [name, value] : app.headers()) doc["headers"][name] = value;
  doc["keys"] = nlohmann::json::array();
  for (const auto& key : app.signing_keys()) {
    doc["keys"].push_back({{"id", key.id()},
                           {"secret", key.secret()},
                           {"create_us", ToMicros(key.create_time())},
                           {"expire_us", key.has_expire_time() ? ToMicros(key.expire_time()) : 0}});
  }
  HOOKD_ASSIGN_OR_RETURN(std::string sealed, box.Seal(doc.dump(), app.id()));
  return Base64Encode(sealed);
}

absl::Status OpenSecrets(std::string_view column, const SecretBox& box, v1::App& app) {
  HOOKD_ASSIGN_OR_RETURN(std::string sealed, Base64Decode(column));
  HOOKD_ASSIGN_OR_RETURN(std::string plain, box.Open(sealed, app.id()));
  nlohmann::json doc = nlohmann::json::parse(plain, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::DataLossError("app secrets: not JSON");
  if (app.auth().has_basic()) {
    app.mutable_auth()->mutable_basic()->set_password(doc.value("password", ""));
  }
  // A value in clear in the config is of a row written before header values were sealed
  // (SealPlaintextHeaders moves it); a sealed one wins.
  if (doc.contains("headers") && doc["headers"].is_object()) {
    for (const auto& [name, value] : doc["headers"].items()) {
      if (value.is_string()) (*app.mutable_headers())[name] = value.get<std::string>();
    }
  }
  int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (const auto& k : doc["keys"]) {
    int64_t expire_us = k.value("expire_us", int64_t{0});
    if (expire_us != 0 && expire_us <= now_us) continue;  // rotated out and past its grace
    v1::SigningKey* key = app.add_signing_keys();
    key->set_id(k.value("id", ""));
    key->set_secret(k.value("secret", ""));
    *key->mutable_create_time() =
        TimeUtil::MicrosecondsToTimestamp(k.value("create_us", int64_t{0}));
    if (expire_us != 0) *key->mutable_expire_time() = TimeUtil::MicrosecondsToTimestamp(expire_us);
  }
  return absl::OkStatus();
}

// Rebuilds an app from a row selected with kColumns, without its secrets.
absl::StatusOr<v1::App> FromRowWithoutSecrets(const pqxx::row& row) {
  v1::App app;
  // Fields this binary does not know yet (written by a newer hookd-subscription during a rolling
  // upgrade) are skipped rather than making the app unreadable.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(row[2].as<std::string>(), &app, options);
  if (!parsed.ok()) return absl::DataLossError("app config: not an App");
  app.set_id(row[0].as<std::string>());
  app.set_tenant(row[1].as<std::string>());
  app.set_active(row[4].as<bool>());
  app.set_disabled_reason(row[5].as<std::string>());
  app.set_failure_streak(row[6].as<int>());
  app.set_version(row[7].as<int64_t>());
  *app.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[8].as<int64_t>());
  *app.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
  return app;
}

// Rebuilds an app from a row selected with kColumns.
absl::StatusOr<v1::App> FromRow(const pqxx::row& row, const SecretBox& box) {
  HOOKD_ASSIGN_OR_RETURN(v1::App app, FromRowWithoutSecrets(row));
  HOOKD_RETURN_IF_ERROR(OpenSecrets(row[3].as<std::string>(), box, app));
  return app;
}

class PgAppStore final : public AppStore {
 public:
  using AppStore::Update;
  PgAppStore(db::PgPool& pool, const SecretBox& box) : pool_(pool), box_(box) {}

  absl::StatusOr<v1::App> Create(const v1::App& app, const db::InTransaction& also) override {
    HOOKD_ASSIGN_OR_RETURN(std::string config, ConfigJson(app));
    HOOKD_ASSIGN_OR_RETURN(std::string secrets, SealSecrets(app, box_));
    v1::App stored;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("create app", [&](pqxx::work& txn) -> absl::Status {
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", kAppVersionLockKey);
      pqxx::row row = txn.exec_params1(
          absl::StrCat("INSERT INTO apps (id, tenant, config, secrets, active, disabled_reason,"
                       " version) VALUES ($1, $2, $3::jsonb, $4, $5, $6,"
                       " nextval('app_version_seq')) RETURNING ",
                       kColumns),
          app.id(), app.tenant(), config, secrets, app.active(), app.disabled_reason());
      HOOKD_ASSIGN_OR_RETURN(stored, FromRow(row, box_));
      if (also) HOOKD_RETURN_IF_ERROR(also(txn));
      return absl::OkStatus();
    }));
    return stored;
  }

  absl::StatusOr<v1::App> Get(std::string_view id) override {
    v1::App app;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("get app", [&](pqxx::work& txn) -> absl::Status {
      pqxx::result rows = txn.exec_params(
          absl::StrCat("SELECT ", kColumns, " FROM apps WHERE id = $1 AND delete_time IS NULL"),
          std::string(id));
      if (rows.empty()) return NotFound(id);
      HOOKD_ASSIGN_OR_RETURN(app, FromRow(rows[0], box_));
      return absl::OkStatus();
    }));
    return app;
  }

  absl::StatusOr<AppPage> List(std::string_view tenant, int page_size,
                               std::string_view after_id) override {
    AppPage page;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("list apps", [&](pqxx::work& txn) -> absl::Status {
      // One row more than asked tells whether another page follows.
      pqxx::result rows = txn.exec_params(
          absl::StrCat("SELECT ", kColumns,
                       " FROM apps WHERE delete_time IS NULL AND ($1 = '' OR tenant = $1)"
                       " AND id > $2 ORDER BY id LIMIT $3"),
          std::string(tenant), std::string(after_id), page_size + 1);
      for (const auto& row : rows) {
        if (static_cast<int>(page.apps.size()) == page_size) {
          page.last_id = page.apps.back().id();
          break;
        }
        HOOKD_ASSIGN_OR_RETURN(v1::App app, FromRow(row, box_));
        page.apps.push_back(std::move(app));
      }
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<v1::App> Update(std::string_view id,
                                 const std::function<absl::Status(v1::App&)>& mutate,
                                 const AfterUpdate& after) override {
    v1::App stored;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("update app", [&](pqxx::work& txn) -> absl::Status {
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", kAppVersionLockKey);
      pqxx::result rows = txn.exec_params(
          absl::StrCat("SELECT ", kColumns,
                       " FROM apps WHERE id = $1 AND delete_time IS NULL FOR UPDATE"),
          std::string(id));
      if (rows.empty()) return NotFound(id);
      HOOKD_ASSIGN_OR_RETURN(v1::App app, FromRow(rows[0], box_));
      const v1::App before = after ? app : v1::App();
      HOOKD_RETURN_IF_ERROR(mutate(app));
      HOOKD_ASSIGN_OR_RETURN(std::string config, ConfigJson(app));
      HOOKD_ASSIGN_OR_RETURN(std::string secrets, SealSecrets(app, box_));
      pqxx::row row = txn.exec_params1(
          absl::StrCat("UPDATE apps SET config = $2::jsonb, secrets = $3, active = $4,"
                       " disabled_reason = $5, failure_streak = $6,"
                       " version = nextval('app_version_seq'), update_time = now()"
                       " WHERE id = $1 RETURNING ",
                       kColumns),
          app.id(), config, secrets, app.active(), app.disabled_reason(), app.failure_streak());
      HOOKD_ASSIGN_OR_RETURN(stored, FromRow(row, box_));
      if (after) HOOKD_RETURN_IF_ERROR(after(txn, before, stored));
      return absl::OkStatus();
    }));
    return stored;
  }

  absl::Status Delete(std::string_view id, const db::InTransaction& also) override {
    return pool_.Transact("delete app", [&](pqxx::work& txn) -> absl::Status {
      txn.exec_params("SELECT pg_advisory_xact_lock($1)", kAppVersionLockKey);
      pqxx::result rows = txn.exec_params(
          "UPDATE apps SET delete_time = now(), update_time = now(),"
          " version = nextval('app_version_seq') WHERE id = $1 AND delete_time IS NULL"
          " RETURNING id",
          std::string(id));
      if (rows.empty()) return NotFound(id);
      if (also) HOOKD_RETURN_IF_ERROR(also(txn));
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<AppChange>> ChangesSince(int64_t after_version, int limit) override {
    std::vector<AppChange> changes;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("app changes", [&](pqxx::work& txn) -> absl::Status {
      pqxx::result rows =
          txn.exec_params(absl::StrCat("SELECT ", kColumns,
                                       " FROM apps WHERE version > $1 ORDER BY version LIMIT $2"),
                          after_version, limit);
      for (const auto& row : rows) {
        AppChange change;
        change.version = row[7].as<int64_t>();
        change.deleted = row[10].as<bool>();
        if (change.deleted) {
          change.app.set_id(row[0].as<std::string>());
          change.app.set_tenant(row[1].as<std::string>());
          change.app.set_version(change.version);
        } else {
          HOOKD_ASSIGN_OR_RETURN(change.app, FromRow(row, box_));
        }
        changes.push_back(std::move(change));
      }
      return absl::OkStatus();
    }));
    return changes;
  }

  absl::StatusOr<int64_t> HeadVersion() override {
    int64_t head = 0;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("app head version", [&](pqxx::work& txn) {
      head = txn.exec1("SELECT coalesce(max(version), 0) FROM apps")[0].as<int64_t>();
      return absl::OkStatus();
    }));
    return head;
  }

 private:
  static absl::Status NotFound(std::string_view id) {
    return absl::NotFoundError(
        absl::StrCat("app ", absl::string_view(id.data(), id.size()), " not found"));
  }

  db::PgPool& pool_;
  const SecretBox& box_;
};

}  // namespace

absl::StatusOr<int> SealPlaintextHeaders(db::PgPool& pool, AppStore& store) {
  std::vector<std::string> ids;
  HOOKD_RETURN_IF_ERROR(pool.Transact("find plaintext headers", [&](pqxx::work& txn) {
    for (const auto& row :
         txn.exec("SELECT id FROM apps WHERE delete_time IS NULL AND EXISTS (SELECT 1 FROM"
                  " jsonb_each_text(coalesce(config->'headers', '{}')) h WHERE h.value <> '')")) {
      ids.push_back(row[0].as<std::string>());
    }
    return absl::OkStatus();
  }));
  int sealed = 0;
  for (const std::string& id : ids) {
    // Read and stored again: the store seals every value and clears it from the config.
    absl::StatusOr<v1::App> app = store.Update(id, [](v1::App&) { return absl::OkStatus(); });
    if (app.ok()) {
      ++sealed;
    } else if (app.status().code() != absl::StatusCode::kNotFound) {
      return app.status();
    }
  }
  return sealed;
}

absl::StatusOr<std::vector<v1::App>> TenantAppsForRouting(pqxx::work& txn,
                                                          std::string_view tenant) {
  std::vector<v1::App> apps;
  pqxx::result rows = txn.exec_params(
      absl::StrCat("SELECT ", kColumns,
                   " FROM apps WHERE tenant = $1 AND delete_time IS NULL ORDER BY id"),
      std::string(tenant));
  for (const auto& row : rows) {
    absl::StatusOr<v1::App> app = FromRowWithoutSecrets(row);
    if (!app.ok()) {
      // One unreadable app must not stop what the caller's transaction records.
      spdlog::warn("app {} of tenant {} is not routed: {}", row[0].as<std::string>(),
                   std::string(tenant), app.status().ToString());
      continue;
    }
    apps.push_back(std::move(*app));
  }
  return apps;
}

std::unique_ptr<AppStore> NewPgAppStore(db::PgPool& pool, const SecretBox& box) {
  return std::make_unique<PgAppStore>(pool, box);
}

}  // namespace hookd::apps
