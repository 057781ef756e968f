#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/http/ip_policy.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::http {

// One webhook POST.
struct HttpRequest {
  std::string url;
  // Header name and value pairs, sent in order. Content-Type is one of them.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Duration timeout = absl::Seconds(10);
};

// What came back, or why nothing did.
struct HttpResult {
  // 0 when no complete response arrived: set exactly when `error` is ATTEMPT_ERROR_NONE.
  int status_code = 0;
  // Response headers (names lower-cased), for Retry-After.
  std::vector<std::pair<std::string, std::string>> headers;
  // At most HttpSenderOptions::max_response_bytes of the body.
  std::string body_excerpt;
  // ATTEMPT_ERROR_NONE for any response (even 500): the status code says the rest.
  v1::AttemptError error = v1::ATTEMPT_ERROR_NONE;
  std::string error_detail;
  // When the request left the queue and its transfer began; time spent waiting for a free
  // in-flight slot is not part of `duration`, nor of the request timeout.
  absl::Time start_time;
  absl::Duration duration;
  // Why a transport error happened, where a receiver's setup is to blame and retrying alone does
  // not help: the server's certificate was rejected, or its host name did not resolve (curl's
  // CURLE_COULDNT_RESOLVE_HOST, which a resolver timeout gives too: HostIsUnknown tells them
  // apart).
  enum class Cause { kNone, kCertificateRejected, kHostNotResolved };
  Cause cause = Cause::kNone;

  // The value of response header `name` (lower-case), or "".
  std::string Header(const std::string& name) const;
};

// Sends webhook requests. Implementations run many requests at once; `done` runs on the
// sender's thread and must not block.
class HttpSender {
 public:
  // Aborts what is still in flight or queued: each such `done` gets ATTEMPT_ERROR_INTERNAL
  // "sender shutting down". To drain instead, stop calling Send and wait for in_flight() == 0.
  virtual ~HttpSender() = default;
  // Calls `done` exactly once with the outcome; failures arrive as HttpResult::error, never as
  // a dropped callback. A Send made while the sender is being destroyed (only possible from a
  // `done` callback) completes at once with ATTEMPT_ERROR_INTERNAL "sender shutting down".
  virtual void Send(HttpRequest request, std::function<void(HttpResult)> done) = 0;
  // Requests started and not yet done: transfers running plus requests queued behind them. A
  // request counts until its `done` has returned.
  virtual int in_flight() const = 0;
};

struct HttpSenderOptions {
  // Requests in flight at once; more wait in a queue.
  int max_in_flight = 256;
  // Response bytes kept for the delivery log.
  size_t max_response_bytes = 4096;
  // Plain http:// urls are refused unless true (HOOKD_ALLOW_HTTP).
  bool allow_http = false;
  // Addresses endpoints may resolve to although private or loopback (HOOKD_PRIVATE_ALLOWLIST).
  std::vector<IpNetwork> private_allowlist;
  // Sent as User-Agent.
  std::string user_agent = "hookd/0.1 (+https://www.standardwebhooks.com)";
  // Idle keep-alive connections kept across all hosts.
  int max_idle_connections = 1024;
  // Requests running to one host (scheme, host and port) at once, so connections open to it, at
  // most (0 = no limit). Further requests to it wait in the sender's queue, behind no request to
  // another host, and their timeout starts when they leave it. One endpoint then cannot take
  // every connection of a worker, and a fast endpoint is served over a few busy keep-alive
  // connections instead of hundreds of mostly idle ones.
  int max_connections_per_host = 64;
};

// The libcurl-multi HttpSender: one thread drives every transfer with connection reuse per
// host, HTTP/2 over TLS where the endpoint offers it, TLS verified against the system CA bundle,
// no redirects (a 3xx is an answer like any other), the request timeout enforced, and every
// resolved address checked against the private-address policy before connecting (a refused
// address fails with ATTEMPT_ERROR_FORBIDDEN_ADDRESS, so DNS cannot smuggle a request inside).
// Environment proxy settings are ignored so that the check sees the endpoint's own address.
// A response body longer than max_response_bytes ends the transfer there (the connection is
// closed rather than reading an unbounded body), still with ATTEMPT_ERROR_NONE and the status.
// Returns INTERNAL when libcurl cannot be initialized.
absl::StatusOr<std::unique_ptr<HttpSender>> NewCurlSender(HttpSenderOptions options);

// Whether the host of `url` certainly does not exist: the system resolver answers "no such
// name" (EAI_NONAME) within `timeout`. False for a name that resolves, a timeout, a resolver
// that cannot be reached, or a url without a host. Blocks up to `timeout`.
bool HostIsUnknown(const std::string& url, absl::Duration timeout = absl::Seconds(2));

}  // namespace hookd::http
