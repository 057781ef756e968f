#pragma once

// Helpers shared by the test suites that talk to real servers.

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/client_context.h"

namespace hookd::testing {

// Calls `done` until it returns true or `timeout` passes; returns its last answer. Tests wait on
// an observable condition this way instead of sleeping for a guessed time.
bool PollUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10),
               absl::Duration interval = absl::Milliseconds(20));

// A client context carrying `authorization: Bearer <token>` (none when empty) and a deadline.
std::unique_ptr<grpc::ClientContext> ClientContext(const std::string& token,
                                                   absl::Duration deadline = absl::Seconds(10));

// A fixed master key for test servers (base64 of 32 bytes).
inline constexpr char kTestMasterKey[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
inline constexpr char kTestAdminToken[] = "test-admin-token";

}  // namespace hookd::testing
