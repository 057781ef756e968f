#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "hookd/common/thread_pool.h"

namespace hookd {

// A channel between hookd processes (or from a test), with the process's TLS (ProcessTls in
// tls.h): verified against HOOKD_TLS_CA, presenting HOOKD_TLS_CERT, when set. gRPC's default
// reconnect backoff grows to two minutes; a service that lost hookd-subscription for a moment
// must find it again within `max_backoff`, not minutes later.
std::shared_ptr<grpc::Channel> NewInternalChannel(const std::string& address,
                                                  absl::Duration max_backoff = absl::Seconds(2));

// A started gRPC server and the port it bound; with a health listener, the plaintext server of
// grpc.health.v1 alone and its port. Shut the health server down first, so probes see the
// process leave before its calls are refused.
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::unique_ptr<grpc::Server> health_server;
  int health_port = 0;
};

// Starts a server on `listen` with `services` and the standard health service (server reflection
// is one of the `services` where offered: auth::ReflectionService), and counts and times every call
// it answers in the default metrics registry (hookd_grpc_requests_total,
// hookd_grpc_request_duration_seconds). It serves TLS (mTLS) when the process's TLS settings say
// so. With `health_listen`, a second, plaintext server answers grpc.health.v1 alone there (SERVING
// while the process serves), for probes that present no client certificate, as kubelet's.
// UNAVAILABLE naming the address when one cannot be bound.
absl::StatusOr<StartedServer> StartGrpcServer(const std::string& listen,
                                              const std::vector<grpc::Service*>& services,
                                              int max_receive_message_bytes = 4 << 20,
                                              const std::string& health_listen = "");

// Runs `work` on `pool` and finishes the unary call with its status, so that the gRPC reactor
// thread that called the handler returns at once instead of waiting on Postgres.
grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context, ThreadPool& pool,
                                       std::function<absl::Status()> work);

// Finishes the unary call with `status` right away (for errors found before any I/O).
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

}  // namespace hookd
