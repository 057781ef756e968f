#include "cluster.h"

#include <cstdlib>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/grpc_util.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"

namespace hookd::e2e {

Cluster::Cluster(std::string database_url, std::string redis_url, std::string redis_key_prefix,
                 int partitions)
    : database_url_(std::move(database_url)),
      redis_url_(std::move(redis_url)),
      redis_key_prefix_(std::move(redis_key_prefix)),
      partitions_(partitions),
      subscription_port_(testing::FreePort()),
      ingest_port_(testing::FreePort()),
      subscription_metrics_port_(testing::FreePort()),
      ingest_metrics_port_(testing::FreePort()) {
  char dir[] = "/tmp/hookd-e2e.XXXXXX";
  if (mkdtemp(dir) != nullptr) log_dir_ = dir;
}

Cluster::~Cluster() {
  workers_.clear();
  ingest_replicas_.clear();
  ingest_.reset();
  replicas_.clear();
  subscription_.reset();
  // Logs stay when the test failed and the directory is shown in its output; otherwise go.
  if (!log_dir_.empty() && std::getenv("HOOKD_KEEP_E2E_LOGS") == nullptr) {
    std::system(("rm -rf '" + log_dir_ + "'").c_str());
  }
}

std::string Cluster::LogPath(const std::string& name) const {
  return log_dir_ + "/" + name + ".log";
}

std::map<std::string, std::string> Cluster::Environment(int port, int metrics_port) const {
  std::map<std::string, std::string> env = extra_env_;
  env.merge(std::map<std::string, std::string>{
      {"HOOKD_DATABASE_URL", database_url_},
      {"HOOKD_REDIS_URL", redis_url_},
      {"HOOKD_ADMIN_TOKEN", admin_token_},
      {"HOOKD_MASTER_KEY", testing::kTestMasterKey},
      {"HOOKD_LISTEN", "127.0.0.1:" + std::to_string(port)},
      {"HOOKD_METRICS_LISTEN", "127.0.0.1:" + std::to_string(metrics_port)},
      {"HOOKD_SUBSCRIPTION_ADDR", "127.0.0.1:" + std::to_string(subscription_port_)},
      // Endpoints in these tests are receivers on loopback.
      {"HOOKD_ALLOW_HTTP", "true"},
      {"HOOKD_PRIVATE_ALLOWLIST", "127.0.0.0/8"},
  });
  return env;
}

std::shared_ptr<grpc::Channel> Cluster::subscription_channel() const {
  return NewInternalChannel("127.0.0.1:" + std::to_string(subscription_port_),
                            absl::Milliseconds(100));
}

std::shared_ptr<grpc::Channel> Cluster::ingest_channel() const {
  return NewInternalChannel("127.0.0.1:" + std::to_string(ingest_port_), absl::Milliseconds(100));
}

absl::StatusOr<std::unique_ptr<testing::ChildProcess>> Cluster::SpawnSubscription(
    int port, int metrics_port, const std::string& log_name,
    const std::vector<std::string>& extra_flags) const {
  // The same streams as ingest and the workers: retries, recoveries and resumes queue there.
  std::vector<std::string> argv = {HOOKD_BIN_DIR "/hookd-subscription",
                                   "--redis_key_prefix=" + redis_key_prefix_,
                                   "--partitions=" + std::to_string(partitions_)};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  HOOKD_ASSIGN_OR_RETURN(
      std::unique_ptr<testing::ChildProcess> process,
      testing::ChildProcess::Spawn(argv, Environment(port, metrics_port), LogPath(log_name)));
  // A gRPC channel that saw "connection refused" backs off for seconds; connect first.
  testing::PollUntil([&] { return testing::PortAcceptsConnections(port); }, absl::Seconds(20));
  auto health = grpc::health::v1::Health::NewStub(
      NewInternalChannel("127.0.0.1:" + std::to_string(port), absl::Milliseconds(100)));
  bool up = testing::PollUntil(
      [&] {
        grpc::health::v1::HealthCheckResponse response;
        return health->Check(testing::ClientContext("", absl::Seconds(1)).get(), {}, &response)
                   .ok() &&
               response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(20));
  if (!up) {
    return absl::DeadlineExceededError("hookd-subscription did not come up: " + process->LogTail());
  }
  return process;
}

absl::Status Cluster::StartSubscription(const std::vector<std::string>& extra_flags) {
  HOOKD_ASSIGN_OR_RETURN(subscription_,
                         SpawnSubscription(subscription_port_, subscription_metrics_port_,
                                           "subscription", extra_flags));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Cluster::StartSubscriptionReplica(
    const std::vector<std::string>& extra_flags) {
  const int port = testing::FreePort();
  const std::string name = "subscription-" + std::to_string(replicas_.size() + 2);
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<testing::ChildProcess> process,
                         SpawnSubscription(port, testing::FreePort(), name, extra_flags));
  replicas_.push_back(std::move(process));
  return NewInternalChannel("127.0.0.1:" + std::to_string(port), absl::Milliseconds(100));
}

absl::StatusOr<std::unique_ptr<testing::ChildProcess>> Cluster::SpawnIngest(
    int port, int metrics_port, const std::string& log_name,
    const std::vector<std::string>& extra_flags) const {
  std::vector<std::string> argv = {HOOKD_BIN_DIR "/hookd-ingest",
                                   "--redis_key_prefix=" + redis_key_prefix_,
                                   "--partitions=" + std::to_string(partitions_)};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  HOOKD_ASSIGN_OR_RETURN(
      std::unique_ptr<testing::ChildProcess> process,
      testing::ChildProcess::Spawn(argv, Environment(port, metrics_port), LogPath(log_name)));
  testing::PollUntil([&] { return testing::PortAcceptsConnections(port); }, absl::Seconds(20));
  // Ready means routing synced: a publish answers anything but UNAVAILABLE.
  auto stub = v1::IngestService::NewStub(
      NewInternalChannel("127.0.0.1:" + std::to_string(port), absl::Milliseconds(100)));
  bool ready = testing::PollUntil(
      [&] {
        v1::PublishRequest probe;  // invalid on purpose: validated only once routing is ready
        v1::PublishResponse response;
        grpc::Status status = stub->Publish(
            testing::ClientContext(admin_token_, absl::Seconds(1)).get(), probe, &response);
        return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
      },
      absl::Seconds(20));
  if (!ready) {
    return absl::DeadlineExceededError("hookd-ingest did not become ready: " + process->LogTail());
  }
  return process;
}

absl::Status Cluster::StartIngest(const std::vector<std::string>& extra_flags) {
  HOOKD_ASSIGN_OR_RETURN(ingest_,
                         SpawnIngest(ingest_port_, ingest_metrics_port_, "ingest", extra_flags));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Cluster::StartIngestReplica(
    const std::vector<std::string>& extra_flags) {
  const int port = testing::FreePort();
  const std::string name = "ingest-" + std::to_string(ingest_replicas_.size() + 2);
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<testing::ChildProcess> process,
                         SpawnIngest(port, testing::FreePort(), name, extra_flags));
  ingest_replicas_.push_back(std::move(process));
  return NewInternalChannel("127.0.0.1:" + std::to_string(port), absl::Milliseconds(100));
}

absl::Status Cluster::StartWorker(const std::string& name,
                                  const std::vector<std::string>& extra_flags) {
  const int port = testing::FreePort();
  std::vector<std::string> argv = {HOOKD_BIN_DIR "/hookd-worker",
                                   "--redis_key_prefix=" + redis_key_prefix_,
                                   "--partitions=" + std::to_string(partitions_),
                                   "--name=" + name,
                                   "--retry_delay_scale=0.001",
                                   "--max_request_timeout=2s",
                                   "--visibility_timeout=4s",
                                   "--lost_grace=3s",
                                   "--shutdown_grace=5s",
                                   "--max_in_flight=64"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  // A restarted worker keeps its metrics port.
  if (worker_metrics_ports_.count(name) == 0) worker_metrics_ports_[name] = testing::FreePort();
  auto process = testing::ChildProcess::Spawn(argv, Environment(port, worker_metrics_ports_[name]),
                                              LogPath("worker-" + name));
  if (!process.ok()) return process.status();
  workers_[name] = std::move(*process);
  testing::PollUntil([&] { return testing::PortAcceptsConnections(port); }, absl::Seconds(20));
  auto health = grpc::health::v1::Health::NewStub(
      NewInternalChannel("127.0.0.1:" + std::to_string(port), absl::Milliseconds(100)));
  bool up = testing::PollUntil(
      [&] {
        grpc::health::v1::HealthCheckResponse response;
        return health->Check(testing::ClientContext("", absl::Seconds(1)).get(), {}, &response)
            .ok();
      },
      absl::Seconds(20));
  if (!up) {
    return absl::DeadlineExceededError("hookd-worker " + name +
                                       " did not come up: " + workers_[name]->LogTail());
  }
  return absl::OkStatus();
}

absl::Status Cluster::CreateEventTypes(const std::vector<std::string>& names) {
  auto types = v1::EventTypeService::NewStub(subscription_channel());
  for (const std::string& name : names) {
    v1::CreateEventTypeRequest request;
    request.mutable_event_type()->set_name(name);
    v1::EventType out;
    grpc::Status status =
        types->CreateEventType(testing::ClientContext(admin_token_).get(), request, &out);
    if (!status.ok()) return FromGrpcStatus(status);
  }
  return absl::OkStatus();
}

v1::App Cluster::CreateApp(const v1::App& app) {
  v1::CreateAppRequest request;
  *request.mutable_app() = app;
  request.set_skip_connection_test(true);
  v1::App out;
  grpc::Status status = v1::AppService::NewStub(subscription_channel())
                            ->CreateApp(testing::ClientContext(admin_token_).get(), request, &out);
  EXPECT_TRUE(status.ok()) << "CreateApp: " << status.error_message();
  return out;
}

std::string Cluster::PublishRouted(const v1::PublishRequest& request, int expected_deliveries) {
  auto stub = v1::IngestService::NewStub(ingest_channel());
  std::string id;
  EXPECT_TRUE(testing::PollUntil([&] {
    v1::PublishResponse response;
    if (!stub->Publish(testing::ClientContext(admin_token_).get(), request, &response).ok()) {
      return false;
    }
    if (response.delivery_count() != expected_deliveries) return false;
    id = response.event_id();
    return true;
  })) << "publish to "
      << request.tenant() << " never reached " << expected_deliveries << " apps";
  return id;
}

absl::Status Cluster::StartAll(const std::vector<std::string>& event_types,
                               const std::vector<std::string>& extra_flags) {
  HOOKD_RETURN_IF_ERROR(StartSubscription(extra_flags));
  HOOKD_RETURN_IF_ERROR(CreateEventTypes(event_types));
  HOOKD_RETURN_IF_ERROR(StartIngest(extra_flags));
  return StartWorker("w1", extra_flags);
}

absl::StatusOr<std::unique_ptr<TestBed>> TestBed::Create(std::string_view suite) {
  auto bed = std::make_unique<TestBed>();
  HOOKD_ASSIGN_OR_RETURN(bed->db, testing::TestDatabase::Create(suite));
  HOOKD_ASSIGN_OR_RETURN(bed->redis, testing::TestRedisOptions(suite));
  bed->cluster = std::make_unique<Cluster>(bed->db->url(), bed->redis.url, bed->redis.key_prefix,
                                           bed->redis.partitions);
  return bed;
}

TestBed::~TestBed() {
  cluster.reset();
  if (!redis.url.empty()) (void)testing::DeleteKeys(redis);
}

}  // namespace hookd::e2e
