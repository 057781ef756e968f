#include "hookd/opsevents/ops_events.h"

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "hookd/apps/validation.h"
#include "hookd/schema/json_schema.h"
#include "nlohmann/json.hpp"

namespace hookd::opsevents {
namespace {

using Json = nlohmann::json;

const absl::Time kAt = absl::FromUnixMillis(1'790'000'000'250);

ledger::AttemptResult Failed503() {
  return {.status_code = 503,
          .body_excerpt = "busy",
          .error = v1::ATTEMPT_ERROR_HTTP_STATUS,
          .error_detail = "",
          .start_time = kAt - absl::Seconds(1),
          .duration = absl::Milliseconds(12)};
}

v1::App DisabledApp() {
  v1::App app;
  app.set_id("app_1");
  app.set_tenant("acme");
  app.set_name("Encoder hooks");
  app.set_disabled_reason("disabled after 10 consecutive failed deliveries");
  app.set_failure_streak(10);
  *app.mutable_update_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(kAt));
  return app;
}

// The compiled schema the catalog holds for `type`; a failure, and null, when it has none.
std::shared_ptr<const schema::CompiledSchema> SchemaOf(const std::string& type) {
  for (const v1::EventType& t : EventTypes()) {
    if (t.name() != type) continue;
    auto schema = schema::CompiledSchema::Compile(t.schema(), "schema");
    EXPECT_TRUE(schema.ok()) << type << ": " << schema.status();
    return schema.ok() ? *schema : nullptr;
  }
  ADD_FAILURE() << type << " is not in EventTypes()";
  return nullptr;
}

// The payload of `type` is valid under the schema the catalog holds for it.
void ExpectValid(const std::string& type, const std::string& payload) {
  auto schema = SchemaOf(type);
  ASSERT_NE(schema, nullptr);
  absl::Status valid = schema->Validate(payload, "payload");
  EXPECT_TRUE(valid.ok()) << type << ": " << valid << "\n" << payload;
}

TEST(OpsEvents, FourReservedTypesWithSchemas) {
  std::vector<std::string> names;
  for (const v1::EventType& t : EventTypes()) {
    names.push_back(t.name());
    EXPECT_TRUE(apps::IsReservedEventType(t.name())) << t.name();
    EXPECT_TRUE(apps::ValidateEventTypeName(t.name(), "name").ok()) << t.name();
    EXPECT_FALSE(t.description().empty()) << t.name();
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{kAppDisabled, kAppEnabled, kAppFailing, kDeliveryExhausted}));
}

TEST(OpsEvents, AppDisabledPayload) {
  const std::string payload = AppDisabledPayload(
      DisabledApp(), ledger::LoggedAttempt{.delivery_id = "dlv_9", .result = Failed503()});
  ExpectValid(kAppDisabled, payload);
  EXPECT_EQ(Json::parse(payload),
            Json::parse(R"({"app_id":"app_1","tenant":"acme","app_name":"Encoder hooks",)"
                        R"("reason":"disabled after 10 consecutive failed deliveries",)"
                        R"("failure_streak":10,"disable_time":"2026-09-21T14:13:20.250Z",)"
                        R"("last_error":{"delivery_id":"dlv_9",)"
                        R"("time":"2026-09-21T14:13:19.250Z","status_code":503,)"
                        R"("error":"ATTEMPT_ERROR_HTTP_STATUS","error_detail":""}})"));
  // An app disabled before any attempt, or whose latest attempt succeeded: no last_error.
  const std::string first = AppDisabledPayload(DisabledApp(), std::nullopt);
  ExpectValid(kAppDisabled, first);
  EXPECT_FALSE(Json::parse(first).contains("last_error"));
  ledger::AttemptResult ok = Failed503();
  ok.status_code = 200;
  ok.error = v1::ATTEMPT_ERROR_NONE;
  EXPECT_FALSE(
      Json::parse(AppDisabledPayload(DisabledApp(),
                                     ledger::LoggedAttempt{.delivery_id = "dlv_8", .result = ok}))
          .contains("last_error"));
}

TEST(OpsEvents, AppEnabledPayload) {
  const std::string payload = AppEnabledPayload(DisabledApp(), /*resumed=*/false);
  ExpectValid(kAppEnabled, payload);
  EXPECT_EQ(Json::parse(payload)["held_deliveries"], "discard");
  EXPECT_EQ(Json::parse(AppEnabledPayload(DisabledApp(), true))["held_deliveries"], "resume");
}

TEST(OpsEvents, AppFailingPayload) {
  const std::string payload = AppFailingPayload({.app_id = "app_1",
                                                 .tenant = "acme",
                                                 .app_name = "Encoder hooks",
                                                 .streak = 5,
                                                 .threshold = 10,
                                                 .last_result = Failed503(),
                                                 .last_delivery_id = "dlv_5"},
                                                kAt);
  ExpectValid(kAppFailing, payload);
  const Json json = Json::parse(payload);
  EXPECT_EQ(json["failure_streak"], 5);
  EXPECT_EQ(json["disable_after_failures"], 10);
  EXPECT_EQ(json["last_error"]["delivery_id"], "dlv_5");
}

TEST(OpsEvents, DeliveryExhaustedPayload) {
  const std::string payload = DeliveryExhaustedPayload({.delivery_id = "dlv_1",
                                                        .event_id = "evt_1",
                                                        .event_type = "video.ready",
                                                        .app_id = "app_1",
                                                        .tenant = "acme",
                                                        .attempts = 8,
                                                        .last_result = Failed503()},
                                                       kAt);
  ExpectValid(kDeliveryExhausted, payload);
  const Json json = Json::parse(payload);
  EXPECT_EQ(json["attempts"], 8);
  EXPECT_EQ(json["event_type"], "video.ready");
  EXPECT_EQ(json["last_error"]["status_code"], 503);
}

// The schemas are not decoration: a payload missing a required field fails them.
TEST(OpsEvents, SchemasRefuseAPayloadMissingAField) {
  Json payload = Json::parse(AppEnabledPayload(DisabledApp(), true));
  payload.erase("app_id");
  auto schema = SchemaOf(kAppEnabled);
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->Validate(payload.dump(), "payload").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hookd::opsevents
