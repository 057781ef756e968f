#include "hookd/dialect/signature_profile.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/signing.h"

namespace hookd::dialect {
namespace {

// Fixed inputs, so the expected values below can be recomputed with any HMAC tool, e.g.
//   printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'my-secret-text-0123' -hex
constexpr char kBody[] = R"({"a":1})";
constexpr char kText[] = "my-secret-text-0123";
const absl::Time kNow = absl::FromUnixMillis(1700000000123);

SignInput Input() {
  return {.id = "msg_1", .event_type = "video.ready", .now = kNow, .body = kBody};
}

v1::SignatureProfile Resolved(const v1::SignatureProfile& profile) {
  absl::StatusOr<v1::SignatureProfile> resolved = Resolve(profile, "p");
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return resolved.value_or(v1::SignatureProfile());
}

v1::SignatureProfile Preset(const std::string& name) {
  v1::SignatureProfile profile;
  profile.set_preset(name);
  return Resolved(profile);
}

std::map<std::string, std::string> Sign(const v1::SignatureProfile& profile,
                                        std::vector<std::string_view> secrets) {
  Headers headers;
  absl::Status status = AppendHeaders(profile, secrets, Input(), headers);
  EXPECT_TRUE(status.ok()) << status;
  return {headers.begin(), headers.end()};
}

std::string HexHmac(std::string_view key, std::string_view content) {
  return HexEncode(HmacSha256(key, content));
}

TEST(Presets, AreTheDocumentedFive) {
  std::vector<std::string> names(PresetNames().begin(), PresetNames().end());
  EXPECT_EQ(names, (std::vector<std::string>{"standard-webhooks", "github", "stripe", "shopify",
                                             "slack", "none"}));
  for (const std::string& name : names) {
    EXPECT_TRUE(ValidateProfile(Preset(name), "p").ok()) << name;
  }
}

TEST(Resolve, FieldsSetBesideAPresetWinAndResolvingAgainChangesNothing) {
  v1::SignatureProfile profile;
  profile.set_preset("github");
  profile.set_signature_header("X-Signature");
  profile.set_rotation(v1::SIGNATURE_ROTATION_ALL_KEYS);
  v1::SignatureProfile resolved = Resolved(profile);
  EXPECT_EQ(resolved.signature_header(), "X-Signature");
  EXPECT_EQ(resolved.rotation(), v1::SIGNATURE_ROTATION_ALL_KEYS);
  EXPECT_EQ(resolved.event_type_header(), "X-GitHub-Event");
  EXPECT_EQ(resolved.signature_format(), "sha256={sig}");
  EXPECT_EQ(Resolved(resolved).SerializeAsString(), resolved.SerializeAsString());
}

TEST(Resolve, WithoutPresetTakesTheDefaults) {
  v1::SignatureProfile profile;
  profile.set_signature_header("X-Sig");
  v1::SignatureProfile resolved = Resolved(profile);
  EXPECT_EQ(resolved.signed_content(), "{body}");
  EXPECT_EQ(resolved.signature_format(), "{sig}");
  EXPECT_EQ(resolved.signature_separator(), " ");
  EXPECT_EQ(resolved.algorithm(), v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  EXPECT_EQ(resolved.encoding(), v1::SIGNATURE_ENCODING_HEX);
  EXPECT_EQ(resolved.key(), v1::SIGNATURE_KEY_SECRET_TEXT);
  EXPECT_EQ(resolved.rotation(), v1::SIGNATURE_ROTATION_ALL_KEYS);
  EXPECT_EQ(resolved.timestamp_unit(), v1::TIMESTAMP_UNIT_SECONDS);
}

TEST(Resolve, UnknownPresetNamesTheField) {
  v1::SignatureProfile profile;
  profile.set_preset("gitlab");
  absl::Status status = Resolve(profile, "app.signature_profiles[1]").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "app.signature_profiles[1].preset: ")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "github")) << status;
}

TEST(Sign, GitHubSignsTheBodyWithTheSecretTextAndTheNewestKeyOnly) {
  auto headers = Sign(Preset("github"), {kText, "older-secret-text-000"});
  EXPECT_EQ(headers["X-Hub-Signature-256"], "sha256=" + HexHmac(kText, kBody));
  EXPECT_EQ(headers["X-GitHub-Event"], "video.ready");
  EXPECT_EQ(headers["X-GitHub-Delivery"], "msg_1");
  EXPECT_EQ(headers.size(), 3u);
}

TEST(Sign, StripeSignsTimestampDotBodyWithEveryKey) {
  auto headers = Sign(Preset("stripe"), {kText, "older-secret-text-000"});
  const std::string content = std::string("1700000000.") + kBody;
  EXPECT_EQ(headers["Stripe-Signature"],
            absl::StrCat("t=1700000000,v1=", HexHmac(kText, content),
                         ",t=1700000000,v1=", HexHmac("older-secret-text-000", content)));
}

TEST(Sign, ShopifySendsBase64) {
  auto headers = Sign(Preset("shopify"), {kText});
  EXPECT_EQ(headers["X-Shopify-Hmac-Sha256"], Base64Encode(HmacSha256(kText, kBody)));
  EXPECT_EQ(headers["X-Shopify-Topic"], "video.ready");
  EXPECT_EQ(headers["X-Shopify-Webhook-Id"], "msg_1");
}

TEST(Sign, SlackSignsV0Basestring) {
  auto headers = Sign(Preset("slack"), {kText});
  EXPECT_EQ(headers["X-Slack-Request-Timestamp"], "1700000000");
  EXPECT_EQ(headers["X-Slack-Signature"],
            "v0=" + HexHmac(kText, std::string("v0:1700000000:") + kBody));
}

TEST(Sign, StandardWebhooksMatchesTheSpecForEveryKeyKind) {
  const std::string whsec = NewSigningSecret();
  const std::string whsk = NewEd25519SigningSecret();
  auto headers = Sign(Preset("standard-webhooks"), {whsk, whsec, kText});
  const std::string& signature = headers["webhook-signature"];
  EXPECT_EQ(headers["webhook-id"], "msg_1");
  EXPECT_EQ(headers["webhook-timestamp"], "1700000000");
  EXPECT_TRUE(VerifyV1(*DecodeSigningSecret(whsec), "msg_1", 1700000000, kBody, signature));
  EXPECT_TRUE(VerifyV1a(*Ed25519PublicKey(whsk), "msg_1", 1700000000, kBody, signature));
  // The text secret cannot sign Standard Webhooks: two entries, not three.
  EXPECT_EQ(std::count(signature.begin(), signature.end(), ' '), 1);
}

TEST(Sign, MillisecondsContentTemplateBase64AndSha512) {
  v1::SignatureProfile profile;
  profile.set_id_header("Delivery-ID");
  profile.set_timestamp_header("Elai-Timestamp");
  profile.set_signature_header("Elai-Signature");
  profile.set_timestamp_unit(v1::TIMESTAMP_UNIT_MILLISECONDS);
  profile.set_signed_content("{id}|{timestamp}|{body}");
  profile.set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA512);
  profile.set_encoding(v1::SIGNATURE_ENCODING_BASE64);
  profile.set_signature_format("s={sig};t={timestamp}");
  auto headers = Sign(Resolved(profile), {kText});
  EXPECT_EQ(headers["Elai-Timestamp"], "1700000000123");
  const std::string content = std::string("msg_1|1700000000123|") + kBody;
  const std::string_view parts[] = {content};
  EXPECT_EQ(headers["Elai-Signature"],
            "s=" + Base64Encode(Hmac(HmacDigest::kSha512, kText, parts)) + ";t=1700000000123");
}

TEST(Sign, WhsecBytesKeyDecodesAndTextKeyUsesTheWholeString) {
  const std::string whsec = NewSigningSecret();
  v1::SignatureProfile profile;
  profile.set_signature_header("X-Sig");
  profile.set_key(v1::SIGNATURE_KEY_WHSEC_BYTES);
  EXPECT_EQ(Sign(Resolved(profile), {whsec})["X-Sig"], HexHmac(*DecodeSigningSecret(whsec), kBody));
  profile.set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  EXPECT_EQ(Sign(Resolved(profile), {whsec})["X-Sig"], HexHmac(whsec, kBody));
}

TEST(Sign, AProfileWithoutSignatureHeaderSendsOnlyItsHeaders) {
  v1::SignatureProfile profile;
  profile.set_event_type_header("X-Event");
  auto headers = Sign(Resolved(profile), {kText});
  EXPECT_EQ(headers, (std::map<std::string, std::string>{{"X-Event", "video.ready"}}));
}

TEST(Sign, NoneSendsNothingAndTakesAnySecret) {
  EXPECT_TRUE(Sign(Preset("none"), {kText}).empty());
  EXPECT_TRUE(CheckSecretFits(Preset("none"), kText, "p", "app.secret").ok());
}

TEST(Sign, NoUsableKeyIsAnErrorThatNamesNoSecret) {
  v1::SignatureProfile profile;
  profile.set_signature_header("X-Sig");
  profile.set_key(v1::SIGNATURE_KEY_WHSEC_BYTES);
  Headers headers;
  const std::string whsk = NewEd25519SigningSecret();
  std::vector<std::string_view> secrets = {kText, whsk};
  absl::Status status = AppendHeaders(Resolved(profile), secrets, Input(), headers);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(status.message(), kText));
  EXPECT_TRUE(headers.empty());
  // A malformed whsec_ secret is reported without its text.
  std::vector<std::string_view> malformed = {"whsec_!!!not-base64!!!"};
  status = AppendHeaders(Resolved(profile), malformed, Input(), headers);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(status.message(), "not-base64"));
}

absl::Status Validate(const std::function<void(v1::SignatureProfile&)>& change) {
  v1::SignatureProfile profile;
  profile.set_signature_header("X-Sig");
  change(profile);
  absl::StatusOr<v1::SignatureProfile> resolved = Resolve(profile, "app.signature_profiles[0]");
  if (!resolved.ok()) return resolved.status();
  return ValidateProfile(*resolved, "app.signature_profiles[0]");
}

void ExpectInvalid(const std::function<void(v1::SignatureProfile&)>& change,
                   const std::string& field) {
  absl::Status status = Validate(change);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_TRUE(absl::StartsWith(status.message(), field + ": ")) << status;
}

TEST(ValidateProfile, RefusesHostileValuesNamingTheField) {
  const std::string p = "app.signature_profiles[0]";
  ExpectInvalid([](auto& x) { x.set_signed_content("{timestamp}"); }, p + ".signed_content");
  ExpectInvalid([](auto& x) { x.set_signed_content("{body}{nonce}"); }, p + ".signed_content");
  ExpectInvalid([](auto& x) { x.set_signed_content("{body}}"); }, p + ".signed_content");
  ExpectInvalid([](auto& x) { x.set_signed_content("{bod"); }, p + ".signed_content");
  ExpectInvalid([](auto& x) { x.set_signed_content(std::string(300, 'a') + "{body}"); },
                p + ".signed_content");
  ExpectInvalid([](auto& x) { x.set_signature_format("sha256="); }, p + ".signature_format");
  ExpectInvalid([](auto& x) { x.set_signature_format("{sig}\r\nX-Evil: 1"); },
                p + ".signature_format");
  ExpectInvalid([](auto& x) { x.set_signature_format("{sig}{id}"); }, p + ".signature_format");
  ExpectInvalid([](auto& x) { x.set_signature_separator("|||||"); }, p + ".signature_separator");
  ExpectInvalid([](auto& x) { x.set_signature_header("X Sig"); }, p + ".signature_header");
  ExpectInvalid([](auto& x) { x.set_signature_header(std::string(65, 'x')); },
                p + ".signature_header");
  ExpectInvalid([](auto& x) { x.set_id_header("Content-Type"); }, p + ".id_header");
  ExpectInvalid([](auto& x) { x.set_timestamp_header("authorization"); }, p + ".timestamp_header");
  ExpectInvalid([](auto& x) { x.set_event_type_header("x-sig"); }, p + ".signature_header");
  ExpectInvalid([](auto& x) { x.set_algorithm(static_cast<v1::SignatureAlgorithm>(99)); },
                p + ".algorithm");
  ExpectInvalid([](auto& x) { x.set_preset("nope"); }, p + ".preset");
  ExpectInvalid([](auto& x) { x.clear_signature_header(); }, p);
  // Standard Webhooks fixes its content and format.
  ExpectInvalid(
      [](auto& x) {
        x.set_preset("standard-webhooks");
        x.clear_signature_header();
        x.set_encoding(v1::SIGNATURE_ENCODING_HEX);
      },
      p + ".encoding");
  ExpectInvalid(
      [](auto& x) {
        x.set_preset("standard-webhooks");
        x.clear_signature_header();
        x.set_signature_format("v1={sig}");
      },
      p + ".signature_format");
  EXPECT_TRUE(Validate([](auto& x) { x.set_signed_content("v0:{timestamp}:{body}"); }).ok());
  // Svix's header names with the Standard Webhooks algorithm.
  EXPECT_TRUE(Validate([](auto& x) {
                x.set_preset("standard-webhooks");
                x.set_id_header("svix-id");
                x.set_timestamp_header("svix-timestamp");
                x.set_signature_header("svix-signature");
              }).ok());
}

TEST(ChosenSecret, Rules) {
  EXPECT_TRUE(ValidateChosenSecret("your_secret_key_0123", "app.secret").ok());
  EXPECT_TRUE(ValidateChosenSecret("a passphrase with blanks", "app.secret").ok());
  EXPECT_TRUE(ValidateChosenSecret(NewSigningSecret(), "app.secret").ok());
  for (const std::string& bad :
       {std::string("short"), std::string(257, 'a'), std::string("tab\tinside-0123456"),
        std::string("nul\0inside-0123456", 18), std::string(" leading-blank-0123"),
        std::string("trailing-blank-0123 "), std::string("caf\xc3\xa9-non-ascii-0123"),
        std::string("whsec_not base64 at all"), std::string("whsec_c2hvcnQ="),
        NewEd25519SigningSecret()}) {
    absl::Status status = ValidateChosenSecret(bad, "app.secret");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(status.message(), "app.secret: ")) << status;
    if (bad.size() > 8) EXPECT_FALSE(absl::StrContains(status.message(), bad)) << status;
  }
}

TEST(CheckSecretFits, ByProfileKind) {
  const std::string whsec = NewSigningSecret();
  const std::string whsk = NewEd25519SigningSecret();
  const auto fits = [](const v1::SignatureProfile& p, const std::string& secret) {
    return CheckSecretFits(p, secret, "app.signature_profiles[0]", "app.secret");
  };
  EXPECT_FALSE(fits(Preset("standard-webhooks"), kText).ok());
  EXPECT_TRUE(fits(Preset("standard-webhooks"), whsec).ok());
  EXPECT_TRUE(fits(Preset("standard-webhooks"), whsk).ok());
  EXPECT_TRUE(fits(Preset("github"), kText).ok());
  EXPECT_TRUE(fits(Preset("github"), whsec).ok());
  EXPECT_FALSE(fits(Preset("github"), whsk).ok());
  v1::SignatureProfile bytes;
  bytes.set_signature_header("X-Sig");
  bytes.set_key(v1::SIGNATURE_KEY_WHSEC_BYTES);
  absl::Status status = fits(Resolved(bytes), kText);
  EXPECT_TRUE(absl::StartsWith(status.message(), "app.secret: app.signature_profiles[0]"))
      << status;
  v1::SignatureProfile unsigned_profile;
  unsigned_profile.set_event_type_header("X-Event");
  EXPECT_TRUE(fits(Resolved(unsigned_profile), whsk).ok());
}

}  // namespace
}  // namespace hookd::dialect
