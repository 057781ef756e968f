// Signature profiles and payload templates end to end: real hookd-subscription, hookd-ingest and
// hookd-worker processes deliver to receivers that verify with the VENDORS' code, never hookd's:
// tests/interop/receiver.mjs (the standardwebhooks, @octokit/webhooks-methods and stripe
// packages; Shopify's and Slack's documented checks; the seeds' VideoPilot, Elai and
// Targetvideo receivers) and tests/interop/videopilot_receiver.py (VideoPilot's Python
// example). Each receiver appends one JSON line per request to its OUT file:
// {"path","verifier","ok","error","headers","body"}; the tests read those lines back.
//
// Needs node (18+) with tests/interop/node_modules (scripts/install-interop.sh) and python3.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/crypto/signing.h"
#include "hookd/testing/process.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using Json = nlohmann::json;

const std::string kInteropDir = std::string(HOOKD_SOURCE_DIR) + "/tests/interop";

// The event types the tests publish: the seeds' own names where they have them.
const std::vector<std::string> kEventTypes = {"video.ready", "render.completed", "video_ready",
                                              "sd_encoded"};

// Every line both receivers wrote, in order per file; a last line still being written (no
// newline yet) or one that is not JSON is skipped.
std::vector<Json> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  std::vector<Json> lines;
  size_t start = 0;
  while (true) {
    const size_t end = all.find('\n', start);
    if (end == std::string::npos) break;  // partial (or no) last line
    Json line = Json::parse(all.substr(start, end - start), nullptr, /*allow_exceptions=*/false);
    if (!line.is_discarded() && line.is_object()) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

bool Matches(const std::string& text, const char* pattern) {
  return std::regex_match(text, std::regex(pattern));
}

std::string Header(const Json& line, const std::string& name) {
  if (!line.contains("headers") || !line["headers"].is_object()) return "";
  const Json& headers = line["headers"];
  auto it = headers.find(name);
  return it != headers.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Body(const Json& line) {
  return line.contains("body") && line["body"].is_string() ? line["body"].get<std::string>() : "";
}

bool Ok(const Json& line) { return line.value("ok", false); }

// Whether decimal `text` (unix seconds, or milliseconds with `ms`) is within 5 minutes of now.
bool IsRecent(const std::string& text, bool ms = false) {
  if (text.empty() || !Matches(text, "[0-9]+")) return false;
  const int64_t now = ms ? absl::ToUnixMillis(absl::Now()) : absl::ToUnixSeconds(absl::Now());
  const int64_t value = std::stoll(text);
  return std::abs(now - value) <= (ms ? 300'000 : 300);
}

class DialectsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kInteropDir + "/node_modules/standardwebhooks"))
        << "run scripts/install-interop.sh first: " << kInteropDir << "/node_modules is missing";
    auto bed = TestBed::Create("dialects_e2e");
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = bed->release();
    absl::Status started = bed_->cluster->StartAll(kEventTypes);
    ASSERT_TRUE(started.ok()) << started;

    char dir[] = "/tmp/hookd-dialects.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = new std::string(dir);
    config_ = new std::map<std::string, std::pair<std::string, std::string>>();
    WriteConfig();

    node_port_ = testing::FreePort();
    auto node = testing::ChildProcess::Spawn(
        {"node", kInteropDir + "/receiver.mjs", "--port", std::to_string(node_port_), "--config",
         ConfigPath(), "--out", NodeOutPath()},
        {}, *dir_ + "/receiver-node.log");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();

    python_port_ = testing::FreePort();
    auto python = testing::ChildProcess::Spawn(
        {"python3", kInteropDir + "/videopilot_receiver.py", "--port", std::to_string(python_port_),
         "--config", ConfigPath(), "--out", PythonOutPath()},
        {}, *dir_ + "/receiver-python.log");
    ASSERT_TRUE(python.ok()) << python.status();
    python_ = python->release();

    ASSERT_TRUE(
        PollUntil([] { return testing::PortAcceptsConnections(node_port_); }, absl::Seconds(20)))
        << "receiver.mjs did not listen: " << node_->LogTail();
    ASSERT_TRUE(
        PollUntil([] { return testing::PortAcceptsConnections(python_port_); }, absl::Seconds(20)))
        << "videopilot_receiver.py did not listen: " << python_->LogTail();
  }

  static void TearDownTestSuite() {
    delete node_;
    delete python_;
    node_ = nullptr;
    python_ = nullptr;
    delete bed_;
    bed_ = nullptr;
    if (dir_ != nullptr && std::getenv("HOOKD_KEEP_E2E_LOGS") == nullptr) {
      std::error_code ignored;
      std::filesystem::remove_all(*dir_, ignored);
    }
    delete dir_;
    dir_ = nullptr;
    delete config_;
    config_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(bed_, nullptr);
    apps_ = v1::AppService::NewStub(bed_->cluster->subscription_channel());
  }

  static std::string ConfigPath() { return *dir_ + "/config.json"; }
  static std::string NodeOutPath() { return *dir_ + "/out-node.jsonl"; }
  static std::string PythonOutPath() { return *dir_ + "/out-python.jsonl"; }

  // Rewrites the receivers' config (read on every request) atomically: a new file renamed over
  // the old, so a receiver never reads half of it.
  static void WriteConfig() {
    Json config = Json::object();
    for (const auto& [path, entry] : *config_) {
      config[path] = {{"verifier", entry.first}, {"secret", entry.second}};
    }
    const std::string tmp = ConfigPath() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << config.dump();
    }
    std::filesystem::rename(tmp, ConfigPath());
  }

  // Makes receiver path `path` verify with `verifier` holding `secret`.
  static void Configure(const std::string& path, const std::string& verifier,
                        const std::string& secret) {
    (*config_)[path] = {verifier, secret};
    WriteConfig();
  }

  static std::string Url(const std::string& path, bool python = false) {
    return "http://127.0.0.1:" + std::to_string(python ? python_port_ : node_port_) + path;
  }

  const std::string& token() const { return bed_->cluster->admin_token(); }

  // Creates an app of `tenant` posting to `url` with the caller-chosen `secret`, subscribed to
  // every event type; `customize` sets its profiles and payload.
  v1::App CreateApp(const std::string& tenant, const std::string& url, const std::string& secret,
                    const std::function<void(v1::App&)>& customize = nullptr) {
    v1::App app;
    app.set_tenant(tenant);
    app.set_name("dialects " + tenant);
    app.set_url(url);
    app.add_event_types("*");
    app.set_secret(secret);
    if (customize) customize(app);
    v1::App out = bed_->cluster->CreateApp(app);
    EXPECT_EQ(out.secret(), secret) << "CreateApp answers the chosen secret";
    return out;
  }

  // Rotates to the caller-chosen `secret`; the previous one keeps signing for an hour.
  void RotateSecret(const std::string& id, const std::string& secret) {
    v1::RotateSecretRequest request;
    request.set_id(id);
    request.mutable_grace_period()->set_seconds(3600);
    request.set_secret(secret);
    v1::App out;
    grpc::Status status = apps_->RotateSecret(ClientContext(token()).get(), request, &out);
    ASSERT_TRUE(status.ok()) << "RotateSecret: " << status.error_message();
    EXPECT_EQ(out.secret(), secret);
    EXPECT_EQ(out.signing_keys_size(), 2);
  }

  // Publishes until the event reaches `expected` apps (ingest routes from a cache that learns of
  // a new app within milliseconds); returns the event id.
  std::string Publish(const std::string& tenant, const std::string& type,
                      const std::string& payload, int expected = 1) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type(type);
    request.set_payload(payload);
    return bed_->cluster->PublishRouted(request, expected);
  }

  // TestConnection of app `id`: the endpoint's verdict on the app's real dialect.
  v1::TestConnectionResponse TestConnection(const std::string& id) {
    v1::TestConnectionRequest request;
    request.set_id(id);
    v1::TestConnectionResponse response;
    grpc::Status status = apps_->TestConnection(ClientContext(token()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Every line the receivers wrote for `path`, in order.
  static std::vector<Json> Lines(const std::string& path) {
    std::vector<Json> lines;
    for (const std::string& file : {NodeOutPath(), PythonOutPath()}) {
      for (Json& line : ReadLines(file)) {
        if (line.value("path", "") == path) lines.push_back(std::move(line));
      }
    }
    return lines;
  }

  static std::string Describe(const std::string& path) {
    std::string text = "lines of " + path + ":";
    for (const Json& line : Lines(path)) text += "\n  " + line.dump();
    if (Lines(path).empty()) text += " none";
    return text;
  }

  // The first request that reached `path`; null when none arrived within 20 s.
  static Json FirstLine(const std::string& path) {
    Json found;
    bool arrived = PollUntil(
        [&] {
          std::vector<Json> lines = Lines(path);
          if (lines.empty()) return false;
          found = lines.front();
          return true;
        },
        absl::Seconds(20));
    EXPECT_TRUE(arrived) << "nothing reached " << path;
    return found;
  }

  // Waits until a line of `path` satisfies `want`, publishing another event of `tenant` to
  // `expected` apps whenever none did within 3 s: the worker's cache learns of a rotation
  // through WatchApps a moment after RotateSecret answers, so the first event may still be
  // signed as before (a refused one is retried, too). Returns the line, or null after 30 s.
  Json PublishUntil(const std::string& tenant, const std::string& type, const std::string& payload,
                    int expected, const std::string& path,
                    const std::function<bool(const Json&)>& want) {
    Json found;
    auto find = [&] {
      for (const Json& line : Lines(path)) {
        if (want(line)) {
          found = line;
          return true;
        }
      }
      return false;
    };
    bool done = PollUntil(
        [&] {
          if (find()) return true;
          Publish(tenant, type, payload, expected);
          return PollUntil(find, absl::Seconds(3));
        },
        absl::Seconds(30), absl::Milliseconds(0));
    EXPECT_TRUE(done) << "no line of " << path << " as expected; " << Describe(path);
    return found;
  }

  void ExpectBothSecretsVerify(const std::string& tenant, const std::string& verifier,
                               const std::function<void(v1::App&)>& customize,
                               bool (*two_signatures)(const Json&));

  static TestBed* bed_;
  static std::string* dir_;
  static std::map<std::string, std::pair<std::string, std::string>>* config_;
  static int node_port_;
  static int python_port_;
  static testing::ChildProcess* node_;
  static testing::ChildProcess* python_;
  std::unique_ptr<v1::AppService::Stub> apps_;
};

TestBed* DialectsTest::bed_ = nullptr;
std::string* DialectsTest::dir_ = nullptr;
std::map<std::string, std::pair<std::string, std::string>>* DialectsTest::config_ = nullptr;
int DialectsTest::node_port_ = 0;
int DialectsTest::python_port_ = 0;
testing::ChildProcess* DialectsTest::node_ = nullptr;
testing::ChildProcess* DialectsTest::python_ = nullptr;

const char kPayload[] =
    R"({"video_id":"video_123abc","title":"Space Discovery \u00e9t\u00e9","n":1})";

v1::SignatureProfile Preset(const std::string& name) {
  v1::SignatureProfile profile;
  profile.set_preset(name);
  return profile;
}

// A preset app sends the published payload as it is, so the body can be compared byte for byte.
std::function<void(v1::App&)> WithPreset(const std::string& name) {
  return [name](v1::App& app) {
    app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
    *app.add_signature_profiles() = Preset(name);
  };
}

// ---- Standard Webhooks (the default) ----

TEST_F(DialectsTest, StandardWebhooksDefault) {
  const std::string secret = NewSigningSecret();
  Configure("/sw", "standardwebhooks", secret);
  CreateApp("sw", Url("/sw"), secret);
  const std::string event_id = Publish("sw", "video.ready", kPayload);
  Json line = FirstLine("/sw");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(Header(line, "webhook-id"), event_id);
  EXPECT_TRUE(IsRecent(Header(line, "webhook-timestamp"))) << line.dump();
  EXPECT_TRUE(Matches(Header(line, "webhook-signature"), "v1,[A-Za-z0-9+/]{43}="))
      << "one v1 entry: " << line.dump();
  // The Standard Webhooks envelope around the payload, byte for byte.
  const std::string body = Body(line);
  EXPECT_TRUE(absl::StartsWith(body, R"({"type":"video.ready","timestamp":")")) << body;
  EXPECT_TRUE(absl::EndsWith(body, std::string(",\"data\":") + kPayload + "}")) << body;
  // No other dialect's headers.
  EXPECT_EQ(Header(line, "x-hub-signature-256"), "");
  EXPECT_EQ(Header(line, "stripe-signature"), "");
}

// ---- Presets, each verified by its vendor's code ----

TEST_F(DialectsTest, GitHubPreset) {
  const std::string secret = "gh-webhook-secret-0123456789";
  Configure("/github", "github", secret);
  CreateApp("github", Url("/github"), secret, WithPreset("github"));
  const std::string event_id = Publish("github", "video.ready", kPayload);
  Json line = FirstLine("/github");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(Header(line, "x-github-delivery"), event_id);
  EXPECT_EQ(Header(line, "x-github-event"), "video.ready");
  EXPECT_TRUE(Matches(Header(line, "x-hub-signature-256"), "sha256=[0-9a-f]{64}")) << line.dump();
  EXPECT_EQ(Body(line), kPayload);
  // The profiles replace the Standard Webhooks headers.
  EXPECT_EQ(Header(line, "webhook-signature"), "");
  EXPECT_EQ(Header(line, "webhook-id"), "");
}

// TestConnection sends the app's dialect: the vendor's check answers 401 to anything else.
TEST_F(DialectsTest, TestConnectionSpeaksTheAppsDialect) {
  const std::string secret = "gh-webhook-secret-test-conn-01";
  Configure("/github-ping", "github", secret);
  v1::App github = CreateApp("github-ping", Url("/github-ping"), secret, WithPreset("github"));
  v1::TestConnectionResponse response = TestConnection(github.id());
  EXPECT_TRUE(response.success()) << response.error() << "; " << Describe("/github-ping");
  EXPECT_EQ(response.status_code(), 200);
  Json line = FirstLine("/github-ping");
  EXPECT_EQ(Header(line, "x-github-event"), "hookd.ping");

  // The receiver holding another secret refuses it, and TestConnection says so.
  Configure("/github-ping-wrong", "github", "not-the-apps-secret-0123");
  v1::App wrong = CreateApp("github-ping", Url("/github-ping-wrong"), secret, WithPreset("github"));
  response = TestConnection(wrong.id());
  EXPECT_FALSE(response.success());
  EXPECT_EQ(response.status_code(), 401);

  // A template and its signature: VideoPilot's Node snippet checks both.
  const std::string vp_secret = "vp_ping_secret_0123456789abcdef";
  Configure("/videopilot-ping", "videopilot-node", vp_secret);
  auto videopilot = [](v1::App& app) {
    app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
    app.set_payload_template(
        R"({"event":"{{event_type}}","data":"{{payload}}","timestamp":"{{timestamp}}"})");
    v1::SignatureProfile* profile = app.add_signature_profiles();
    profile->set_signature_header("X-VideoPilot-Signature");
    profile->set_signature_format("sha256={sig}");
    profile->set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  };
  v1::App vp = CreateApp("videopilot-ping", Url("/videopilot-ping"), vp_secret, videopilot);
  response = TestConnection(vp.id());
  EXPECT_TRUE(response.success()) << response.error() << "; " << Describe("/videopilot-ping");
}

TEST_F(DialectsTest, StripePreset) {
  // Stripe's secrets are whsec_ values; its library keys the HMAC with the whole text.
  const std::string secret = NewSigningSecret();
  Configure("/stripe", "stripe", secret);
  CreateApp("stripe", Url("/stripe"), secret, WithPreset("stripe"));
  Publish("stripe", "video.ready", kPayload);
  Json line = FirstLine("/stripe");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  const std::string header = Header(line, "stripe-signature");
  EXPECT_TRUE(Matches(header, "t=[0-9]+,v1=[0-9a-f]{64}")) << header;
  std::vector<std::string> parts = absl::StrSplit(header, ',');
  ASSERT_GE(parts.size(), 1u);
  EXPECT_TRUE(IsRecent(parts[0].substr(2))) << header;
  EXPECT_EQ(Body(line), kPayload);
  EXPECT_EQ(Header(line, "webhook-signature"), "");
}

TEST_F(DialectsTest, ShopifyPreset) {
  const std::string secret = "shpss_0123456789abcdef0123456789abcdef";
  Configure("/shopify", "shopify", secret);
  CreateApp("shopify", Url("/shopify"), secret, WithPreset("shopify"));
  const std::string event_id = Publish("shopify", "video.ready", kPayload);
  Json line = FirstLine("/shopify");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(Header(line, "x-shopify-webhook-id"), event_id);
  EXPECT_EQ(Header(line, "x-shopify-topic"), "video.ready");
  EXPECT_TRUE(Matches(Header(line, "x-shopify-hmac-sha256"), "[A-Za-z0-9+/]{43}=")) << line.dump();
  EXPECT_EQ(Body(line), kPayload);
  EXPECT_EQ(Header(line, "webhook-signature"), "");
}

TEST_F(DialectsTest, SlackPreset) {
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  Configure("/slack", "slack", secret);
  CreateApp("slack", Url("/slack"), secret, WithPreset("slack"));
  Publish("slack", "video.ready", kPayload);
  Json line = FirstLine("/slack");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_TRUE(IsRecent(Header(line, "x-slack-request-timestamp"))) << line.dump();
  EXPECT_TRUE(Matches(Header(line, "x-slack-signature"), "v0=[0-9a-f]{64}")) << line.dump();
  EXPECT_EQ(Body(line), kPayload);
  EXPECT_EQ(Header(line, "webhook-signature"), "");
}

// ---- Rotations: a receiver that switched to the new secret verifies at once; where every
// valid key signs (Standard Webhooks, Stripe), one still on the old secret does too. ----

// GitHub, Shopify and Slack sign with the newest key only: the receiver that switched to the new
// secret verifies (the first event may precede the worker's view of the rotation).
TEST_F(DialectsTest, GitHubRotation) {
  const std::string a = "gh-secret-before-rotation-0001";
  const std::string b = "gh-secret-after-rotation-0002";
  Configure("/github-rotated", "github", b);
  v1::App app = CreateApp("github-rot", Url("/github-rotated"), a, WithPreset("github"));
  RotateSecret(app.id(), b);
  Json line = PublishUntil("github-rot", "video.ready", kPayload, 1, "/github-rotated", Ok);
  ASSERT_FALSE(line.is_null());
  // Newest key only: one signature, the new one.
  EXPECT_TRUE(Matches(Header(line, "x-hub-signature-256"), "sha256=[0-9a-f]{64}")) << line.dump();
}

TEST_F(DialectsTest, ShopifyRotation) {
  const std::string a = "shopify-secret-before-0001";
  const std::string b = "shopify-secret-after-0002";
  Configure("/shopify-rotated", "shopify", b);
  v1::App app = CreateApp("shopify-rot", Url("/shopify-rotated"), a, WithPreset("shopify"));
  RotateSecret(app.id(), b);
  Json line = PublishUntil("shopify-rot", "video.ready", kPayload, 1, "/shopify-rotated", Ok);
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Matches(Header(line, "x-shopify-hmac-sha256"), "[A-Za-z0-9+/]{43}=")) << line.dump();
}

TEST_F(DialectsTest, SlackRotation) {
  const std::string a = "slack-signing-secret-before-01";
  const std::string b = "slack-signing-secret-after-002";
  Configure("/slack-rotated", "slack", b);
  v1::App app = CreateApp("slack-rot", Url("/slack-rotated"), a, WithPreset("slack"));
  RotateSecret(app.id(), b);
  Json line = PublishUntil("slack-rot", "video.ready", kPayload, 1, "/slack-rotated", Ok);
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Matches(Header(line, "x-slack-signature"), "v0=[0-9a-f]{64}")) << line.dump();
}

// Two entries in a Stripe-Signature header: `t=..,v1=..,t=..,v1=..`.
bool TwoStripeSignatures(const Json& line) {
  return Matches(Header(line, "stripe-signature"),
                 "t=[0-9]+,v1=[0-9a-f]{64},t=[0-9]+,v1=[0-9a-f]{64}");
}

// Two space-separated `v1,` entries in webhook-signature.
bool TwoStandardSignatures(const Json& line) {
  return Matches(Header(line, "webhook-signature"), "v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=");
}

// For profiles where every valid key signs: two apps of `tenant` made with secret A and rotated
// alike to B; the receiver that switched to B and the one still holding A both verify deliveries
// that carry `two_signatures`.
void DialectsTest::ExpectBothSecretsVerify(const std::string& tenant, const std::string& verifier,
                                           const std::function<void(v1::App&)>& customize,
                                           bool (*two_signatures)(const Json&)) {
  const std::string a = NewSigningSecret();
  const std::string b = NewSigningSecret();
  const std::string fresh_path = "/" + tenant + "-new";
  const std::string old_path = "/" + tenant + "-old";
  Configure(fresh_path, verifier, b);
  Configure(old_path, verifier, a);
  v1::App fresh = CreateApp(tenant, Url(fresh_path), a, customize);
  v1::App old = CreateApp(tenant, Url(old_path), a, customize);
  RotateSecret(fresh.id(), b);
  RotateSecret(old.id(), b);
  for (const std::string& path : {fresh_path, old_path}) {
    Json line = PublishUntil(tenant, "video.ready", kPayload, 2, path,
                             [&](const Json& l) { return Ok(l) && two_signatures(l); });
    ASSERT_FALSE(line.is_null()) << path;
  }
}

TEST_F(DialectsTest, StripeRotation) {
  ExpectBothSecretsVerify("stripe-rot", "stripe", WithPreset("stripe"), TwoStripeSignatures);
}

TEST_F(DialectsTest, StandardWebhooksRotation) {
  ExpectBothSecretsVerify("sw-rot", "standardwebhooks", nullptr, TwoStandardSignatures);
}

// ---- The seeds' recipes (README) ----

// VideoPilot (seed 002): {"event","data","timestamp"} and X-VideoPilot-Signature: sha256=<hex
// HMAC of the body keyed by the secret's text>.
void VideoPilotApp(v1::App& app) {
  app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
  app.set_payload_template(
      R"({"event":"{{event_type}}","data":"{{payload}}","timestamp":"{{timestamp}}"})");
  v1::SignatureProfile* profile = app.add_signature_profiles();
  profile->set_signature_header("X-VideoPilot-Signature");
  profile->set_signature_format("sha256={sig}");
  profile->set_signed_content("{body}");
  profile->set_encoding(v1::SIGNATURE_ENCODING_HEX);
  profile->set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  profile->set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
}

const char kRenderCompleted[] =
    R"({"render_job_id":"render_789xyz","video_id":"video_123abc","status":"completed",)"
    R"("output_url":"https://cdn.videopilot.app/videos/video_123abc_high.mp4","duration":87.5,)"
    R"("file_size":25690112,"quality":"high"})";

void ExpectVideoPilotBody(const Json& line) {
  EXPECT_TRUE(Matches(Header(line, "x-videopilot-signature"), "sha256=[0-9a-f]{64}"))
      << line.dump();
  const std::string body = Body(line);
  auto parsed = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_object()) << body;
  std::vector<std::string> keys;
  for (auto it = parsed.begin(); it != parsed.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"event", "data", "timestamp"})) << body;
  EXPECT_EQ(parsed.value("event", ""), "render.completed");
  EXPECT_EQ(Json::parse(parsed["data"].dump()), Json::parse(kRenderCompleted)) << body;
  // The payload is embedded byte for byte.
  EXPECT_TRUE(absl::StrContains(body, std::string("\"data\":") + kRenderCompleted)) << body;
  ASSERT_TRUE(parsed["timestamp"].is_string()) << body;
  absl::Time time;
  std::string error;
  EXPECT_TRUE(
      absl::ParseTime(absl::RFC3339_full, parsed["timestamp"].get<std::string>(), &time, &error))
      << error << ": " << body;
  EXPECT_LE(absl::AbsDuration(absl::Now() - time), absl::Minutes(5)) << body;
}

TEST_F(DialectsTest, VideoPilotRecipeNode) {
  const std::string secret = "vp_live_secret_0123456789abcdef";
  Configure("/videopilot-node", "videopilot-node", secret);
  CreateApp("videopilot-node", Url("/videopilot-node"), secret, VideoPilotApp);
  Publish("videopilot-node", "render.completed", kRenderCompleted);
  Json line = FirstLine("/videopilot-node");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(line.value("verifier", ""), "videopilot-node");
  ExpectVideoPilotBody(line);
}

TEST_F(DialectsTest, VideoPilotRecipePython) {
  const std::string secret = NewSigningSecret();  // whsec_ text works just as well
  Configure("/videopilot-python", "videopilot-python", secret);
  CreateApp("videopilot-python", Url("/videopilot-python", /*python=*/true), secret, VideoPilotApp);
  Publish("videopilot-python", "render.completed", kRenderCompleted);
  Json line = FirstLine("/videopilot-python");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(line.value("verifier", ""), "videopilot-python");
  ExpectVideoPilotBody(line);
}

// Elai (seed 001): Delivery-ID, Elai-Timestamp in ms, Elai-Signature in hex; what is signed is
// the recipe's assumption, "{timestamp}.{body}".
TEST_F(DialectsTest, ElaiRecipe) {
  const std::string secret = "elai_webhook_secret_0123456789";
  Configure("/elai", "elai", secret);
  CreateApp("elai", Url("/elai"), secret, [](v1::App& app) {
    app.set_payload_format(v1::PAYLOAD_FORMAT_RAW);
    v1::SignatureProfile* profile = app.add_signature_profiles();
    profile->set_id_header("Delivery-ID");
    profile->set_timestamp_header("Elai-Timestamp");
    profile->set_timestamp_unit(v1::TIMESTAMP_UNIT_MILLISECONDS);
    profile->set_signature_header("Elai-Signature");
    profile->set_signed_content("{timestamp}.{body}");
    profile->set_encoding(v1::SIGNATURE_ENCODING_HEX);
    profile->set_signature_format("{sig}");
    profile->set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
    profile->set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  });
  const std::string payload =
      R"({"event":"video_ready","error":null,"video":{"_id":"627e1c5ef461482766f35f4a",)"
      R"("status":"ready","name":"Hello John!","duration":3.456}})";
  const std::string event_id = Publish("elai", "video_ready", payload);
  Json line = FirstLine("/elai");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  EXPECT_EQ(Header(line, "delivery-id"), event_id);
  EXPECT_TRUE(Matches(Header(line, "elai-timestamp"), "[0-9]{13}")) << line.dump();
  EXPECT_TRUE(IsRecent(Header(line, "elai-timestamp"), /*ms=*/true)) << line.dump();
  EXPECT_TRUE(Matches(Header(line, "elai-signature"), "[0-9a-f]{64}")) << line.dump();
  EXPECT_EQ(Body(line), payload);
  EXPECT_EQ(Header(line, "webhook-signature"), "");
}

// Targetvideo (seed 003): signs nothing; the customer-chosen secret and a unix timestamp are
// added to the payload's own members.
TEST_F(DialectsTest, TargetvideoRecipe) {
  const std::string secret = "your_secret_key_0123";
  Configure("/targetvideo", "targetvideo", secret);
  CreateApp("targetvideo", Url("/targetvideo"), secret, [](v1::App& app) {
    app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
    app.set_payload_template(
        R"({"...":"{{payload}}","timestamp":"{{timestamp_unix}}","secret":"{{secret}}"})");
    *app.add_signature_profiles() = Preset("none");
  });
  const std::string payload =
      R"({"response":{"Video":{"id":"734392"},"EncodingStatus":{"sd":"1","hd":"1"},)"
      R"("invoked_by":"MediaConvert"},"event":"sd_encoded","scope":"Controller.Encodings",)"
      R"("method":"sd_encoded","data":{"Video":{"id":"734392"},"invoked_by":"MediaConvert"},)"
      R"("api":false})";
  Publish("targetvideo", "sd_encoded", payload);
  Json line = FirstLine("/targetvideo");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
  // No signature of any kind.
  EXPECT_EQ(Header(line, "webhook-signature"), "");
  EXPECT_EQ(Header(line, "webhook-id"), "");
  Json body = Json::parse(Body(line), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(body.is_object()) << line.dump();
  EXPECT_EQ(body.value("secret", ""), secret);
  ASSERT_TRUE(body.contains("timestamp") && body["timestamp"].is_number_integer()) << body.dump();
  EXPECT_LE(std::abs(body["timestamp"].get<int64_t>() - absl::ToUnixSeconds(absl::Now())), 300);
  // The published members at the top level, as published.
  Json published = Json::parse(payload);
  for (const auto& [key, value] : published.items()) {
    ASSERT_TRUE(body.contains(key)) << key << " missing: " << body.dump();
    EXPECT_EQ(body[key], value) << key;
  }
  EXPECT_EQ(body.size(), published.size() + 2) << body.dump();
}

// A template that cannot be rendered for one event fails that attempt, logged with the reason;
// the worker goes on delivering the next event.
TEST_F(DialectsTest, ATemplateFailingForOneEventFailsOnlyThatAttempt) {
  const std::string secret = "your_secret_key_render_fail";
  Configure("/targetvideo-clash", "targetvideo", secret);
  v1::App app = CreateApp("targetvideo-clash", Url("/targetvideo-clash"), secret, [](v1::App& a) {
    a.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
    a.set_payload_template(R"({"...":"{{payload}}","timestamp":"{{timestamp_unix}}",)"
                           R"("secret":"{{secret}}"})");
    *a.add_signature_profiles() = Preset("none");
  });
  // The publisher sent a "secret" of its own: the merge would repeat the member.
  Publish("targetvideo-clash", "sd_encoded", R"({"event":"sd_encoded","secret":"x"})");
  auto deliveries = v1::DeliveryService::NewStub(bed_->cluster->subscription_channel());
  v1::Delivery failed;
  ASSERT_TRUE(PollUntil([&] {
    v1::ListDeliveriesRequest list;
    list.set_app_id(app.id());
    v1::ListDeliveriesResponse page;
    if (!deliveries->ListDeliveries(ClientContext(token()).get(), list, &page).ok() ||
        page.deliveries().empty() || page.deliveries(0).attempt_count() < 1) {
      return false;
    }
    v1::GetDeliveryRequest get;
    get.set_id(page.deliveries(0).id());
    return deliveries->GetDelivery(ClientContext(token()).get(), get, &failed).ok() &&
           failed.attempts_size() >= 1;
  })) << "no attempt logged";
  const v1::Attempt& attempt = failed.attempts(0);
  EXPECT_EQ(attempt.error(), v1::ATTEMPT_ERROR_PAYLOAD_TEMPLATE) << attempt.DebugString();
  EXPECT_EQ(attempt.status_code(), 0);
  EXPECT_TRUE(absl::StrContains(attempt.error_detail(), "\"secret\"")) << attempt.error_detail();
  EXPECT_FALSE(absl::StrContains(attempt.error_detail(), secret)) << attempt.error_detail();
  EXPECT_TRUE(Lines("/targetvideo-clash").empty()) << "nothing was sent";

  // The next event of the same app is delivered.
  Publish("targetvideo-clash", "sd_encoded", R"({"event":"sd_encoded"})");
  Json line = FirstLine("/targetvideo-clash");
  ASSERT_FALSE(line.is_null());
  EXPECT_TRUE(Ok(line)) << line.dump();
}

}  // namespace
}  // namespace hookd::e2e
