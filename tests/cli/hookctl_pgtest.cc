// Runs the real hookctl binary against in-process hookd-subscription and hookd-ingest servers on
// a test database (and the test Redis), and checks exit codes and output as an operator or a
// script would see them.

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hookd/http/ip_policy.h"
#include "hookd/ingest/server.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/log_rows.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pdf_table.h"
#include "pqxx/pqxx"

extern char** environ;

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAdminToken[] = "test-admin-token";
// base64 of the bytes 0..31.
constexpr char kMasterKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "exit " << o.exit_code << "\n--- stdout\n" << o.out << "--- stderr\n" << o.err;
}

// Runs `program` (a path, or a name looked up in PATH) with exactly `args`, an environment
// without HOOKD_SERVER, HOOKD_INGEST_SERVER and HOOKD_TOKEN plus `env`, and collects both output
// streams and the exit code. posix_spawn rather than fork: the test process runs gRPC threads,
// and only exec may follow a fork in a threaded process.
Outcome SpawnProgram(const std::string& program, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (entry.rfind("HOOKD_SERVER=", 0) == 0 || entry.rfind("HOOKD_INGEST_SERVER=", 0) == 0 ||
        entry.rfind("HOOKD_TOKEN=", 0) == 0) {
      continue;
    }
    env_strings.push_back(std::move(entry));
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings = {program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  Outcome outcome;
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
    posix_spawn_file_actions_addclose(&actions, fd);
  }
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(spawned);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return outcome;
  }
  // Both pipes are drained together so that a child filling one of them never blocks.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&outcome.out, &outcome.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

// hookctl with exactly `args`, as SpawnProgram runs it.
Outcome Spawn(const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {}) {
  return SpawnProgram(HOOKCTL_PATH, args, env);
}

nlohmann::json ParseJson(const Outcome& outcome) {
  auto json = nlohmann::json::parse(outcome.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << "stdout is not JSON:\n" << outcome;
  return json;
}

// Writes `content` byte for byte to `name` in the test's temporary directory; returns the path.
std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/hookctl_pgtest_" + name;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  EXPECT_TRUE(file.good()) << path;
  return path;
}

class HookctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = hookd::testing::TestDatabase::Create("hookctl");
    ASSERT_TRUE(db.ok()) << db.status();
    database_ = std::move(*db).release();
    // Before hookd-subscription starts: it gets the Redis too, so that deliveries retry and
    // recover queue at once rather than through hookd-ingest's outbox sweeper.
    auto redis = hookd::testing::TestRedisOptions("hookctl");
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = new hookd::RedisOptions(*redis);
    hookd::subscription::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.postgres.url = database_->url();
    options.admin_token = kAdminToken;
    options.master_key = kMasterKey;
    options.redis = *redis_;
    options.validation.allow_http = true;
    auto allowlist = hookd::http::ParseAllowlist("127.0.0.0/8");
    ASSERT_TRUE(allowlist.ok()) << allowlist.status();
    options.validation.private_allowlist = *allowlist;
    auto server = hookd::subscription::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server).release();

    // Before hookd-ingest starts, so that its first full app sync already routes video.ready
    // of acme to this app: no waiting on the change feed in the tests.
    Outcome type = Admin({"event-types", "create", "video.ready"});
    ASSERT_EQ(type.exit_code, 0) << type;
    acme_app_ = new std::string(CreateApp("acme", "Event receiver"));
    ASSERT_FALSE(acme_app_->empty());

    hookd::ingest::ServerOptions ingest_options;
    ingest_options.listen = "127.0.0.1:0";
    ingest_options.postgres.url = database_->url();
    ingest_options.redis = *redis_;
    ingest_options.admin_token = kAdminToken;
    ingest_options.subscription_addr = Address();
    auto ingest = hookd::ingest::Server::Start(ingest_options);
    ASSERT_TRUE(ingest.ok()) << ingest.status();
    ingest_ = std::move(*ingest).release();
    // Publish answers UNAVAILABLE until routing has its first app sync.
    ASSERT_TRUE(hookd::testing::PollUntil([] { return ingest_->ready(); }))
        << "hookd-ingest never got its first app sync";
  }

  static void TearDownTestSuite() {
    // hookd-ingest first: it follows hookd-subscription's change feed and uses the database.
    delete ingest_;
    ingest_ = nullptr;
    delete server_;
    server_ = nullptr;
    if (redis_ != nullptr) {
      EXPECT_TRUE(hookd::testing::DeleteKeys(*redis_).ok());
    }
    delete redis_;
    redis_ = nullptr;
    delete acme_app_;
    acme_app_ = nullptr;
    delete database_;
    database_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not start";
    ASSERT_NE(ingest_, nullptr) << "hookd-ingest did not start";
  }

  static std::string Address() { return "127.0.0.1:" + std::to_string(server_->port()); }
  static std::string IngestAddress() { return "127.0.0.1:" + std::to_string(ingest_->port()); }

  // hookctl as the admin against hookd-ingest: --ingest-server and --token, then `args`.
  static Outcome Ingest(std::vector<std::string> args) {
    args.insert(args.begin(), {"--ingest-server", IngestAddress(), "--token", kAdminToken});
    return Spawn(args);
  }

  // hookctl as the admin: --server and --token, then `args`.
  static Outcome Admin(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", Address(), "--token", kAdminToken});
    return Spawn(args);
  }

  // Creates an app of `tenant` and returns its id.
  static std::string CreateApp(const std::string& tenant, const std::string& name,
                               std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--json",       "apps",    "create",
                                     "--tenant",     tenant,    "--name",
                                     name,           "--url",   "http://127.0.0.1:9/hook",
                                     "--event-type", "video.*", "--skip-test"};
    args.insert(args.end(), extra.begin(), extra.end());
    Outcome created = Admin(args);
    EXPECT_EQ(created.exit_code, 0) << created;
    nlohmann::json app = ParseJson(created);
    if (!app.is_object() || !app.contains("id")) return "";
    return app["id"].get<std::string>();
  }

  static hookd::testing::TestDatabase* database_;
  static hookd::subscription::Server* server_;
  static hookd::RedisOptions* redis_;
  static hookd::ingest::Server* ingest_;
  // The id of the one app of tenant acme the suite starts with.
  static std::string* acme_app_;
};

hookd::testing::TestDatabase* HookctlTest::database_ = nullptr;
hookd::subscription::Server* HookctlTest::server_ = nullptr;
hookd::RedisOptions* HookctlTest::redis_ = nullptr;
hookd::ingest::Server* HookctlTest::ingest_ = nullptr;
std::string* HookctlTest::acme_app_ = nullptr;

// The events tests run as a suite of their own: gtest sets the fixture up again for it, with a
// fresh database, so acme has exactly the one app of SetUpTestSuite and every publish fans out
// to exactly one delivery, whatever apps the other tests create and in whatever order they run.
class HookctlEventsTest : public HookctlTest {};

TEST_F(HookctlTest, EventTypesCreateListArchive) {
  Outcome created = Admin({"event-types", "create", "cli.video.ready", "--description",
                           "A render finished", "--schema", R"({"type":"object"})"});
  ASSERT_EQ(created.exit_code, 0) << created;
  EXPECT_THAT(created.out,
              AllOf(HasSubstr("name:"), HasSubstr("cli.video.ready"),
                    HasSubstr("A render finished"), HasSubstr("schema:"), HasSubstr("\"object\"")));
  EXPECT_EQ(created.err, "");

  Outcome again = Admin({"event-types", "create", "cli.video.ready"});
  EXPECT_EQ(again.exit_code, 1) << again;
  EXPECT_THAT(again.err, StartsWith("hookctl: ALREADY_EXISTS: "));
  EXPECT_EQ(again.out, "");

  Outcome listed = Admin({"event-types", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  EXPECT_THAT(listed.out, StartsWith("NAME"));
  EXPECT_THAT(listed.out, AllOf(HasSubstr("ARCHIVED"), HasSubstr("DESCRIPTION"),
                                HasSubstr("cli.video.ready"), HasSubstr("A render finished")));

  Outcome archived = Admin({"event-types", "archive", "cli.video.ready"});
  ASSERT_EQ(archived.exit_code, 0) << archived;
  EXPECT_THAT(archived.out, testing::ContainsRegex("archived: +true"));

  Outcome active_only = Admin({"event-types", "list"});
  ASSERT_EQ(active_only.exit_code, 0) << active_only;
  EXPECT_THAT(active_only.out, Not(HasSubstr("cli.video.ready")));

  Outcome with_archived = Admin({"--json", "event-types", "list", "--include-archived"});
  ASSERT_EQ(with_archived.exit_code, 0) << with_archived;
  nlohmann::json json = ParseJson(with_archived);
  ASSERT_TRUE(json.contains("event_types")) << with_archived;
  bool found = false;
  for (const auto& type : json["event_types"]) {
    if (type["name"] == "cli.video.ready") {
      found = true;
      EXPECT_EQ(type["archived"], true);
      EXPECT_EQ(type["description"], "A render finished");
    }
  }
  EXPECT_TRUE(found) << with_archived;

  Outcome missing = Admin({"event-types", "archive", "cli.no.such"});
  EXPECT_EQ(missing.exit_code, 1) << missing;
  EXPECT_THAT(missing.err, StartsWith("hookctl: NOT_FOUND: "));
}

TEST_F(HookctlTest, EventTypesSchemaFromFileAndBadSchema) {
  std::string path = ::testing::TempDir() + "/hookctl_schema.json";
  {
    FILE* file = fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    fputs(R"({"type": "object", "required": ["id"]})", file);
    fclose(file);
  }
  Outcome created =
      Admin({"--json", "event-types", "create", "cli.file.schema", "--schema=@" + path});
  ASSERT_EQ(created.exit_code, 0) << created;
  nlohmann::json json = ParseJson(created);
  EXPECT_EQ(json["name"], "cli.file.schema");
  EXPECT_THAT(json["schema"].get<std::string>(), HasSubstr("required"));

  Outcome bad = Admin({"event-types", "create", "cli.bad.schema", "--schema", "[1,2"});
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_THAT(bad.err, HasSubstr("--schema: not a JSON object"));

  Outcome invalid_name = Admin({"event-types", "create", "Not Valid"});
  EXPECT_EQ(invalid_name.exit_code, 1) << invalid_name;
  EXPECT_THAT(invalid_name.err, StartsWith("hookctl: INVALID_ARGUMENT: event_type.name"));
}

TEST_F(HookctlTest, CreateShowsTheSecretOnceAndGetNever) {
  Outcome created = Admin({"apps", "create", "--tenant", "acme", "--name", "Renders", "--url",
                           "http://127.0.0.1:9/hook", "--event-type", "video.ready", "--event-type",
                           "render.*", "--skip-test"});
  ASSERT_EQ(created.exit_code, 0) << created;
  EXPECT_THAT(created.out,
              AllOf(HasSubstr("secret:"), HasSubstr("whsec_"), HasSubstr("shown only once"),
                    HasSubstr("video.ready, render.*"), HasSubstr("tenant:")));

  Outcome created_json =
      Admin({"--json", "apps", "create", "--tenant", "acme", "--name", "Renders 2",
             "--url=http://127.0.0.1:9/hook2", "--event-type=*", "--skip-test"});
  ASSERT_EQ(created_json.exit_code, 0) << created_json;
  nlohmann::json app = ParseJson(created_json);
  std::string id = app["id"].get<std::string>();
  EXPECT_THAT(id, StartsWith("app_"));
  EXPECT_THAT(app["secret"].get<std::string>(), StartsWith("whsec_"));
  EXPECT_EQ(app["tenant"], "acme");
  EXPECT_EQ(app["active"], true);
  EXPECT_EQ(app["event_types"], nlohmann::json::array({"*"}));

  Outcome got = Admin({"apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  EXPECT_THAT(got.out, AllOf(HasSubstr(id), HasSubstr("Renders 2"),
                             HasSubstr("http://127.0.0.1:9/hook2"), HasSubstr("active:")));
  EXPECT_THAT(got.out, Not(HasSubstr("whsec_")));
  EXPECT_THAT(got.out, Not(HasSubstr("secret:")));
  EXPECT_THAT(got.out, Not(HasSubstr("shown only once")));

  Outcome got_json = Admin({"--json", "apps", "get", id});
  ASSERT_EQ(got_json.exit_code, 0) << got_json;
  EXPECT_THAT(got_json.out, Not(HasSubstr("whsec_")));
  EXPECT_EQ(ParseJson(got_json)["id"], id);
  // Global flags anywhere on the line, as kubectl and gh take them.
  Outcome json_after = Admin({"apps", "get", id, "--json"});
  ASSERT_EQ(json_after.exit_code, 0) << json_after;
  EXPECT_EQ(json_after.out, got_json.out);
  Outcome all_after = Spawn(
      {"apps", "get", "--server", Address(), id, "--json", "--token", kAdminToken, "--timeout=5s"});
  ASSERT_EQ(all_after.exit_code, 0) << all_after;
  EXPECT_EQ(all_after.out, got_json.out);
}

TEST_F(HookctlTest, SignatureSchemePayloadFormatAndCompatHeader) {
  Outcome ed25519 =
      Admin({"apps", "create", "--tenant", "acme", "--name", "Ed", "--url", "http://127.0.0.1:9/ed",
             "--event-type", "*", "--signature", "v1a", "--payload-format", "raw", "--skip-test"});
  ASSERT_EQ(ed25519.exit_code, 0) << ed25519;
  EXPECT_THAT(ed25519.out,
              AllOf(HasSubstr("SIGNATURE_SCHEME_V1A_ED25519"), HasSubstr("public_key:"),
                    HasSubstr("whpk_"), HasSubstr("PAYLOAD_FORMAT_RAW")));
  EXPECT_THAT(ed25519.out, Not(HasSubstr("whsk_")));  // the secret key never leaves hookd
  Outcome compat = Admin({"apps", "create", "--tenant", "acme", "--name", "Hub", "--url",
                          "http://127.0.0.1:9/hub", "--event-type", "*",
                          "--compat-signature-header", "X-Hub-Signature-256", "--skip-test"});
  ASSERT_EQ(compat.exit_code, 0) << compat;
  EXPECT_THAT(compat.out, HasSubstr("X-Hub-Signature-256"));
  Outcome bad =
      Admin({"apps", "create", "--tenant", "acme", "--name", "Bad", "--url",
             "http://127.0.0.1:9/bad", "--event-type", "*", "--signature", "v2", "--skip-test"});
  EXPECT_EQ(bad.exit_code, 2) << bad;
}

TEST_F(HookctlTest, SignaturePresetsAndAChosenSecret) {
  const std::string secret = "customer-chosen-secret-0001";
  const std::string secret_file = WriteTempFile("github_secret", secret + "\n");
  Outcome created =
      Admin({"--json", "apps", "create", "--tenant", "acme", "--name", "Hub style", "--url",
             "http://127.0.0.1:9/github", "--event-type", "*", "--signature-preset", "github",
             "--secret-file", secret_file, "--skip-test"});
  ASSERT_EQ(created.exit_code, 0) << created;
  nlohmann::json app = ParseJson(created);
  EXPECT_EQ(app["secret"], secret);  // without the file's newline
  ASSERT_EQ(app["signature_profiles"].size(), 1u) << created;
  EXPECT_EQ(app["signature_profiles"][0]["preset"], "github");
  EXPECT_EQ(app["signature_profiles"][0]["signature_header"], "X-Hub-Signature-256");
  const std::string id = app["id"].get<std::string>();

  // The preset comes back filled in; the secret never again.
  Outcome got = Admin({"apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  EXPECT_THAT(
      got.out,
      AllOf(HasSubstr("signature_profiles[0]:"), HasSubstr("preset=github"),
            HasSubstr("id_header=X-GitHub-Delivery"), HasSubstr("event_type_header=X-GitHub-Event"),
            HasSubstr("signature_header=X-Hub-Signature-256"), HasSubstr("algorithm=hmac_sha256"),
            HasSubstr("signature_format=sha256={sig}"), HasSubstr("key=secret_text"),
            HasSubstr("rotation=newest_key")));
  EXPECT_THAT(got.out, Not(HasSubstr(secret)));
  EXPECT_THAT(got.out, Not(HasSubstr("secret:")));

  // rotate-secret --secret-file: the chosen secret is the new current key.
  const std::string rotated_secret = "rotated-customer-secret-0002";
  const std::string rotated_file = WriteTempFile("rotated_secret", rotated_secret + "\r\n");
  Outcome rotated = Admin(
      {"--json", "apps", "rotate-secret", id, "--secret-file", rotated_file, "--grace", "1h"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated;
  nlohmann::json after = ParseJson(rotated);
  EXPECT_EQ(after["secret"], rotated_secret);
  EXPECT_EQ(after["signing_keys"].size(), 2u) << rotated;

  // A text secret cannot key the default Standard Webhooks profile; the refusal does not
  // repeat the secret.
  std::string standard = CreateApp("acme", "Standard");
  ASSERT_FALSE(standard.empty());
  Outcome refused = Admin({"apps", "rotate-secret", standard, "--secret-file", rotated_file});
  EXPECT_EQ(refused.exit_code, 1) << refused;
  EXPECT_THAT(refused.err, StartsWith("hookctl: INVALID_ARGUMENT: "));
  EXPECT_THAT(refused.err, Not(HasSubstr(rotated_secret)));
  EXPECT_EQ(refused.out, "");

  Outcome empty =
      Admin({"apps", "rotate-secret", id, "--secret-file", WriteTempFile("empty_secret", "\n")});
  EXPECT_EQ(empty.exit_code, 2) << empty;
  EXPECT_THAT(empty.err, HasSubstr("--secret-file: "));
  EXPECT_THAT(empty.err, HasSubstr(" is empty"));
}

TEST_F(HookctlTest, SignatureProfileFileFollowsThePresetsAndUpdateReplacesThem) {
  const std::string profiles = WriteTempFile(
      "profiles.json",
      R"([{"signature_header": "X-VideoPilot-Signature", "signature_format": "sha256={sig}"}])");
  std::string id =
      CreateApp("acme", "Two signatures",
                {"--signature-profile-file", profiles, "--signature-preset", "standard-webhooks"});
  ASSERT_FALSE(id.empty());
  Outcome got = Admin({"--json", "apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  nlohmann::json app = ParseJson(got);
  ASSERT_EQ(app["signature_profiles"].size(), 2u) << got;
  EXPECT_EQ(app["signature_profiles"][0]["preset"], "standard-webhooks");
  EXPECT_EQ(app["signature_profiles"][0]["signature_header"], "webhook-signature");
  EXPECT_EQ(app["signature_profiles"][1]["preset"], "");
  EXPECT_EQ(app["signature_profiles"][1]["signature_header"], "X-VideoPilot-Signature");
  EXPECT_EQ(app["signature_profiles"][1]["signature_format"], "sha256={sig}");
  Outcome human = Admin({"apps", "get", id});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out,
              AllOf(HasSubstr("signature_profiles[0]:"), HasSubstr("preset=standard-webhooks"),
                    HasSubstr("signature_profiles[1]:"),
                    HasSubstr("signature_header=X-VideoPilot-Signature")));

  // Update replaces the whole list and leaves the rest alone.
  Outcome updated = Admin({"--json", "apps", "update", id, "--signature-preset", "shopify"});
  ASSERT_EQ(updated.exit_code, 0) << updated;
  nlohmann::json changed = ParseJson(updated);
  ASSERT_EQ(changed["signature_profiles"].size(), 1u) << updated;
  EXPECT_EQ(changed["signature_profiles"][0]["preset"], "shopify");
  EXPECT_EQ(changed["signature_profiles"][0]["signature_header"], "X-Shopify-Hmac-Sha256");
  EXPECT_EQ(changed["name"], "Two signatures");

  const std::string bad = WriteTempFile("bad_profiles.json",
                                        R"([{"preset": "github"}, {"signature_heder": "X-Typo"}])");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"apps", "update", id, "--signature-profile-file", bad},
        std::vector<std::string>{"apps", "create", "--tenant", "acme", "--name", "Bad", "--url",
                                 "http://127.0.0.1:9/bad", "--event-type", "*",
                                 "--signature-profile-file", bad, "--skip-test"}}) {
    Outcome refused = Admin(args);
    EXPECT_EQ(refused.exit_code, 2) << refused;
    EXPECT_THAT(refused.err, StartsWith("hookctl: --signature-profile-file: " + bad +
                                        ": element [1] is not a SignatureProfile"))
        << refused;
    EXPECT_THAT(refused.err, HasSubstr("Usage: hookctl apps " + args[1]));
    EXPECT_EQ(refused.out, "") << refused;
  }

  Outcome unknown = Admin({"apps", "update", id, "--signature-preset", "gitlab"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown;
  EXPECT_THAT(unknown.err, AllOf(StartsWith("hookctl: INVALID_ARGUMENT: "), HasSubstr("preset"),
                                 HasSubstr("github")));
}

TEST_F(HookctlTest, PayloadTemplateFileSetsTheTemplateFormat) {
  const std::string text =
      "{\"type\": \"{{event_type}}\", \"id\": \"{{event_id}}\", \"data\": \"{{payload}}\"}\n";
  const std::string file = WriteTempFile("template.json", text);
  Outcome created = Admin({"--json", "apps", "create", "--tenant", "acme", "--name", "Templated",
                           "--url", "http://127.0.0.1:9/templated", "--event-type", "*",
                           "--payload-template-file", file, "--skip-test"});
  ASSERT_EQ(created.exit_code, 0) << created;
  nlohmann::json app = ParseJson(created);
  EXPECT_EQ(app["payload_format"], "PAYLOAD_FORMAT_TEMPLATE");
  EXPECT_EQ(app["payload_template"], text);
  const std::string id = app["id"].get<std::string>();

  Outcome got = Admin({"apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  EXPECT_THAT(got.out, AllOf(HasSubstr("PAYLOAD_FORMAT_TEMPLATE"), HasSubstr("payload_template:"),
                             HasSubstr("\"type\": \"{{event_type}}\"")));

  // Back to the envelope; the template stays stored.
  Outcome envelope = Admin({"--json", "apps", "update", id, "--payload-format", "envelope"});
  ASSERT_EQ(envelope.exit_code, 0) << envelope;
  EXPECT_EQ(ParseJson(envelope)["payload_format"], "PAYLOAD_FORMAT_ENVELOPE");
  const std::string other = "{\"event\": \"{{event_type}}\", \"body\": \"{{payload}}\"}";
  Outcome updated = Admin({"--json", "apps", "update", id, "--payload-template-file",
                           WriteTempFile("template2.json", other)});
  ASSERT_EQ(updated.exit_code, 0) << updated;
  nlohmann::json changed = ParseJson(updated);
  EXPECT_EQ(changed["payload_format"], "PAYLOAD_FORMAT_TEMPLATE");
  EXPECT_EQ(changed["payload_template"], other);

  Outcome invalid = Admin({"apps", "update", id, "--payload-template-file",
                           WriteTempFile("template_bad.json", "{\"x\": \"{{nope}}\"}")});
  EXPECT_EQ(invalid.exit_code, 1) << invalid;
  EXPECT_THAT(invalid.err, StartsWith("hookctl: INVALID_ARGUMENT: app.payload_template"));
}

TEST_F(HookctlTest, AppsTestReportsTheEndpointsAnswer) {
  Outcome created =
      Admin({"--json", "apps", "create", "--tenant", "acme", "--name", "Closed", "--url",
             "http://127.0.0.1:9/closed", "--event-type", "*", "--skip-test"});
  ASSERT_EQ(created.exit_code, 0) << created;
  std::string id = ParseJson(created)["id"].get<std::string>();
  Outcome tested = Admin({"apps", "test", id});
  ASSERT_EQ(tested.exit_code, 0) << tested;  // the RPC worked; the endpoint did not
  EXPECT_THAT(tested.out, AllOf(HasSubstr("success:"), HasSubstr("false"),
                                HasSubstr("ATTEMPT_ERROR_CONNECTION")));
  // Without --skip-test, CreateApp refuses the unreachable endpoint.
  Outcome refused = Admin({"apps", "create", "--tenant", "acme", "--name", "Closed 2", "--url",
                           "http://127.0.0.1:9/closed", "--event-type", "*"});
  EXPECT_EQ(refused.exit_code, 1) << refused;
  EXPECT_THAT(refused.err, AllOf(HasSubstr("FAILED_PRECONDITION"), HasSubstr("unreachable host")));
}

TEST_F(HookctlTest, CreateTakesEveryFlag) {
  std::string id = CreateApp("acme", "Full",
                             {"--channel",
                              "eu",
                              "--channel",
                              "us",
                              "--header",
                              "X-Team=video",
                              "--header",
                              "X-Env=prod=1",
                              "--basic-auth",
                              "alice:s3cret:pass",
                              "--timeout",
                              "5s",
                              "--retry-exponential",
                              "1s,2,1h,8",
                              "--rate-limit",
                              "25",
                              "--disable-after",
                              "3",
                              "--description",
                              "all the flags"});
  ASSERT_FALSE(id.empty());
  Outcome got = Admin({"--json", "apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  nlohmann::json app = ParseJson(got);
  EXPECT_EQ(app["channels"], nlohmann::json::array({"eu", "us"}));
  EXPECT_EQ(app["headers"]["X-Team"], "video");
  EXPECT_EQ(app["headers"]["X-Env"], "prod=1");
  EXPECT_EQ(app["auth"]["basic"]["username"], "alice");
  EXPECT_THAT(got.out, Not(HasSubstr("s3cret")));
  EXPECT_EQ(app["timeout"], "5s");
  EXPECT_EQ(app["retry"]["exponential"]["initial_delay"], "1s");
  EXPECT_EQ(app["retry"]["exponential"]["multiplier"], 2);
  EXPECT_EQ(app["retry"]["exponential"]["max_delay"], "3600s");
  EXPECT_EQ(app["retry"]["exponential"]["max_attempts"], 8);
  EXPECT_EQ(app["rate_limit_per_second"], 25);
  EXPECT_EQ(app["disable_after_failures"], 3);
  EXPECT_EQ(app["description"], "all the flags");

  Outcome human = Admin({"apps", "get", id});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out, AllOf(HasSubstr("eu, us"), HasSubstr("X-Env=prod=1"),
                               HasSubstr("X-Team=video"), HasSubstr("basic, username alice"),
                               HasSubstr("exponential from 1s x2 up to 1h"),
                               HasSubstr("8 attempts"), HasSubstr("timeout:"), HasSubstr("5s")));
  EXPECT_THAT(human.out, Not(HasSubstr("s3cret")));

  Outcome delays = Admin({"--json", "apps", "update", id, "--retry-delays", "5s,5m,30m"});
  ASSERT_EQ(delays.exit_code, 0) << delays;
  EXPECT_EQ(ParseJson(delays)["retry"]["delays"], nlohmann::json::array({"5s", "300s", "1800s"}));
}

TEST_F(HookctlTest, ListShowsTableJsonAndFollowsPages) {
  std::vector<std::string> ids;
  for (const char* name : {"one", "two", "three"}) ids.push_back(CreateApp("lister", name));
  for (const std::string& id : ids) ASSERT_FALSE(id.empty());

  Outcome table = Admin({"apps", "list", "--tenant", "lister"});
  ASSERT_EQ(table.exit_code, 0) << table;
  EXPECT_THAT(table.out, StartsWith("ID"));
  EXPECT_THAT(table.out, AllOf(HasSubstr("TENANT"), HasSubstr("NAME"), HasSubstr("URL"),
                               HasSubstr("ACTIVE"), HasSubstr("EVENT TYPES")));
  for (const std::string& id : ids) EXPECT_THAT(table.out, HasSubstr(id));
  EXPECT_THAT(table.out, Not(HasSubstr("More apps")));

  Outcome json = Admin({"--json", "apps", "list", "--tenant", "lister"});
  ASSERT_EQ(json.exit_code, 0) << json;
  nlohmann::json response = ParseJson(json);
  ASSERT_EQ(response["apps"].size(), 3u) << json;
  EXPECT_EQ(response["apps"][0]["id"], ids[0]);
  EXPECT_EQ(response["next_page_token"], "");

  Outcome first_page = Admin({"apps", "list", "--tenant", "lister", "--page-size", "1"});
  ASSERT_EQ(first_page.exit_code, 0) << first_page;
  EXPECT_THAT(first_page.out, AllOf(HasSubstr(ids[0]), Not(HasSubstr(ids[1])),
                                    HasSubstr("More apps: add --page-token ")));

  Outcome page_json = Admin({"--json", "apps", "list", "--tenant", "lister", "--page-size=1"});
  ASSERT_EQ(page_json.exit_code, 0) << page_json;
  std::string token = ParseJson(page_json)["next_page_token"].get<std::string>();
  ASSERT_FALSE(token.empty());
  Outcome second_page = Admin(
      {"--json", "apps", "list", "--tenant", "lister", "--page-size", "1", "--page-token", token});
  ASSERT_EQ(second_page.exit_code, 0) << second_page;
  EXPECT_EQ(ParseJson(second_page)["apps"][0]["id"], ids[1]);

  Outcome all =
      Admin({"--json", "apps", "list", "--tenant", "lister", "--page-size", "1", "--all"});
  ASSERT_EQ(all.exit_code, 0) << all;
  nlohmann::json every = ParseJson(all);
  ASSERT_EQ(every["apps"].size(), 3u) << all;
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(every["apps"][i]["id"], ids[i]);
  EXPECT_FALSE(every.contains("next_page_token")) << all;

  Outcome all_table = Admin({"apps", "list", "--tenant", "lister", "--page-size", "1", "--all"});
  ASSERT_EQ(all_table.exit_code, 0) << all_table;
  for (const std::string& id : ids) EXPECT_THAT(all_table.out, HasSubstr(id));
}

TEST_F(HookctlTest, UpdateChangesOnlyTheGivenFields) {
  std::string id = CreateApp("acme", "Keep my name", {"--basic-auth", "bob:pw"});
  ASSERT_FALSE(id.empty());
  Outcome updated = Admin({"apps", "update", id, "--url", "http://127.0.0.1:9/v2"});
  ASSERT_EQ(updated.exit_code, 0) << updated;
  EXPECT_THAT(updated.out, HasSubstr("http://127.0.0.1:9/v2"));

  Outcome got = Admin({"--json", "apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  nlohmann::json app = ParseJson(got);
  EXPECT_EQ(app["url"], "http://127.0.0.1:9/v2");
  EXPECT_EQ(app["name"], "Keep my name");
  EXPECT_EQ(app["event_types"], nlohmann::json::array({"video.*"}));
  EXPECT_EQ(app["auth"]["basic"]["username"], "bob");

  Outcome no_auth = Admin({"--json", "apps", "update", id, "--no-basic-auth", "--name", "Renamed"});
  ASSERT_EQ(no_auth.exit_code, 0) << no_auth;
  nlohmann::json changed = ParseJson(no_auth);
  EXPECT_FALSE(changed["auth"].contains("basic")) << no_auth;
  EXPECT_EQ(changed["name"], "Renamed");
  EXPECT_EQ(changed["url"], "http://127.0.0.1:9/v2");

  Outcome bad_url = Admin({"apps", "update", id, "--url", "ftp://example.com/"});
  EXPECT_EQ(bad_url.exit_code, 1) << bad_url;
  EXPECT_THAT(bad_url.err, StartsWith("hookctl: INVALID_ARGUMENT: app.url"));

  Outcome nothing = Admin({"apps", "update", id});
  EXPECT_EQ(nothing.exit_code, 2) << nothing;
  EXPECT_THAT(nothing.err, HasSubstr("nothing to change"));
}

TEST_F(HookctlTest, DisableAndEnable) {
  std::string id = CreateApp("acme", "Flaky");
  ASSERT_FALSE(id.empty());
  Outcome disabled = Admin({"apps", "disable", id, "--reason", "maintenance window"});
  ASSERT_EQ(disabled.exit_code, 0) << disabled;
  EXPECT_THAT(disabled.out, AllOf(HasSubstr("maintenance window"), HasSubstr("disabled_reason:")));
  EXPECT_THAT(disabled.out, testing::ContainsRegex("active: +false"));

  Outcome got = Admin({"--json", "apps", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  nlohmann::json app = ParseJson(got);
  EXPECT_EQ(app["active"], false);
  EXPECT_EQ(app["disabled_reason"], "maintenance window");

  Outcome enabled = Admin({"--json", "apps", "enable", id});
  ASSERT_EQ(enabled.exit_code, 0) << enabled;
  nlohmann::json active = ParseJson(enabled);
  EXPECT_EQ(active["active"], true);
  EXPECT_EQ(active["disabled_reason"], "");
  Outcome human = Admin({"apps", "get", id});
  EXPECT_THAT(human.out, testing::ContainsRegex("active: +true"));
  // Enabling again with the other choice for held deliveries (there are none) answers alike.
  ASSERT_EQ(Admin({"apps", "disable", id}).exit_code, 0);
  Outcome discarded = Admin({"--json", "apps", "enable", id, "--discard"});
  ASSERT_EQ(discarded.exit_code, 0) << discarded;
  EXPECT_EQ(ParseJson(discarded)["active"], true);
}

TEST_F(HookctlTest, RotateSecretIssuesANewSecretAndKeepsTheOld) {
  Outcome created = Admin({"--json", "apps", "create", "--tenant", "acme", "--name", "Rotating",
                           "--url", "http://127.0.0.1:9/r", "--event-type", "*", "--skip-test"});
  ASSERT_EQ(created.exit_code, 0) << created;
  nlohmann::json app = ParseJson(created);
  std::string id = app["id"].get<std::string>();
  std::string old_secret = app["secret"].get<std::string>();

  Outcome rotated = Admin({"--json", "apps", "rotate-secret", id, "--grace", "1h"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated;
  nlohmann::json after = ParseJson(rotated);
  std::string new_secret = after["secret"].get<std::string>();
  EXPECT_THAT(new_secret, StartsWith("whsec_"));
  EXPECT_NE(new_secret, old_secret);
  EXPECT_EQ(after["signing_keys"].size(), 2u) << rotated;

  Outcome human = Admin({"apps", "rotate-secret", id});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out, AllOf(HasSubstr("secret:"), HasSubstr("whsec_"),
                               HasSubstr("shown only once"), HasSubstr("expires")));
  EXPECT_THAT(human.out, Not(HasSubstr(new_secret)));

  Outcome bad_grace = Admin({"apps", "rotate-secret", id, "--grace", "soon"});
  EXPECT_EQ(bad_grace.exit_code, 2) << bad_grace;
  EXPECT_THAT(bad_grace.err, HasSubstr("--grace"));
}

TEST_F(HookctlTest, DeleteThenGetIsNotFound) {
  std::string id = CreateApp("acme", "Short-lived");
  ASSERT_FALSE(id.empty());
  Outcome deleted = Admin({"apps", "delete", id});
  ASSERT_EQ(deleted.exit_code, 0) << deleted;
  EXPECT_EQ(deleted.out, "deleted " + id + "\n");

  Outcome got = Admin({"apps", "get", id});
  EXPECT_EQ(got.exit_code, 1) << got;
  EXPECT_THAT(got.err, StartsWith("hookctl: NOT_FOUND: "));
  EXPECT_EQ(got.out, "");

  Outcome again = Admin({"--json", "apps", "delete", id});
  EXPECT_EQ(again.exit_code, 1) << again;
  EXPECT_THAT(again.err, StartsWith("hookctl: NOT_FOUND: "));
}

TEST_F(HookctlTest, TokensCreateListRevoke) {
  Outcome created = Admin({"tokens", "create", "acme support", "--role", "viewer", "--tenant",
                           "acme", "--expires-in", "720h"});
  ASSERT_EQ(created.exit_code, 0) << created;
  EXPECT_THAT(created.out, AllOf(HasSubstr("acme support"), testing::ContainsRegex("role: +viewer"),
                                 testing::ContainsRegex("tenant: +acme"),
                                 testing::ContainsRegex("created by: +bootstrap")));
  std::smatch match;
  ASSERT_TRUE(std::regex_search(created.out, match, std::regex("token: (hkd_[0-9a-f]{64})")))
      << created;
  const std::string secret = match[1];
  ASSERT_TRUE(std::regex_search(created.out, match, std::regex("id: +(tok_[0-9A-Z]{26})")));
  const std::string id = match[1];

  // The viewer reads apps of its tenant and may not create one.
  Outcome read = Spawn({"--server", Address(), "--token", secret, "apps", "list"});
  EXPECT_EQ(read.exit_code, 0) << read;
  Outcome create =
      Spawn({"--server", Address(), "--token", secret, "apps", "create", "--tenant", "acme",
             "--name", "x", "--url", "https://example.com/h", "--event-type", "*", "--skip-test"});
  EXPECT_EQ(create.exit_code, 1) << create;
  EXPECT_EQ(create.err,
            "hookctl: PERMISSION_DENIED: a viewer token cannot call AppService.CreateApp\n");

  Outcome listed = Admin({"tokens", "list", "--tenant", "acme"});
  ASSERT_EQ(listed.exit_code, 0) << listed;
  EXPECT_THAT(listed.out,
              AllOf(StartsWith("ID"), HasSubstr(id), HasSubstr("viewer"), Not(HasSubstr(secret))));
  Outcome json = Admin({"--json", "tokens", "list", "--all"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_FALSE(ParseJson(json).contains("next_page_token")) << json;

  Outcome revoked = Admin({"tokens", "revoke", id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked;
  EXPECT_THAT(revoked.out, Not(testing::ContainsRegex("revoked: +-")));
  Outcome refused = Spawn({"--server", Address(), "--token", secret, "apps", "list"});
  EXPECT_EQ(refused.exit_code, 1) << refused;
  EXPECT_EQ(refused.err, "hookctl: UNAUTHENTICATED: token " + id + " is revoked\n");

  // Both changes are in the audit log, newest first, and filters narrow it.
  Outcome audit = Admin({"audit", "list", "--resource", id});
  ASSERT_EQ(audit.exit_code, 0) << audit;
  EXPECT_THAT(audit.out, StartsWith("TIME"));
  const size_t revoke_at = audit.out.find("token.revoke");
  const size_t create_at = audit.out.find("token.create");
  ASSERT_NE(revoke_at, std::string::npos) << audit;
  ASSERT_NE(create_at, std::string::npos) << audit;
  EXPECT_LT(revoke_at, create_at) << audit;
  EXPECT_THAT(audit.out,
              AllOf(HasSubstr("bootstrap"), HasSubstr("role=viewer"), Not(HasSubstr(secret))));
  Outcome audit_json =
      Admin({"--json", "audit", "list", "--action", "token.create", "--since", "1h", "--all"});
  ASSERT_EQ(audit_json.exit_code, 0) << audit_json;
  nlohmann::json entries = ParseJson(audit_json);
  ASSERT_EQ(entries["events"].size(), 1u) << audit_json;
  // After the command, --token is audit list's own filter (a token id), not the bearer token:
  // the admin's, given before the group, still authenticates the call.
  Outcome by_token = Admin({"audit", "list", "--token", "bootstrap", "--action", "token.create",
                            "--since", "1h", "--all", "--json"});
  ASSERT_EQ(by_token.exit_code, 0) << by_token;
  EXPECT_EQ(by_token.out, audit_json.out);
  EXPECT_EQ(entries["events"][0]["resource"], id);
  EXPECT_EQ(entries["events"][0]["tenant"], "acme");
  EXPECT_EQ(entries["events"][0]["role"], "ROLE_ADMIN");

  Outcome bad_role = Admin({"tokens", "create", "x", "--role", "owner"});
  EXPECT_EQ(bad_role.exit_code, 2) << bad_role;
  EXPECT_THAT(bad_role.err, HasSubstr("--role: must be admin, manager, publisher or viewer"));
}

TEST_F(HookctlTest, ServerErrorsExitOneWithTheCodeName) {
  Outcome no_token = Spawn({"--server", Address(), "apps", "list"});
  EXPECT_EQ(no_token.exit_code, 1) << no_token;
  EXPECT_THAT(no_token.err, StartsWith("hookctl: UNAUTHENTICATED: "));
  EXPECT_EQ(no_token.out, "");

  Outcome wrong_token = Spawn({"--server", Address(), "--token", "nope", "event-types", "list"});
  EXPECT_EQ(wrong_token.exit_code, 1) << wrong_token;
  EXPECT_THAT(wrong_token.err, StartsWith("hookctl: UNAUTHENTICATED: "));

  Outcome invalid = Admin({"apps", "create", "--tenant", "acme", "--name", "x", "--url",
                           "not a url", "--event-type", "*", "--skip-test"});
  EXPECT_EQ(invalid.exit_code, 1) << invalid;
  EXPECT_THAT(invalid.err, StartsWith("hookctl: INVALID_ARGUMENT: app.url"));

  Outcome unreachable =
      Spawn({"--server", "127.0.0.1:1", "--token", kAdminToken, "--timeout", "3s", "apps", "list"});
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable;
  EXPECT_THAT(unreachable.err, StartsWith("hookctl: UNAVAILABLE: "));
}

TEST_F(HookctlTest, UsageErrorsExitTwoWithTheUsage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string usage;
  };
  const std::vector<Case> cases = {
      {{}, "hookctl: missing command", "Usage: hookctl [--server ADDR]"},
      {{"nope"}, "hookctl: unknown command \"nope\"", "Usage: hookctl [--server ADDR]"},
      {{"--bogus", "apps", "list"}, "hookctl: unknown flag --bogus", "Usage: hookctl"},
      {{"apps"}, "hookctl: missing command", "Usage: hookctl [global flags] apps <command>"},
      {{"apps", "explode"}, "hookctl: unknown command \"apps explode\"", "Commands:"},
      {{"apps", "list", "--bogus"}, "hookctl: unknown flag --bogus", "Usage: hookctl apps list"},
      // A global flag after the command is the global one (apps list has no --timeout).
      {{"apps", "list", "--timeout", "0s"},
       "hookctl: --timeout must be positive",
       "Usage: hookctl apps list"},
      {{"apps", "get"}, "hookctl: missing ID", "Usage: hookctl apps get ID"},
      {{"apps", "get", "a", "b"}, "hookctl: unexpected argument \"b\"", "Usage: hookctl apps get"},
      {{"apps", "create", "--name", "n", "--url", "http://127.0.0.1/"},
       "hookctl: missing --tenant",
       "Usage: hookctl apps create"},
      {{"apps", "create", "--tenant", "t", "--name", "n", "--url", "u", "--timeout", "ten"},
       "--timeout: \"ten\" is not a duration",
       "Usage: hookctl apps create"},
      {{"apps", "create", "--tenant", "t", "--name", "n", "--url", "u", "--header", "novalue"},
       "--header: expected NAME=VALUE",
       "Usage: hookctl apps create"},
      {{"apps", "create", "--tenant", "t", "--name", "n", "--url", "u", "--rate-limit", "x"},
       "--rate-limit: \"x\" is not an integer",
       "Usage: hookctl apps create"},
      {{"apps", "create", "--tenant", "t", "--name", "n", "--url", "u", "--retry-exponential",
        "1s,2"},
       "--retry-exponential: expected INITIAL,MULTIPLIER,MAX,ATTEMPTS",
       "Usage: hookctl apps create"},
      {{"apps", "update", "app_x", "--basic-auth", "a:b", "--no-basic-auth"},
       "exclude each other",
       "Usage: hookctl apps update"},
      {{"apps", "enable", "app_x", "--resume", "--discard"},
       "--resume and --discard exclude each other",
       "Usage: hookctl apps enable ID [--resume | --discard]"},
      {{"deliveries", "list", "--status", "parked"},
       "is not one of pending, succeeded, retrying, failed, held, discarded, scheduled",
       "Usage: hookctl deliveries list"},
      {{"apps", "update", "app_x", "--tenant", "t"},
       "unknown flag --tenant",
       "Usage: hookctl apps update"},
      {{"event-types", "create"}, "hookctl: missing NAME", "Usage: hookctl event-types create"},
      {{"events", "publish", "--tenant", "acme", "--data", "{}"},
       "hookctl: missing --type",
       "Usage: hookctl events publish"},
      {{"events", "publish", "--tenant", "acme", "--type", "video.ready"},
       "hookctl: missing --data",
       "Usage: hookctl events publish"},
      {{"events", "get"}, "hookctl: missing ID", "Usage: hookctl events get ID"},
      {{"--timeout", "0s", "apps", "list"}, "--timeout must be positive", "Usage: hookctl"},
      {{"deliveries", "list", "--since", "last week"},
       "hookctl: --since: \"last week\" is neither a duration",
       "Usage: hookctl deliveries list"},
      {{"deliveries", "recover", "--since", "1h"},
       "hookctl: missing --app",
       "Usage: hookctl deliveries recover"},
      {{"deliveries", "export", "--format", "tsv"},
       "hookctl: --format: \"tsv\" is not csv, jsonl or pdf",
       "Usage: hookctl deliveries export"},
  };
  for (const Case& c : cases) {
    // The token and server are valid: nothing but the command line is wrong.
    Outcome outcome = Admin(c.args);
    EXPECT_EQ(outcome.exit_code, 2) << outcome;
    EXPECT_THAT(outcome.err, HasSubstr(c.message)) << outcome;
    EXPECT_THAT(outcome.err, HasSubstr(c.usage)) << outcome;
    EXPECT_EQ(outcome.out, "") << outcome;
  }
}

TEST_F(HookctlTest, HelpOnEveryLevelExitsZero) {
  const std::vector<std::vector<std::string>> commands = {
      {"apps", "create"},      {"apps", "list"},           {"apps", "get"},
      {"apps", "update"},      {"apps", "delete"},         {"apps", "enable"},
      {"apps", "disable"},     {"apps", "rotate-secret"},  {"event-types", "create"},
      {"event-types", "list"}, {"event-types", "archive"}, {"events", "publish"},
      {"events", "get"},       {"deliveries", "list"},     {"deliveries", "show"},
      {"deliveries", "retry"}, {"deliveries", "recover"},  {"deliveries", "export"},
      {"apps", "test"},        {"apps", "stats"},          {"tokens", "create"},
      {"tokens", "list"},      {"tokens", "revoke"},       {"audit", "list"}};
  // No server is needed: help never touches the network.
  for (const char* flag : {"--help", "-h"}) {
    Outcome top = Spawn({flag});
    EXPECT_EQ(top.exit_code, 0) << top;
    EXPECT_THAT(
        top.out,
        AllOf(StartsWith("Usage: hookctl"), HasSubstr("HOOKD_SERVER"), HasSubstr("HOOKD_TOKEN"),
              HasSubstr("apps create"), HasSubstr("event-types archive"),
              HasSubstr("events publish"), HasSubstr("events get"), HasSubstr("--ingest-server"),
              HasSubstr("HOOKD_INGEST_SERVER"), HasSubstr("127.0.0.1:50052"),
              HasSubstr("deliveries list"), HasSubstr("deliveries export"), HasSubstr("apps stats"),
              HasSubstr("tokens create"), HasSubstr("audit list")));
    EXPECT_EQ(top.err, "");
    for (const char* group : {"apps", "event-types", "events", "deliveries", "tokens", "audit"}) {
      Outcome help = Spawn({group, flag});
      EXPECT_EQ(help.exit_code, 0) << help;
      EXPECT_THAT(help.out, StartsWith(std::string("Usage: hookctl [global flags] ") + group));
      EXPECT_EQ(help.err, "");
    }
    for (const auto& command : commands) {
      Outcome help = Spawn({command[0], command[1], flag});
      EXPECT_EQ(help.exit_code, 0) << help;
      EXPECT_THAT(help.out, AllOf(StartsWith("Usage: hookctl " + command[0] + " " + command[1]),
                                  HasSubstr("-h, --help"), HasSubstr("HOOKD_SERVER"),
                                  HasSubstr("--ingest-server"), HasSubstr("--timeout")));
      EXPECT_EQ(help.err, "");
    }
  }
  Outcome create = Spawn({"apps", "create", "--help"});
  for (const char* flag :
       {"--tenant", "--name", "--url", "--event-type", "--channel", "--header", "--basic-auth",
        "--timeout", "--retry-delays", "--retry-exponential", "--rate-limit", "--disable-after",
        "--description", "--skip-test", "--signature-preset", "--signature-profile-file",
        "--secret-file", "--payload-template-file"}) {
    EXPECT_THAT(create.out, HasSubstr(flag));
  }
  Outcome publish = Spawn({"events", "publish", "--help"});
  for (const char* flag :
       {"--tenant", "--type", "--data", "--idempotency-key", "--channel", "--traceparent"}) {
    EXPECT_THAT(publish.out, HasSubstr(flag));
  }
  Outcome update = Spawn({"apps", "update", "--help"});
  EXPECT_THAT(update.out, HasSubstr("--no-basic-auth"));
  EXPECT_THAT(update.out, Not(HasSubstr("--tenant")));
  EXPECT_THAT(update.out, Not(HasSubstr("--skip-test")));
  EXPECT_THAT(update.out, Not(HasSubstr("--secret-file")));
  Outcome rotate = Spawn({"apps", "rotate-secret", "--help"});
  EXPECT_THAT(rotate.out, HasSubstr("--secret-file FILE"));
  // Help wins over other mistakes on the same line.
  Outcome mixed = Spawn({"apps", "get", "--bogus", "--help"});
  EXPECT_EQ(mixed.exit_code, 0) << mixed;
}

TEST_F(HookctlTest, ServerAndTokenFallBackToTheEnvironment) {
  std::string id = CreateApp("acme", "From env");
  ASSERT_FALSE(id.empty());
  Outcome from_env =
      Spawn({"apps", "get", id}, {{"HOOKD_SERVER", Address()}, {"HOOKD_TOKEN", kAdminToken}});
  ASSERT_EQ(from_env.exit_code, 0) << from_env;
  EXPECT_THAT(from_env.out, AllOf(HasSubstr(id), HasSubstr("From env")));

  // Flags win over the environment.
  Outcome flags_win = Spawn({"--server", Address(), "--token", kAdminToken, "apps", "get", id},
                            {{"HOOKD_SERVER", "127.0.0.1:1"}, {"HOOKD_TOKEN", "wrong"}});
  EXPECT_EQ(flags_win.exit_code, 0) << flags_win;

  Outcome env_token_wrong =
      Spawn({"apps", "get", id}, {{"HOOKD_SERVER", Address()}, {"HOOKD_TOKEN", "wrong"}});
  EXPECT_EQ(env_token_wrong.exit_code, 1) << env_token_wrong;
  EXPECT_THAT(env_token_wrong.err, StartsWith("hookctl: UNAUTHENTICATED: "));
}

// The event id from the people's output of `events publish`, "" when there is none.
std::string PrintedEventId(const std::string& out) {
  std::smatch match;
  if (!std::regex_search(out, match, std::regex("event_id: +(\\S+)\n"))) return "";
  return match[1];
}

TEST_F(HookctlEventsTest, PublishInlineAndGetShowsEveryField) {
  const std::string payload = R"({"video_id":"v1","renditions":[720,1080]})";
  Outcome published = Ingest({"events", "publish", "--tenant", "acme", "--type", "video.ready",
                              "--data", payload, "--channel", "eu", "--traceparent",
                              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  ASSERT_EQ(published.exit_code, 0) << published;
  EXPECT_THAT(published.out, testing::ContainsRegex("delivery_count: +1\n"));
  EXPECT_THAT(published.out, testing::ContainsRegex("duplicate: +false\n"));
  EXPECT_EQ(published.err, "");
  const std::string id = PrintedEventId(published.out);
  EXPECT_THAT(id, StartsWith("evt_")) << published;

  Outcome got = Ingest({"--json", "events", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  nlohmann::json event = ParseJson(got);
  EXPECT_EQ(event["id"], id);
  EXPECT_EQ(event["tenant"], "acme");
  EXPECT_EQ(event["event_type"], "video.ready");
  EXPECT_EQ(event["payload"], payload);
  EXPECT_EQ(event["channels"], nlohmann::json::array({"eu"}));
  EXPECT_EQ(event["delivery_count"], 1);
  EXPECT_EQ(event["idempotency_key"], "");

  Outcome human = Ingest({"events", "get", id});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out, AllOf(testing::ContainsRegex("id: +" + id + "\n"), HasSubstr("tenant:"),
                               HasSubstr("acme"), HasSubstr("event_type:"),
                               HasSubstr("video.ready"), testing::ContainsRegex("channels: +eu\n"),
                               testing::ContainsRegex("idempotency_key: +-\n"),
                               testing::ContainsRegex("delivery_count: +1\n"),
                               HasSubstr("create_time:"), HasSubstr("payload:")));
  // Pretty-printed for people: one key per line, in the published order.
  EXPECT_THAT(human.out, testing::ContainsRegex("\"video_id\": \"v1\",\n +\"renditions\": \\["));
  EXPECT_THAT(human.out, Not(HasSubstr(payload)));
}

TEST_F(HookctlEventsTest, PublishFromFileSendsTheBytesUnchanged) {
  // Spacing, a number re-serializing JSON would shorten, escapes and non-ASCII text: a client
  // that parsed and printed the payload again would change these bytes.
  const std::string payload =
      "{ \"title\" :\t\"Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9\x65 \xE2\x80\x94 "
      "\xE6\x9D\xB1\xE4\xBA\xAC\",\n"
      "   \"ratio\":1.50 ,\"escaped\" : \"\\u00e9\\n\",  \"emoji\":\"\xF0\x9F\x8E\xAC\"  }\n";
  const std::string path = ::testing::TempDir() + "/hookctl_event.json";
  {
    FILE* file = fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(fwrite(payload.data(), 1, payload.size(), file), payload.size());
    fclose(file);
  }
  Outcome published = Ingest({"--json", "events", "publish", "--tenant", "acme", "--type",
                              "video.ready", "--data", "@" + path});
  ASSERT_EQ(published.exit_code, 0) << published;
  nlohmann::json response = ParseJson(published);
  const std::string id = response["event_id"].get<std::string>();
  EXPECT_THAT(id, StartsWith("evt_"));
  EXPECT_EQ(response["delivery_count"], 1);
  EXPECT_EQ(response["duplicate"], false);

  Outcome got = Ingest({"--json", "events", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got;
  EXPECT_EQ(ParseJson(got)["payload"].get<std::string>(), payload);

  Outcome human = Ingest({"events", "get", id});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out, HasSubstr("\"title\": \"Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9\x65 \xE2\x80\x94 "
                                   "\xE6\x9D\xB1\xE4\xBA\xAC\""));

  Outcome unreadable = Ingest({"events", "publish", "--tenant", "acme", "--type", "video.ready",
                               "--data", "@" + path + ".missing"});
  EXPECT_EQ(unreadable.exit_code, 1) << unreadable;
  EXPECT_THAT(unreadable.err, StartsWith("hookctl: NOT_FOUND: --data: cannot read "));
}

TEST_F(HookctlEventsTest, RepeatedIdempotencyKeyIsADuplicateOfTheFirstEvent) {
  const std::vector<std::string> args = {
      "--json",      "events", "publish", "--tenant",          "acme",          "--type",
      "video.ready", "--data", "{}",      "--idempotency-key", "render-42-done"};
  Outcome first = Ingest(args);
  ASSERT_EQ(first.exit_code, 0) << first;
  nlohmann::json original = ParseJson(first);
  EXPECT_EQ(original["duplicate"], false);
  EXPECT_EQ(original["delivery_count"], 1);

  Outcome again = Ingest(args);
  ASSERT_EQ(again.exit_code, 0) << again;
  nlohmann::json repeat = ParseJson(again);
  EXPECT_EQ(repeat["duplicate"], true);
  EXPECT_EQ(repeat["event_id"], original["event_id"]);

  Outcome human = Ingest({"events", "publish", "--tenant", "acme", "--type", "video.ready",
                          "--data", "{}", "--idempotency-key", "render-42-done"});
  ASSERT_EQ(human.exit_code, 0) << human;
  EXPECT_THAT(human.out, testing::ContainsRegex("duplicate: +true\n"));
  EXPECT_EQ(PrintedEventId(human.out), original["event_id"].get<std::string>());

  Outcome got = Ingest({"--json", "events", "get", original["event_id"].get<std::string>()});
  ASSERT_EQ(got.exit_code, 0) << got;
  EXPECT_EQ(ParseJson(got)["idempotency_key"], "render-42-done");
}

TEST_F(HookctlEventsTest, ServerErrorsExitOne) {
  Outcome unknown_type =
      Ingest({"events", "publish", "--tenant", "acme", "--type", "video.nope", "--data", "{}"});
  EXPECT_EQ(unknown_type.exit_code, 1) << unknown_type;
  EXPECT_THAT(unknown_type.err,
              AllOf(StartsWith("hookctl: INVALID_ARGUMENT: "), HasSubstr("event_type")));
  EXPECT_EQ(unknown_type.out, "");

  Outcome not_object =
      Ingest({"events", "publish", "--tenant", "acme", "--type", "video.ready", "--data", "[1]"});
  EXPECT_EQ(not_object.exit_code, 1) << not_object;
  EXPECT_THAT(not_object.err, StartsWith("hookctl: INVALID_ARGUMENT: payload"));

  Outcome missing = Ingest({"events", "get", "evt_01HZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(missing.exit_code, 1) << missing;
  EXPECT_THAT(missing.err, StartsWith("hookctl: NOT_FOUND: "));
  EXPECT_EQ(missing.out, "");

  Outcome no_token = Spawn({"--ingest-server", IngestAddress(), "events", "get", "evt_x"});
  EXPECT_EQ(no_token.exit_code, 1) << no_token;
  EXPECT_THAT(no_token.err, StartsWith("hookctl: UNAUTHENTICATED: "));
}

TEST_F(HookctlEventsTest, IngestServerFallsBackToTheEnvironment) {
  Outcome published = Ingest({"--json", "events", "publish", "--tenant", "acme", "--type",
                              "video.ready", "--data", R"({"from":"env"})"});
  ASSERT_EQ(published.exit_code, 0) << published;
  const std::string id = ParseJson(published)["event_id"].get<std::string>();

  Outcome from_env = Spawn({"events", "get", id}, {{"HOOKD_INGEST_SERVER", IngestAddress()},
                                                   {"HOOKD_TOKEN", kAdminToken}});
  ASSERT_EQ(from_env.exit_code, 0) << from_env;
  EXPECT_THAT(from_env.out, HasSubstr(id));

  // The flag wins over the environment, and --server (hookd-subscription) is not used for events.
  Outcome flag_wins =
      Spawn({"--ingest-server", IngestAddress(), "--token", kAdminToken, "events", "get", id},
            {{"HOOKD_INGEST_SERVER", "127.0.0.1:1"}, {"HOOKD_SERVER", "127.0.0.1:1"}});
  EXPECT_EQ(flag_wins.exit_code, 0) << flag_wins;

  Outcome env_wrong =
      Spawn({"--timeout", "3s", "events", "get", id}, {{"HOOKD_INGEST_SERVER", "127.0.0.1:1"},
                                                       {"HOOKD_SERVER", IngestAddress()},
                                                       {"HOOKD_TOKEN", kAdminToken}});
  EXPECT_EQ(env_wrong.exit_code, 1) << env_wrong;
  EXPECT_THAT(env_wrong.err, StartsWith("hookctl: UNAVAILABLE: "));
}

// The deliveries tests run as a suite of their own, on a fresh database like the events suite:
// the delivery log then holds exactly what these tests publish. No hookd-worker runs, so every
// delivery stays PENDING unless a test retries it.
class HookctlDeliveriesTest : public HookctlTest {
 protected:
  // Publishes an event to `tenant` and returns the publish answer as JSON.
  static nlohmann::json Publish(const std::string& tenant, const std::string& type,
                                const std::string& payload) {
    Outcome published = Ingest(
        {"--json", "events", "publish", "--tenant", tenant, "--type", type, "--data", payload});
    EXPECT_EQ(published.exit_code, 0) << published;
    return ParseJson(published);
  }

  // Creates the first app of `tenant` and waits until hookd-ingest routes the tenant's events to
  // it: ingest learns of new apps through hookd-subscription's change feed. The probe that finds
  // it routed made one video.ready delivery to the app, payload {"probe":true}. Returns the app
  // id, "" on failure.
  static std::string CreateRoutedApp(const std::string& tenant, std::vector<std::string> extra) {
    std::string id = CreateApp(tenant, tenant + " receiver", std::move(extra));
    if (id.empty()) return "";
    bool routed = hookd::testing::PollUntil([&tenant] {
      nlohmann::json answer = Publish(tenant, "video.ready", R"({"probe":true})");
      return answer.is_object() && answer["delivery_count"] == 1;
    });
    EXPECT_TRUE(routed) << "hookd-ingest never routed events of " << tenant << " to " << id;
    return routed ? id : "";
  }

  // `deliveries list --all --json` with `filters`: the deliveries, newest first.
  static nlohmann::json ListAll(std::vector<std::string> filters) {
    std::vector<std::string> args = {"--json", "deliveries", "list", "--all"};
    args.insert(args.end(), filters.begin(), filters.end());
    Outcome listed = Admin(args);
    EXPECT_EQ(listed.exit_code, 0) << listed;
    nlohmann::json response = ParseJson(listed);
    EXPECT_TRUE(response.is_object() && response.contains("deliveries")) << listed;
    EXPECT_FALSE(response.contains("next_page_token")) << listed;
    if (!response.is_object() || !response.contains("deliveries")) return nlohmann::json::array();
    return response["deliveries"];
  }

  // The ids of `deliveries`, in order.
  static std::vector<std::string> Ids(const nlohmann::json& deliveries) {
    std::vector<std::string> ids;
    for (const auto& delivery : deliveries) ids.push_back(delivery["id"].get<std::string>());
    return ids;
  }
};

// The delivery of event `event_id` among `deliveries`, null when there is none.
nlohmann::json DeliveryOf(const nlohmann::json& deliveries, const nlohmann::json& event_id) {
  for (const auto& delivery : deliveries) {
    if (delivery["event_id"] == event_id) return delivery;
  }
  return nullptr;
}

// A strict RFC 4180 reader: fields separated by commas, optionally quoted with quotes doubled
// inside, and every record, the last one too, ending in CRLF. nullopt for anything else, so that
// a bare LF or a stray quote fails the test instead of being read leniently.
std::optional<std::vector<std::vector<std::string>>> ReadCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    std::vector<std::string> record;
    while (true) {
      std::string field;
      if (i < n && text[i] == '"') {
        for (++i;; ++i) {
          if (i >= n) return std::nullopt;
          if (text[i] != '"') {
            field += text[i];
          } else if (i + 1 < n && text[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            ++i;
            break;
          }
        }
      } else {
        for (; i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n'; ++i) {
          if (text[i] == '"') return std::nullopt;
          field += text[i];
        }
      }
      record.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i + 1 < n && text[i] == '\r' && text[i + 1] == '\n') {
        i += 2;
        break;
      }
      return std::nullopt;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot read " << path;
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

TEST(ReadCsv, ReadsQuotedFieldsAndRejectsMalformedText) {
  auto records = ReadCsv("a,\"b,\"\"c\"\"\r\nd\",\r\n\"\",x\r\n");
  ASSERT_TRUE(records.has_value());
  EXPECT_EQ(*records,
            (std::vector<std::vector<std::string>>{{"a", "b,\"c\"\r\nd", ""}, {"", "x"}}));
  for (const char* bad : {"a,b\n", "a,b", "a\"b\r\n", "\"a\r\n", "\"a\"b\r\n"}) {
    EXPECT_FALSE(ReadCsv(bad).has_value()) << bad;
  }
}

TEST_F(HookctlDeliveriesTest, ListFiltersShowAndRetry) {
  // Every list below is bounded to deliveries made from here on, so that what the other tests
  // of the suite publish (in whatever order they run) never shows up in the counts.
  const std::string start = absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  Outcome type = Admin({"event-types", "create", "video.deleted"});
  ASSERT_EQ(type.exit_code, 0) << type;
  const std::string globex_app = CreateRoutedApp("globex", {});
  ASSERT_FALSE(globex_app.empty());
  const std::string ready_payload = R"({"video_id":"v1","renditions":[720,1080]})";
  const nlohmann::json ready_1 = Publish("acme", "video.ready", ready_payload)["event_id"];
  const nlohmann::json ready_2 = Publish("acme", "video.ready", R"({"video_id":"v2"})")["event_id"];
  const nlohmann::json deleted =
      Publish("acme", "video.deleted", R"({"video_id":"v3"})")["event_id"];

  nlohmann::json acme = ListAll({"--app", *acme_app_, "--since", start});
  ASSERT_EQ(acme.size(), 3u) << acme;
  // Newest first.
  EXPECT_EQ(acme[0]["event_id"], deleted);
  EXPECT_EQ(acme[1]["event_id"], ready_2);
  EXPECT_EQ(acme[2]["event_id"], ready_1);
  for (const auto& delivery : acme) {
    EXPECT_EQ(delivery["app_id"], *acme_app_);
    EXPECT_EQ(delivery["tenant"], "acme");
    EXPECT_EQ(delivery["status"], "PENDING");
    EXPECT_EQ(delivery["endpoint_url"], "http://127.0.0.1:9/hook");
    EXPECT_THAT(delivery["id"].get<std::string>(), StartsWith("dlv_"));
  }
  const std::vector<std::string> acme_ids = Ids(acme);
  const std::string ready_id = acme[2]["id"].get<std::string>();

  Outcome table = Admin({"deliveries", "list"});
  ASSERT_EQ(table.exit_code, 0) << table;
  EXPECT_THAT(table.out, testing::ContainsRegex("^ID +APP +EVENT TYPE +STATUS +ATTEMPTS +LAST "
                                                "CODE +CREATED\n"));
  for (const std::string& id : acme_ids) {
    EXPECT_THAT(table.out, testing::ContainsRegex(id + " +" + *acme_app_ + " +video\\.[a-z]+ +" +
                                                  "pending +0 +- +20[0-9-]+T"));
  }
  EXPECT_THAT(table.out, AllOf(HasSubstr(globex_app), Not(HasSubstr("More deliveries"))));
  EXPECT_EQ(table.err, "");

  // --app and --tenant: the globex delivery (the probe) is not acme's.
  nlohmann::json globex = ListAll({"--app", globex_app, "--since", start});
  ASSERT_EQ(globex.size(), 1u) << globex;
  EXPECT_EQ(globex[0]["tenant"], "globex");
  EXPECT_EQ(Ids(ListAll({"--tenant", "acme", "--since", start})), acme_ids);
  EXPECT_EQ(Ids(ListAll({"--tenant", "globex", "--since", start})), Ids(globex));

  // --event-type.
  nlohmann::json deleted_only = ListAll({"--event-type", "video.deleted", "--since", start});
  ASSERT_EQ(deleted_only.size(), 1u) << deleted_only;
  EXPECT_EQ(deleted_only[0]["event_id"], deleted);

  // --status: every delivery is pending until one is retried.
  EXPECT_EQ(ListAll({"--status", "pending", "--since", start}).size(), 4u);
  EXPECT_EQ(ListAll({"--status", "failed", "--since", start}).size(), 0u);

  // --since and --until as durations and as RFC 3339 times with other offsets; the other tests
  // may have added deliveries of their own.
  for (const std::vector<std::string>& range : std::vector<std::vector<std::string>>{
           {"--since", "1h"},
           {"--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00+02:00"}}) {
    std::vector<std::string> filters = {"--app", *acme_app_};
    filters.insert(filters.end(), range.begin(), range.end());
    const std::vector<std::string> ids = Ids(ListAll(filters));
    for (const std::string& id : acme_ids) {
      EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id << " not in " << range[1];
    }
  }
  EXPECT_EQ(ListAll({"--app", *acme_app_, "--until", "1h"}).size(), 0u);
  EXPECT_EQ(ListAll({"--since", "2999-01-01T00:00:00Z"}).size(), 0u);

  // A page at a time, JSON as the server answers it.
  Outcome page = Admin(
      {"--json", "deliveries", "list", "--app", *acme_app_, "--since", start, "--page-size", "2"});
  ASSERT_EQ(page.exit_code, 0) << page;
  nlohmann::json first = ParseJson(page);
  ASSERT_EQ(first["deliveries"].size(), 2u) << page;
  const std::string token = first["next_page_token"].get<std::string>();
  ASSERT_FALSE(token.empty()) << page;
  Outcome next = Admin({"--json", "deliveries", "list", "--app", *acme_app_, "--since", start,
                        "--page-size", "2", "--page-token", token});
  ASSERT_EQ(next.exit_code, 0) << next;
  EXPECT_EQ(Ids(ParseJson(next)["deliveries"]), std::vector<std::string>{acme_ids[2]});
  Outcome more =
      Admin({"deliveries", "list", "--app", *acme_app_, "--since", start, "--page-size", "2"});
  ASSERT_EQ(more.exit_code, 0) << more;
  EXPECT_THAT(more.out, AllOf(HasSubstr(acme_ids[0]), Not(HasSubstr(acme_ids[2])),
                              HasSubstr("More deliveries: add --page-token ")));
  Outcome all_pages = Admin(
      {"deliveries", "list", "--app", *acme_app_, "--since", start, "--page-size", "1", "--all"});
  ASSERT_EQ(all_pages.exit_code, 0) << all_pages;
  for (const std::string& id : acme_ids) EXPECT_THAT(all_pages.out, HasSubstr(id));

  // show: the fields, no attempts yet, the payload indented.
  Outcome shown = Admin({"deliveries", "show", ready_id});
  ASSERT_EQ(shown.exit_code, 0) << shown;
  EXPECT_THAT(shown.out,
              AllOf(testing::ContainsRegex("id: +" + ready_id + "\n"),
                    testing::ContainsRegex("app_id: +" + *acme_app_ + "\n"),
                    testing::ContainsRegex("endpoint_url: +http://127.0.0.1:9/hook\n"),
                    testing::ContainsRegex("event_id: +" + ready_1.get<std::string>() + "\n"),
                    testing::ContainsRegex("status: +pending\n"), HasSubstr("\nAttempts: none\n"),
                    HasSubstr("\nPayload:\n{\n  \"video_id\": \"v1\",\n  \"renditions\": [\n")));
  EXPECT_THAT(shown.out, Not(HasSubstr(ready_payload)));
  Outcome shown_json = Admin({"--json", "deliveries", "show", ready_id});
  ASSERT_EQ(shown_json.exit_code, 0) << shown_json;
  nlohmann::json delivery = ParseJson(shown_json);
  EXPECT_EQ(delivery["payload"], ready_payload);
  EXPECT_EQ(delivery["attempts"], nlohmann::json::array());

  // retry: due now, RETRYING, and no longer among the pending.
  Outcome retried = Admin({"deliveries", "retry", ready_id});
  ASSERT_EQ(retried.exit_code, 0) << retried;
  EXPECT_THAT(retried.out, AllOf(testing::ContainsRegex("id: +" + ready_id + "\n"),
                                 testing::ContainsRegex("status: +retrying\n")));
  EXPECT_EQ(retried.err, "");
  EXPECT_EQ(Ids(ListAll({"--status", "retrying", "--since", start})),
            std::vector<std::string>{ready_id});
  nlohmann::json pending = ListAll({"--status", "pending", "--app", *acme_app_, "--since", start});
  EXPECT_EQ(pending.size(), 2u) << pending;
  EXPECT_TRUE(DeliveryOf(pending, ready_1).is_null()) << pending;
  Outcome retried_json = Admin({"--json", "deliveries", "retry", ready_id});
  ASSERT_EQ(retried_json.exit_code, 0) << retried_json;
  EXPECT_EQ(ParseJson(retried_json)["status"], "RETRYING");

  Outcome missing = Admin({"deliveries", "show", "dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(missing.exit_code, 1) << missing;
  EXPECT_THAT(missing.err, StartsWith("hookctl: NOT_FOUND: "));
  EXPECT_EQ(missing.out, "");
  Outcome retry_missing = Admin({"deliveries", "retry", "dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(retry_missing.exit_code, 1) << retry_missing;
  EXPECT_THAT(retry_missing.err, StartsWith("hookctl: NOT_FOUND: "));
}

TEST_F(HookctlDeliveriesTest, RecoverWithoutFailedDeliveriesQueuesNothing) {
  Publish("acme", "video.ready", R"({"video_id":"recover"})");
  Outcome dry = Admin({"deliveries", "recover", "--app", *acme_app_, "--since", "1h", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry;
  EXPECT_EQ(dry.out, "would re-queue 0 deliveries\n");
  EXPECT_EQ(dry.err, "");

  Outcome dry_json = Admin({"--json", "deliveries", "recover", "--app", *acme_app_, "--since",
                            "2000-01-01T00:00:00Z", "--until", "1m", "--dry-run"});
  ASSERT_EQ(dry_json.exit_code, 0) << dry_json;
  EXPECT_EQ(ParseJson(dry_json)["count"], 0);

  Outcome real = Admin({"deliveries", "recover", "--app", *acme_app_, "--since", "1h"});
  ASSERT_EQ(real.exit_code, 0) << real;
  EXPECT_EQ(real.out, "re-queued 0 deliveries\n");

  Outcome unknown = Admin({"deliveries", "recover", "--app", "app_01HZZZZZZZZZZZZZZZZZZZZZZZ",
                           "--since", "1h", "--dry-run"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown;
  EXPECT_THAT(unknown.err, StartsWith("hookctl: NOT_FOUND: "));

  // An empty range is the server's to refuse: the flags themselves are well-formed.
  Outcome backwards =
      Admin({"deliveries", "recover", "--app", *acme_app_, "--since", "1h", "--until", "2h"});
  EXPECT_EQ(backwards.exit_code, 1) << backwards;
  EXPECT_THAT(backwards.err, StartsWith("hookctl: INVALID_ARGUMENT: until"));
}

TEST_F(HookctlDeliveriesTest, ExportMatchesTheListInBothFormats) {
  // An endpoint with a comma and a quote: the export must quote it.
  const std::string url = "http://127.0.0.1:9/hook?tags=a,b&q=%22x%22";
  const std::string initech_app = CreateRoutedApp("initech", {"--url", url});
  ASSERT_FALSE(initech_app.empty());
  for (int i = 0; i < 3; ++i) Publish("acme", "video.ready", R"({"n":)" + std::to_string(i) + "}");

  const nlohmann::json listed = ListAll({});
  ASSERT_GE(listed.size(), 4u) << listed;

  // --page-size 2 makes the export follow several pages.
  const std::string csv_path = ::testing::TempDir() + "/hookctl_deliveries.csv";
  Outcome csv =
      Admin({"deliveries", "export", "--format", "csv", "-o", csv_path, "--page-size", "2"});
  ASSERT_EQ(csv.exit_code, 0) << csv;
  EXPECT_EQ(csv.out, "");
  EXPECT_EQ(csv.err, "");
  const std::string text = ReadFile(csv_path);
  auto records = ReadCsv(text);
  ASSERT_TRUE(records.has_value()) << "not RFC 4180 CSV:\n" << text;
  ASSERT_EQ(records->size(), listed.size() + 1) << text;
  EXPECT_EQ((*records)[0],
            (std::vector<std::string>{"app_id", "time", "event_type", "event_id", "endpoint",
                                      "attempts", "status", "last_status_code"}));
  for (size_t i = 0; i < listed.size(); ++i) {
    const std::vector<std::string>& row = (*records)[i + 1];
    const nlohmann::json& delivery = listed[i];
    ASSERT_EQ(row.size(), 8u) << text;
    EXPECT_EQ(row[0], delivery["app_id"]);
    EXPECT_EQ(row[1], delivery["create_time"]);
    EXPECT_EQ(row[2], delivery["event_type"]);
    EXPECT_EQ(row[3], delivery["event_id"]);
    EXPECT_EQ(row[4], delivery["endpoint_url"]);
    EXPECT_EQ(row[5], std::to_string(delivery["attempt_count"].get<int>()));
    EXPECT_EQ(row[6], Lower(delivery["status"].get<std::string>()));
    EXPECT_EQ(row[7], std::to_string(delivery["last_status_code"].get<int>()));
  }
  EXPECT_THAT(text, HasSubstr(",\"" + url + "\","));

  // Filters apply as in list.
  Outcome filtered = Admin({"deliveries", "export", "--format", "csv", "--app", initech_app});
  ASSERT_EQ(filtered.exit_code, 0) << filtered;
  auto initech = ReadCsv(filtered.out);
  ASSERT_TRUE(initech.has_value()) << filtered;
  ASSERT_EQ(initech->size(), 2u) << filtered;
  EXPECT_EQ((*initech)[1][0], initech_app);
  EXPECT_EQ((*initech)[1][4], url);

  // JSON lines, to a file and to stdout (-o -, the default).
  const std::string jsonl_path = ::testing::TempDir() + "/hookctl_deliveries.jsonl";
  Outcome jsonl = Admin({"deliveries", "export", "--format", "jsonl", "-o", jsonl_path});
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl;
  const std::string lines = ReadFile(jsonl_path);
  EXPECT_EQ(static_cast<size_t>(std::count(lines.begin(), lines.end(), '\n')), listed.size());
  std::istringstream stream(lines);
  std::string line;
  size_t i = 0;
  while (std::getline(stream, line)) {
    auto object = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(object.is_object()) << line;
    ASSERT_LT(i, listed.size());
    std::vector<std::string> keys;
    for (const auto& item : object.items()) keys.push_back(item.key());
    EXPECT_EQ(keys,
              (std::vector<std::string>{"app_id", "time", "event_type", "event_id", "endpoint",
                                        "attempts", "status", "last_status_code"}));
    // Compared as text: ordered_json and json are different types, whose == is ambiguous in C++20.
    EXPECT_EQ(object["event_id"].dump(), listed[i]["event_id"].dump());
    EXPECT_EQ(object["status"], Lower(listed[i]["status"].get<std::string>()));
    EXPECT_EQ(object["attempts"].dump(), listed[i]["attempt_count"].dump());
    ++i;
  }
  Outcome to_stdout = Admin({"deliveries", "export", "--format", "jsonl", "-o", "-"});
  ASSERT_EQ(to_stdout.exit_code, 0) << to_stdout;
  EXPECT_EQ(to_stdout.out, lines);
}

TEST_F(HookctlDeliveriesTest, AppsStatsPrintsTheWindowsFigures) {
  const std::string app = CreateRoutedApp("hooli", {});
  ASSERT_FALSE(app.empty());
  const nlohmann::json probe = ListAll({"--app", app});
  ASSERT_EQ(probe.size(), 1u) << probe;
  // Four attempts of the probe delivery in the last hour: 2xx, 2xx, 500, no answer.
  // Whole seconds: hookctl prints 0, 3, 6 or 9 fractional digits (protobuf's form), the
  // expected text below none, so a time like .170 would print as .170 against .17.
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  const std::vector<std::pair<int, int>> attempts = {{200, 100}, {201, 200}, {500, 300}, {0, 400}};
  {
    pqxx::connection conn(database_->url());
    pqxx::work txn(conn);
    for (size_t i = 0; i < attempts.size(); ++i) {
      hookd::testing::InsertAttempt(txn, probe[0]["id"].get<std::string>(), static_cast<int>(i + 1),
                                    app, now - absl::Minutes(40) + absl::Minutes(10 * i),
                                    attempts[i].second, attempts[i].first);
    }
    txn.commit();
  }
  const auto at = [&](int minutes_ago) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", now - absl::Minutes(minutes_ago),
                            absl::UTCTimeZone());
  };

  Outcome stats = Admin({"apps", "stats", app});
  ASSERT_EQ(stats.exit_code, 0) << stats;
  EXPECT_EQ(stats.err, "");
  EXPECT_THAT(stats.out,
              testing::MatchesRegex("app_id: +" + app +
                                    "\nwindow: +20[-0-9T:.]+Z \\.\\. 20[-0-9T:.]+Z\n.*"));
  EXPECT_THAT(stats.out, HasSubstr("\nattempts:       4 (2 succeeded, 2 failed)\n"
                                   "success_rate:   50.0%\n"
                                   "latency_p50:    200ms\n"
                                   "latency_p99:    400ms\n"
                                   "deliveries:     1 (pending 1, succeeded 0, retrying 0, failed "
                                   "0, held 0, discarded 0, scheduled 0)\n"
                                   "failure_streak: 0\n"
                                   "last_attempt:   " +
                                   at(10) + "\nlast_success:   " + at(30) + "\n"));

  Outcome json = Admin({"--json", "apps", "stats", app, "--since", "45m"});
  ASSERT_EQ(json.exit_code, 0) << json;
  nlohmann::json object = ParseJson(json);
  EXPECT_EQ(object["attempts"], "4");  // int64 is a string in protobuf JSON
  EXPECT_EQ(object["succeeded_attempts"], "2");
  EXPECT_EQ(object["success_rate"], 0.5);
  EXPECT_EQ(object["latency_p50"], "0.200s");
  EXPECT_EQ(object["latency_p99"], "0.400s");
  EXPECT_EQ(object["last_success_time"], at(30));

  // A window of long ago: nothing in it, and no rate or latency to show.
  Outcome empty = Admin({"apps", "stats", app, "--since", "2000-01-01T00:00:00Z", "--until",
                         "2000-01-02T00:00:00+00:00"});
  ASSERT_EQ(empty.exit_code, 0) << empty;
  EXPECT_THAT(empty.out, HasSubstr("window:         2000-01-01T00:00:00Z .. 2000-01-02T00:00:00Z\n"
                                   "attempts:       0 (0 succeeded, 0 failed)\n"
                                   "success_rate:   -\n"
                                   "latency_p50:    -\n"
                                   "latency_p99:    -\n"
                                   "deliveries:     0 (pending 0, succeeded 0, retrying 0, failed "
                                   "0, held 0, discarded 0, scheduled 0)\n"));

  Outcome unknown = Admin({"apps", "stats", "app_01HZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown;
  EXPECT_THAT(unknown.err, StartsWith("hookctl: NOT_FOUND: "));
  Outcome backwards = Admin({"apps", "stats", app, "--since", "1h", "--until", "2h"});
  EXPECT_EQ(backwards.exit_code, 1) << backwards;
  EXPECT_THAT(backwards.err, StartsWith("hookctl: INVALID_ARGUMENT: until"));
}

TEST_F(HookctlDeliveriesTest, PdfExportHoldsEveryRowWithTheHeaderOnEveryPage) {
  const std::string app = CreateRoutedApp("umbrella", {});
  ASSERT_FALSE(app.empty());
  // 90 events in one batch and the probe: 91 rows, three pages of 40, 40 and 11.
  hookd::v1::PublishBatchRequest batch;
  for (int i = 0; i < 90; ++i) {
    hookd::v1::PublishRequest* event = batch.add_events();
    event->set_tenant("umbrella");
    event->set_event_type("video.ready");
    event->set_payload(R"({"n":)" + std::to_string(i) + "}");
  }
  hookd::v1::PublishBatchResponse published;
  grpc::Status status =
      hookd::v1::IngestService::NewStub(
          grpc::CreateChannel(IngestAddress(), grpc::InsecureChannelCredentials()))
          ->PublishBatch(hookd::testing::ClientContext(kAdminToken).get(), batch, &published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const nlohmann::json listed = ListAll({"--app", app});
  ASSERT_EQ(listed.size(), 91u) << listed;
  const int rows_per_page = hookd::hookctl::PdfTable::kRowsPerPage;
  ASSERT_EQ(rows_per_page, 40);

  // Pages of 25 from the server: the table does not follow the request pages.
  const std::string path = ::testing::TempDir() + "/hookctl_deliveries.pdf";
  Outcome exported = Admin(
      {"deliveries", "export", "--format", "pdf", "-o", path, "--app", app, "--page-size", "25"});
  ASSERT_EQ(exported.exit_code, 0) << exported;
  EXPECT_EQ(exported.out, "");
  EXPECT_EQ(exported.err, "");

  Outcome info = SpawnProgram("pdfinfo", {path});
  ASSERT_EQ(info.exit_code, 0) << info << "(pdfinfo is in poppler-utils: scripts/install-deps.sh)";
  EXPECT_THAT(info.out, testing::ContainsRegex("\nPages: +3\n"));
  EXPECT_THAT(info.out, testing::ContainsRegex("\nPage size: +841.89 x 595.276 pts \\(A4\\)\n"));

  Outcome text = SpawnProgram("pdftotext", {"-layout", path, "-"});
  ASSERT_EQ(text.exit_code, 0) << text;
  // pdftotext ends every page with a form feed.
  std::vector<std::string> pages = absl::StrSplit(text.out, '\f');
  ASSERT_EQ(pages.size(), 4u) << text.out;
  EXPECT_EQ(pages[3], "");
  size_t row = 0;
  for (int p = 0; p < 3; ++p) {
    const std::string& page = pages[p];
    EXPECT_THAT(page, AllOf(testing::ContainsRegex("^hookd deliveries +app " + app),
                            testing::ContainsRegex("APP ID +TIME +EVENT TYPE +EVENT ID +ENDPOINT"
                                                   " +ATTEMPTS +STATUS +LAST CODE\n"),
                            HasSubstr("page " + std::to_string(p + 1) + " of 3")))
        << "page " << p + 1 << ":\n"
        << page;
    // Every row of the page, in the order of the list, with its columns.
    std::vector<std::string> lines = absl::StrSplit(page, '\n');
    std::vector<std::string> rows;
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, "app_")) rows.push_back(line);
    }
    ASSERT_EQ(rows.size(), p < 2 ? 40u : 11u) << page;
    for (const std::string& line : rows) {
      const nlohmann::json& d = listed[row++];
      EXPECT_THAT(line,
                  testing::MatchesRegex(app + " +" + d["create_time"].get<std::string>() +
                                        " +video\\.ready +" + d["event_id"].get<std::string>() +
                                        " +http://127\\.0\\.0\\.1:9/hook +0 +pending +0"))
          << line;
    }
  }
  EXPECT_EQ(row, listed.size());
}

}  // namespace
