// hookctl apps ...: AppService.

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "output.h"

namespace hookd::hookctl {
namespace {

using v1::App;

constexpr char kSecretWarning[] =
    "Store the secret now: it is shown only once (rotate-secret issues a new one).";

// Values of the flags that create and update share.
struct AppFlags {
  std::string name;
  std::string url;
  std::string description;
  std::vector<std::string> event_types;
  std::vector<std::string> channels;
  std::vector<std::string> headers;
  std::string basic_auth;
  absl::Duration timeout;
  std::string retry_delays;
  std::string retry_exponential;
  int rate_limit = 0;
  int disable_after = 0;
  bool disable_on_permanent_error = false;
  absl::Duration delivery_delay;
  std::string signature;
  std::string payload_format;
  std::string payload_template_file;
  std::vector<std::string> signature_presets;
  std::string signature_profile_file;
  std::string compat_signature_header;
  // Update only: empty a field that repeating flags can only add to.
  bool no_basic_auth = false;
  bool no_channels = false;
  bool no_headers = false;
};

// AddAppFlags' part for timeouts, retries, limits and the body and its signatures.
void AddDeliveryFlags(FlagParser& flags, AppFlags& values, bool update) {
  flags.AddDuration("timeout", "DURATION",
                    "Delivery request timeout, 1s..30s; a 2xx within it is success (default 10s).",
                    &values.timeout);
  flags.AddString("retry-delays", "D1,D2,...",
                  "Waits before each retry, e.g. 5s,5m,30m (default 5s,5m,30m,2h,5h,10h,10h).",
                  &values.retry_delays);
  flags.AddString("retry-exponential", "INITIAL,MULTIPLIER,MAX,ATTEMPTS",
                  "Exponential backoff instead of a list, e.g. 1s,2,1h,8.",
                  &values.retry_exponential);
  flags.AddInt("rate-limit", "N", "Deliveries per second across all workers; 0 is unlimited.",
               &values.rate_limit);
  flags.AddInt("disable-after", "N",
               "Disable the app after N consecutive failed deliveries (default 10).",
               &values.disable_after);
  flags.AddBool("disable-on-permanent-error",
                "Disable the app at the first error that will not pass by itself: a 4xx other "
                "than 408, 409, 425 and 429, a rejected TLS certificate, an unknown host, a "
                "forbidden address (=false turns it off).",
                &values.disable_on_permanent_error);
  flags.AddDuration("delivery-delay", "D",
                    "Wait D after each publish before the first attempt, e.g. 5s (at most 24h; "
                    "0 for none).",
                    &values.delivery_delay);
  flags.AddString("description", "D", "Free text for operators.", &values.description);
  flags.AddString("signature", "v1|v1a",
                  "Signature scheme: v1 (HMAC, default) or v1a (Ed25519; receivers verify with "
                  "the app's public key).",
                  &values.signature);
  flags.AddString("payload-format", "envelope|raw|template",
                  "Body: the Standard Webhooks envelope (default), the raw payload, or the app's "
                  "payload template rendered for the event.",
                  &values.payload_format);
  flags.AddString("payload-template-file", "FILE",
                  "Body template from FILE: JSON of at most 16 KiB in which \"{{event_type}}\", "
                  "\"{{event_id}}\", \"{{timestamp}}\", \"{{timestamp_unix}}\", "
                  "\"{{timestamp_ms}}\", \"{{payload}}\" or \"{{secret}}\" stands for that "
                  "value and a member \"...\": \"{{payload}}\" merges the payload's members. "
                  "Sets --payload-format template unless that flag is given.",
                  &values.payload_template_file);
  flags.AddStrings(
      "signature-preset", "NAME",
      absl::StrCat(
          "Sign as a receiver of NAME expects: standard-webhooks (the "
          "default), github, stripe, shopify, slack, or none (no signature); one signature "
          "profile per flag, in order",
          update ? ", replacing the app's profiles." : "."),
      &values.signature_presets);
  flags.AddString("signature-profile-file", "FILE",
                  absl::StrCat("Signature profiles from FILE, a JSON array of SignatureProfile "
                               "objects in protobuf JSON, e.g. [{\"preset\": \"github\", "
                               "\"signature_header\": \"X-Signature\"}]; they follow the "
                               "--signature-preset ones",
                               update ? ", and together they replace the app's profiles." : "."),
                  &values.signature_profile_file);
  flags.AddString("compat-signature-header", "NAME",
                  "Also send NAME: sha256=<hex HMAC of the body>, for receivers written against "
                  "other vendors (v1 only; deprecated: use "
                  "--signature-preset/--signature-profile-file).",
                  &values.compat_signature_header);
}

void AddAppFlags(FlagParser& flags, AppFlags& values, bool update) {
  flags.AddString("name", "N", "Display name, 1..200 characters.", &values.name);
  flags.AddString("url", "U",
                  "Endpoint url; https, or http when the server runs with HOOKD_ALLOW_HTTP.",
                  &values.url);
  flags.AddStrings("event-type", "P",
                   update ? "Event type pattern (video.ready, video.*, *); replaces the list."
                          : "Event type pattern to subscribe to: video.ready, video.* or *.",
                   &values.event_types);
  flags.AddStrings("channel", "C",
                   update ? "Only deliver events of this channel; replaces the list."
                          : "Only deliver events published on this channel.",
                   &values.channels);
  flags.AddStrings("header", "K=V",
                   update ? "Custom header sent with each delivery; replaces all headers."
                          : "Custom header sent with each delivery.",
                   &values.headers);
  flags.AddString("basic-auth", "USER:PASS", "Basic auth credentials sent with each delivery.",
                  &values.basic_auth);
  if (update) {
    flags.AddBool("no-basic-auth", "Stop sending basic auth.", &values.no_basic_auth);
    flags.AddBool("no-channels", "Deliver events of every channel again.", &values.no_channels);
    flags.AddBool("no-headers", "Remove every custom header.", &values.no_headers);
  }
  AddDeliveryFlags(flags, values, update);
}

// The bytes of the file a flag such as --secret-file names, unchanged; NOT_FOUND naming the flag
// and the path when it cannot be read (as `--data @FILE` reports it).
absl::StatusOr<std::string> ReadFlagFile(const std::string& flag, const std::string& path) {
  return ReadValueOrFile(flag, "@" + path);
}

// The secret of --secret-file: the file's content without one trailing line break ("\n" or
// "\r\n"), which editors and `echo` add. The server checks the rest. Errors name the file, never
// its content.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  HOOKD_ASSIGN_OR_RETURN(std::string secret, ReadFlagFile("secret-file", path));
  if (absl::EndsWith(secret, "\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (absl::EndsWith(secret, "\n")) {
    secret.pop_back();
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--secret-file: ", path, " is empty"));
  }
  return secret;
}

// The profiles of --signature-profile-file: a JSON array of SignatureProfile objects in protobuf
// JSON. INVALID_ARGUMENT naming the file, and the element (from 0) that is not a profile.
absl::StatusOr<std::vector<v1::SignatureProfile>> ReadProfileFile(const std::string& path) {
  HOOKD_ASSIGN_OR_RETURN(std::string text, ReadFlagFile("signature-profile-file", path));
  const std::string flag_and_file = absl::StrCat("--signature-profile-file: ", path);
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag_and_file, " is not a JSON array of signature profiles"));
  }
  std::vector<v1::SignatureProfile> profiles;
  for (size_t i = 0; i < json.size(); ++i) {
    const nlohmann::json& element = json.at(i);
    const std::string at = absl::StrCat(flag_and_file, ": element [", i, "]");
    if (!element.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(at, " is not a JSON object"));
    }
    v1::SignatureProfile profile;
    // Strict: a misspelt field name is an error rather than a profile without that field.
    const auto parsed = google::protobuf::util::JsonStringToMessage(element.dump(), &profile);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " is not a SignatureProfile: ", std::string(parsed.message())));
    }
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

absl::StatusOr<absl::Duration> ParseDurationValue(const std::string& flag,
                                                  const std::string& text) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": \"", text, "\" is not a duration such as 5s, 5m, 1h30m"));
  }
  return duration;
}

absl::StatusOr<v1::RetryPolicy> ParseRetry(const AppFlags& values, bool delays_set,
                                           bool exponential_set) {
  v1::RetryPolicy retry;
  if (delays_set) {
    for (absl::string_view part : absl::StrSplit(values.retry_delays, ',')) {
      HOOKD_ASSIGN_OR_RETURN(absl::Duration delay,
                             ParseDurationValue("retry-delays", std::string(part)));
      *retry.add_delays() = ToProto(delay);
    }
    return retry;
  }
  std::vector<std::string> parts = absl::StrSplit(values.retry_exponential, ',');
  const absl::Status malformed = absl::InvalidArgumentError(
      absl::StrCat("--retry-exponential: expected INITIAL,MULTIPLIER,MAX,ATTEMPTS such as "
                   "1s,2,1h,8, got \"",
                   values.retry_exponential, "\""));
  if (!exponential_set || parts.size() != 4) return malformed;
  v1::ExponentialBackoff* exponential = retry.mutable_exponential();
  HOOKD_ASSIGN_OR_RETURN(absl::Duration initial, ParseDurationValue("retry-exponential", parts[0]));
  HOOKD_ASSIGN_OR_RETURN(absl::Duration max, ParseDurationValue("retry-exponential", parts[2]));
  double multiplier = 0;
  int attempts = 0;
  if (!absl::SimpleAtod(parts[1], &multiplier) || !absl::SimpleAtoi(parts[3], &attempts)) {
    return malformed;
  }
  *exponential->mutable_initial_delay() = ToProto(initial);
  exponential->set_multiplier(multiplier);
  *exponential->mutable_max_delay() = ToProto(max);
  exponential->set_max_attempts(attempts);
  return retry;
}

// FillApp's part for where and how deliveries are sent: name, url, event types, channels,
// headers, basic auth, timeout.
absl::Status FillEndpoint(const FlagParser& flags, const AppFlags& values, App& app,
                          std::vector<std::string>& paths) {
  if (flags.IsSet("name")) {
    app.set_name(values.name);
    paths.push_back("name");
  }
  if (flags.IsSet("url")) {
    app.set_url(values.url);
    paths.push_back("url");
  }
  if (flags.IsSet("event-type")) {
    for (const std::string& pattern : values.event_types) app.add_event_types(pattern);
    paths.push_back("event_types");
  }
  if (flags.IsSet("channel") && values.no_channels) {
    return absl::InvalidArgumentError("--channel and --no-channels exclude each other");
  }
  if (flags.IsSet("channel") || values.no_channels) {
    for (const std::string& channel : values.channels) app.add_channels(channel);
    paths.push_back("channels");
  }
  if (flags.IsSet("header") && values.no_headers) {
    return absl::InvalidArgumentError("--header and --no-headers exclude each other");
  }
  if (flags.IsSet("header") || values.no_headers) {
    for (const std::string& header : values.headers) {
      std::pair<std::string, std::string> kv = absl::StrSplit(header, absl::MaxSplits('=', 1));
      if (kv.first.empty() || header.find('=') == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("--header: expected NAME=VALUE, got \"", header, "\""));
      }
      (*app.mutable_headers())[kv.first] = kv.second;
    }
    paths.push_back("headers");
  }
  if (flags.IsSet("basic-auth") && values.no_basic_auth) {
    return absl::InvalidArgumentError("--basic-auth and --no-basic-auth exclude each other");
  }
  if (flags.IsSet("basic-auth")) {
    size_t colon = values.basic_auth.find(':');
    if (colon == std::string::npos || colon == 0) {
      // The value is not echoed: it holds a password.
      return absl::InvalidArgumentError("--basic-auth: expected USER:PASS");
    }
    v1::BasicAuth* basic = app.mutable_auth()->mutable_basic();
    basic->set_username(values.basic_auth.substr(0, colon));
    basic->set_password(values.basic_auth.substr(colon + 1));
    paths.push_back("auth");
  } else if (values.no_basic_auth) {
    app.clear_auth();
    paths.push_back("auth");
  }
  if (flags.IsSet("timeout")) {
    *app.mutable_timeout() = ToProto(values.timeout);
    paths.push_back("timeout");
  }
  return absl::OkStatus();
}

// FillApp's part for retries and the rate limit.
absl::Status FillRetry(const FlagParser& flags, const AppFlags& values, App& app,
                       std::vector<std::string>& paths) {
  const bool delays_set = flags.IsSet("retry-delays");
  const bool exponential_set = flags.IsSet("retry-exponential");
  if (delays_set && exponential_set) {
    return absl::InvalidArgumentError("--retry-delays and --retry-exponential exclude each other");
  }
  if (delays_set || exponential_set) {
    HOOKD_ASSIGN_OR_RETURN(*app.mutable_retry(), ParseRetry(values, delays_set, exponential_set));
    paths.push_back("retry");
  }
  if (flags.IsSet("rate-limit")) {
    app.set_rate_limit_per_second(values.rate_limit);
    paths.push_back("rate_limit_per_second");
  }
  return absl::OkStatus();
}

// FillApp's part for the body and its signatures: scheme, payload format and template,
// signature profiles, the compat header.
absl::Status FillBody(const FlagParser& flags, const AppFlags& values, App& app,
                      std::vector<std::string>& paths) {
  if (flags.IsSet("signature")) {
    if (values.signature == "v1") {
      app.set_signature(v1::SIGNATURE_SCHEME_V1);
    } else if (values.signature == "v1a") {
      app.set_signature(v1::SIGNATURE_SCHEME_V1A_ED25519);
    } else {
      return absl::InvalidArgumentError("--signature: expected v1 or v1a");
    }
    paths.push_back("signature");
  }
  if (flags.IsSet("payload-format")) {
    if (values.payload_format == "envelope") {
      app.set_payload_format(v1::PAYLOAD_FORMAT_ENVELOPE);
    } else if (values.payload_format == "raw") {
      app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
    } else if (values.payload_format == "template") {
      app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
    } else {
      return absl::InvalidArgumentError("--payload-format: expected envelope, raw or template");
    }
    paths.push_back("payload_format");
  }
  if (flags.IsSet("payload-template-file")) {
    // Sent as the file holds it: the server checks it and reports where it is wrong.
    HOOKD_ASSIGN_OR_RETURN(*app.mutable_payload_template(),
                           ReadFlagFile("payload-template-file", values.payload_template_file));
    paths.push_back("payload_template");
    if (!flags.IsSet("payload-format")) {
      app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
      paths.push_back("payload_format");
    }
  }
  if (flags.IsSet("signature-preset") || flags.IsSet("signature-profile-file")) {
    // Preset names are checked by the server, which knows every preset it has.
    for (const std::string& preset : values.signature_presets) {
      if (preset.empty()) {
        return absl::InvalidArgumentError(
            "--signature-preset: expected a preset name such as github");
      }
      app.add_signature_profiles()->set_preset(preset);
    }
    if (flags.IsSet("signature-profile-file")) {
      HOOKD_ASSIGN_OR_RETURN(std::vector<v1::SignatureProfile> profiles,
                             ReadProfileFile(values.signature_profile_file));
      for (v1::SignatureProfile& profile : profiles) {
        *app.add_signature_profiles() = std::move(profile);
      }
    }
    paths.push_back("signature_profiles");
  }
  if (flags.IsSet("compat-signature-header")) {
    app.set_compat_signature_header(values.compat_signature_header);
    paths.push_back("compat_signature_header");
  }
  return absl::OkStatus();
}

// FillApp's part for when the app is disabled and deliveries delayed, and its description.
absl::Status FillLifecycle(const FlagParser& flags, const AppFlags& values, App& app,
                           std::vector<std::string>& paths) {
  if (flags.IsSet("disable-after")) {
    app.set_disable_after_failures(values.disable_after);
    paths.push_back("disable_after_failures");
  }
  if (flags.IsSet("delivery-delay")) {
    *app.mutable_delivery_delay() = ToProto(values.delivery_delay);
    paths.push_back("delivery_delay");
  }
  if (flags.IsSet("disable-on-permanent-error")) {
    app.set_disable_on_permanent_error(values.disable_on_permanent_error);
    paths.push_back("disable_on_permanent_error");
  }
  if (flags.IsSet("description")) {
    app.set_description(values.description);
    paths.push_back("description");
  }
  return absl::OkStatus();
}

// Copies the flags that were given into `app` and appends the App field path each one changes
// to `paths`. Returns INVALID_ARGUMENT naming the flag when a value is malformed or two flags
// contradict each other, which the caller reports as a usage error, and NOT_FOUND naming the
// flag when a file it names cannot be read.
absl::Status FillApp(const FlagParser& flags, const AppFlags& values, App& app,
                     std::vector<std::string>& paths) {
  HOOKD_RETURN_IF_ERROR(FillEndpoint(flags, values, app, paths));
  HOOKD_RETURN_IF_ERROR(FillRetry(flags, values, app, paths));
  HOOKD_RETURN_IF_ERROR(FillBody(flags, values, app, paths));
  return FillLifecycle(flags, values, app, paths);
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return {items.begin(), items.end()};
}

std::string FormatHeaders(const App& app) {
  std::vector<std::string> lines;
  for (const auto& [name, value] : app.headers()) lines.push_back(absl::StrCat(name, "=", value));
  // Map order is unspecified; sorted output can be compared between runs.
  std::sort(lines.begin(), lines.end());
  if (lines.empty()) return "-";
  return absl::StrJoin(lines, "\n");
}

std::string FormatAuth(const App& app) {
  if (app.auth().has_basic())
    return absl::StrCat("basic, username ", app.auth().basic().username());
  return "none";
}

std::string FormatRetry(const v1::RetryPolicy& retry) {
  if (!retry.delays().empty()) {
    std::vector<std::string> delays;
    for (const auto& delay : retry.delays()) delays.push_back(FormatDuration(delay));
    return absl::StrCat("delays ", absl::StrJoin(delays, ", "));
  }
  if (retry.has_exponential()) {
    const v1::ExponentialBackoff& e = retry.exponential();
    return absl::StrCat("exponential from ", FormatDuration(e.initial_delay()), " x",
                        e.multiplier(), " up to ", FormatDuration(e.max_delay()), ", ",
                        e.max_attempts(), " attempts");
  }
  return "default (5s, 5m, 30m, 2h, 5h, 10h, 10h)";
}

std::string FormatSigningKeys(const App& app) {
  std::vector<std::string> lines;
  for (const v1::SigningKey& key : app.signing_keys()) {
    std::string line = absl::StrCat(key.id(), " created ", FormatTimestamp(key.create_time()));
    if (key.has_expire_time()) {
      absl::StrAppend(&line, ", expires ", FormatTimestamp(key.expire_time()));
    } else {
      absl::StrAppend(&line, ", current");
    }
    lines.push_back(std::move(line));
  }
  if (lines.empty()) return "-";
  return absl::StrJoin(lines, "\n");
}

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

// One profile on one line, `name=value` for each field that is set, in the proto's order: enum
// values lower-case without their type's prefix (`algorithm=hmac_sha256`), strings quoted and
// escaped only when they hold a blank, a quote or a control character (`signature_separator=" "`).
std::string FormatSignatureProfile(const v1::SignatureProfile& profile) {
  const google::protobuf::Descriptor* descriptor = profile.GetDescriptor();
  const google::protobuf::Reflection* reflection = profile.GetReflection();
  std::vector<std::string> parts;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) continue;
    std::string value;
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      value = reflection->GetString(profile, field);
      if (value.empty()) continue;
      const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
        return absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != '"' && c != '\\';
      });
      if (!plain) value = absl::StrCat("\"", absl::CEscape(value), "\"");
    } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_ENUM) {
      const int number = reflection->GetEnumValue(profile, field);
      if (number == 0) continue;
      const google::protobuf::EnumDescriptor* type = field->enum_type();
      const google::protobuf::EnumValueDescriptor* known = type->FindValueByNumber(number);
      if (known == nullptr) {
        value = absl::StrCat(number);
      } else {
        // The prefix is what the zero value's name has before UNSPECIFIED: TIMESTAMP_UNIT_.
        const google::protobuf::EnumValueDescriptor* zero = type->FindValueByNumber(0);
        absl::string_view name = known->name();
        if (zero != nullptr) {
          absl::string_view prefix = zero->name();
          if (absl::ConsumeSuffix(&prefix, "UNSPECIFIED")) absl::ConsumePrefix(&name, prefix);
        }
        value = absl::AsciiStrToLower(name);
      }
    } else {
      continue;  // SignatureProfile has only strings and enums.
    }
    parts.push_back(absl::StrCat(field->name(), "=", value));
  }
  if (parts.empty()) return "(no fields set)";
  return absl::StrJoin(parts, " ");
}

void PrintApp(std::ostream& out, const App& app) {
  Fields fields = {
      {"id", app.id()},
      {"tenant", app.tenant()},
      {"name", app.name()},
      {"description", OrDash(app.description())},
      {"url", app.url()},
      {"active", app.active() ? "true" : "false"},
      {"disabled_reason", OrDash(app.disabled_reason())},
      {"event_types", JoinOrDash(ToVector(app.event_types()))},
      {"channels", JoinOrDash(ToVector(app.channels()))},
      {"headers", FormatHeaders(app)},
      {"auth", FormatAuth(app)},
      {"timeout", FormatDuration(app.timeout())},
      {"retry", FormatRetry(app.retry())},
      {"rate_limit_per_second", app.rate_limit_per_second() == 0
                                    ? "0 (unlimited)"
                                    : absl::StrCat(app.rate_limit_per_second())},
      {"disable_after_failures", absl::StrCat(app.disable_after_failures())},
      {"failure_streak", absl::StrCat(app.failure_streak())},
      {"signature", v1::SignatureScheme_Name(app.signature())},
      {"payload_format", v1::PayloadFormat_Name(app.payload_format())},
      {"signing_keys", FormatSigningKeys(app)},
      {"version", absl::StrCat(app.version())},
      {"create_time", FormatTimestamp(app.create_time())},
      {"update_time", FormatTimestamp(app.update_time())},
  };
  if (app.disable_on_permanent_error()) fields.emplace_back("disable_on_permanent_error", "true");
  if (app.has_delivery_delay() &&
      (app.delivery_delay().seconds() != 0 || app.delivery_delay().nanos() != 0)) {
    fields.emplace_back("delivery_delay", FormatDuration(app.delivery_delay()));
  }
  // The server answers each profile with its preset filled in; none means the default.
  if (app.signature_profiles().empty()) {
    fields.emplace_back("signature_profiles", "default (standard-webhooks)");
  }
  for (int i = 0; i < app.signature_profiles_size(); ++i) {
    fields.emplace_back(absl::StrCat("signature_profiles[", i, "]"),
                        FormatSignatureProfile(app.signature_profiles(i)));
  }
  if (!app.payload_template().empty()) {
    // As stored, since that is what renders; a trailing newline would print an empty line.
    fields.emplace_back("payload_template",
                        std::string(absl::StripTrailingAsciiWhitespace(app.payload_template())));
  }
  if (!app.compat_signature_header().empty()) {
    fields.emplace_back("compat_signature_header", app.compat_signature_header());
  }
  if (!app.public_key().empty()) fields.emplace_back("public_key", app.public_key());
  if (!app.secret().empty()) fields.emplace_back("secret", app.secret());
  PrintFields(out, fields);
  if (!app.secret().empty()) out << "\n" << kSecretWarning << "\n";
}

// How a problem with the flags' values is reported: INVALID_ARGUMENT as a usage error (exit 2),
// anything else, such as a file that cannot be read, as it is (exit 1), like `--data @FILE`.
absl::Status FlagValueError(const Invocation& inv, const FlagParser& flags,
                            const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return inv.UsageError(flags, std::string(status.message()));
}

absl::Status Answer(Invocation& inv, const App& app) {
  if (inv.options().json) return inv.PrintJson(app);
  PrintApp(inv.out(), app);
  return absl::OkStatus();
}

std::unique_ptr<v1::AppService::Stub> Stub(Invocation& inv) {
  return v1::AppService::NewStub(inv.channel());
}

absl::Status Create(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps create --tenant T --name N --url U [--event-type P]... [flags]",
      "Registers a webhook app and prints it with its signing secret, which is shown only\n"
      "this once: a generated whsec_ secret, or the one --secret-file holds when the receiver's\n"
      "docs let the customer choose it. The server sends a test request to the url first unless\n"
      "--skip-test.\n"
      "Deliveries carry Standard Webhooks signatures unless --signature-preset or\n"
      "--signature-profile-file say how the receiver expects them signed.");
  std::string tenant;
  AppFlags values;
  std::string secret_file;
  bool skip_test = false;
  flags.AddString("tenant", "T", "Tenant that owns the app (required; cannot change later).",
                  &tenant);
  AddAppFlags(flags, values, /*update=*/false);
  flags.AddString("secret-file", "FILE",
                  "Signing secret chosen by the customer, read from FILE without one trailing "
                  "newline: 16..256 printable ASCII characters, or whsec_<base64> (default: "
                  "generated). Not for --signature v1a.",
                  &secret_file);
  flags.AddBool("skip-test", "Save without sending the test request first.", &skip_test);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {}));
  if (parsed.help) return absl::OkStatus();
  for (const char* required : {"tenant", "name", "url"}) {
    if (!flags.IsSet(required)) return inv.UsageError(flags, absl::StrCat("missing --", required));
  }

  v1::CreateAppRequest request;
  App* app = request.mutable_app();
  app->set_tenant(tenant);
  std::vector<std::string> paths;
  if (absl::Status filled = FillApp(flags, values, *app, paths); !filled.ok()) {
    return FlagValueError(inv, flags, filled);
  }
  if (flags.IsSet("secret-file")) {
    absl::StatusOr<std::string> secret = ReadSecretFile(secret_file);
    if (!secret.ok()) return FlagValueError(inv, flags, secret.status());
    app->set_secret(*std::move(secret));
  }
  request.set_skip_connection_test(skip_test);
  grpc::ClientContext context;
  inv.Prepare(context);
  App created;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->CreateApp(&context, request, &created)));
  return Answer(inv, created);
}

absl::Status List(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags =
      CommandFlags("hookctl apps list [--tenant T] [--page-size N] [--page-token X] [--all]",
                   "Lists apps ordered by id, a page at a time.");
  v1::ListAppsResponse response;
  HOOKD_ASSIGN_OR_RETURN(
      bool print_table,
      ListOfTenant<v1::ListAppsRequest>(
          inv, flags, args, "apps", "Only apps of this tenant.",
          [&](grpc::ClientContext* context, const v1::ListAppsRequest& r,
              v1::ListAppsResponse* page) { return Stub(inv)->ListApps(context, r, page); },
          response));
  if (!print_table) return absl::OkStatus();
  Table table({"ID", "TENANT", "NAME", "URL", "ACTIVE", "EVENT TYPES"});
  for (const App& app : response.apps()) {
    table.AddRow({app.id(), app.tenant(), app.name(), app.url(), app.active() ? "true" : "false",
                  absl::StrJoin(app.event_types(), ",")});
  }
  table.Print(inv.out());
  PrintNextPageHint(inv.out(), "apps", response.next_page_token());
  return absl::OkStatus();
}

absl::Status Get(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags =
      CommandFlags("hookctl apps get ID", "Prints one app. Its secrets are never shown.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::GetAppRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  App app;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->GetApp(&context, request, &app)));
  return Answer(inv, app);
}

absl::Status Update(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps update ID [flags]",
      "Changes exactly the fields whose flags are given; the others keep their values.\n"
      "Repeatable flags replace the whole list or map; --signature-preset and\n"
      "--signature-profile-file together replace the signature profiles.");
  AppFlags values;
  AddAppFlags(flags, values, /*update=*/true);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();

  v1::UpdateAppRequest request;
  request.mutable_app()->set_id(parsed.positional[0]);
  std::vector<std::string> paths;
  if (absl::Status filled = FillApp(flags, values, *request.mutable_app(), paths); !filled.ok()) {
    return FlagValueError(inv, flags, filled);
  }
  if (paths.empty()) return inv.UsageError(flags, "nothing to change: give at least one flag");
  for (const std::string& path : paths) request.mutable_update_mask()->add_paths(path);
  grpc::ClientContext context;
  inv.Prepare(context);
  App app;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->UpdateApp(&context, request, &app)));
  return Answer(inv, app);
}

absl::Status Delete(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags =
      CommandFlags("hookctl apps delete ID",
                   "Deletes an app. Its deliveries stay in the log; nothing more is sent to it.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::DeleteAppRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  google::protobuf::Empty empty;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->DeleteApp(&context, request, &empty)));
  if (inv.options().json) return inv.PrintJson(empty);
  inv.out() << "deleted " << request.id() << "\n";
  return absl::OkStatus();
}

absl::Status Enable(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps enable ID [--resume | --discard]",
      "Activates an app again, clearing its failure streak and disabled reason. The deliveries\n"
      "held while it was disabled are queued again, oldest first (--resume, the default), or\n"
      "marked discarded and never attempted (--discard).");
  bool resume = false;
  bool discard = false;
  flags.AddBool("resume", "Queue the held deliveries again, oldest first (the default).", &resume);
  flags.AddBool("discard", "Mark the held deliveries discarded instead.", &discard);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  if (resume && discard) return inv.UsageError(flags, "--resume and --discard exclude each other");
  v1::EnableAppRequest request;
  request.set_id(parsed.positional[0]);
  request.set_held_deliveries(discard ? v1::HELD_DELIVERIES_DISCARD : v1::HELD_DELIVERIES_RESUME);
  grpc::ClientContext context;
  inv.Prepare(context);
  App app;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->EnableApp(&context, request, &app)));
  return Answer(inv, app);
}

absl::Status Test(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps test ID",
      "Sends a signed hookd.ping to the app's endpoint now, with its auth, headers and timeout,\n"
      "and prints whether it answered 2xx, its status code, the latency and any error.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::TestConnectionRequest request;
  request.set_id(parsed.positional[0]);
  grpc::ClientContext context;
  inv.Prepare(context);
  v1::TestConnectionResponse response;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->TestConnection(&context, request, &response)));
  if (inv.options().json) return inv.PrintJson(response);
  const int64_t latency_ms =
      response.latency().seconds() * 1000 + response.latency().nanos() / 1000000;
  PrintFields(inv.out(), {
                             {"success", response.success() ? "true" : "false"},
                             {"status_code", absl::StrCat(response.status_code())},
                             {"latency", absl::StrCat(latency_ms, "ms")},
                             {"error", response.error().empty() ? "-" : response.error()},
                         });
  return absl::OkStatus();
}

absl::Status Stats(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps stats ID [--since 24h] [--until T]",
      "Prints how an app's endpoint fared in a window (default the last 24 hours): attempts\n"
      "started in it, how many succeeded (2xx within the timeout), the success rate, latency\n"
      "p50 and p99 over all of them, the app's deliveries created in it by status, and its\n"
      "failure streak, latest attempt and latest success now.\n"
      "--since and --until take an RFC 3339 time, or a duration such as 2h meaning that long ago.");
  absl::Time since;
  absl::Time until;
  flags.AddTime("since", "T", "Start of the window (default 24h before --until).", &since);
  flags.AddTime("until", "T", "End of the window (default now).", &until);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::GetAppStatsRequest request;
  request.set_app_id(parsed.positional[0]);
  if (flags.IsSet("since")) *request.mutable_since() = ToProto(since);
  if (flags.IsSet("until")) *request.mutable_until() = ToProto(until);
  grpc::ClientContext context;
  inv.Prepare(context);
  v1::AppStats stats;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(
      v1::DeliveryService::NewStub(inv.channel())->GetAppStats(&context, request, &stats)));
  if (inv.options().json) return inv.PrintJson(stats);
  // Without attempts there is no rate or latency to show, which is not 0 % or 0 ms.
  const bool attempted = stats.attempts() > 0;
  auto latency = [attempted](const google::protobuf::Duration& d) -> std::string {
    return attempted ? absl::FormatDuration(ToAbslDuration(d)) : "-";
  };
  const v1::DeliveryCounts& d = stats.deliveries();
  PrintFields(
      inv.out(),
      {
          {"app_id", stats.app_id()},
          {"window",
           absl::StrCat(FormatTimestamp(stats.since()), " .. ", FormatTimestamp(stats.until()))},
          {"attempts", absl::StrCat(stats.attempts(), " (", stats.succeeded_attempts(),
                                    " succeeded, ", stats.failed_attempts(), " failed)")},
          {"success_rate", attempted ? absl::StrFormat("%.1f%%", 100 * stats.success_rate()) : "-"},
          {"latency_p50", latency(stats.latency_p50())},
          {"latency_p99", latency(stats.latency_p99())},
          {"deliveries",
           absl::StrCat(d.pending() + d.succeeded() + d.retrying() + d.failed() + d.held() +
                            d.discarded() + d.scheduled(),
                        " (pending ", d.pending(), ", succeeded ", d.succeeded(), ", retrying ",
                        d.retrying(), ", failed ", d.failed(), ", held ", d.held(), ", discarded ",
                        d.discarded(), ", scheduled ", d.scheduled(), ")")},
          {"failure_streak", absl::StrCat(stats.failure_streak())},
          {"last_attempt", FormatTimestamp(stats.last_attempt_time())},
          {"last_success", FormatTimestamp(stats.last_success_time())},
      });
  return absl::OkStatus();
}

absl::Status Disable(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps disable ID [--reason R]",
      "Deactivates an app: its deliveries are held, not attempted, until it is enabled.");
  std::string reason;
  flags.AddString("reason", "R",
                  "Why, shown as disabled_reason (default \"disabled by operator\").", &reason);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::DisableAppRequest request;
  request.set_id(parsed.positional[0]);
  request.set_reason(reason);
  grpc::ClientContext context;
  inv.Prepare(context);
  App app;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->DisableApp(&context, request, &app)));
  return Answer(inv, app);
}

absl::Status RotateSecret(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl apps rotate-secret ID [--grace 24h] [--secret-file FILE]",
      "Issues a new signing secret, generated or the one --secret-file holds, and prints it\n"
      "once. The previous secret stays valid for the grace period: profiles that sign with\n"
      "every key (standard-webhooks, stripe) send signatures of both until it ends; the others\n"
      "(github, shopify, slack) sign with the new secret at once.");
  absl::Duration grace;
  std::string secret_file;
  flags.AddDuration("grace", "DURATION",
                    "How long the previous secret keeps signing, 0..168h (default 24h).", &grace);
  flags.AddString("secret-file", "FILE",
                  "The new secret, chosen by the customer, read from FILE without one trailing "
                  "newline: 16..256 printable ASCII characters, or whsec_<base64> (default: "
                  "generated).",
                  &secret_file);
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ID"}));
  if (parsed.help) return absl::OkStatus();
  v1::RotateSecretRequest request;
  request.set_id(parsed.positional[0]);
  if (flags.IsSet("grace")) *request.mutable_grace_period() = ToProto(grace);
  if (flags.IsSet("secret-file")) {
    absl::StatusOr<std::string> secret = ReadSecretFile(secret_file);
    if (!secret.ok()) return FlagValueError(inv, flags, secret.status());
    request.set_secret(*std::move(secret));
  }
  grpc::ClientContext context;
  inv.Prepare(context);
  App app;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(Stub(inv)->RotateSecret(&context, request, &app)));
  return Answer(inv, app);
}

}  // namespace

GroupSpec AppsGroup() {
  return {"apps",
          "Manage webhook apps: the endpoints of a tenant and how deliveries reach them.",
          {
              {"create", "Register a webhook app; prints its secret once.", Create},
              {"list", "List apps, optionally of one tenant.", List},
              {"get", "Show one app.", Get},
              {"update", "Change the fields whose flags are given.", Update},
              {"delete", "Delete an app.", Delete},
              {"enable", "Activate a disabled app.", Enable},
              {"disable", "Deactivate an app with a reason.", Disable},
              {"rotate-secret", "Issue a new signing secret; prints it once.", RotateSecret},
              {"test", "Send a signed test request to the app's endpoint now.", Test},
              {"stats", "Attempts, success rate and latency of an app over a window.", Stats},
          }};
}

}  // namespace hookd::hookctl
