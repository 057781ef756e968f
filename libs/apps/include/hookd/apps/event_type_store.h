#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/db/pg_pool.h"
#include "hookd/v1/event_type.pb.h"

namespace hookd::apps {

struct EventTypePage {
  std::vector<v1::EventType> event_types;
  // Name of the last type of the page when more may follow; empty on the last page.
  std::string last_name;
};

// The catalog of event types.
class EventTypeStore {
 public:
  virtual ~EventTypeStore() = default;
  // Adds the type, then runs `also` (when set) in the same transaction. ALREADY_EXISTS when the
  // name is taken, archived or not.
  virtual absl::StatusOr<v1::EventType> Create(const v1::EventType& event_type,
                                               const db::InTransaction& also = nullptr) = 0;
  // Types ordered by name after `after_name`.
  virtual absl::StatusOr<EventTypePage> List(int page_size, std::string_view after_name,
                                             bool include_archived) = 0;
  // Archives the type (again archiving is a no-op), then runs `also` (when set) in the same
  // transaction. NOT_FOUND when it does not exist.
  virtual absl::StatusOr<v1::EventType> Archive(std::string_view name,
                                                const db::InTransaction& also = nullptr) = 0;
};

std::unique_ptr<EventTypeStore> NewPgEventTypeStore(db::PgPool& pool);

}  // namespace hookd::apps
