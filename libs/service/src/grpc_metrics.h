#pragma once

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace hookd {

// Counts every RPC a server answers by method and status code (hookd_grpc_requests_total) and
// times it (hookd_grpc_request_duration_seconds), at the RPC edge: no handler needs to know.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory();

}  // namespace hookd
