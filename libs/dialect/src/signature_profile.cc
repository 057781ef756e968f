#include "hookd/dialect/signature_profile.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/http_token.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/signing.h"

namespace hookd::dialect {
namespace {

constexpr size_t kMaxHeaderNameLength = 64;
constexpr size_t kMaxSignedContentLength = 256;
constexpr size_t kMaxFormatLength = 128;
constexpr size_t kMaxSeparatorLength = 4;
constexpr size_t kMinChosenSecretLength = 16;
constexpr size_t kMaxChosenSecretLength = 256;

// Standard Webhooks fixes these; a profile with its algorithm may only repeat them.
constexpr std::string_view kStandardContent = "{id}.{timestamp}.{body}";

std::string FieldOf(std::string_view field, std::string_view member) {
  return absl::StrCat(AbslView(field), ".", AbslView(member));
}

v1::SignatureProfile StandardWebhooks() {
  v1::SignatureProfile p;
  p.set_preset("standard-webhooks");
  p.set_id_header("webhook-id");
  p.set_timestamp_header("webhook-timestamp");
  p.set_signature_header("webhook-signature");
  p.set_algorithm(v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS);
  return p;
}

// GitHub: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
v1::SignatureProfile GitHub() {
  v1::SignatureProfile p;
  p.set_preset("github");
  p.set_id_header("X-GitHub-Delivery");
  p.set_event_type_header("X-GitHub-Event");
  p.set_signature_header("X-Hub-Signature-256");
  p.set_signed_content("{body}");
  p.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  p.set_encoding(v1::SIGNATURE_ENCODING_HEX);
  p.set_signature_format("sha256={sig}");
  p.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  p.set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  return p;
}

// Stripe: https://docs.stripe.com/webhooks#verify-manually. Several `v1=` entries are what
// Stripe itself sends while an endpoint's secret is rolled; its libraries accept any of them.
v1::SignatureProfile Stripe() {
  v1::SignatureProfile p;
  p.set_preset("stripe");
  p.set_signature_header("Stripe-Signature");
  p.set_timestamp_unit(v1::TIMESTAMP_UNIT_SECONDS);
  p.set_signed_content("{timestamp}.{body}");
  p.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  p.set_encoding(v1::SIGNATURE_ENCODING_HEX);
  p.set_signature_format("t={timestamp},v1={sig}");
  p.set_signature_separator(",");
  p.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  p.set_rotation(v1::SIGNATURE_ROTATION_ALL_KEYS);
  return p;
}

// Shopify: https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
v1::SignatureProfile Shopify() {
  v1::SignatureProfile p;
  p.set_preset("shopify");
  p.set_id_header("X-Shopify-Webhook-Id");
  p.set_event_type_header("X-Shopify-Topic");
  p.set_signature_header("X-Shopify-Hmac-Sha256");
  p.set_signed_content("{body}");
  p.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  p.set_encoding(v1::SIGNATURE_ENCODING_BASE64);
  p.set_signature_format("{sig}");
  p.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  p.set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  return p;
}

// Slack: https://api.slack.com/authentication/verifying-requests-from-slack
v1::SignatureProfile Slack() {
  v1::SignatureProfile p;
  p.set_preset("slack");
  p.set_timestamp_header("X-Slack-Request-Timestamp");
  p.set_signature_header("X-Slack-Signature");
  p.set_timestamp_unit(v1::TIMESTAMP_UNIT_SECONDS);
  p.set_signed_content("v0:{timestamp}:{body}");
  p.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  p.set_encoding(v1::SIGNATURE_ENCODING_HEX);
  p.set_signature_format("v0={sig}");
  p.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  p.set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  return p;
}

// Signs nothing and sends no header: for receivers whose docs define no signature, such as
// Targetvideo's, which checks a secret echoed in the body instead.
v1::SignatureProfile None() {
  v1::SignatureProfile p;
  p.set_preset("none");
  return p;
}

constexpr std::array<std::string_view, 6> kPresetNames = {"standard-webhooks", "github", "stripe",
                                                          "shopify",           "slack",  "none"};

std::optional<v1::SignatureProfile> Preset(std::string_view name) {
  if (name == "standard-webhooks") return StandardWebhooks();
  if (name == "github") return GitHub();
  if (name == "stripe") return Stripe();
  if (name == "shopify") return Shopify();
  if (name == "slack") return Slack();
  if (name == "none") return None();
  return std::nullopt;
}

// One piece of a template such as `v0:{timestamp}:{body}`: literal text or a placeholder.
enum class Part { kLiteral, kId, kTimestamp, kBody, kSig };
struct Segment {
  Part part;
  std::string_view text;  // the literal, for kLiteral
};

struct PlaceholderName {
  std::string_view name;
  Part part;
};
constexpr PlaceholderName kContentNames[] = {
    {"{id}", Part::kId}, {"{timestamp}", Part::kTimestamp}, {"{body}", Part::kBody}};
constexpr PlaceholderName kFormatNames[] = {{"{sig}", Part::kSig},
                                            {"{timestamp}", Part::kTimestamp}};

// Splits `text` into literals and the placeholders in `names`; any other `{` or `}` is an error
// naming `field` and the 0-based position.
absl::StatusOr<std::vector<Segment>> Split(std::string_view text,
                                           std::span<const PlaceholderName> names,
                                           std::string_view field) {
  std::vector<Segment> segments;
  size_t literal_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '}') {
      return InvalidField(field, absl::StrCat("a '}' at position ", i, " closes no placeholder"));
    }
    if (text[i] != '{') {
      ++i;
      continue;
    }
    const PlaceholderName* found = nullptr;
    for (const PlaceholderName& name : names) {
      if (text.substr(i).starts_with(name.name)) found = &name;
    }
    if (found == nullptr) {
      std::string allowed;
      for (const PlaceholderName& name : names) {
        absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", AbslView(name.name));
      }
      return InvalidField(field, absl::StrCat("unknown placeholder at position ", i,
                                              "; the placeholders are ", allowed));
    }
    if (i > literal_start) {
      segments.push_back({Part::kLiteral, text.substr(literal_start, i - literal_start)});
    }
    segments.push_back({found->part, {}});
    i += found->name.size();
    literal_start = i;
  }
  if (text.size() > literal_start) {
    segments.push_back({Part::kLiteral, text.substr(literal_start)});
  }
  return segments;
}

bool Contains(const std::vector<Segment>& segments, Part part) {
  return std::any_of(segments.begin(), segments.end(),
                     [part](const Segment& s) { return s.part == part; });
}

// Headers that HTTP or hookd itself sets on every request.
bool IsReserved(std::string_view lower) {
  static constexpr std::string_view kReserved[] = {
      "content-type", "content-length", "host",       "transfer-encoding",
      "connection",   "authorization",  "traceparent"};
  return std::find(std::begin(kReserved), std::end(kReserved), lower) != std::end(kReserved);
}

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

absl::Status ValidateHeaderName(std::string_view name, std::string_view field) {
  if (name.empty()) return absl::OkStatus();
  if (name.size() > kMaxHeaderNameLength || !IsHttpToken(name)) {
    return InvalidField(field, "must be an HTTP header name (RFC 7230 token) of 1..64 characters");
  }
  if (IsReserved(absl::AsciiStrToLower(AbslView(name)))) {
    return InvalidField(field, "names a header that HTTP or hookd sets itself");
  }
  return absl::OkStatus();
}

std::string TimestampText(v1::TimestampUnit unit, absl::Time now) {
  return unit == v1::TIMESTAMP_UNIT_MILLISECONDS ? absl::StrCat(absl::ToUnixMillis(now))
                                                 : absl::StrCat(absl::ToUnixSeconds(now));
}

HmacDigest DigestOf(v1::SignatureAlgorithm algorithm) {
  switch (algorithm) {
    case v1::SIGNATURE_ALGORITHM_HMAC_SHA512:
      return HmacDigest::kSha512;
    case v1::SIGNATURE_ALGORITHM_HMAC_SHA1:
      return HmacDigest::kSha1;
    default:
      return HmacDigest::kSha256;
  }
}

absl::Status MalformedSecret() {
  // Never the decoder's message: nothing about a secret belongs in a log line.
  return absl::InvalidArgumentError("a signing key has a malformed whsec_ secret");
}

// The Standard Webhooks signature: `v1,`/`v1a,` entries of every key, space-separated.
absl::StatusOr<std::string> StandardSignature(std::span<const std::string_view> secrets,
                                              const SignInput& input, int64_t timestamp) {
  std::string signature;
  for (std::string_view secret : secrets) {
    std::string entry;
    switch (KindOfSecret(secret)) {
      case SecretKind::kWhsec: {
        absl::StatusOr<std::string> bytes = DecodeSigningSecret(secret);
        if (!bytes.ok()) return MalformedSecret();
        entry = SignV1(*bytes, input.id, timestamp, input.body);
        break;
      }
      case SecretKind::kEd25519: {
        absl::StatusOr<std::string> signed_entry = SignV1a(secret, input.id, timestamp, input.body);
        if (!signed_entry.ok()) {
          return absl::InvalidArgumentError("a signing key has a malformed whsk_ secret");
        }
        entry = *std::move(signed_entry);
        break;
      }
      case SecretKind::kText:
        continue;  // Standard Webhooks has no use for a text secret
    }
    if (!signature.empty()) signature += ' ';
    signature += entry;
  }
  return signature;
}

// The HMAC key of `secret` for `profile`, or nullopt when the profile cannot use it.
absl::StatusOr<std::optional<std::string>> HmacKey(const v1::SignatureProfile& profile,
                                                   std::string_view secret) {
  switch (KindOfSecret(secret)) {
    case SecretKind::kEd25519:
      return std::nullopt;  // a private Ed25519 key is never an HMAC key
    case SecretKind::kText:
      if (profile.key() == v1::SIGNATURE_KEY_WHSEC_BYTES) return std::nullopt;
      return std::string(secret);
    case SecretKind::kWhsec:
      if (profile.key() != v1::SIGNATURE_KEY_WHSEC_BYTES) return std::string(secret);
      absl::StatusOr<std::string> bytes = DecodeSigningSecret(secret);
      if (!bytes.ok()) return MalformedSecret();
      return std::optional<std::string>(*std::move(bytes));
  }
  return std::nullopt;
}

absl::StatusOr<std::string> HmacSignature(const v1::SignatureProfile& profile,
                                          std::span<const std::string_view> secrets,
                                          const SignInput& input, const std::string& timestamp) {
  HOOKD_ASSIGN_OR_RETURN(std::vector<Segment> content,
                         Split(profile.signed_content(), kContentNames, "signed_content"));
  HOOKD_ASSIGN_OR_RETURN(std::vector<Segment> format,
                         Split(profile.signature_format(), kFormatNames, "signature_format"));
  std::vector<std::string_view> parts;
  parts.reserve(content.size());
  for (const Segment& segment : content) {
    switch (segment.part) {
      case Part::kId:
        parts.push_back(input.id);
        break;
      case Part::kTimestamp:
        parts.push_back(timestamp);
        break;
      case Part::kBody:
        parts.push_back(input.body);
        break;
      default:
        parts.push_back(segment.text);
    }
  }
  std::string value;
  for (std::string_view secret : secrets) {
    HOOKD_ASSIGN_OR_RETURN(std::optional<std::string> key, HmacKey(profile, secret));
    if (!key.has_value()) continue;
    const std::string mac = Hmac(DigestOf(profile.algorithm()), *key, parts);
    const std::string sig =
        profile.encoding() == v1::SIGNATURE_ENCODING_BASE64 ? Base64Encode(mac) : HexEncode(mac);
    if (!value.empty()) value += profile.signature_separator();
    for (const Segment& segment : format) {
      value += segment.part == Part::kSig         ? std::string_view(sig)
               : segment.part == Part::kTimestamp ? std::string_view(timestamp)
                                                  : segment.text;
    }
    if (profile.rotation() == v1::SIGNATURE_ROTATION_NEWEST_KEY) break;
  }
  return value;
}

}  // namespace

std::span<const std::string_view> PresetNames() { return kPresetNames; }

SecretKind KindOfSecret(std::string_view secret) {
  if (secret.starts_with(kSigningSecretPrefix)) return SecretKind::kWhsec;
  if (secret.starts_with(kEd25519SecretPrefix)) return SecretKind::kEd25519;
  return SecretKind::kText;
}

absl::Status ValidateChosenSecret(std::string_view secret, std::string_view field) {
  switch (KindOfSecret(secret)) {
    case SecretKind::kWhsec:
      if (!DecodeSigningSecret(secret).ok()) {
        return InvalidField(field,
                            "a whsec_ secret must be whsec_ followed by the base64 of "
                            "24..64 bytes");
      }
      return absl::OkStatus();
    case SecretKind::kEd25519:
      return InvalidField(field, "cannot be a whsk_ key: Ed25519 keys are generated by hookd");
    case SecretKind::kText:
      break;
  }
  if (secret.size() < kMinChosenSecretLength || secret.size() > kMaxChosenSecretLength) {
    return InvalidField(field, "must be 16..256 bytes long (or a whsec_ value)");
  }
  if (!IsPrintableAscii(secret)) {
    return InvalidField(field, "must be printable ASCII (0x20..0x7e)");
  }
  if (secret.front() == ' ' || secret.back() == ' ') {
    return InvalidField(field, "must not begin or end with a blank");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SignatureProfile> Resolve(const v1::SignatureProfile& profile,
                                             std::string_view field) {
  v1::SignatureProfile resolved;
  if (!profile.preset().empty()) {
    std::optional<v1::SignatureProfile> preset = Preset(profile.preset());
    if (!preset.has_value()) {
      std::string names;
      for (std::string_view name : kPresetNames) {
        absl::StrAppend(&names, names.empty() ? "" : ", ", AbslView(name));
      }
      return InvalidField(FieldOf(field, "preset"),
                          absl::StrCat("unknown preset; the presets are ", names));
    }
    resolved = *std::move(preset);
  }
  // Proto3 merging copies exactly the fields the profile sets: its own values win.
  resolved.MergeFrom(profile);
  if (resolved.algorithm() == v1::SIGNATURE_ALGORITHM_UNSPECIFIED) {
    resolved.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  }
  if (resolved.algorithm() == v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS) {
    // Shown filled in, so that an answer says what is sent; the signature format depends on
    // each key's kind and stays empty.
    if (resolved.timestamp_unit() == v1::TIMESTAMP_UNIT_UNSPECIFIED) {
      resolved.set_timestamp_unit(v1::TIMESTAMP_UNIT_SECONDS);
    }
    if (resolved.signed_content().empty()) {
      resolved.set_signed_content(std::string(kStandardContent));
    }
    if (resolved.encoding() == v1::SIGNATURE_ENCODING_UNSPECIFIED) {
      resolved.set_encoding(v1::SIGNATURE_ENCODING_BASE64);
    }
    if (resolved.key() == v1::SIGNATURE_KEY_UNSPECIFIED) {
      resolved.set_key(v1::SIGNATURE_KEY_WHSEC_BYTES);
    }
    if (resolved.rotation() == v1::SIGNATURE_ROTATION_UNSPECIFIED) {
      resolved.set_rotation(v1::SIGNATURE_ROTATION_ALL_KEYS);
    }
    return resolved;
  }
  if (resolved.timestamp_unit() == v1::TIMESTAMP_UNIT_UNSPECIFIED) {
    resolved.set_timestamp_unit(v1::TIMESTAMP_UNIT_SECONDS);
  }
  if (resolved.signed_content().empty()) resolved.set_signed_content("{body}");
  if (resolved.encoding() == v1::SIGNATURE_ENCODING_UNSPECIFIED) {
    resolved.set_encoding(v1::SIGNATURE_ENCODING_HEX);
  }
  if (resolved.signature_format().empty()) resolved.set_signature_format("{sig}");
  if (resolved.signature_separator().empty()) resolved.set_signature_separator(" ");
  if (resolved.key() == v1::SIGNATURE_KEY_UNSPECIFIED) {
    resolved.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  }
  if (resolved.rotation() == v1::SIGNATURE_ROTATION_UNSPECIFIED) {
    resolved.set_rotation(v1::SIGNATURE_ROTATION_ALL_KEYS);
  }
  return resolved;
}

absl::StatusOr<std::vector<v1::SignatureProfile>> EffectiveProfiles(const v1::App& app) {
  std::vector<v1::SignatureProfile> profiles;
  if (app.signature_profiles().empty()) {
    profiles.push_back(StandardWebhooks());
    return profiles;
  }
  for (int i = 0; i < app.signature_profiles_size(); ++i) {
    HOOKD_ASSIGN_OR_RETURN(
        v1::SignatureProfile resolved,
        Resolve(app.signature_profiles(i), absl::StrCat("app.signature_profiles[", i, "]")));
    profiles.push_back(std::move(resolved));
  }
  return profiles;
}

namespace {

// ValidateProfile's parts: the enums are known values.
absl::Status ValidateEnums(const v1::SignatureProfile& profile, std::string_view field) {
  if (!v1::SignatureAlgorithm_IsValid(profile.algorithm())) {
    return InvalidField(FieldOf(field, "algorithm"), "unknown algorithm");
  }
  if (!v1::SignatureEncoding_IsValid(profile.encoding())) {
    return InvalidField(FieldOf(field, "encoding"), "unknown encoding");
  }
  if (!v1::SignatureKey_IsValid(profile.key())) {
    return InvalidField(FieldOf(field, "key"), "unknown key");
  }
  if (!v1::SignatureRotation_IsValid(profile.rotation())) {
    return InvalidField(FieldOf(field, "rotation"), "unknown rotation");
  }
  if (!v1::TimestampUnit_IsValid(profile.timestamp_unit())) {
    return InvalidField(FieldOf(field, "timestamp_unit"), "unknown unit");
  }
  return absl::OkStatus();
}

// The header names: valid, distinct, and at least one unless the preset is "none".
absl::Status ValidateHeaders(const v1::SignatureProfile& profile, std::string_view field) {
  std::set<std::string> seen;
  for (const auto& [member, name] :
       {std::pair<std::string_view, const std::string*>{"id_header", &profile.id_header()},
        {"timestamp_header", &profile.timestamp_header()},
        {"event_type_header", &profile.event_type_header()},
        {"signature_header", &profile.signature_header()}}) {
    HOOKD_RETURN_IF_ERROR(ValidateHeaderName(*name, FieldOf(field, member)));
    if (!name->empty() && !seen.insert(absl::AsciiStrToLower(*name)).second) {
      return InvalidField(FieldOf(field, member),
                          "repeats another header of the profile; header names are "
                          "case-insensitive");
    }
  }
  if (seen.empty() && profile.preset() != "none") {
    return InvalidField(field,
                        "names no header: set a preset (\"none\" to sign nothing), or at least "
                        "one of id_header, timestamp_header, event_type_header and "
                        "signature_header");
  }
  return absl::OkStatus();
}

// A Standard Webhooks profile: its three headers, and nothing set that the algorithm fixes.
absl::Status ValidateStandardWebhooks(const v1::SignatureProfile& profile, std::string_view field) {
  if (profile.id_header().empty() || profile.timestamp_header().empty() ||
      profile.signature_header().empty()) {
    return InvalidField(field,
                        "the Standard Webhooks algorithm needs id_header, timestamp_header and "
                        "signature_header");
  }
  const auto fixed = [&](std::string_view member, bool ok) {
    return ok ? absl::OkStatus()
              : InvalidField(FieldOf(field, member),
                             "is fixed by SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS; leave it unset");
  };
  HOOKD_RETURN_IF_ERROR(
      fixed("timestamp_unit", profile.timestamp_unit() == v1::TIMESTAMP_UNIT_SECONDS));
  HOOKD_RETURN_IF_ERROR(fixed("signed_content", profile.signed_content() == kStandardContent));
  HOOKD_RETURN_IF_ERROR(fixed("encoding", profile.encoding() == v1::SIGNATURE_ENCODING_BASE64));
  HOOKD_RETURN_IF_ERROR(fixed("signature_format", profile.signature_format().empty()));
  HOOKD_RETURN_IF_ERROR(fixed("signature_separator", profile.signature_separator().empty()));
  HOOKD_RETURN_IF_ERROR(fixed("key", profile.key() == v1::SIGNATURE_KEY_WHSEC_BYTES));
  HOOKD_RETURN_IF_ERROR(fixed("rotation", profile.rotation() == v1::SIGNATURE_ROTATION_ALL_KEYS));
  return absl::OkStatus();
}

// Any other profile: the signed content, the signature's format and separator.
absl::Status ValidateTemplates(const v1::SignatureProfile& profile, std::string_view field) {
  const std::string content_field = FieldOf(field, "signed_content");
  if (profile.signed_content().size() > kMaxSignedContentLength) {
    return InvalidField(content_field, "must be at most 256 characters");
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<Segment> content,
                         Split(profile.signed_content(), kContentNames, content_field));
  if (!Contains(content, Part::kBody)) {
    return InvalidField(content_field,
                        "must contain {body}: a signature without it would sign nothing of the "
                        "payload");
  }
  const std::string format_field = FieldOf(field, "signature_format");
  if (profile.signature_format().size() > kMaxFormatLength ||
      !IsPrintableAscii(profile.signature_format())) {
    return InvalidField(format_field, "must be at most 128 printable ASCII characters");
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<Segment> format,
                         Split(profile.signature_format(), kFormatNames, format_field));
  if (!Contains(format, Part::kSig)) return InvalidField(format_field, "must contain {sig}");
  if (profile.signature_separator().size() > kMaxSeparatorLength ||
      !IsPrintableAscii(profile.signature_separator())) {
    return InvalidField(FieldOf(field, "signature_separator"),
                        "must be 1..4 printable ASCII characters");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateProfile(const v1::SignatureProfile& profile, std::string_view field) {
  HOOKD_RETURN_IF_ERROR(ValidateEnums(profile, field));
  HOOKD_RETURN_IF_ERROR(ValidateHeaders(profile, field));
  if (profile.algorithm() == v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS) {
    return ValidateStandardWebhooks(profile, field);
  }
  return ValidateTemplates(profile, field);
}

absl::Status CheckSecretFits(const v1::SignatureProfile& profile, std::string_view secret,
                             std::string_view profile_field, std::string_view secret_field) {
  if (profile.signature_header().empty()) return absl::OkStatus();
  const SecretKind kind = KindOfSecret(secret);
  if (profile.algorithm() == v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS) {
    if (kind == SecretKind::kText) {
      return InvalidField(secret_field,
                          absl::StrCat(AbslView(profile_field),
                                       " signs with Standard Webhooks, which needs a whsec_ "
                                       "secret (or an Ed25519 key), not a text secret"));
    }
    return absl::OkStatus();
  }
  if (kind == SecretKind::kEd25519) {
    return InvalidField(secret_field,
                        absl::StrCat(AbslView(profile_field),
                                     " signs with an HMAC, which needs a shared secret; an app "
                                     "of SIGNATURE_SCHEME_V1A_ED25519 has none"));
  }
  if (kind == SecretKind::kText && profile.key() == v1::SIGNATURE_KEY_WHSEC_BYTES) {
    return InvalidField(secret_field,
                        absl::StrCat(AbslView(profile_field),
                                     " keys with the decoded bytes of a whsec_ secret "
                                     "(SIGNATURE_KEY_WHSEC_BYTES), not a text secret"));
  }
  return absl::OkStatus();
}

absl::Status AppendHeaders(const v1::SignatureProfile& profile,
                           std::span<const std::string_view> secrets, const SignInput& input,
                           Headers& headers) {
  const bool standard = profile.algorithm() == v1::SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS;
  const std::string timestamp =
      TimestampText(standard ? v1::TIMESTAMP_UNIT_SECONDS : profile.timestamp_unit(), input.now);
  std::string signature;
  if (!profile.signature_header().empty()) {
    absl::StatusOr<std::string> made =
        standard ? StandardSignature(secrets, input, absl::ToUnixSeconds(input.now))
                 : HmacSignature(profile, secrets, input, timestamp);
    HOOKD_RETURN_IF_ERROR(made.status());
    if (made->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no valid signing key suits the ",
                                                     profile.signature_header(), " signature"));
    }
    signature = *std::move(made);
  }
  if (!profile.id_header().empty()) headers.emplace_back(profile.id_header(), input.id);
  if (!profile.timestamp_header().empty()) {
    headers.emplace_back(profile.timestamp_header(), timestamp);
  }
  if (!profile.event_type_header().empty()) {
    headers.emplace_back(profile.event_type_header(), input.event_type);
  }
  if (!profile.signature_header().empty()) {
    headers.emplace_back(profile.signature_header(), std::move(signature));
  }
  return absl::OkStatus();
}

}  // namespace hookd::dialect
