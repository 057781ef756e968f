#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "hookd/common/periodic_task.h"
#include "hookd/schema/json_schema.h"
#include "hookd/v1/event_type.grpc.pb.h"

namespace hookd::appcache {

// The event type catalog of hookd-subscription, held in memory and refreshed in the background,
// so that validating a publish needs no round trip.
class EventTypeCatalog {
 public:
  enum class State { kUnknown, kActive, kArchived };

  EventTypeCatalog(std::string subscription_addr, std::string token,
                   absl::Duration refresh_interval = absl::Seconds(2));
  ~EventTypeCatalog();

  void Start();
  void Stop();

  State Lookup(std::string_view name) const;

  // The compiled JSON Schema of `name`, or null when it has none (or is unknown). A schema is
  // compiled once, when it is first seen or changes. One that does not compile (stored before
  // hookd refused it) is logged and not applied: it must not stop a service.
  std::shared_ptr<const schema::CompiledSchema> SchemaOf(std::string_view name) const;
  // Reloads the catalog, blocking until done; callers asking while a load is under way share
  // the next one. Used when a publisher names a type the cache does not know: it may have been
  // created a moment ago. UNAVAILABLE when hookd-subscription cannot be reached.
  absl::Status Refresh();

 private:
  absl::Status Load();
  // One refresh of the background task; returns the wait before the next.
  absl::Duration Tick();

  const std::string token_;
  const absl::Duration refresh_interval_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventTypeService::Stub> stub_;

  std::mutex load_mu_;  // one load at a time
  mutable std::mutex mu_;
  struct Entry {
    bool archived = false;
    std::string schema_text;                               // "" when none
    std::shared_ptr<const schema::CompiledSchema> schema;  // null when none or invalid
  };
  std::shared_ptr<const std::map<std::string, Entry, std::less<>>> types_;
  absl::Time load_started_ = absl::InfinitePast();  // of the last completed load
  // Last: its thread uses the members above.
  PeriodicTask task_{[this] { return Tick(); }};
};

}  // namespace hookd::appcache
