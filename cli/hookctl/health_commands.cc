// hookctl health ...: grpc.health.v1, as a container's health check or a probe asks it.

#include "cli.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "hookd/common/status.h"
#include "hookd/service/grpc_status.h"

namespace hookd::hookctl {
namespace {

absl::Status Check(Invocation& inv, const std::vector<std::string>& args) {
  FlagParser flags = CommandFlags(
      "hookctl health check ADDR",
      "Asks ADDR (host:port) over plaintext gRPC whether it serves (grpc.health.v1 Check of the\n"
      "whole server): the address of a service's HOOKD_HEALTH_LISTEN, which answers without\n"
      "TLS or token. Prints SERVING and exits 0 when it does; exits 1 otherwise, also when\n"
      "nothing answers within --timeout. docker-compose.yml's health checks run it.");
  HOOKD_ASSIGN_OR_RETURN(FlagParser::Result parsed, inv.Parse(flags, args, {"ADDR"}));
  if (parsed.help) return absl::OkStatus();
  // Plaintext whatever the global TLS flags say: the health listener never speaks TLS, and in a
  // container with HOOKD_TLS_CA set for the services the check must still reach it.
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(parsed.positional[0], grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + inv.options().timeout));
  context.set_wait_for_ready(true);  // until the deadline, not the first refused connection
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  HOOKD_RETURN_IF_ERROR(FromGrpcStatus(stub->Check(&context, request, &response)));
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  inv.out() << status << "\n";
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(parsed.positional[0] + " answers " + status);
  }
  return absl::OkStatus();
}

}  // namespace

GroupSpec HealthGroup() {
  return {"health",
          "Ask a service's health listener whether it serves.",
          {
              {"check", "Check ADDR's grpc.health.v1 (plaintext); exit 0 when SERVING.", Check},
          }};
}

}  // namespace hookd::hookctl
