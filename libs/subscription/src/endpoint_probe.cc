#include "endpoint_probe.h"

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/ids.h"
#include "hookd/delivery/request.h"

namespace hookd::subscription {

void SendPing(http::HttpSender& sender, const v1::App& app,
              std::function<void(http::HttpResult)> done) {
  delivery::EventData ping;
  ping.id = NewId("msg");
  ping.event_type = "hookd.ping";
  ping.payload = R"({"message":"hookd connection test","app_id":")" + app.id() + R"("})";
  ping.create_time = absl::Now();
  auto request = delivery::BuildRequest(app, ping, absl::Now());
  if (!request.ok()) {
    http::HttpResult result;
    result.error = delivery::BuildErrorOf(request.status());
    result.error_detail = std::string(request.status().message());
    done(std::move(result));
    return;
  }
  sender.Send(std::move(*request), std::move(done));
}

v1::TestConnectionResponse ToResponse(const http::HttpResult& result) {
  v1::TestConnectionResponse response;
  response.set_success(result.error == v1::ATTEMPT_ERROR_NONE && result.status_code >= 200 &&
                       result.status_code < 300);
  response.set_status_code(result.status_code);
  *response.mutable_latency() = google::protobuf::util::TimeUtil::MicrosecondsToDuration(
      absl::ToInt64Microseconds(result.duration));
  if (!response.success()) {
    response.set_error(result.error_detail.empty()
                           ? "HTTP " + std::to_string(result.status_code)
                           : v1::AttemptError_Name(result.error) + ": " + result.error_detail);
  }
  return response;
}

absl::Status ConnectionVerdict(const http::HttpResult& result) {
  auto refuse = [&](const std::string& reason) {
    return absl::FailedPreconditionError("connection test failed: " + reason +
                                         " (skip_connection_test saves the app anyway)");
  };
  switch (result.error) {
    case v1::ATTEMPT_ERROR_NONE:
      break;
    case v1::ATTEMPT_ERROR_TIMEOUT:
      return refuse("timeout: " + result.error_detail);
    case v1::ATTEMPT_ERROR_TLS:
      return refuse("TLS failure: " + result.error_detail);
    case v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS:
      return refuse("forbidden address: " + result.error_detail);
    case v1::ATTEMPT_ERROR_CONNECTION:
      return refuse("unreachable host: " + result.error_detail);
    default:
      return refuse(result.error_detail);
  }
  if (result.status_code == 401 || result.status_code == 403) {
    return refuse("credentials rejected (HTTP " + std::to_string(result.status_code) + ")");
  }
  return absl::OkStatus();
}

}  // namespace hookd::subscription
