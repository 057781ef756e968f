// TLS end to end: the three services with mTLS on every gRPC hop (README "TLS"), certificates
// made by scripts/make-certs.sh. The whole flow works (create, publish, deliver, list, hookctl);
// a plaintext client, a client without a certificate and one trusting another CA are refused
// while the servers keep serving; kubelet-style plaintext health probes answer on the health
// listeners; a certificate swapped on disk is served without a restart; bad files stop a start
// with their path and the reason.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "cluster.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "hookd/service/grpc_util.h"
#include "hookd/service/tls.h"
#include "hookd/testing/process.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a command line; true when it exits 0.
bool RunShell(const std::string& command) { return std::system(command.c_str()) == 0; }

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/hookd-tls.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    pki_ = dir;
    ASSERT_TRUE(RunShell(std::string(HOOKD_SOURCE_DIR) + "/scripts/make-certs.sh " + pki_ +
                         " 2>/dev/null"));
    ASSERT_TRUE(RunShell(std::string(HOOKD_SOURCE_DIR) + "/scripts/make-certs.sh --issue " + pki_ +
                         " rotated hookd-rotated 2>/dev/null"));
    // A certificate for another host only: a client dialing 127.0.0.1 must refuse it.
    ASSERT_TRUE(RunShell(std::string(HOOKD_SOURCE_DIR) + "/scripts/make-certs.sh --issue " + pki_ +
                         " foreign hookd-foreign --only elsewhere.example 2>/dev/null"));
    // Another CA altogether, with its own client certificate.
    ASSERT_TRUE(RunShell(std::string(HOOKD_SOURCE_DIR) + "/scripts/make-certs.sh " + pki_ +
                         "/other 2>/dev/null"));
    // The services read their certificate through symlinks, as from a Kubernetes Secret.
    ASSERT_EQ(symlink((pki_ + "/server.pem").c_str(), (pki_ + "/live.pem").c_str()), 0);
    ASSERT_EQ(symlink((pki_ + "/server.key").c_str(), (pki_ + "/live.key").c_str()), 0);
    // This process's channels (the Cluster's and the test's) present the client certificate.
    ASSERT_TRUE(ConfigureProcessTls({.cert_file = pki_ + "/client.pem",
                                     .key_file = pki_ + "/client.key",
                                     .ca_file = pki_ + "/ca.pem"})
                    .ok());
    auto bed = TestBed::Create("tls_e2e");
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = std::move(*bed);
    cluster_ = bed_->cluster.get();
    for (const auto& [name, value] : ServiceTlsEnvironment()) cluster_->SetEnvironment(name, value);
  }

  void TearDown() override {
    bed_.reset();
    ASSERT_TRUE(ConfigureProcessTls({}).ok());
    std::system(("rm -rf '" + pki_ + "'").c_str());
  }

  std::map<std::string, std::string> ServiceTlsEnvironment() const {
    return {{"HOOKD_TLS_CERT", pki_ + "/live.pem"},
            {"HOOKD_TLS_KEY", pki_ + "/live.key"},
            {"HOOKD_TLS_CLIENT_CA", pki_ + "/ca.pem"},
            {"HOOKD_TLS_CA", pki_ + "/ca.pem"},
            {"HOOKD_TLS_REFRESH", "1s"}};
  }

  static std::string HealthFlag(int port) {
    return "--health_listen=127.0.0.1:" + std::to_string(port);
  }

  // A Health.Check through `credentials` to 127.0.0.1:`port`.
  static grpc::Status Check(int port, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                            grpc::health::v1::HealthCheckResponse* response) {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), credentials);
    return grpc::health::v1::Health::NewStub(channel)->Check(
        ClientContext("", absl::Seconds(3)).get(), {}, response);
  }

  std::string pki_;
  std::unique_ptr<TestBed> bed_;
  Cluster* cluster_ = nullptr;
};

TEST_F(TlsTest, TheWholeFlowRunsOverMutualTlsAndOnlyCertifiedClientsGetIn) {
  testing::Receiver receiver;
  const int subscription_health = testing::FreePort();
  const int ingest_health = testing::FreePort();
  const int worker_health = testing::FreePort();
  absl::Status started = cluster_->StartSubscription({HealthFlag(subscription_health)});
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(cluster_->CreateEventTypes({"video.ready"}).ok());
  ASSERT_TRUE(cluster_->StartIngest({HealthFlag(ingest_health)}).ok());
  ASSERT_TRUE(cluster_->StartWorker("w1", {HealthFlag(worker_health)}).ok());

  // Create, publish (ingest and the worker learn of the app over mTLS), deliver, list.
  v1::App app;
  app.set_tenant("acme");
  app.set_name("tls");
  app.set_url(receiver.url("/hook"));
  app.add_event_types("video.ready");
  const v1::App created = cluster_->CreateApp(app);
  ASSERT_FALSE(created.id().empty());
  v1::PublishRequest publish;
  publish.set_tenant("acme");
  publish.set_event_type("video.ready");
  publish.set_payload(R"({"video_id":"v_tls"})");
  const std::string event_id = cluster_->PublishRouted(publish);
  ASSERT_FALSE(event_id.empty());
  ASSERT_TRUE(receiver.WaitFor("/hook", 1));
  auto deliveries = v1::DeliveryService::NewStub(cluster_->subscription_channel());
  v1::ListDeliveriesRequest list;
  list.set_tenant("acme");
  v1::ListDeliveriesResponse page;
  ASSERT_TRUE(PollUntil([&] {
    page.Clear();
    return deliveries->ListDeliveries(ClientContext(cluster_->admin_token()).get(), list, &page)
               .ok() &&
           page.deliveries_size() == 1 && page.deliveries(0).status() == v1::SUCCEEDED;
  }));
  EXPECT_EQ(page.deliveries(0).event_id(), event_id);

  // hookctl with its TLS flags; without them it cannot get in.
  auto hookctl = [&](const std::vector<std::string>& tls_flags, const std::string& log) {
    std::vector<std::string> argv = {HOOKD_BIN_DIR "/hookctl",
                                     "--server",
                                     "127.0.0.1:" + std::to_string(cluster_->subscription_port()),
                                     "--token",
                                     cluster_->admin_token(),
                                     "--timeout",
                                     "5s"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    argv.insert(argv.end(), {"deliveries", "list", "--tenant", "acme"});
    auto process = testing::ChildProcess::Spawn(argv, {}, cluster_->LogPath(log));
    EXPECT_TRUE(process.ok());
    if (!process.ok()) return -1;
    int status = (*process)->Wait(absl::Seconds(15));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(hookctl({"--tls-ca", pki_ + "/ca.pem", "--tls-cert", pki_ + "/client.pem", "--tls-key",
                     pki_ + "/client.key"},
                    "hookctl-tls"),
            0)
      << ReadFile(cluster_->LogPath("hookctl-tls"));
  const std::string listed = ReadFile(cluster_->LogPath("hookctl-tls"));
  EXPECT_TRUE(absl::StrContains(listed, page.deliveries(0).id()) &&
              absl::StrContains(listed, created.id()) && absl::StrContains(listed, "succeeded"))
      << listed;
  EXPECT_EQ(hookctl({}, "hookctl-plain"), 1);
  EXPECT_TRUE(
      absl::StrContains(ReadFile(cluster_->LogPath("hookctl-plain")), "hookctl: UNAVAILABLE"))
      << ReadFile(cluster_->LogPath("hookctl-plain"));
  EXPECT_EQ(hookctl({"--tls-ca", pki_ + "/ca.pem"}, "hookctl-no-cert"), 1);
  EXPECT_TRUE(
      absl::StrContains(ReadFile(cluster_->LogPath("hookctl-no-cert")), "hookctl: UNAVAILABLE"))
      << ReadFile(cluster_->LogPath("hookctl-no-cert"));

  // Refused: plaintext, TLS without a client certificate, a client that trusts another CA.
  const int port = cluster_->subscription_port();
  grpc::health::v1::HealthCheckResponse health;
  EXPECT_EQ(Check(port, grpc::InsecureChannelCredentials(), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  TlsSettings no_certificate{.ca_file = pki_ + "/ca.pem"};
  EXPECT_EQ(Check(port, ChannelCredentialsFor(no_certificate), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  TlsSettings trusts_other_ca{.cert_file = pki_ + "/client.pem",
                              .key_file = pki_ + "/client.key",
                              .ca_file = pki_ + "/other/ca.pem"};
  EXPECT_EQ(Check(port, ChannelCredentialsFor(trusts_other_ca), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  TlsSettings certified_by_other_ca{.cert_file = pki_ + "/other/client.pem",
                                    .key_file = pki_ + "/other/client.key",
                                    .ca_file = pki_ + "/ca.pem"};
  EXPECT_EQ(Check(port, ChannelCredentialsFor(certified_by_other_ca), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // ... and the server keeps serving certified clients.
  EXPECT_TRUE(Check(port, ChannelCredentialsFor(ProcessTls()), &health).ok());

  // kubelet's probes: plaintext grpc.health.v1 on each health listener, nothing else there.
  for (int health_port : {subscription_health, ingest_health, worker_health}) {
    grpc::health::v1::HealthCheckResponse probe;
    grpc::Status status = Check(health_port, grpc::InsecureChannelCredentials(), &probe);
    EXPECT_TRUE(status.ok()) << health_port << ": " << status.error_message();
    EXPECT_EQ(probe.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  auto apps_on_health_port = v1::AppService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(subscription_health), grpc::InsecureChannelCredentials()));
  v1::ListAppsResponse apps;
  EXPECT_EQ(
      apps_on_health_port
          ->ListApps(ClientContext(cluster_->admin_token(), absl::Seconds(3)).get(), {}, &apps)
          .error_code(),
      grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(TlsTest, ACertificateSwappedOnDiskIsServedWithoutARestart) {
  ASSERT_TRUE(cluster_->StartSubscription().ok());
  // The common name the server presents to a new connection.
  auto served_name = [&] {
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(cluster_->subscription_port()),
                                  ChannelCredentialsFor(ProcessTls()), grpc::ChannelArguments());
    auto context = ClientContext("", absl::Seconds(3));
    grpc::health::v1::HealthCheckResponse response;
    if (!grpc::health::v1::Health::NewStub(channel)->Check(context.get(), {}, &response).ok()) {
      return std::string("(no connection)");
    }
    auto names = context->auth_context()->FindPropertyValues("x509_common_name");
    return names.empty() ? std::string("(none)") : std::string(names[0].data(), names[0].size());
  };
  EXPECT_EQ(served_name(), "hookd");
  // Each file swapped whole: a new link renamed over the old one (the key first, then the
  // certificate; gRPC keeps the old pair while the two do not match). Kubernetes swaps a
  // Secret's files together, with one directory link.
  auto swap_to = [&](const std::string& name) {
    for (const char* ext : {"key", "pem"}) {
      const std::string next = pki_ + "/next." + ext;
      EXPECT_EQ(symlink((pki_ + "/" + name + "." + ext).c_str(), next.c_str()), 0);
      EXPECT_EQ(rename(next.c_str(), (pki_ + "/live." + ext).c_str()), 0);
    }
  };
  swap_to("rotated");
  const absl::Time swapped = absl::Now();
  EXPECT_TRUE(PollUntil([&] { return served_name() == "hookd-rotated"; }, absl::Seconds(10)))
      << served_name();
  std::cout << "the rotated certificate was served " << absl::Now() - swapped
            << " after the swap (refresh 1s)\n";
  // A certificate that does not name the host dialed (127.0.0.1) is refused by the client.
  swap_to("foreign");
  EXPECT_TRUE(PollUntil([&] { return served_name() == "(no connection)"; }, absl::Seconds(10)))
      << served_name();
  // ... and it was the certificate, not a dead server: swapped back, it is served again.
  swap_to("rotated");
  EXPECT_TRUE(PollUntil([&] { return served_name() == "hookd-rotated"; }, absl::Seconds(10)))
      << served_name();
}

TEST_F(TlsTest, BadFilesStopTheStartWithThePathAndTheReason) {
  struct Case {
    std::string what;
    std::map<std::string, std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"missing certificate",
       {{"HOOKD_TLS_CERT", pki_ + "/nothing.pem"}},
       "HOOKD_TLS_CERT: " + pki_ + "/nothing.pem: No such file or directory"},
      {"a key that is no certificate",
       {{"HOOKD_TLS_CERT", pki_ + "/server.key"}},
       "HOOKD_TLS_CERT: " + pki_ + "/server.key: no PEM certificate in it"},
      {"a key of another certificate",
       {{"HOOKD_TLS_KEY", pki_ + "/client.key"}},
       "HOOKD_TLS_KEY: " + pki_ + "/client.key: does not match the certificate of " + pki_ +
           "/live.pem"},
      {"an unreadable client CA",
       {{"HOOKD_TLS_CLIENT_CA", pki_ + "/ca.key"}},
       "HOOKD_TLS_CLIENT_CA: " + pki_ + "/ca.key: no PEM certificate in it"},
      {"a key without its certificate", {{"HOOKD_TLS_CERT", ""}}, "HOOKD_TLS_CERT: required with"},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> env = ServiceTlsEnvironment();
    for (const auto& [name, value] : c.env) env[name] = value;
    env["HOOKD_DATABASE_URL"] = bed_->db->url();
    env["HOOKD_ADMIN_TOKEN"] = "t";
    env["HOOKD_MASTER_KEY"] = testing::kTestMasterKey;
    env["HOOKD_LISTEN"] = "127.0.0.1:" + std::to_string(testing::FreePort());
    const std::string log = cluster_->LogPath("bad-" + std::to_string(&c - cases.data()));
    auto process = testing::ChildProcess::Spawn({HOOKD_BIN_DIR "/hookd-subscription"}, env, log);
    ASSERT_TRUE(process.ok());
    const int status = (*process)->Wait(absl::Seconds(10));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << c.what << ": " << status;
    EXPECT_TRUE(absl::StrContains(ReadFile(log), c.message)) << c.what << ": " << ReadFile(log);
  }
}

TEST_F(TlsTest, HookdRunsOnAPostgresThatAcceptsOnlyTls) {
  // A Postgres of the test's own that rejects TCP without TLS (scripts/pg.sh --tls).
  const std::string pg_dir = pki_ + "/pg";
  const int pg_port = testing::FreePort();
  const std::string pg_sh = std::string(HOOKD_SOURCE_DIR) + "/scripts/pg.sh";
  ASSERT_TRUE(RunShell(pg_sh + " start --dir " + pg_dir + " --port " + std::to_string(pg_port) +
                       " --tls " + pki_ + " 2>/dev/null"));
  const std::string base = "postgresql://hookd@127.0.0.1:" + std::to_string(pg_port) + "/hookd";
  EXPECT_THROW(pqxx::connection(base + "?sslmode=disable"), pqxx::broken_connection);

  std::map<std::string, std::string> env = ServiceTlsEnvironment();
  env["HOOKD_DATABASE_URL"] = base + "?sslmode=verify-full&sslrootcert=" + pki_ + "/ca.pem";
  env["HOOKD_ADMIN_TOKEN"] = cluster_->admin_token();
  env["HOOKD_MASTER_KEY"] = testing::kTestMasterKey;
  const int port = testing::FreePort();
  env["HOOKD_LISTEN"] = "127.0.0.1:" + std::to_string(port);
  auto subscription = testing::ChildProcess::Spawn({HOOKD_BIN_DIR "/hookd-subscription"}, env,
                                                   cluster_->LogPath("subscription-pg-tls"));
  ASSERT_TRUE(subscription.ok());
  auto types =
      v1::EventTypeService::NewStub(NewInternalChannel("127.0.0.1:" + std::to_string(port)));
  EXPECT_TRUE(PollUntil(
      [&] {
        v1::ListEventTypesResponse out;
        return types->ListEventTypes(ClientContext(cluster_->admin_token()).get(), {}, &out).ok() &&
               out.event_types_size() > 0;  // hookd's own types, read from Postgres
      },
      absl::Seconds(30)))
      << (*subscription)->LogTail();
  {
    pqxx::connection conn(base + "?sslmode=require");
    pqxx::work txn(conn);
    EXPECT_GT(txn.exec1("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
                        " WHERE a.usename = 'hookd' AND s.ssl AND a.pid <> pg_backend_pid()")[0]
                  .as<int>(),
              0);
  }
  subscription->reset();
  EXPECT_TRUE(RunShell(pg_sh + " stop --dir " + pg_dir + " 2>/dev/null"));
}

}  // namespace
}  // namespace hookd::e2e
