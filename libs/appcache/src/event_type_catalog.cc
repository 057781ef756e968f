#include "hookd/appcache/event_type_catalog.h"

#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "spdlog/spdlog.h"

namespace hookd::appcache {

EventTypeCatalog::EventTypeCatalog(std::string subscription_addr, std::string token,
                                   absl::Duration refresh_interval)
    : token_(std::move(token)),
      refresh_interval_(refresh_interval),
      channel_(NewInternalChannel(subscription_addr)),
      stub_(v1::EventTypeService::NewStub(channel_)) {}

EventTypeCatalog::~EventTypeCatalog() { Stop(); }

void EventTypeCatalog::Start() { task_.Start(); }

void EventTypeCatalog::Stop() { task_.Stop(); }

EventTypeCatalog::State EventTypeCatalog::Lookup(std::string_view name) const {
  std::shared_ptr<const std::map<std::string, Entry, std::less<>>> types;
  {
    std::lock_guard<std::mutex> lock(mu_);
    types = types_;
  }
  if (types == nullptr) return State::kUnknown;
  auto it = types->find(name);
  if (it == types->end()) return State::kUnknown;
  return it->second.archived ? State::kArchived : State::kActive;
}

std::shared_ptr<const schema::CompiledSchema> EventTypeCatalog::SchemaOf(
    std::string_view name) const {
  std::shared_ptr<const std::map<std::string, Entry, std::less<>>> types;
  {
    std::lock_guard<std::mutex> lock(mu_);
    types = types_;
  }
  if (types == nullptr) return nullptr;
  auto it = types->find(name);
  return it == types->end() ? nullptr : it->second.schema;
}

absl::Status EventTypeCatalog::Refresh() {
  absl::Time asked = absl::Now();
  std::lock_guard<std::mutex> load_lock(load_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Callers that queued behind a load which started after they asked reuse its result.
    if (load_started_ >= asked) return absl::OkStatus();
  }
  return Load();
}

absl::Status EventTypeCatalog::Load() {
  absl::Time started = absl::Now();
  auto types = std::make_shared<std::map<std::string, Entry, std::less<>>>();
  std::shared_ptr<const std::map<std::string, Entry, std::less<>>> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = types_;
  }
  v1::ListEventTypesRequest request;
  request.set_include_archived(true);
  request.set_page_size(1000);
  for (;;) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListEventTypesResponse response;
    HOOKD_RETURN_IF_ERROR(FromGrpcStatus(stub_->ListEventTypes(&context, request, &response)));
    for (const auto& type : response.event_types()) {
      Entry& entry = (*types)[type.name()];
      entry.archived = type.archived();
      entry.schema_text = type.has_schema() ? type.schema() : "";
      if (entry.schema_text.empty()) continue;
      // Compiled again only when it changed.
      if (previous != nullptr) {
        auto it = previous->find(type.name());
        if (it != previous->end() && it->second.schema_text == entry.schema_text) {
          entry.schema = it->second.schema;
          continue;
        }
      }
      auto compiled = schema::CompiledSchema::Compile(entry.schema_text, "schema");
      if (compiled.ok()) {
        entry.schema = *std::move(compiled);
      } else {
        spdlog::error("event type {}: its schema is not applied: {}", type.name(),
                      compiled.status().ToString());
      }
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  std::lock_guard<std::mutex> lock(mu_);
  types_ = std::move(types);
  load_started_ = started;
  return absl::OkStatus();
}

absl::Duration EventTypeCatalog::Tick() {
  absl::Status status = Refresh();
  if (!status.ok()) spdlog::warn("event type catalog: {}", status.ToString());
  std::lock_guard<std::mutex> lock(mu_);
  // Retry sooner while nothing is loaded yet.
  return types_ == nullptr ? absl::Milliseconds(200) : refresh_interval_;
}

}  // namespace hookd::appcache
