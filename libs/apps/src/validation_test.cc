#include "hookd/apps/validation.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace hookd::apps {
namespace {

using google::protobuf::util::TimeUtil;
using hookd::v1::App;

App ValidApp() {
  App app;
  app.set_tenant("acme_video-1.eu");
  app.set_name("Render notifications");
  app.set_description("Tells the CMS when a render is done.");
  app.set_url("https://hooks.example.com/hookd?source=render");
  app.add_event_types("video.ready");
  app.add_event_types("render.*");
  app.add_channels("project:42");
  (*app.mutable_headers())["X-Api-Key"] = "k-123";
  app.mutable_auth()->mutable_basic()->set_username("cms");
  app.mutable_auth()->mutable_basic()->set_password("s3cret");
  app.set_rate_limit_per_second(50);
  ApplyDefaults(app);
  return app;
}

// Asserts INVALID_ARGUMENT whose message starts with "<field>: ".
void ExpectInvalid(const absl::Status& status, std::string_view field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), absl::StrCat(std::string(field), ": ")))
      << "want field " << field << ", got: " << status.message();
}

absl::Status Validate(const App& app, bool allow_http = false) {
  ValidationOptions options;
  options.allow_http = allow_http;
  return ValidateApp(app, options);
}

absl::Status ValidateUrlWith(std::string_view url, const ValidationOptions& options = {}) {
  return ValidateUrl(url, options, "app.url");
}

google::protobuf::Duration Seconds(int64_t seconds) { return TimeUtil::SecondsToDuration(seconds); }

TEST(ApplyDefaults, FillsUnsetSettings) {
  App app;
  ApplyDefaults(app);
  EXPECT_EQ(app.timeout().seconds(), 10);
  EXPECT_EQ(app.timeout().nanos(), 0);
  EXPECT_EQ(app.disable_after_failures(), 10);
  EXPECT_EQ(app.signature(), hookd::v1::SIGNATURE_SCHEME_V1);
  EXPECT_FALSE(app.has_retry());
}

TEST(ApplyDefaults, KeepsSetValues) {
  App app;
  *app.mutable_timeout() = Seconds(3);
  app.set_disable_after_failures(4);
  ApplyDefaults(app);
  EXPECT_EQ(app.timeout().seconds(), 3);
  EXPECT_EQ(app.disable_after_failures(), 4);
}

TEST(ValidateApp, ValidAppPasses) {
  EXPECT_TRUE(Validate(ValidApp()).ok()) << Validate(ValidApp());
}

TEST(ValidateApp, MinimalAppPasses) {
  App app;
  app.set_tenant("t");
  app.set_name("n");
  app.set_url("https://example.com");
  app.add_event_types("*");
  ApplyDefaults(app);
  EXPECT_TRUE(Validate(app).ok()) << Validate(app);
}

TEST(ValidateApp, OutputOnlyFieldsAreIgnored) {
  App app = ValidApp();
  app.set_id("whatever");
  app.set_secret("whsec_x");
  app.set_failure_streak(-3);
  app.set_disabled_reason(std::string(5000, 'x'));
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, Tenant) {
  App app = ValidApp();
  app.clear_tenant();
  ExpectInvalid(Validate(app), "app.tenant");
  app.set_tenant(std::string(65, 'a'));
  ExpectInvalid(Validate(app), "app.tenant");
  app.set_tenant("acme corp");
  ExpectInvalid(Validate(app), "app.tenant");
  app.set_tenant("acme/1");
  ExpectInvalid(Validate(app), "app.tenant");
  app.set_tenant(std::string(64, 'a'));
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateTenant, UsesTheGivenField) {
  ExpectInvalid(ValidateTenant("", "tenant"), "tenant");
  EXPECT_TRUE(ValidateTenant("A-z_0.9", "tenant").ok());
}

TEST(ValidateApp, NameRequired) {
  App app = ValidApp();
  app.clear_name();
  ExpectInvalid(Validate(app), "app.name");
}

TEST(ValidateApp, NameCountsCharactersNotBytes) {
  App app = ValidApp();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "é";  // 2 bytes each
  app.set_name(name);
  EXPECT_TRUE(Validate(app).ok());
  app.set_name(name + "e");
  ExpectInvalid(Validate(app), "app.name");
}

TEST(ValidateApp, NameMustBeUtf8) {
  App app = ValidApp();
  for (std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    app.set_name(bad);
    ExpectInvalid(Validate(app), "app.name");
  }
  app.set_name("Déploiement 🎬");
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, NameRefusesControlCharacters) {
  App app = ValidApp();
  app.set_name("two\nlines");
  ExpectInvalid(Validate(app), "app.name");
}

TEST(ValidateApp, Description) {
  App app = ValidApp();
  app.set_description(std::string(1000, 'd'));
  EXPECT_TRUE(Validate(app).ok());
  app.set_description(std::string(1001, 'd'));
  ExpectInvalid(Validate(app), "app.description");
  app.set_description("bad \xff");
  ExpectInvalid(Validate(app), "app.description");
}

TEST(ValidateApp, UrlRequired) {
  App app = ValidApp();
  app.clear_url();
  ExpectInvalid(Validate(app), "app.url");
}

TEST(ValidateApp, UrlMustBeAbsolute) {
  for (std::string_view url :
       {"example.com/hooks", "/hooks", "//example.com/hooks", "https:example.com",
        "https:/example.com", "https:///example.com", "https://", "https://[::1/"}) {
    ExpectInvalid(ValidateUrlWith(url), "app.url");
  }
}

TEST(ValidateApp, UrlSchemeHttpsOnlyByDefault) {
  App app = ValidApp();
  app.set_url("http://hooks.example.com/");
  absl::Status status = Validate(app);
  ExpectInvalid(status, "app.url");
  EXPECT_TRUE(absl::StrContains(status.message(), "HOOKD_ALLOW_HTTP")) << status;
  EXPECT_TRUE(Validate(app, /*allow_http=*/true).ok());
  app.set_url("HTTPS://hooks.example.com/");
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, UrlOtherSchemesRefusedEvenWithHttp) {
  ValidationOptions options;
  options.allow_http = true;
  for (std::string_view url :
       {"ftp://example.com/", "ws://example.com/", "file:///etc/passwd", "gopher://example.com/"}) {
    ExpectInvalid(ValidateUrlWith(url, options), "app.url");
  }
}

TEST(ValidateApp, UrlRefusesUserinfo) {
  for (std::string_view url :
       {"https://user:pw@example.com/", "https://user@example.com/", "https://@example.com/"}) {
    absl::Status status = ValidateUrlWith(url);
    ExpectInvalid(status, "app.url");
    EXPECT_FALSE(absl::StrContains(status.message(), "pw@")) << status;
  }
}

TEST(ValidateApp, UrlLength) {
  std::string base = "https://example.com/";
  std::string url = base + std::string(2048 - base.size(), 'a');
  EXPECT_TRUE(ValidateUrlWith(url).ok());
  ExpectInvalid(ValidateUrlWith(url + "a"), "app.url");
}

TEST(ValidateApp, UrlRefusesBlanksControlAndRawNonAscii) {
  for (std::string_view url : {" https://example.com/", "https://example.com/a b",
                               "https://example.com/\n", "https://example.com/é"}) {
    ExpectInvalid(ValidateUrlWith(url), "app.url");
  }
  EXPECT_TRUE(ValidateUrlWith("https://example.com/%C3%A9").ok());
}

TEST(ValidateApp, UrlPorts) {
  EXPECT_TRUE(ValidateUrlWith("https://example.com:1/").ok());
  EXPECT_TRUE(ValidateUrlWith("https://example.com:65535/").ok());
  EXPECT_TRUE(ValidateUrlWith("https://example.com:8443/x").ok());
  ExpectInvalid(ValidateUrlWith("https://example.com:0/"), "app.url");
  ExpectInvalid(ValidateUrlWith("https://example.com:65536/"), "app.url");
  ExpectInvalid(ValidateUrlWith("https://example.com:-1/"), "app.url");
  ExpectInvalid(ValidateUrlWith("https://example.com:http/"), "app.url");
}

TEST(ValidateApp, UrlRestrictedIpLiteralsRefusedByDefault) {
  for (std::string_view url :
       {"https://127.0.0.1/", "https://[::1]/", "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3:8443/", "https://[::ffff:10.0.0.1]/", "https://0.0.0.0/",
        "https://192.168.1.1/", "https://[fe80::1%25eth0]/", "https://[fd00::1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        // Forms that curl and inet_aton read as 127.0.0.1.
        "https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://127.1/",
        "https://%31%32%37.0.0.1/", "https://127.0.0.1./"}) {
    absl::Status status = ValidateUrlWith(url);
    ExpectInvalid(status, "app.url");
    EXPECT_TRUE(absl::StrContains(status.message(), "HOOKD_PRIVATE_ALLOWLIST")) << status;
  }
}

TEST(ValidateApp, UrlRestrictedMessageSaysWhichAddress) {
  EXPECT_EQ(ValidateUrlWith("https://2130706433/").message(),
            "app.url: address 127.0.0.1 is private, loopback, link-local or reserved; such "
            "endpoints are refused unless HOOKD_PRIVATE_ALLOWLIST covers them");
  EXPECT_EQ(ValidateUrlWith("https://api.localhost/").message(),
            "app.url: host api.localhost means 127.0.0.1, which is private, loopback, link-local "
            "or reserved; such endpoints are refused unless HOOKD_PRIVATE_ALLOWLIST covers them");
}

TEST(ValidateApp, UrlAllowlistPermitsRestrictedLiteral) {
  ValidationOptions options;
  options.private_allowlist = *http::ParseAllowlist("127.0.0.0/8");
  EXPECT_TRUE(ValidateUrlWith("https://127.0.0.1:9000/hook", options).ok());
  EXPECT_TRUE(ValidateUrlWith("https://[::ffff:127.0.0.1]/", options).ok());
  EXPECT_TRUE(ValidateUrlWith("https://localhost:9000/", options).ok());
  ExpectInvalid(ValidateUrlWith("https://10.1.2.3/", options), "app.url");
  ExpectInvalid(ValidateUrlWith("https://[::1]/", options), "app.url");
}

TEST(ValidateApp, UrlPublicIpLiteralAccepted) {
  EXPECT_TRUE(ValidateUrlWith("https://93.184.216.34/hook").ok());
  EXPECT_TRUE(ValidateUrlWith("https://[2606:2800:220:1:248:1893:25c8:1946]/hook").ok());
}

TEST(ValidateApp, UrlLocalhostIsLoopback) {
  for (std::string_view url : {"https://localhost/", "https://LocalHost:8080/",
                               "https://localhost./", "https://api.localhost/"}) {
    ExpectInvalid(ValidateUrlWith(url), "app.url");
  }
  // Only the label "localhost", not names that merely contain it.
  EXPECT_TRUE(ValidateUrlWith("https://localhost.example.com/").ok());
  EXPECT_TRUE(ValidateUrlWith("https://notlocalhost/").ok());
}

TEST(ValidateApp, UrlHostnamesAreLeftToDeliveryTime) {
  EXPECT_TRUE(ValidateUrlWith("https://internal.corp/").ok());
  EXPECT_TRUE(ValidateUrlWith("https://127.0.0.1.nip.io/").ok());
}

TEST(ValidateApp, EventTypesRequired) {
  App app = ValidApp();
  app.clear_event_types();
  ExpectInvalid(Validate(app), "app.event_types");
}

TEST(ValidateApp, EventTypesAtMost100) {
  App app = ValidApp();
  app.clear_event_types();
  for (int i = 0; i < 100; ++i) app.add_event_types(absl::StrCat("type", i));
  EXPECT_TRUE(Validate(app).ok());
  app.add_event_types("type100");
  ExpectInvalid(Validate(app), "app.event_types");
}

TEST(ValidateApp, EventTypesEachAPattern) {
  App app = ValidApp();
  app.add_event_types("Video.Ready");
  ExpectInvalid(Validate(app), "app.event_types[2]");
}

TEST(ValidateApp, EventTypesNoDuplicates) {
  App app = ValidApp();
  app.add_event_types("video.ready");
  ExpectInvalid(Validate(app), "app.event_types[2]");
}

TEST(ValidateEventTypeName, AcceptsAndRefuses) {
  for (std::string_view name :
       {"video.ready", "video.sd_encoded", "render.completed", "a", "a-b.c_d.0", "hookd.ping"}) {
    EXPECT_TRUE(ValidateEventTypeName(name, "event_type.name").ok()) << name;
  }
  EXPECT_TRUE(ValidateEventTypeName(std::string(128, 'a'), "event_type.name").ok());
  for (std::string name :
       {std::string(""), std::string(".a"), std::string("a."), std::string("a..b"),
        std::string("Video.ready"), std::string("video.*"), std::string("*"),
        std::string("video ready"), std::string("vidéo"), std::string(129, 'a')}) {
    ExpectInvalid(ValidateEventTypeName(name, "event_type.name"), "event_type.name");
  }
}

TEST(IsSensitiveHeader, CredentialsByNameInAnyCase) {
  for (std::string_view name : {"Authorization", "cookie", "X-Api-Key", "X-Auth-Token",
                                "Client-Secret", "X-PASSWORD", "keyid", "X-Monkey"}) {
    EXPECT_TRUE(IsSensitiveHeader(name)) << name;
  }
  for (std::string_view name : {"X-Tenant-Ref", "Accept", "X-Request-Id", "Proxy-Authorize"}) {
    EXPECT_FALSE(IsSensitiveHeader(name)) << name;
  }
}

TEST(RefuseReservedEventType, OnlyHookdAndItsSubtypes) {
  for (std::string_view name : {"hookd", "hookd.app.disabled", "hookd.anything_new"}) {
    EXPECT_TRUE(IsReservedEventType(name)) << name;
    ExpectInvalid(RefuseReservedEventType(name, "event_type"), "event_type");
  }
  for (std::string_view name : {"hookdx.app", "myhookd.app", "video.hookd", "hookd_app"}) {
    EXPECT_FALSE(IsReservedEventType(name)) << name;
    EXPECT_TRUE(RefuseReservedEventType(name, "event_type").ok()) << name;
  }
}

TEST(ValidateEventTypePattern, AcceptsAndRefuses) {
  for (std::string_view pattern : {"*", "video.ready", "video.*", "video.hd.*", "a"}) {
    EXPECT_TRUE(ValidateEventTypePattern(pattern, "p").ok()) << pattern;
  }
  for (std::string_view pattern : {"", "**", ".*", "*.ready", "video*", "video.*.ready", "video.**",
                                   "video.r*", "*.*", "Video.*", "video..*", "video."}) {
    ExpectInvalid(ValidateEventTypePattern(pattern, "p"), "p");
  }
}

struct MatchCase {
  std::string_view pattern;
  std::string_view event_type;
  bool matches;
};

TEST(PatternMatches, Table) {
  constexpr MatchCase kCases[] = {
      {"*", "video.ready", true},
      {"*", "a", true},
      {"video.*", "video.ready", true},
      {"video.*", "video.hd.encoded", true},
      {"video.*", "video", false},
      {"video.*", "videos.ready", false},
      {"video.*", "render.video.ready", false},
      {"video.hd.*", "video.hd.encoded", true},
      {"video.hd.*", "video.sd.encoded", false},
      {"video.ready", "video.ready", true},
      {"video.ready", "video.ready.late", false},
      {"video.ready", "video", false},
      {"video", "video.ready", false},
  };
  for (const MatchCase& c : kCases) {
    EXPECT_EQ(PatternMatches(c.pattern, c.event_type), c.matches)
        << c.pattern << " vs " << c.event_type;
  }
}

TEST(ValidateApp, ChannelsAtMost10) {
  App app = ValidApp();
  app.clear_channels();
  for (int i = 0; i < 10; ++i) app.add_channels(absl::StrCat("c", i));
  EXPECT_TRUE(Validate(app).ok());
  app.add_channels("c10");
  ExpectInvalid(Validate(app), "app.channels");
}

TEST(ValidateApp, ChannelCharacters) {
  App app = ValidApp();
  app.add_channels("project 1");
  ExpectInvalid(Validate(app), "app.channels[1]");
  app.set_channels(1, "");
  ExpectInvalid(Validate(app), "app.channels[1]");
  app.set_channels(1, std::string(129, 'c'));
  ExpectInvalid(Validate(app), "app.channels[1]");
  app.set_channels(1, std::string(128, 'c'));
  EXPECT_TRUE(Validate(app).ok());
  EXPECT_TRUE(ValidateChannel("Org_1.team-2:render", "c").ok());
}

TEST(ValidateApp, ChannelsNoDuplicates) {
  App app = ValidApp();
  app.add_channels("project:42");
  ExpectInvalid(Validate(app), "app.channels[1]");
}

TEST(ValidateApp, HeadersAtMost50) {
  App app = ValidApp();
  app.clear_headers();
  for (int i = 0; i < 50; ++i) (*app.mutable_headers())[absl::StrCat("X-H", i)] = "v";
  EXPECT_TRUE(Validate(app).ok());
  (*app.mutable_headers())["X-H50"] = "v";
  ExpectInvalid(Validate(app), "app.headers");
}

TEST(ValidateApp, HeaderNameMustBeToken) {
  // Names that are not tokens are shown C-escaped, so the message stays on one line.
  const std::pair<std::string, std::string> kCases[] = {
      {"X Bad", "app.headers[\"X Bad\"]"},           {"X:Bad", "app.headers[\"X:Bad\"]"},
      {"X(Bad)", "app.headers[\"X(Bad)\"]"},         {"", "app.headers[\"\"]"},
      {"B\xc3\xa9", "app.headers[\"B\\303\\251\"]"}, {"X\nBad", "app.headers[\"X\\nBad\"]"},
  };
  for (const auto& [name, field] : kCases) {
    App app = ValidApp();
    (*app.mutable_headers())[name] = "v";
    ExpectInvalid(Validate(app), field);
  }
}

TEST(ValidateApp, HeaderNameLength) {
  App app = ValidApp();
  std::string name(256, 'x');
  (*app.mutable_headers())[name] = "v";
  EXPECT_TRUE(Validate(app).ok());
  app.mutable_headers()->erase(name);
  (*app.mutable_headers())[name + "x"] = "v";
  ExpectInvalid(Validate(app), absl::StrCat("app.headers[\"", name, "x\"]"));
}

TEST(ValidateApp, HeaderValue) {
  App app = ValidApp();
  (*app.mutable_headers())["X-Long"] = std::string(4096, 'v');
  (*app.mutable_headers())["X-Tab"] = "a\tb";
  EXPECT_TRUE(Validate(app).ok());
  (*app.mutable_headers())["X-Long"] = std::string(4097, 'v');
  ExpectInvalid(Validate(app), "app.headers[\"X-Long\"]");
  for (std::string value : {std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3)}) {
    App bad = ValidApp();
    (*bad.mutable_headers())["X-Injected"] = value;
    absl::Status status = Validate(bad);
    ExpectInvalid(status, "app.headers[\"X-Injected\"]");
  }
}

TEST(ValidateApp, HeaderReservedNames) {
  for (std::string_view name :
       {"webhook-id", "Webhook-Signature", "WEBHOOK-TIMESTAMP", "webhook-anything", "Content-Type",
        "content-length", "Host", "Transfer-Encoding", "Connection"}) {
    App app = ValidApp();
    (*app.mutable_headers())[std::string(name)] = "v";
    ExpectInvalid(Validate(app), absl::StrCat("app.headers[\"", std::string(name), "\"]"));
  }
}

TEST(ValidateApp, AuthorizationHeaderOnlyWithoutBasicAuth) {
  App app = ValidApp();
  (*app.mutable_headers())["Authorization"] = "Bearer t";
  ExpectInvalid(Validate(app), "app.headers[\"Authorization\"]");
  app.clear_auth();
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, HeaderNamesCaseInsensitivelyUnique) {
  App app = ValidApp();
  (*app.mutable_headers())["x-api-key"] = "other";
  absl::Status status = Validate(app);
  // "X-Api-Key" sorts first, so the lowercase one is the repeat.
  ExpectInvalid(status, "app.headers[\"x-api-key\"]");
}

TEST(ValidateApp, BasicAuthUsername) {
  App app = ValidApp();
  app.mutable_auth()->mutable_basic()->clear_username();
  ExpectInvalid(Validate(app), "app.auth.basic.username");
  app.mutable_auth()->mutable_basic()->set_username("a:b");
  ExpectInvalid(Validate(app), "app.auth.basic.username");
  app.mutable_auth()->mutable_basic()->set_username("a\tb");
  ExpectInvalid(Validate(app), "app.auth.basic.username");
  app.mutable_auth()->mutable_basic()->set_username(std::string(257, 'u'));
  ExpectInvalid(Validate(app), "app.auth.basic.username");
  app.mutable_auth()->mutable_basic()->set_username(std::string(256, 'u'));
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, BasicAuthPassword) {
  App app = ValidApp();
  app.mutable_auth()->mutable_basic()->clear_password();
  ExpectInvalid(Validate(app), "app.auth.basic.password");
  app.mutable_auth()->mutable_basic()->set_password(std::string(1025, 'p'));
  ExpectInvalid(Validate(app), "app.auth.basic.password");
  app.mutable_auth()->mutable_basic()->set_password("hunter2\n");
  absl::Status status = Validate(app);
  ExpectInvalid(status, "app.auth.basic.password");
  EXPECT_FALSE(absl::StrContains(status.message(), "hunter2"));
  app.mutable_auth()->mutable_basic()->set_password(std::string(1024, 'p'));
  EXPECT_TRUE(Validate(app).ok());
  // A colon is fine in a password (RFC 7617).
  app.mutable_auth()->mutable_basic()->set_password("a:b");
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, NoAuthIsFine) {
  App app = ValidApp();
  app.clear_auth();
  EXPECT_TRUE(Validate(app).ok());
  app.mutable_auth();  // set but with no method
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, TimeoutRange) {
  App app = ValidApp();
  *app.mutable_timeout() = Seconds(1);
  EXPECT_TRUE(Validate(app).ok());
  *app.mutable_timeout() = Seconds(30);
  EXPECT_TRUE(Validate(app).ok());
  *app.mutable_timeout() = TimeUtil::MillisecondsToDuration(2500);
  EXPECT_TRUE(Validate(app).ok());
  for (google::protobuf::Duration bad :
       {TimeUtil::MillisecondsToDuration(999), TimeUtil::MillisecondsToDuration(30001), Seconds(0),
        Seconds(-5)}) {
    *app.mutable_timeout() = bad;
    ExpectInvalid(Validate(app), "app.timeout");
  }
}

TEST(ValidateApp, TimeoutWholeMilliseconds) {
  App app = ValidApp();
  *app.mutable_timeout() = TimeUtil::NanosecondsToDuration(2'000'000'001);
  ExpectInvalid(Validate(app), "app.timeout");
  *app.mutable_timeout() = TimeUtil::MicrosecondsToDuration(2'000'500);
  ExpectInvalid(Validate(app), "app.timeout");
}

TEST(ValidateApp, TimeoutMalformedDuration) {
  App app = ValidApp();
  app.mutable_timeout()->set_seconds(5);
  app.mutable_timeout()->set_nanos(-1'000'000);
  ExpectInvalid(Validate(app), "app.timeout");
}

TEST(ValidateApp, RetryNotBothForms) {
  App app = ValidApp();
  *app.mutable_retry()->add_delays() = Seconds(5);
  hookd::v1::ExponentialBackoff* exponential = app.mutable_retry()->mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2);
  *exponential->mutable_max_delay() = Seconds(60);
  exponential->set_max_attempts(5);
  ExpectInvalid(Validate(app), "app.retry");
  EXPECT_TRUE(absl::StartsWith(Validate(app).message(), "app.retry: "));
  app.mutable_retry()->clear_delays();
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, RetryDelays) {
  App app = ValidApp();
  for (int i = 0; i < 50; ++i) *app.mutable_retry()->add_delays() = Seconds(1);
  *app.mutable_retry()->mutable_delays(1) = TimeUtil::HoursToDuration(24);
  EXPECT_TRUE(Validate(app).ok());
  *app.mutable_retry()->add_delays() = Seconds(1);
  ExpectInvalid(Validate(app), "app.retry.delays");

  app.mutable_retry()->clear_delays();
  *app.mutable_retry()->add_delays() = Seconds(5);
  *app.mutable_retry()->add_delays() = Seconds(60);
  *app.mutable_retry()->add_delays() = TimeUtil::MillisecondsToDuration(999);
  ExpectInvalid(Validate(app), "app.retry.delays[2]");
  *app.mutable_retry()->mutable_delays(2) = Seconds(24 * 3600 + 1);
  ExpectInvalid(Validate(app), "app.retry.delays[2]");
}

hookd::v1::App AppWithExponential() {
  App app = ValidApp();
  hookd::v1::ExponentialBackoff* exponential = app.mutable_retry()->mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2);
  *exponential->mutable_max_delay() = Seconds(60);
  exponential->set_max_attempts(5);
  return app;
}

TEST(ValidateApp, RetryExponential) {
  EXPECT_TRUE(Validate(AppWithExponential()).ok());

  App app = AppWithExponential();
  *app.mutable_retry()->mutable_exponential()->mutable_initial_delay() = Seconds(0);
  ExpectInvalid(Validate(app), "app.retry.exponential.initial_delay");
  app = AppWithExponential();
  *app.mutable_retry()->mutable_exponential()->mutable_initial_delay() = Seconds(86401);
  ExpectInvalid(Validate(app), "app.retry.exponential.initial_delay");

  for (double bad : {0.0, 0.99, 10.01, std::nan("")}) {
    app = AppWithExponential();
    app.mutable_retry()->mutable_exponential()->set_multiplier(bad);
    ExpectInvalid(Validate(app), "app.retry.exponential.multiplier");
  }
  for (double good : {1.0, 10.0}) {
    app = AppWithExponential();
    app.mutable_retry()->mutable_exponential()->set_multiplier(good);
    EXPECT_TRUE(Validate(app).ok());
  }

  app = AppWithExponential();
  *app.mutable_retry()->mutable_exponential()->mutable_initial_delay() = Seconds(30);
  *app.mutable_retry()->mutable_exponential()->mutable_max_delay() = Seconds(29);
  ExpectInvalid(Validate(app), "app.retry.exponential.max_delay");
  *app.mutable_retry()->mutable_exponential()->mutable_max_delay() = Seconds(30);
  EXPECT_TRUE(Validate(app).ok());
  *app.mutable_retry()->mutable_exponential()->mutable_max_delay() = Seconds(86401);
  ExpectInvalid(Validate(app), "app.retry.exponential.max_delay");

  for (int bad : {0, -1, 51}) {
    app = AppWithExponential();
    app.mutable_retry()->mutable_exponential()->set_max_attempts(bad);
    ExpectInvalid(Validate(app), "app.retry.exponential.max_attempts");
  }
  app = AppWithExponential();
  app.mutable_retry()->mutable_exponential()->set_max_attempts(50);
  EXPECT_TRUE(Validate(app).ok());
}

TEST(ValidateApp, RateLimit) {
  App app = ValidApp();
  app.set_rate_limit_per_second(0);
  EXPECT_TRUE(Validate(app).ok());
  app.set_rate_limit_per_second(100000);
  EXPECT_TRUE(Validate(app).ok());
  app.set_rate_limit_per_second(100001);
  ExpectInvalid(Validate(app), "app.rate_limit_per_second");
  app.set_rate_limit_per_second(-1);
  ExpectInvalid(Validate(app), "app.rate_limit_per_second");
}

TEST(ValidateApp, DisableAfterFailures) {
  App app = ValidApp();
  app.set_disable_after_failures(1);
  EXPECT_TRUE(Validate(app).ok());
  app.set_disable_after_failures(10000);
  EXPECT_TRUE(Validate(app).ok());
  app.set_disable_after_failures(10001);
  ExpectInvalid(Validate(app), "app.disable_after_failures");
  app.set_disable_after_failures(-1);
  ExpectInvalid(Validate(app), "app.disable_after_failures");
}

TEST(ValidateApp, SignatureScheme) {
  App app = ValidApp();
  app.set_signature(static_cast<hookd::v1::SignatureScheme>(7));
  ExpectInvalid(Validate(app), "app.signature");
}

TEST(ValidateApp, ReportsTheFirstViolationInFieldOrder) {
  App app = ValidApp();
  app.set_url("ftp://x/");
  app.set_rate_limit_per_second(-1);
  ExpectInvalid(Validate(app), "app.url");
}

TEST(RetryDelays, StandardWebhooksScheduleByDefault) {
  std::vector<absl::Duration> want = {absl::Seconds(5), absl::Minutes(5), absl::Minutes(30),
                                      absl::Hours(2),   absl::Hours(5),   absl::Hours(10),
                                      absl::Hours(10)};
  EXPECT_EQ(RetryDelays(hookd::v1::RetryPolicy()), want);
}

TEST(RetryDelays, ExplicitList) {
  hookd::v1::RetryPolicy policy;
  *policy.add_delays() = Seconds(1);
  *policy.add_delays() = TimeUtil::MillisecondsToDuration(1500);
  *policy.add_delays() = TimeUtil::HoursToDuration(24);
  std::vector<absl::Duration> want = {absl::Seconds(1), absl::Milliseconds(1500), absl::Hours(24)};
  EXPECT_EQ(RetryDelays(policy), want);
}

TEST(RetryDelays, ExponentialExpansion) {
  hookd::v1::RetryPolicy policy;
  hookd::v1::ExponentialBackoff* exponential = policy.mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2);
  *exponential->mutable_max_delay() = Seconds(5);
  exponential->set_max_attempts(5);
  std::vector<absl::Duration> want = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                      absl::Seconds(5)};
  EXPECT_EQ(RetryDelays(policy), want);
}

TEST(RetryDelays, ExponentialSingleAttemptHasNoRetries) {
  hookd::v1::RetryPolicy policy;
  hookd::v1::ExponentialBackoff* exponential = policy.mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2);
  *exponential->mutable_max_delay() = Seconds(5);
  exponential->set_max_attempts(1);
  EXPECT_TRUE(RetryDelays(policy).empty());
}

TEST(RetryDelays, ExponentialLargePowersSaturateAtMaxDelay) {
  hookd::v1::RetryPolicy policy;
  hookd::v1::ExponentialBackoff* exponential = policy.mutable_exponential();
  *exponential->mutable_initial_delay() = TimeUtil::HoursToDuration(24);
  exponential->set_multiplier(10);
  *exponential->mutable_max_delay() = TimeUtil::HoursToDuration(24);
  exponential->set_max_attempts(50);
  std::vector<absl::Duration> delays = RetryDelays(policy);
  ASSERT_EQ(delays.size(), 49u);
  for (absl::Duration d : delays) EXPECT_EQ(d, absl::Hours(24));
}

TEST(ValidateAppExtras, PayloadFormatAndCompatSignatureHeader) {
  hookd::v1::App app;
  app.set_tenant("acme");
  app.set_name("n");
  app.set_url("https://hooks.example.com/x");
  app.add_event_types("video.ready");
  ApplyDefaults(app);
  EXPECT_EQ(app.payload_format(), hookd::v1::PAYLOAD_FORMAT_ENVELOPE);
  ValidationOptions options;
  EXPECT_TRUE(ValidateApp(app, options).ok());
  app.set_compat_signature_header("X-Hub-Signature-256");
  EXPECT_TRUE(ValidateApp(app, options).ok());
  for (const std::string& bad : std::vector<std::string>{"has space", "webhook-signature",
                                                         "Authorization", std::string(65, 'x')}) {
    app.set_compat_signature_header(bad);
    absl::Status status = ValidateApp(app, options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(status.message(), "app.compat_signature_header: ")) << bad;
  }
  app.set_compat_signature_header("X-Sig");
  (*app.mutable_headers())["x-sig"] = "1";
  EXPECT_TRUE(
      absl::StartsWith(ValidateApp(app, options).message(), "app.compat_signature_header: "));
  app.clear_headers();
  app.set_payload_format(static_cast<hookd::v1::PayloadFormat>(9));
  EXPECT_TRUE(absl::StartsWith(ValidateApp(app, options).message(), "app.payload_format: "));
}

TEST(ValidateAppExtras, SignatureProfilesRefuseClashesAndKeepTheRestUnchecked) {
  ValidationOptions options;
  App app = ValidApp();
  app.add_signature_profiles()->set_preset("standard-webhooks");
  app.add_signature_profiles()->set_preset("github");
  EXPECT_TRUE(ValidateApp(app, options).ok());

  App clash = app;
  clash.mutable_signature_profiles(1)->set_signature_header("X-API-KEY");  // a custom header
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[1].signature_header");
  clash = app;
  clash.mutable_signature_profiles(1)->set_id_header("Webhook-Id");  // profile 0's
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[1].id_header");
  clash = app;
  clash.mutable_signature_profiles(1)->set_event_type_header("content-type");
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[1].event_type_header");
  clash = app;
  clash.mutable_signature_profiles(0)->set_preset("unknown");
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[0].preset");
  clash = app;
  clash.mutable_signature_profiles(1)->set_signed_content("{timestamp}");
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[1].signed_content");
  clash = app;
  for (int i = 0; i < 4; ++i) clash.add_signature_profiles();
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles");
  // An Ed25519 app has no secret an HMAC profile could use.
  clash = app;
  clash.set_signature(hookd::v1::SIGNATURE_SCHEME_V1A_ED25519);
  ExpectInvalid(ValidateApp(clash, options), "app.signature_profiles[1]");
  // The deprecated compat header must fit beside the profiles.
  clash = app;
  clash.set_compat_signature_header("x-hub-signature-256");
  ExpectInvalid(ValidateApp(clash, options), "app.compat_signature_header");
}

TEST(ValidateAppExtras, PayloadTemplate) {
  ValidationOptions options;
  App app = ValidApp();
  app.set_payload_format(hookd::v1::PAYLOAD_FORMAT_TEMPLATE);
  ExpectInvalid(ValidateApp(app, options), "app.payload_template");
  app.set_payload_template(R"({"event":"{{event_type}}","data":"{{payload}}"})");
  EXPECT_TRUE(ValidateApp(app, options).ok());
  app.set_payload_template(R"({"event":"{{event}}"})");
  ExpectInvalid(ValidateApp(app, options), "app.payload_template");
  app.set_payload_template(R"({"secret":"{{secret}}"})");
  EXPECT_TRUE(ValidateApp(app, options).ok());
  app.set_signature(hookd::v1::SIGNATURE_SCHEME_V1A_ED25519);
  ExpectInvalid(ValidateApp(app, options), "app.payload_template");
}

TEST(ResolveSignatureProfiles, TurnsTheCompatHeaderIntoAProfileAndFillsPresetsIn) {
  App app = ValidApp();
  app.set_compat_signature_header("X-Hub-Signature-256");
  ResolveSignatureProfiles(app);
  EXPECT_TRUE(app.compat_signature_header().empty());
  ASSERT_EQ(app.signature_profiles_size(), 2);
  EXPECT_EQ(app.signature_profiles(0).preset(), "standard-webhooks");
  EXPECT_EQ(app.signature_profiles(0).signature_header(), "webhook-signature");
  const hookd::v1::SignatureProfile& compat = app.signature_profiles(1);
  EXPECT_EQ(compat.signature_header(), "X-Hub-Signature-256");
  EXPECT_EQ(compat.signature_format(), "sha256={sig}");
  EXPECT_EQ(compat.key(), hookd::v1::SIGNATURE_KEY_WHSEC_BYTES);
  EXPECT_EQ(compat.rotation(), hookd::v1::SIGNATURE_ROTATION_NEWEST_KEY);
  const std::string once = app.SerializeAsString();
  ResolveSignatureProfiles(app);
  EXPECT_EQ(app.SerializeAsString(), once);

  App github = ValidApp();
  github.add_signature_profiles()->set_preset("github");
  github.set_compat_signature_header("X-Other");
  ResolveSignatureProfiles(github);
  ASSERT_EQ(github.signature_profiles_size(), 2);
  EXPECT_EQ(github.signature_profiles(0).signature_header(), "X-Hub-Signature-256");
  EXPECT_EQ(github.signature_profiles(1).signature_header(), "X-Other");
}

TEST(ValidateSecretForApp, NamesTheProfileThatCannotUseTheSecret) {
  App app = ValidApp();
  ExpectInvalid(ValidateSecretForApp(app, "text-secret-0123456", "app.secret"), "app.secret");
  app.add_signature_profiles()->set_preset("stripe");
  ResolveSignatureProfiles(app);
  EXPECT_TRUE(ValidateSecretForApp(app, "text-secret-0123456", "app.secret").ok());
  app.add_signature_profiles()->set_preset("standard-webhooks");
  ResolveSignatureProfiles(app);
  absl::Status status = ValidateSecretForApp(app, "text-secret-0123456", "app.secret");
  ExpectInvalid(status, "app.secret");
  EXPECT_TRUE(absl::StrContains(status.message(), "app.signature_profiles[1]")) << status;
}

}  // namespace
}  // namespace hookd::apps
