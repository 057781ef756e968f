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

// A channel between hookd processes (or from a test). gRPC's default reconnect backoff grows to
// two minutes; a service that lost hookd-subscription for a moment must find it again within
// `max_backoff`, not minutes later.
std::shared_ptr<grpc::Channel> NewInternalChannel(const std::string& address,
                                                  absl::Duration max_backoff = absl::Seconds(2));

// A started gRPC server and the port it bound.
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Starts a server on `listen` with `services`, the standard health service and server
// reflection, which every hookd service offers, and counts and times every call it answers in
// the default metrics registry (hookd_grpc_requests_total, hookd_grpc_request_duration_seconds).
// UNAVAILABLE naming `listen` when the address cannot be bound.
absl::StatusOr<StartedServer> StartGrpcServer(const std::string& listen,
                                              const std::vector<grpc::Service*>& services,
                                              int max_receive_message_bytes = 4 << 20);

// Runs `work` on `pool` and finishes the unary call with its status, so that the gRPC reactor
// thread that called the handler returns at once instead of waiting on Postgres.
grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context, ThreadPool& pool,
                                       std::function<absl::Status()> work);

// Finishes the unary call with `status` right away (for errors found before any I/O).
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

}  // namespace hookd
