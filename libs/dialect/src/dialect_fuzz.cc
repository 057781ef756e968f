// libFuzzer harness (README, "Sanitizers and fuzzing"): a tenant's payload template and signature
// profile, then the body and headers of one delivery made with them. Every check answers OK or
// INVALID_ARGUMENT; a template that validates renders any JSON payload into JSON; a
// profile that validates signs with a well-formed secret that fits it.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hookd/dialect/payload_template.h"
#include "hookd/dialect/signature_profile.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace {

// Judged as hookd-ingest judges payloads (simdjson): nlohmann's accept() stops at a NUL byte.
bool IsJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(text).get(root) == simdjson::SUCCESS;
}

void ExpectOkOrInvalid(const absl::Status& status) {
  if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace dialect = hookd::dialect;
  namespace v1 = hookd::v1;
  FuzzedDataProvider in(data, size);

  v1::SignatureProfile profile;
  profile.set_preset(in.PickValueInArray({"", "", "standard-webhooks", "github", "stripe", "x"}));
  profile.set_id_header(in.ConsumeRandomLengthString(80));
  profile.set_timestamp_header(in.ConsumeRandomLengthString(80));
  profile.set_signature_header(in.ConsumeRandomLengthString(80));
  profile.set_signed_content(in.ConsumeRandomLengthString(200));
  profile.set_signature_format(in.ConsumeRandomLengthString(100));
  profile.set_signature_separator(in.ConsumeRandomLengthString(8));
  profile.set_timestamp_unit(static_cast<v1::TimestampUnit>(in.ConsumeIntegralInRange(0, 3)));
  profile.set_algorithm(static_cast<v1::SignatureAlgorithm>(in.ConsumeIntegralInRange(0, 5)));
  profile.set_encoding(static_cast<v1::SignatureEncoding>(in.ConsumeIntegralInRange(0, 3)));
  profile.set_key(static_cast<v1::SignatureKey>(in.ConsumeIntegralInRange(0, 3)));
  profile.set_rotation(static_cast<v1::SignatureRotation>(in.ConsumeIntegralInRange(0, 3)));
  const std::string secret =
      in.PickValueInArray<std::string>({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                        "a-customer-chosen-secret-text", "whsec_not base64!"});
  const std::string payload = in.ConsumeRandomLengthString(1024);
  const std::string text = in.ConsumeRemainingBytesAsString();
  const dialect::SignInput input{.id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
                                 .event_type = "video.ready",
                                 .now = absl::FromUnixSeconds(1700000000),
                                 .body = payload};

  auto resolved = dialect::Resolve(profile, "profile");
  ExpectOkOrInvalid(resolved.status());
  if (resolved.ok()) {
    const absl::Status valid = dialect::ValidateProfile(*resolved, "profile");
    ExpectOkOrInvalid(valid);
    const absl::Status fits = dialect::CheckSecretFits(*resolved, secret, "profile", "secret");
    ExpectOkOrInvalid(fits);
    const std::string_view secrets[] = {secret};
    dialect::Headers headers;
    const absl::Status signed_ok = dialect::AppendHeaders(*resolved, secrets, input, headers);
    ExpectOkOrInvalid(signed_ok);
    // Apps hold only secrets that ValidateChosenSecret accepts (or generated ones).
    if (valid.ok() && fits.ok() && dialect::ValidateChosenSecret(secret, "secret").ok() &&
        !signed_ok.ok()) {
      std::abort();
    }
  }

  const absl::Status valid = dialect::ValidatePayloadTemplate(text, "payload_template");
  ExpectOkOrInvalid(valid);
  dialect::TemplateValues values{.event_type = "video.ready",
                                 .event_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
                                 .time = absl::FromUnixSeconds(1700000000),
                                 .payload = payload,
                                 .secret = secret};
  auto body = dialect::RenderPayloadTemplate(text, values);
  ExpectOkOrInvalid(body.status());
  if (body.ok() && !IsJson(*body)) {
    // A body is JSON whenever the payload is: the payload is pasted byte for byte.
    if (IsJson(payload)) std::abort();
  }
  if (valid.ok() && !body.ok()) {
    // A valid template fails only on what the payload brings: not an object under "...", or a
    // member the template has too.
    const auto parsed = nlohmann::json::parse(payload, nullptr, false);
    if (IsJson(payload) && parsed.is_object() && parsed.empty()) std::abort();
  }
  return 0;
}
