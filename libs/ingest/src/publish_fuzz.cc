// libFuzzer harness (README, "Sanitizers and fuzzing"): a publish request's fields, an event type's
// JSON Schema (as CreateEventType takes it) and the payload checked against it. Every answer is
// OK, INVALID_ARGUMENT or, for the payload's size, RESOURCE_EXHAUSTED; none names another field.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "hookd/common/absl_view.h"
#include "hookd/schema/json_schema.h"
#include "publish_validation.h"

namespace {

void ExpectRefusal(const absl::Status& status, std::string_view field) {
  if (status.ok()) return;
  if (status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kResourceExhausted) {
    std::abort();
  }
  if (!field.empty() && !absl::StartsWith(status.message(), hookd::AbslView(field))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  hookd::v1::PublishRequest request;
  request.set_tenant(in.ConsumeRandomLengthString(80));
  request.set_event_type(in.ConsumeRandomLengthString(140));
  request.set_idempotency_key(in.ConsumeRandomLengthString(300));
  for (int i = in.ConsumeIntegralInRange(0, 12); i > 0; --i) {
    request.add_channels(in.ConsumeRandomLengthString(80));
  }
  request.set_traceparent(in.ConsumeRandomLengthString(60));
  if (in.ConsumeBool()) {
    request.mutable_deliver_after()->set_seconds(in.ConsumeIntegral<int64_t>());
    request.mutable_deliver_after()->set_nanos(in.ConsumeIntegral<int32_t>());
  }
  if (in.ConsumeBool()) {
    request.mutable_deliver_at()->set_seconds(in.ConsumeIntegral<int64_t>());
    request.mutable_deliver_at()->set_nanos(in.ConsumeIntegral<int32_t>());
  }
  const std::string schema_text = in.ConsumeRandomLengthString(8 * 1024);
  request.set_payload(in.ConsumeRemainingBytesAsString());

  const hookd::ingest::PublishLimits limits{.max_payload_bytes = 4096};
  ExpectRefusal(hookd::ingest::ValidatePublishFields(request, limits, "events[0].", absl::Now()),
                "events[0].");

  auto schema = hookd::schema::CompiledSchema::Compile(schema_text, "event_type.schema");
  ExpectRefusal(schema.status(), "event_type.schema");
  if (schema.ok() && hookd::ingest::ValidateJsonObject(request.payload(), "payload").ok()) {
    ExpectRefusal((*schema)->Validate(request.payload(), "payload"), "payload");
  }
  return 0;
}
