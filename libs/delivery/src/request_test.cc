#include "hookd/delivery/request.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/apps/validation.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/signing.h"
#include "hookd/testing/fixtures.h"
#include "nlohmann/json.hpp"

namespace hookd::delivery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Vector = testing::SignatureVector;

std::vector<Vector> LoadVectors() { return testing::LoadSignatureVectors(); }

// Decoded bytes are the ASCII text "0123456789abcdef01234567", so openssl can key with it.
constexpr char kAsciiSecret[] = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";
constexpr char kAsciiKey[] = "0123456789abcdef01234567";
constexpr char kOtherSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const absl::Time kNow = absl::FromUnixSeconds(1764000000);

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

v1::App NewApp(const std::string& secret = kAsciiSecret) {
  v1::App app;
  app.set_id("app_1");
  app.set_url("https://example.com/hooks");
  v1::SigningKey* key = app.add_signing_keys();
  key->set_id("key_current");
  key->set_secret(secret);
  return app;
}

EventData NewEvent() {
  EventData event;
  event.id = "evt_1";
  event.event_type = "video.ready";
  event.payload = R"({"video":"v_1"})";
  event.create_time = absl::FromUnixSeconds(1764000000);
  return event;
}

// The value of header `name`, or "<absent>"; fails the test when it appears twice.
std::string HeaderValue(const http::HttpRequest& request, const std::string& name) {
  std::string value = "<absent>";
  int count = 0;
  for (const auto& [n, v] : request.headers) {
    if (n == name) {
      value = v;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << name;
  return value;
}

std::vector<std::string> HeaderNames(const http::HttpRequest& request) {
  std::vector<std::string> names;
  for (const auto& [name, value] : request.headers) names.push_back(name);
  return names;
}

TEST(EnvelopeTest, ReproducesTheReferenceVectorBody) {
  EventData event;
  event.event_type = "video.ready";
  event.create_time = absl::FromUnixSeconds(1764000000);  // 2025-11-24T16:00:00Z
  event.payload = R"({"title":"été ✓"})";
  EXPECT_EQ(Envelope(event), LoadVectors().at(1).body);
}

TEST(EnvelopeTest, ShowsMillisecondsOnlyWhenPresent) {
  EventData event = NewEvent();
  event.create_time = absl::FromUnixSeconds(1764000000) + absl::Milliseconds(42);
  EXPECT_EQ(
      Envelope(event),
      R"({"type":"video.ready","timestamp":"2025-11-24T16:00:00.042Z","data":{"video":"v_1"}})");
}

TEST(EnvelopeTest, EscapesTheType) {
  EventData event = NewEvent();
  event.event_type = "a\"b\\c\n\x01";
  EXPECT_EQ(Envelope(event),
            "{\"type\":\"a\\\"b\\\\c\\n\\u0001\",\"timestamp\":\"2025-11-24T16:00:00Z\","
            "\"data\":{\"video\":\"v_1\"}}");
}

TEST(EnvelopeTest, EmbedsThePayloadVerbatim) {
  EventData event = NewEvent();
  event.payload = "{ \"b\" : 1,\n \"a\": 2.50 }";
  EXPECT_THAT(Envelope(event), HasSubstr(",\"data\":{ \"b\" : 1,\n \"a\": 2.50 }}"));
}

TEST(BodyTest, RawFormatSendsThePayloadAlone) {
  v1::App app = NewApp();
  const EventData event = NewEvent();
  EXPECT_EQ(*Body(app, event, kAsciiSecret), Envelope(event));
  app.set_payload_format(v1::PAYLOAD_FORMAT_ENVELOPE);
  EXPECT_EQ(*Body(app, event, kAsciiSecret), Envelope(event));
  app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
  EXPECT_EQ(*Body(app, event, kAsciiSecret), R"({"video":"v_1"})");
}

TEST(BodyTest, TemplateFormatRendersTheAppsTemplate) {
  v1::App app = NewApp();
  app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
  app.set_payload_template(R"({"event":"{{event_type}}","data":"{{payload}}","s":"{{secret}}"})");
  EXPECT_EQ(*Body(app, NewEvent(), "text-secret-0123456"),
            R"({"event":"video.ready","data":{"video":"v_1"},"s":"text-secret-0123456"})");
  // An Ed25519 key is never echoed: the rendering fails instead.
  absl::StatusOr<std::string> ed25519 = Body(app, NewEvent(), NewEd25519SigningSecret());
  EXPECT_EQ(ed25519.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(BuildRequestTest, SignsTheRenderedTemplateAndAFailedRenderingIsATemplateError) {
  v1::App app = NewApp("targetvideo-secret-01");
  app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
  app.set_payload_template(
      R"({"...":"{{payload}}","timestamp":"{{timestamp_unix}}","secret":"{{secret}}"})");
  app.add_signature_profiles()->set_preset("github");
  apps::ResolveSignatureProfiles(app);
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->body,
            R"({"video":"v_1","timestamp":1764000000,"secret":"targetvideo-secret-01"})");
  EXPECT_EQ(HeaderValue(*request, "X-Hub-Signature-256"),
            "sha256=" + HexEncode(HmacSha256("targetvideo-secret-01", request->body)));
  EXPECT_EQ(HeaderValue(*request, "webhook-signature"), "<absent>");

  EventData clashing = NewEvent();
  clashing.payload = R"({"secret":"the publisher's"})";
  request = BuildRequest(app, clashing, kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(BuildErrorOf(request.status()), v1::ATTEMPT_ERROR_PAYLOAD_TEMPLATE);
  EXPECT_THAT(std::string(request.status().message()), HasSubstr("\"secret\""));
  EXPECT_EQ(BuildErrorOf(absl::InvalidArgumentError("no key")), v1::ATTEMPT_ERROR_INTERNAL);
}

TEST(BuildRequestTest, SendsEveryProfileInOrder) {
  v1::App app = NewApp("shared-text-secret-01");
  app.add_signature_profiles()->set_preset("slack");
  v1::SignatureProfile* elai = app.add_signature_profiles();
  elai->set_id_header("Delivery-ID");
  elai->set_timestamp_header("Elai-Timestamp");
  elai->set_timestamp_unit(v1::TIMESTAMP_UNIT_MILLISECONDS);
  elai->set_signature_header("Elai-Signature");
  elai->set_signed_content("{timestamp}.{body}");
  apps::ResolveSignatureProfiles(app);
  const absl::Time now = kNow + absl::Milliseconds(7);
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), now);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(HeaderNames(*request),
              ElementsAre("content-type", "X-Slack-Request-Timestamp", "X-Slack-Signature",
                          "Delivery-ID", "Elai-Timestamp", "Elai-Signature"));
  EXPECT_EQ(HeaderValue(*request, "Elai-Timestamp"), "1764000000007");
  EXPECT_EQ(HeaderValue(*request, "Elai-Signature"),
            HexEncode(HmacSha256("shared-text-secret-01", "1764000000007." + request->body)));
}

TEST(BuildRequestTest, ReproducesEveryReferenceVector) {
  const std::vector<Vector> vectors = LoadVectors();
  ASSERT_FALSE(vectors.empty());
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.msg_id);
    v1::App app = NewApp(v.secret);
    app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
    EventData event = NewEvent();
    event.id = v.msg_id;
    event.payload = v.body;

    absl::StatusOr<http::HttpRequest> request =
        BuildRequest(app, event, absl::FromUnixSeconds(v.timestamp));
    ASSERT_TRUE(request.ok()) << request.status();
    EXPECT_EQ(request->body, v.body);
    EXPECT_EQ(HeaderValue(*request, "webhook-id"), v.msg_id);
    EXPECT_EQ(HeaderValue(*request, "webhook-timestamp"), std::to_string(v.timestamp));
    EXPECT_EQ(HeaderValue(*request, "webhook-signature"), v.signature);

    absl::StatusOr<std::string> key = DecodeSigningSecret(v.secret);
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(VerifyV1(*key, v.msg_id, v.timestamp, request->body,
                         HeaderValue(*request, "webhook-signature")));
  }
}

TEST(BuildRequestTest, SignsTheEnvelopeOfTheReferenceVector) {
  const Vector v = LoadVectors().at(1);
  const v1::App app = NewApp(v.secret);  // envelope format by default
  EventData event;
  event.id = v.msg_id;
  event.event_type = "video.ready";
  event.create_time = absl::FromUnixSeconds(1764000000);
  event.payload = R"({"title":"été ✓"})";

  absl::StatusOr<http::HttpRequest> request =
      BuildRequest(app, event, absl::FromUnixSeconds(v.timestamp));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->body, v.body);
  EXPECT_EQ(HeaderValue(*request, "webhook-signature"), v.signature);
}

TEST(BuildRequestTest, SendsHeadersInOrder) {
  v1::App app = NewApp();
  (*app.mutable_headers())["x-zeta"] = "z";
  (*app.mutable_headers())["X-Alpha"] = "a";
  (*app.mutable_headers())["x-mid"] = "m";
  app.set_compat_signature_header("X-Hub-Signature-256");
  apps::ResolveSignatureProfiles(app);  // as hookd-subscription stores it
  app.mutable_auth()->mutable_basic()->set_username("aladdin");
  app.mutable_auth()->mutable_basic()->set_password("open sesame");
  EventData event = NewEvent();
  event.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, event, kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->url, "https://example.com/hooks");
  EXPECT_THAT(HeaderNames(*request),
              ElementsAre("content-type", "webhook-id", "webhook-timestamp", "webhook-signature",
                          "X-Hub-Signature-256", "traceparent", "X-Alpha", "x-mid", "x-zeta",
                          "authorization"));
  EXPECT_EQ(HeaderValue(*request, "content-type"), "application/json");
  EXPECT_EQ(HeaderValue(*request, "webhook-id"), "evt_1");
  EXPECT_EQ(HeaderValue(*request, "webhook-timestamp"), "1764000000");
  EXPECT_EQ(HeaderValue(*request, "traceparent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(HeaderValue(*request, "X-Alpha"), "a");
  EXPECT_EQ(HeaderValue(*request, "x-mid"), "m");
  EXPECT_EQ(HeaderValue(*request, "x-zeta"), "z");
  EXPECT_EQ(HeaderValue(*request, "authorization"), "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST(BuildRequestTest, TimestampIsTheAttemptTimeNotThePublishTime) {
  const v1::App app = NewApp();
  const EventData event = NewEvent();
  const absl::Time later = kNow + absl::Hours(2) + absl::Milliseconds(900);
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, event, later);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(HeaderValue(*request, "webhook-timestamp"), "1764007200");
  EXPECT_THAT(request->body, HasSubstr("\"timestamp\":\"2025-11-24T16:00:00Z\""));
  EXPECT_TRUE(VerifyV1(kAsciiKey, "evt_1", 1764007200, request->body,
                       HeaderValue(*request, "webhook-signature")));
}

TEST(BuildRequestTest, OmitsOptionalHeadersWhenUnset) {
  absl::StatusOr<http::HttpRequest> request = BuildRequest(NewApp(), NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(HeaderNames(*request),
              ElementsAre("content-type", "webhook-id", "webhook-timestamp", "webhook-signature"));
}

TEST(BuildRequestTest, SignsWithEveryValidKeyCurrentFirst) {
  v1::App app = NewApp();
  v1::SigningKey* old_key = app.add_signing_keys();
  old_key->set_id("key_old");
  old_key->set_secret(kOtherSecret);
  *old_key->mutable_expire_time() = ToProto(kNow + absl::Hours(1));

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  const std::string header = HeaderValue(*request, "webhook-signature");
  const std::vector<std::string> entries = absl::StrSplit(header, ' ');
  ASSERT_EQ(entries.size(), 2u) << header;

  absl::StatusOr<std::string> other = DecodeSigningSecret(kOtherSecret);
  ASSERT_TRUE(other.ok());
  const int64_t ts = absl::ToUnixSeconds(kNow);
  EXPECT_EQ(entries[0], SignV1(kAsciiKey, "evt_1", ts, request->body));
  EXPECT_EQ(entries[1], SignV1(*other, "evt_1", ts, request->body));
  EXPECT_TRUE(VerifyV1(kAsciiKey, "evt_1", ts, request->body, entries[0]));
  EXPECT_TRUE(VerifyV1(*other, "evt_1", ts, request->body, entries[1]));
  EXPECT_TRUE(VerifyV1(*other, "evt_1", ts, request->body, header));
}

TEST(BuildRequestTest, LeavesOutExpiredAndSecretlessKeys) {
  v1::App app = NewApp();
  v1::SigningKey* expired = app.add_signing_keys();
  expired->set_id("key_expired");
  expired->set_secret(kOtherSecret);
  *expired->mutable_expire_time() = ToProto(kNow);  // expiring exactly now no longer signs
  v1::SigningKey* secretless = app.add_signing_keys();
  secretless->set_id("key_redacted");

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(HeaderValue(*request, "webhook-signature"),
            SignV1(kAsciiKey, "evt_1", absl::ToUnixSeconds(kNow), request->body));
}

TEST(BuildRequestTest, CompatHeaderIsHexHmacOfTheBodyWithTheFirstValidKey) {
  v1::App app = NewApp();
  app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
  app.set_compat_signature_header("X-Hub-Signature-256");
  apps::ResolveSignatureProfiles(app);  // as hookd-subscription stores it
  // A second key must not change the compat value: it carries one signature only.
  app.add_signing_keys()->set_secret(kOtherSecret);

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_EQ(request->body, R"({"video":"v_1"})");
  // printf '%s' '{"video":"v_1"}' | openssl dgst -sha256 -hmac 0123456789abcdef01234567
  EXPECT_EQ(HeaderValue(*request, "X-Hub-Signature-256"),
            "sha256=35e04b9021eb1635c7412339b0bcfd6434b6cc70310228601e3f3c9d70ffc7ee");
  EXPECT_EQ(HeaderValue(*request, "X-Hub-Signature-256"),
            "sha256=" + HexEncode(HmacSha256(kAsciiKey, request->body)));
}

TEST(BuildRequestTest, CompatHeaderSkipsAnExpiredFirstKey) {
  v1::App app = NewApp(kOtherSecret);
  *app.mutable_signing_keys(0)->mutable_expire_time() = ToProto(kNow - absl::Seconds(1));
  app.add_signing_keys()->set_secret(kAsciiSecret);
  app.set_compat_signature_header("x-signature");
  apps::ResolveSignatureProfiles(app);

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(HeaderValue(*request, "x-signature"),
            "sha256=" + HexEncode(HmacSha256(kAsciiKey, request->body)));
}

TEST(BuildRequestTest, SignsAnEd25519KeyWithV1a) {
  const std::string secret = NewEd25519SigningSecret();
  absl::StatusOr<std::string> public_key = Ed25519PublicKey(secret);
  ASSERT_TRUE(public_key.ok()) << public_key.status();

  absl::StatusOr<http::HttpRequest> request = BuildRequest(NewApp(secret), NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  const std::string header = HeaderValue(*request, "webhook-signature");
  const std::vector<std::string> entries = absl::StrSplit(header, ' ');
  ASSERT_EQ(entries.size(), 1u) << header;
  EXPECT_TRUE(absl::StartsWith(header, "v1a,")) << header;
  EXPECT_TRUE(VerifyV1a(*public_key, "evt_1", absl::ToUnixSeconds(kNow), request->body, header));
  EXPECT_FALSE(
      VerifyV1a(*public_key, "evt_1", absl::ToUnixSeconds(kNow) + 1, request->body, header));
}

TEST(BuildRequestTest, SignsWithBothSchemesDuringASchemeChange) {
  const std::string secret = NewEd25519SigningSecret();
  absl::StatusOr<std::string> public_key = Ed25519PublicKey(secret);
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  v1::App app = NewApp(secret);
  v1::SigningKey* old_key = app.add_signing_keys();
  old_key->set_id("key_old_hmac");
  old_key->set_secret(kAsciiSecret);
  *old_key->mutable_expire_time() = ToProto(kNow + absl::Hours(1));

  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  const std::string header = HeaderValue(*request, "webhook-signature");
  const std::vector<std::string> entries = absl::StrSplit(header, ' ');
  ASSERT_EQ(entries.size(), 2u) << header;
  const int64_t ts = absl::ToUnixSeconds(kNow);
  EXPECT_TRUE(absl::StartsWith(entries[0], "v1a,")) << header;
  EXPECT_EQ(entries[1], SignV1(kAsciiKey, "evt_1", ts, request->body));
  EXPECT_TRUE(VerifyV1a(*public_key, "evt_1", ts, request->body, header));
  EXPECT_TRUE(VerifyV1(kAsciiKey, "evt_1", ts, request->body, header));

  // Once the HMAC key expires, only the v1a entry is left.
  request = BuildRequest(app, NewEvent(), kNow + absl::Hours(1));
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(HeaderValue(*request, "webhook-signature"), Not(HasSubstr(" ")));
  EXPECT_TRUE(VerifyV1a(*public_key, "evt_1", ts + 3600, request->body,
                        HeaderValue(*request, "webhook-signature")));
}

TEST(BuildRequestTest, CompatHeaderUsesTheFirstHmacKeyAndRefusesAnAppWithout) {
  v1::App app = NewApp(NewEd25519SigningSecret());
  app.set_compat_signature_header("X-Hub-Signature-256");
  apps::ResolveSignatureProfiles(app);
  // Validation refuses such an app; were one stored, its delivery fails rather than leaving out
  // a header the receiver checks.
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);

  app.add_signing_keys()->set_secret(kAsciiSecret);
  app.add_signing_keys()->set_secret(kOtherSecret);
  request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(HeaderValue(*request, "X-Hub-Signature-256"),
            "sha256=" + HexEncode(HmacSha256(kAsciiKey, request->body)));
}

TEST(BuildRequestTest, TimeoutDefaultsToTenSeconds) {
  v1::App app = NewApp();
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->timeout, absl::Seconds(10));

  app.mutable_timeout()->set_seconds(3);
  app.mutable_timeout()->set_nanos(500'000'000);
  request = BuildRequest(app, NewEvent(), kNow);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->timeout, absl::Milliseconds(3500));
}

TEST(BuildRequestTest, RefusesAnAppWithoutAValidKey) {
  v1::App app = NewApp("");
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);

  app.clear_signing_keys();
  request = BuildRequest(app, NewEvent(), kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);

  app = NewApp(kOtherSecret);
  *app.mutable_signing_keys(0)->mutable_expire_time() = ToProto(kNow - absl::Hours(1));
  request = BuildRequest(app, NewEvent(), kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildRequestTest, StandardWebhooksCannotSignWithATextSecretAlone) {
  // Any other prefix is a customer-chosen text secret: profiles keyed by the secret's text use
  // it, Standard Webhooks cannot.
  for (const std::string secret :
       {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whpk_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
    SCOPED_TRACE(secret);
    absl::StatusOr<http::HttpRequest> request = BuildRequest(NewApp(secret), NewEvent(), kNow);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(request.status().message()), Not(HasSubstr(secret.substr(6))));
    v1::App github = NewApp(secret);
    github.add_signature_profiles()->set_preset("github");
    apps::ResolveSignatureProfiles(github);
    request = BuildRequest(github, NewEvent(), kNow);
    ASSERT_TRUE(request.ok()) << request.status();
    EXPECT_EQ(HeaderValue(*request, "X-Hub-Signature-256"),
              "sha256=" + HexEncode(HmacSha256(secret, request->body)));
  }
}

TEST(BuildRequestTest, RefusesAProfileItCannotResolveRatherThanLeaveItsSignatureOut) {
  v1::App app = NewApp();
  app.add_signature_profiles()->set_preset("github");
  app.add_signature_profiles()->set_preset("no-such-preset");  // stored by no validation
  absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(request.status().message()),
              HasSubstr("app.signature_profiles[1].preset"));
}

TEST(BuildRequestTest, RefusesAMalformedSecretWithoutEchoingIt) {
  for (const std::string secret :
       {"whsec_not*base64", "whsec_c2hvcnQ=", "whsk_not*base64",
        "whsk_c2hvcnQ=", "whsk_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYx"}) {
    SCOPED_TRACE(secret);
    v1::App app = NewApp();
    app.add_signing_keys()->set_secret(secret);
    absl::StatusOr<http::HttpRequest> request = BuildRequest(app, NewEvent(), kNow);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(request.status().message()), Not(HasSubstr(secret.substr(6))));
    EXPECT_THAT(std::string(request.status().message()), Not(HasSubstr("MDEyMzQ1")));
  }
}

}  // namespace
}  // namespace hookd::delivery
