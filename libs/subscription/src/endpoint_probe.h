#pragma once

#include <functional>

#include "absl/status/status.h"
#include "hookd/http/http_sender.h"
#include "hookd/v1/app.pb.h"

// The endpoint probe of CreateApp and TestConnection.

namespace hookd::subscription {

// Sends a signed `hookd.ping` to `app` (which carries its secrets) now, through the same request
// building and HTTP code the workers use. `done` runs on the sender's thread with the result;
// an app that cannot be signed answers as an internal error without a request.
void SendPing(http::HttpSender& sender, const v1::App& app,
              std::function<void(http::HttpResult)> done);

// TestConnection's answer for `result`.
v1::TestConnectionResponse ToResponse(const http::HttpResult& result);

// Why CreateApp refuses an endpoint: FAILED_PRECONDITION naming an unreachable host, a TLS
// failure, a timeout, a forbidden address, or credentials rejected (401/403). OK otherwise:
// any other answer proves the endpoint is there and accepts our credentials.
absl::Status ConnectionVerdict(const http::HttpResult& result);

}  // namespace hookd::subscription
