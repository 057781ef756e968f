#include "hookd/service/grpc_util.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc_metrics.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"
#include "hookd/service/tls.h"

namespace hookd {
namespace {

// grpc.health.v1 of every hookd server and health listener: SERVING for the whole server ("")
// while the process serves; stateless, so one instance serves every server of the process.
// Check alone: kubelet's gRPC probe calls nothing else. A callback service, so a server with no
// other service (hookd-worker's) still has what gRPC needs to run; gRPC's default health
// service would not be polled there.
class HealthProbe final : public grpc::health::v1::Health::CallbackService {
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!request->service().empty()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "only the server's own health (service \"\") is served here"));
      return reactor;
    }
    response->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

std::shared_ptr<grpc::Channel> NewInternalChannel(const std::string& address,
                                                  absl::Duration max_backoff) {
  grpc::ChannelArguments args;
  const int max_ms = static_cast<int>(absl::ToInt64Milliseconds(max_backoff));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(100, max_ms));
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone: gRPC uses it as the connect timeout, and
  // a short one aborts handshakes on a busy machine.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  return grpc::CreateCustomChannel(address, ChannelCredentialsFor(ProcessTls()), args);
}

absl::StatusOr<StartedServer> StartGrpcServer(const std::string& listen,
                                              const std::vector<grpc::Service*>& services,
                                              int max_receive_message_bytes,
                                              const std::string& health_listen) {
  static HealthProbe* const probe = new HealthProbe();
  StartedServer started;
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.RegisterService(probe);
  builder.AddListeningPort(listen, ServerCredentialsFor(ProcessTls()), &started.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(max_receive_message_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewGrpcMetricsInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::UnavailableError("listen: cannot listen on " + listen);
  }
  if (!health_listen.empty()) {
    grpc::ServerBuilder health;
    // Ours instead of gRPC's default health service, which needs a polled completion queue.
    health.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
    health.RegisterService(probe);
    health.AddListeningPort(health_listen, grpc::InsecureServerCredentials(), &started.health_port);
    started.health_server = health.BuildAndStart();
    if (started.health_server == nullptr || started.health_port == 0) {
      started.server->Shutdown();
      return absl::UnavailableError("health_listen: cannot listen on " + health_listen);
    }
  }
  return started;
}

grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context, ThreadPool& pool,
                                       std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool.Submit([reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  return reactor;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace hookd
