#include <optional>

#include "absl/strings/str_cat.h"
#include "hookd/apps/event_type_store.h"
#include "hookd/common/status.h"

namespace hookd::apps {
namespace {

constexpr char kColumns[] = "name, description, schema::text, archived";

v1::EventType FromRow(const pqxx::row& row) {
  v1::EventType type;
  type.set_name(row[0].as<std::string>());
  type.set_description(row[1].as<std::string>());
  if (!row[2].is_null()) type.set_schema(row[2].as<std::string>());
  type.set_archived(row[3].as<bool>());
  return type;
}

class PgEventTypeStore final : public EventTypeStore {
 public:
  explicit PgEventTypeStore(db::PgPool& pool) : pool_(pool) {}

  absl::StatusOr<v1::EventType> Create(const v1::EventType& event_type,
                                       const db::InTransaction& also) override {
    v1::EventType stored;
    absl::Status status = pool_.Transact("create event type", [&](pqxx::work& txn) {
      // A NULL parameter keeps the schema column NULL when none was given.
      std::optional<std::string> schema;
      if (event_type.has_schema()) schema = event_type.schema();
      stored = FromRow(
          txn.exec_params1(absl::StrCat("INSERT INTO event_types (name, description, schema)"
                                        " VALUES ($1, $2, $3::jsonb) RETURNING ",
                                        kColumns),
                           event_type.name(), event_type.description(), schema));
      if (also) return also(txn);
      return absl::OkStatus();
    });
    if (status.code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(
          absl::StrCat("event type ", event_type.name(), " already exists"));
    }
    HOOKD_RETURN_IF_ERROR(status);
    return stored;
  }

  absl::StatusOr<EventTypePage> List(int page_size, std::string_view after_name,
                                     bool include_archived) override {
    EventTypePage page;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("list event types", [&](pqxx::work& txn) {
      pqxx::result rows =
          txn.exec_params(absl::StrCat("SELECT ", kColumns,
                                       " FROM event_types WHERE name > $1 AND ($2 OR NOT archived)"
                                       " ORDER BY name LIMIT $3"),
                          std::string(after_name), include_archived, page_size + 1);
      for (const auto& row : rows) {
        if (static_cast<int>(page.event_types.size()) == page_size) {
          page.last_name = page.event_types.back().name();
          break;
        }
        page.event_types.push_back(FromRow(row));
      }
      return absl::OkStatus();
    }));
    return page;
  }

  absl::StatusOr<v1::EventType> Archive(std::string_view name,
                                        const db::InTransaction& also) override {
    v1::EventType stored;
    HOOKD_RETURN_IF_ERROR(pool_.Transact("archive event type", [&](pqxx::work& txn) {
      pqxx::result rows =
          txn.exec_params(absl::StrCat("UPDATE event_types SET archived = true, update_time = now()"
                                       " WHERE name = $1 RETURNING ",
                                       kColumns),
                          std::string(name));
      if (rows.empty()) {
        return absl::NotFoundError(
            absl::StrCat("event type ", absl::string_view(name.data(), name.size()), " not found"));
      }
      stored = FromRow(rows[0]);
      if (also) return also(txn);
      return absl::OkStatus();
    }));
    return stored;
  }

 private:
  db::PgPool& pool_;
};

}  // namespace

std::unique_ptr<EventTypeStore> NewPgEventTypeStore(db::PgPool& pool) {
  return std::make_unique<PgEventTypeStore>(pool);
}

}  // namespace hookd::apps
