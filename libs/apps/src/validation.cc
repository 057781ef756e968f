#include "hookd/apps/validation.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/http_token.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/dialect/payload_template.h"
#include "hookd/dialect/signature_profile.h"

namespace hookd::apps {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxTenantLength = 64;
constexpr size_t kMaxNameChars = 200;
constexpr size_t kMaxDescriptionChars = 1000;
constexpr size_t kMaxUrlLength = 2048;
constexpr int kMaxEventTypes = 100;
constexpr size_t kMaxEventTypeNameLength = 128;
constexpr int kMaxChannels = 10;
constexpr size_t kMaxChannelLength = 128;
constexpr int kMaxHeaders = 50;
constexpr size_t kMaxHeaderNameLength = 256;
constexpr size_t kMaxCompatHeaderLength = 64;
constexpr int kMaxSignatureProfiles = 5;
constexpr absl::Duration kMaxDeliveryDelay = absl::Hours(24);
constexpr size_t kMaxHeaderValueLength = 4096;
constexpr size_t kMaxUsernameChars = 256;
constexpr size_t kMaxPasswordChars = 1024;
constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
constexpr absl::Duration kMinTimeout = absl::Seconds(1);
constexpr absl::Duration kMaxTimeout = absl::Seconds(30);
constexpr int kMaxRetryDelays = 50;
constexpr absl::Duration kMinRetryDelay = absl::Seconds(1);
constexpr absl::Duration kMaxRetryDelay = absl::Hours(24);
constexpr double kMinMultiplier = 1.0;
constexpr double kMaxMultiplier = 10.0;
constexpr int kMaxAttempts = 50;
constexpr int kMaxRateLimitPerSecond = 100000;
constexpr int kDefaultDisableAfterFailures = 10;
constexpr int kMaxDisableAfterFailures = 10000;

constexpr char kEventTypePatternRule[] =
    "must be *, an event type name (dot-separated segments of [a-z0-9_-], at most 128 "
    "characters, e.g. video.ready), or a name followed by .* (e.g. video.*)";

// Counts code points; nullopt when `text` is not valid UTF-8 (overlong forms, surrogates and
// values above U+10FFFF included), because lengths are promised in characters.
std::optional<size_t> CountCodePoints(std::string_view text) {
  size_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code_point;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) return std::nullopt;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return std::nullopt;
      code_point = code_point << 6 | (next & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return std::nullopt;
    }
    i += length;
    ++count;
  }
  return count;
}

bool IsControl(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool HasControl(std::string_view text) { return std::any_of(text.begin(), text.end(), IsControl); }

// Checks a length in characters of a text that must be valid UTF-8.
absl::Status ValidateText(std::string_view text, size_t min_chars, size_t max_chars,
                          std::string_view field) {
  std::optional<size_t> chars = CountCodePoints(text);
  if (!chars.has_value()) return InvalidField(field, "must be valid UTF-8");
  if (*chars < min_chars) return InvalidField(field, "is required");
  if (*chars > max_chars) {
    return InvalidField(field, absl::StrCat("must be at most ", max_chars, " characters"));
  }
  return absl::OkStatus();
}

bool IsEventTypeNameChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
}

bool IsEventTypeName(std::string_view name) {
  if (name.empty() || name.size() > kMaxEventTypeNameLength) return false;
  for (absl::string_view segment : absl::StrSplit(AbslView(name), '.')) {
    if (segment.empty() || !std::all_of(segment.begin(), segment.end(), IsEventTypeNameChar)) {
      return false;
    }
  }
  return true;
}

// Header names that hookd or the HTTP layer sets itself; a tenant overriding them could forge
// signatures or break framing.
bool IsReservedHeader(std::string_view lower_name) {
  static constexpr std::string_view kReserved[] = {"content-type", "content-length", "host",
                                                   "transfer-encoding", "connection"};
  return lower_name.starts_with("webhook-") ||
         std::find(std::begin(kReserved), std::end(kReserved), lower_name) != std::end(kReserved);
}

std::string HeaderField(std::string_view name) {
  // A name that is not a token may hold quotes or control characters; escape it so the error
  // message stays one readable line.
  std::string shown = IsHttpToken(name) ? std::string(name) : absl::CEscape(AbslView(name));
  return absl::StrCat("app.headers[\"", shown, "\"]");
}

// Nullopt for a Duration message that breaks the protobuf rules (range, mixed signs).
std::optional<absl::Duration> CheckedDuration(const google::protobuf::Duration& duration) {
  int64_t seconds = duration.seconds();
  int32_t nanos = duration.nanos();
  if (seconds < TimeUtil::kDurationMinSeconds || seconds > TimeUtil::kDurationMaxSeconds ||
      nanos <= -1000000000 || nanos >= 1000000000 || (seconds < 0 && nanos > 0) ||
      (seconds > 0 && nanos < 0)) {
    return std::nullopt;
  }
  return ToAbslDuration(duration);
}

absl::Status ValidateDurationRange(const google::protobuf::Duration& duration, absl::Duration min,
                                   absl::Duration max, std::string_view field) {
  std::optional<absl::Duration> value = CheckedDuration(duration);
  if (!value.has_value()) return InvalidField(field, "is not a valid duration");
  if (*value < min || *value > max) {
    return InvalidField(field, absl::StrCat("must be between ", absl::FormatDuration(min), " and ",
                                            absl::FormatDuration(max)));
  }
  return absl::OkStatus();
}

struct CurlUrlDeleter {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};

// The part as curl stores it (decoded, IPv4 hosts normalized); nullopt when absent.
std::optional<std::string> GetUrlPart(CURLU* handle, CURLUPart part) {
  char* raw = nullptr;
  CURLUcode code = curl_url_get(handle, part, &raw, 0);
  std::unique_ptr<char, CurlFreeDeleter> text(raw);
  if (code != CURLUE_OK || text == nullptr) return std::nullopt;
  return std::string(text.get());
}

absl::Status ValidateHost(std::string_view host, const ValidationOptions& options,
                          std::string_view field) {
  // A trailing dot names the same host ("127.0.0.1." and "localhost." included).
  std::string normalized = absl::AsciiStrToLower(absl::StripSuffix(AbslView(host), "."));
  std::optional<http::IpAddress> address = http::IpAddress::Parse(normalized);
  // RFC 6761 reserves localhost and its subdomains for loopback, and resolvers answer them
  // without asking DNS.
  if (!address.has_value() && (normalized == "localhost" || normalized.ends_with(".localhost"))) {
    address = http::IpAddress::V4(127, 0, 0, 1);
  }
  // Other host names are accepted here: what they resolve to can change after the app is saved,
  // so the worker checks every resolved address with IsAllowedAddress at connect time.
  if (!address.has_value()) return absl::OkStatus();
  if (!http::IsAllowedAddress(*address, options.private_allowlist)) {
    std::string literal = address->ToString();
    bool spelled_as_is = normalized == literal || normalized == absl::StrCat("[", literal, "]");
    std::string subject =
        spelled_as_is ? absl::StrCat("address ", literal)
                      : absl::StrCat("host ", AbslView(host), " means ", literal, ", which");
    return InvalidField(field, absl::StrCat(subject,
                                            " is private, loopback, link-local or reserved; "
                                            "such endpoints are refused unless "
                                            "HOOKD_PRIVATE_ALLOWLIST covers them"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEventTypes(const hookd::v1::App& app) {
  constexpr std::string_view kField = "app.event_types";
  if (app.event_types().empty()) {
    return InvalidField(kField,
                        "at least one event type pattern is required, e.g. video.ready, video.* "
                        "or *");
  }
  if (app.event_types_size() > kMaxEventTypes) {
    return InvalidField(kField, absl::StrCat("must hold at most ", kMaxEventTypes, " patterns"));
  }
  std::map<std::string_view, int> seen;
  for (int i = 0; i < app.event_types_size(); ++i) {
    std::string field = absl::StrCat(AbslView(kField), "[", i, "]");
    HOOKD_RETURN_IF_ERROR(ValidateEventTypePattern(app.event_types(i), field));
    auto [it, inserted] = seen.emplace(app.event_types(i), i);
    if (!inserted) {
      return InvalidField(field, absl::StrCat("repeats ", AbslView(kField), "[", it->second,
                                              "]; each pattern may appear once"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateChannels(const hookd::v1::App& app) {
  constexpr std::string_view kField = "app.channels";
  if (app.channels_size() > kMaxChannels) {
    return InvalidField(kField, absl::StrCat("must hold at most ", kMaxChannels, " channels"));
  }
  std::map<std::string_view, int> seen;
  for (int i = 0; i < app.channels_size(); ++i) {
    std::string field = absl::StrCat(AbslView(kField), "[", i, "]");
    HOOKD_RETURN_IF_ERROR(ValidateChannel(app.channels(i), field));
    auto [it, inserted] = seen.emplace(app.channels(i), i);
    if (!inserted) {
      return InvalidField(field, absl::StrCat("repeats ", AbslView(kField), "[", it->second,
                                              "]; each channel may appear once"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateHeaders(const hookd::v1::App& app) {
  if (app.headers_size() > kMaxHeaders) {
    return InvalidField("app.headers", absl::StrCat("must hold at most ", kMaxHeaders, " headers"));
  }
  // A protobuf map iterates in no fixed order; sorting makes "the first violation" the same on
  // every call.
  std::map<std::string_view, std::string_view> sorted(app.headers().begin(), app.headers().end());
  std::map<std::string, std::string_view> lower_names;
  for (const auto& [name, value] : sorted) {
    std::string field = HeaderField(name);
    if (name.size() > kMaxHeaderNameLength) {
      return InvalidField(
          field, absl::StrCat("name must be at most ", kMaxHeaderNameLength, " characters"));
    }
    if (!IsHttpToken(name)) {
      return InvalidField(field,
                          "name must be an HTTP token (RFC 7230): letters, digits and "
                          "!#$%&'*+-.^_`|~");
    }
    std::string lower = absl::AsciiStrToLower(AbslView(name));
    if (IsReservedHeader(lower)) {
      return InvalidField(field,
                          "is set by hookd; custom headers may not be webhook-*, content-type, "
                          "content-length, host, transfer-encoding or connection");
    }
    if (lower == "authorization" && app.auth().has_basic()) {
      return InvalidField(field, "cannot be set together with auth.basic");
    }
    auto [it, inserted] = lower_names.emplace(lower, name);
    if (!inserted) {
      return InvalidField(field, absl::StrCat("repeats header ", AbslView(it->second),
                                              "; header names are case-insensitive"));
    }
    if (value.size() > kMaxHeaderValueLength) {
      return InvalidField(
          field, absl::StrCat("value must be at most ", kMaxHeaderValueLength, " characters"));
    }
    // Horizontal tab is the one control character a field value may contain; CR and LF would
    // inject further headers.
    bool bad_value =
        std::any_of(value.begin(), value.end(), [](char c) { return IsControl(c) && c != '\t'; });
    if (bad_value) {
      return InvalidField(field, "value must not contain CR, LF, NUL or other control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCompatSignatureHeader(const hookd::v1::App& app) {
  const std::string& name = app.compat_signature_header();
  if (name.empty()) return absl::OkStatus();
  constexpr std::string_view kField = "app.compat_signature_header";
  // The compat header is an HMAC of the body: it needs the shared secret of the v1 scheme.
  if (app.signature() == hookd::v1::SIGNATURE_SCHEME_V1A_ED25519) {
    return InvalidField(kField, "needs SIGNATURE_SCHEME_V1 (an HMAC secret); v1a apps have none");
  }
  if (name.size() > kMaxCompatHeaderLength || !IsHttpToken(name)) {
    return InvalidField(kField, "must be an HTTP header name (RFC 7230 token) of 1..64 characters");
  }
  std::string lower = absl::AsciiStrToLower(name);
  if (IsReservedHeader(lower) || lower == "authorization") {
    return InvalidField(kField, "names a header hookd sets itself");
  }
  for (const auto& [custom, value] : app.headers()) {
    if (absl::AsciiStrToLower(custom) == lower) {
      return InvalidField(kField, "is also one of the app's custom headers");
    }
  }
  return absl::OkStatus();
}

// The profile the deprecated compat_signature_header stands for: GitHub's body HMAC, keyed by
// the decoded whsec_ bytes as hookd always did, by the newest key only.
hookd::v1::SignatureProfile CompatProfile(const std::string& header) {
  hookd::v1::SignatureProfile profile;
  profile.set_signature_header(header);
  profile.set_signed_content("{body}");
  profile.set_algorithm(hookd::v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  profile.set_encoding(hookd::v1::SIGNATURE_ENCODING_HEX);
  profile.set_signature_format("sha256={sig}");
  profile.set_key(hookd::v1::SIGNATURE_KEY_WHSEC_BYTES);
  profile.set_rotation(hookd::v1::SIGNATURE_ROTATION_NEWEST_KEY);
  return profile;
}

absl::Status ValidateSignatureProfiles(const hookd::v1::App& app) {
  constexpr std::string_view kField = "app.signature_profiles";
  if (app.signature_profiles_size() > kMaxSignatureProfiles) {
    return InvalidField(kField,
                        absl::StrCat("must hold at most ", kMaxSignatureProfiles, " profiles"));
  }
  // Every header name a delivery carries, lower-cased, with the field that set it.
  std::map<std::string, std::string> taken = {{"content-type", "hookd (content-type)"}};
  for (const auto& [name, value] :
       std::map<std::string, std::string>(app.headers().begin(), app.headers().end())) {
    taken.emplace(absl::AsciiStrToLower(name), HeaderField(name));
  }
  for (int i = 0; i < app.signature_profiles_size(); ++i) {
    const std::string field = absl::StrCat(AbslView(kField), "[", i, "]");
    HOOKD_ASSIGN_OR_RETURN(hookd::v1::SignatureProfile profile,
                           dialect::Resolve(app.signature_profiles(i), field));
    HOOKD_RETURN_IF_ERROR(dialect::ValidateProfile(profile, field));
    if (app.signature() == hookd::v1::SIGNATURE_SCHEME_V1A_ED25519 &&
        !profile.signature_header().empty() &&
        profile.algorithm() != hookd::v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS) {
      return InvalidField(field,
                          "signs with an HMAC, which needs a shared secret; an app of "
                          "SIGNATURE_SCHEME_V1A_ED25519 has none");
    }
    for (const auto& [member, name] :
         {std::pair<std::string_view, const std::string*>{"id_header", &profile.id_header()},
          {"timestamp_header", &profile.timestamp_header()},
          {"event_type_header", &profile.event_type_header()},
          {"signature_header", &profile.signature_header()}}) {
      if (name->empty()) continue;
      const std::string at = absl::StrCat(field, ".", AbslView(member));
      auto [it, inserted] = taken.emplace(absl::AsciiStrToLower(*name), at);
      if (!inserted) {
        return InvalidField(at, absl::StrCat("header ", *name, " is also set by ", it->second,
                                             "; header names are case-insensitive"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePayload(const hookd::v1::App& app) {
  if (!hookd::v1::PayloadFormat_IsValid(app.payload_format())) {
    return InvalidField("app.payload_format",
                        "must be PAYLOAD_FORMAT_ENVELOPE, PAYLOAD_FORMAT_RAW or "
                        "PAYLOAD_FORMAT_TEMPLATE");
  }
  if (app.payload_format() == hookd::v1::PAYLOAD_FORMAT_TEMPLATE ||
      !app.payload_template().empty()) {
    HOOKD_RETURN_IF_ERROR(
        dialect::ValidatePayloadTemplate(app.payload_template(), "app.payload_template"));
  }
  if (app.signature() == hookd::v1::SIGNATURE_SCHEME_V1A_ED25519 &&
      dialect::UsesSecret(app.payload_template())) {
    return InvalidField("app.payload_template",
                        "uses {{secret}}, but an app of SIGNATURE_SCHEME_V1A_ED25519 has no shared "
                        "secret to echo");
  }
  return absl::OkStatus();
}

absl::Status ValidateAuth(const hookd::v1::App& app) {
  if (!app.auth().has_basic()) return absl::OkStatus();
  const hookd::v1::BasicAuth& basic = app.auth().basic();
  constexpr std::string_view kUsername = "app.auth.basic.username";
  HOOKD_RETURN_IF_ERROR(ValidateText(basic.username(), 1, kMaxUsernameChars, kUsername));
  // RFC 7617: the first ':' of the credentials ends the user-id.
  if (basic.username().find(':') != std::string::npos) {
    return InvalidField(kUsername, "must not contain ':'");
  }
  if (HasControl(basic.username())) {
    return InvalidField(kUsername, "must not contain control characters");
  }
  // The password's value never appears in a message (it is a secret).
  constexpr std::string_view kPassword = "app.auth.basic.password";
  HOOKD_RETURN_IF_ERROR(ValidateText(basic.password(), 1, kMaxPasswordChars, kPassword));
  if (HasControl(basic.password())) {
    return InvalidField(kPassword, "must not contain control characters");
  }
  return absl::OkStatus();
}

absl::Status ValidateTimeout(const hookd::v1::App& app) {
  // Unset means the default, which ApplyDefaults writes in anyway.
  if (!app.has_timeout()) return absl::OkStatus();
  constexpr std::string_view kField = "app.timeout";
  HOOKD_RETURN_IF_ERROR(ValidateDurationRange(app.timeout(), kMinTimeout, kMaxTimeout, kField));
  if (app.timeout().nanos() % 1000000 != 0) {
    return InvalidField(kField, "must be a whole number of milliseconds");
  }
  return absl::OkStatus();
}

absl::Status ValidateRetry(const hookd::v1::App& app) {
  if (!app.has_retry()) return absl::OkStatus();
  const hookd::v1::RetryPolicy& retry = app.retry();
  if (retry.delays_size() > 0 && retry.has_exponential()) {
    return InvalidField("app.retry", "set either delays or exponential, not both");
  }
  if (retry.delays_size() > kMaxRetryDelays) {
    return InvalidField("app.retry.delays",
                        absl::StrCat("must hold at most ", kMaxRetryDelays, " delays"));
  }
  for (int i = 0; i < retry.delays_size(); ++i) {
    HOOKD_RETURN_IF_ERROR(ValidateDurationRange(retry.delays(i), kMinRetryDelay, kMaxRetryDelay,
                                                absl::StrCat("app.retry.delays[", i, "]")));
  }
  if (!retry.has_exponential()) return absl::OkStatus();
  const hookd::v1::ExponentialBackoff& exponential = retry.exponential();
  HOOKD_RETURN_IF_ERROR(ValidateDurationRange(exponential.initial_delay(), kMinRetryDelay,
                                              kMaxRetryDelay,
                                              "app.retry.exponential.initial_delay"));
  // Written so that NaN fails too.
  if (!(exponential.multiplier() >= kMinMultiplier && exponential.multiplier() <= kMaxMultiplier)) {
    return InvalidField("app.retry.exponential.multiplier", "must be between 1.0 and 10.0");
  }
  constexpr std::string_view kMaxDelay = "app.retry.exponential.max_delay";
  HOOKD_RETURN_IF_ERROR(
      ValidateDurationRange(exponential.max_delay(), kMinRetryDelay, kMaxRetryDelay, kMaxDelay));
  if (*CheckedDuration(exponential.max_delay()) < *CheckedDuration(exponential.initial_delay())) {
    return InvalidField(kMaxDelay, "must be at least initial_delay");
  }
  if (exponential.max_attempts() < 1 || exponential.max_attempts() > kMaxAttempts) {
    return InvalidField("app.retry.exponential.max_attempts",
                        absl::StrCat("must be between 1 and ", kMaxAttempts));
  }
  return absl::OkStatus();
}

}  // namespace

void ApplyDefaults(hookd::v1::App& app) {
  if (!app.has_timeout()) {
    *app.mutable_timeout() =
        TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(kDefaultTimeout));
  }
  if (app.disable_after_failures() == 0) {
    app.set_disable_after_failures(kDefaultDisableAfterFailures);
  }
  if (app.payload_format() == hookd::v1::PAYLOAD_FORMAT_UNSPECIFIED) {
    app.set_payload_format(hookd::v1::PAYLOAD_FORMAT_ENVELOPE);
  }
  if (app.signature() == hookd::v1::SIGNATURE_SCHEME_UNSPECIFIED) {
    app.set_signature(hookd::v1::SIGNATURE_SCHEME_V1);
  }
}

absl::Status ValidateApp(const hookd::v1::App& app, const ValidationOptions& options) {
  HOOKD_RETURN_IF_ERROR(ValidateTenant(app.tenant(), "app.tenant"));
  HOOKD_RETURN_IF_ERROR(ValidateText(app.name(), 1, kMaxNameChars, "app.name"));
  // Names are shown in one-line listings; control characters would garble them.
  if (HasControl(app.name())) {
    return InvalidField("app.name", "must not contain control characters");
  }
  HOOKD_RETURN_IF_ERROR(
      ValidateText(app.description(), 0, kMaxDescriptionChars, "app.description"));
  HOOKD_RETURN_IF_ERROR(ValidateUrl(app.url(), options, "app.url"));
  HOOKD_RETURN_IF_ERROR(ValidateEventTypes(app));
  HOOKD_RETURN_IF_ERROR(ValidateChannels(app));
  HOOKD_RETURN_IF_ERROR(ValidateHeaders(app));
  HOOKD_RETURN_IF_ERROR(ValidateAuth(app));
  HOOKD_RETURN_IF_ERROR(ValidateTimeout(app));
  HOOKD_RETURN_IF_ERROR(ValidateRetry(app));
  if (app.rate_limit_per_second() < 0 || app.rate_limit_per_second() > kMaxRateLimitPerSecond) {
    return InvalidField(
        "app.rate_limit_per_second",
        absl::StrCat("must be between 0 and ", kMaxRateLimitPerSecond, " (0 means unlimited)"));
  }
  if (app.disable_after_failures() < 1 || app.disable_after_failures() > kMaxDisableAfterFailures) {
    return InvalidField("app.disable_after_failures",
                        absl::StrCat("must be between 1 and ", kMaxDisableAfterFailures));
  }
  if (!hookd::v1::SignatureScheme_IsValid(app.signature())) {
    return InvalidField("app.signature",
                        "must be SIGNATURE_SCHEME_V1 or SIGNATURE_SCHEME_V1A_ED25519");
  }
  HOOKD_RETURN_IF_ERROR(ValidatePayload(app));
  if (app.has_delivery_delay()) {
    HOOKD_RETURN_IF_ERROR(ValidateDurationRange(app.delivery_delay(), absl::ZeroDuration(),
                                                kMaxDeliveryDelay, "app.delivery_delay"));
    if (app.delivery_delay().nanos() % 1000000 != 0) {
      return InvalidField("app.delivery_delay", "must be a whole number of milliseconds");
    }
  }
  HOOKD_RETURN_IF_ERROR(ValidateCompatSignatureHeader(app));
  HOOKD_RETURN_IF_ERROR(ValidateSignatureProfiles(app));
  if (!app.compat_signature_header().empty()) {
    // The deprecated header becomes one more profile, which must fit beside the others.
    hookd::v1::App effective = app;
    ResolveSignatureProfiles(effective);
    if (!ValidateSignatureProfiles(effective).ok()) {
      return InvalidField("app.compat_signature_header",
                          "clashes with a header of signature_profiles, or makes more than 5 "
                          "profiles");
    }
  }
  return absl::OkStatus();
}

void ResolveSignatureProfiles(hookd::v1::App& app) {
  if (!app.compat_signature_header().empty()) {
    if (app.signature_profiles().empty()) {
      app.add_signature_profiles()->set_preset("standard-webhooks");
    }
    *app.add_signature_profiles() = CompatProfile(app.compat_signature_header());
    app.clear_compat_signature_header();
  }
  for (hookd::v1::SignatureProfile& profile : *app.mutable_signature_profiles()) {
    absl::StatusOr<hookd::v1::SignatureProfile> resolved =
        dialect::Resolve(profile, "app.signature_profiles");
    if (resolved.ok()) profile = *std::move(resolved);
  }
}

absl::Status ValidateSecretForApp(const hookd::v1::App& app, std::string_view secret,
                                  std::string_view field) {
  HOOKD_ASSIGN_OR_RETURN(const std::vector<hookd::v1::SignatureProfile> profiles,
                         dialect::EffectiveProfiles(app));
  for (size_t i = 0; i < profiles.size(); ++i) {
    const std::string profile_field = app.signature_profiles().empty() && i == 0
                                          ? std::string("the default standard-webhooks profile")
                                          : absl::StrCat("app.signature_profiles[", i, "]");
    HOOKD_RETURN_IF_ERROR(dialect::CheckSecretFits(profiles[i], secret, profile_field, field));
  }
  if (dialect::KindOfSecret(secret) == dialect::SecretKind::kEd25519 &&
      dialect::UsesSecret(app.payload_template())) {
    return InvalidField(field,
                        "app.payload_template echoes {{secret}}, which needs a shared secret");
  }
  return absl::OkStatus();
}

absl::Status ValidateTenant(std::string_view tenant, std::string_view field) {
  if (tenant.empty()) return InvalidField(field, "is required");
  auto allowed = [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-'; };
  if (tenant.size() > kMaxTenantLength || !std::all_of(tenant.begin(), tenant.end(), allowed)) {
    return InvalidField(field, "must be 1..64 characters of [A-Za-z0-9_.-]");
  }
  return absl::OkStatus();
}

absl::Status ValidateUrl(std::string_view url, const ValidationOptions& options,
                         std::string_view field) {
  if (url.empty()) return InvalidField(field, "is required");
  if (url.size() > kMaxUrlLength) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxUrlLength, " characters"));
  }
  // The worker sends the url as stored; blanks, control characters and raw non-ASCII bytes are
  // ambiguous on the wire (and curl would guess), so they must be percent-encoded.
  bool printable = std::all_of(url.begin(), url.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
  if (!printable) {
    return InvalidField(field,
                        "must contain only printable ASCII characters; percent-encode the rest");
  }
  CurlUrl handle(curl_url());
  if (handle == nullptr) return absl::ResourceExhaustedError("cannot allocate a curl url handle");
  std::string text(url);
  // Unknown schemes parse too, so that they get the message below rather than curl's.
  CURLUcode code =
      curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    return InvalidField(field, absl::StrCat("must be an absolute url such as "
                                            "https://example.com/webhooks (",
                                            curl_url_strerror(code), ")"));
  }
  std::string scheme = GetUrlPart(handle.get(), CURLUPART_SCHEME).value_or("");
  if (scheme == "http" && !options.allow_http) {
    return InvalidField(field,
                        "must use https; http is permitted only when the server runs with "
                        "HOOKD_ALLOW_HTTP=true");
  }
  if (scheme != "https" && scheme != "http") {
    return InvalidField(
        field, options.allow_http ? "scheme must be https or http" : "scheme must be https");
  }
  // curl also takes "https:/host" and "https:///host"; only "scheme://host" is unambiguous.
  std::string_view after_scheme = url.substr(scheme.size());
  if (!after_scheme.starts_with("://") || after_scheme.size() <= 3 || after_scheme[3] == '/' ||
      after_scheme[3] == '\\') {
    return InvalidField(field,
                        "must be an absolute url with a host, such as "
                        "https://example.com/webhooks");
  }
  // Credentials in a url end up in logs and listings; auth.basic keeps them encrypted.
  if (GetUrlPart(handle.get(), CURLUPART_USER).has_value() ||
      GetUrlPart(handle.get(), CURLUPART_PASSWORD).has_value() ||
      GetUrlPart(handle.get(), CURLUPART_OPTIONS).has_value()) {
    return InvalidField(field,
                        "must not contain credentials (user@ or user:password@); use "
                        "auth.basic instead");
  }
  std::optional<std::string> host = GetUrlPart(handle.get(), CURLUPART_HOST);
  if (!host.has_value() || host->empty()) return InvalidField(field, "must have a host");
  if (std::optional<std::string> port = GetUrlPart(handle.get(), CURLUPART_PORT)) {
    int number = 0;
    if (!absl::SimpleAtoi(*port, &number) || number < 1 || number > 65535) {
      return InvalidField(field, "port must be between 1 and 65535");
    }
  }
  return ValidateHost(*host, options, field);
}

absl::Status ValidateEventTypeName(std::string_view name, std::string_view field) {
  if (name.empty()) return InvalidField(field, "is required");
  if (name.size() > kMaxEventTypeNameLength) {
    return InvalidField(field,
                        absl::StrCat("must be at most ", kMaxEventTypeNameLength, " characters"));
  }
  if (!IsEventTypeName(name)) {
    return InvalidField(field,
                        "must be dot-separated segments of lowercase [a-z0-9_-], e.g. "
                        "video.ready");
  }
  return absl::OkStatus();
}

absl::Status ValidateEventTypePattern(std::string_view pattern, std::string_view field) {
  if (pattern.empty()) return InvalidField(field, "is required");
  if (pattern == "*") return absl::OkStatus();
  std::string_view name = pattern;
  if (name.ends_with(".*")) name.remove_suffix(2);
  if (!IsEventTypeName(name)) return InvalidField(field, kEventTypePatternRule);
  return absl::OkStatus();
}

bool IsSensitiveHeader(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(AbslView(name));
  if (lower == "authorization" || lower == "cookie") return true;
  for (std::string_view word : {"token", "secret", "key", "password"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

bool IsReservedEventType(std::string_view name) {
  return name == "hookd" || name.starts_with("hookd.");
}

absl::Status RefuseReservedEventType(std::string_view name, std::string_view field) {
  if (!IsReservedEventType(name)) return absl::OkStatus();
  return InvalidField(field, "hookd.* event types are reserved for hookd's operational events");
}

bool PatternMatches(std::string_view pattern, std::string_view event_type) {
  if (pattern == "*") return true;
  if (pattern.ends_with(".*")) {
    // Keep the dot, so `video.*` matches neither `video` nor `videos.ready`.
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return event_type.size() > prefix.size() && event_type.starts_with(prefix);
  }
  return pattern == event_type;
}

absl::Status ValidateChannel(std::string_view channel, std::string_view field) {
  if (channel.empty()) return InvalidField(field, "must not be empty");
  auto allowed = [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
  };
  if (channel.size() > kMaxChannelLength || !std::all_of(channel.begin(), channel.end(), allowed)) {
    return InvalidField(field, "must be 1..128 characters of [A-Za-z0-9_.:-]");
  }
  return absl::OkStatus();
}

std::vector<absl::Duration> RetryDelays(const hookd::v1::RetryPolicy& policy) {
  std::vector<absl::Duration> delays;
  if (policy.delays_size() > 0) {
    for (const google::protobuf::Duration& delay : policy.delays()) {
      delays.push_back(ToAbslDuration(delay));
    }
    return delays;
  }
  if (policy.has_exponential()) {
    const hookd::v1::ExponentialBackoff& exponential = policy.exponential();
    absl::Duration initial = absl::Seconds(exponential.initial_delay().seconds()) +
                             absl::Nanoseconds(exponential.initial_delay().nanos());
    absl::Duration max = absl::Seconds(exponential.max_delay().seconds()) +
                         absl::Nanoseconds(exponential.max_delay().nanos());
    int attempts = std::clamp(exponential.max_attempts(), 1, kMaxAttempts);
    for (int retry = 0; retry + 1 < attempts; ++retry) {
      // Duration * double saturates instead of overflowing, so a large power is safe.
      delays.push_back(std::min(initial * std::pow(exponential.multiplier(), retry), max));
    }
    return delays;
  }
  // Standard Webhooks' recommended schedule.
  return {absl::Seconds(5), absl::Minutes(5), absl::Minutes(30), absl::Hours(2),
          absl::Hours(5),   absl::Hours(10),  absl::Hours(10)};
}

}  // namespace hookd::apps
