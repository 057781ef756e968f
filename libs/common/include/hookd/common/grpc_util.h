#pragma once

#include <functional>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "hookd/common/thread_pool.h"

namespace hookd {

// Runs `work` on `pool` and finishes the unary call with its status, so that the gRPC reactor
// thread that called the handler returns at once instead of waiting on Postgres.
grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context, ThreadPool& pool,
                                       std::function<absl::Status()> work);

// Finishes the unary call with `status` right away (for errors found before any I/O).
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status);

}  // namespace hookd
