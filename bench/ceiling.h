#pragma once

// The HTTP ceiling of this machine: how many webhook-sized POSTs per second the benchmark's
// receiver answers when the client does nothing else. hookd-bench-e2e measures it against the
// same receiver that its end-to-end phases use, so "end to end / ceiling" compares like with
// like. Two clients: hookd's own HTTP sender (libs/http, what hookd-worker sends with) in a loop,
// and wrk when it is installed.

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hookd::bench {

struct CeilingOptions {
  std::string url;  // http://127.0.0.1:<port>/<path>
  // What each POST carries: a worker-like body and headers (see CeilingHeaders).
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int connections = 256;  // requests kept outstanding (hookd sender) or wrk's -c
  int wrk_threads = 2;    // wrk's -t
  absl::Duration warmup;
  absl::Duration duration;
};

struct CeilingResult {
  std::string client;  // "hookd-http" or "wrk"
  int connections = 0;
  int threads = 0;  // client threads driving the connections
  double duration_s = 0;
  int64_t requests = 0;  // completed inside the window, failures included
  int64_t errors = 0;    // transport errors and non-2xx answers
  double requests_per_s = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  // CPU of this process (the sender loop and, in hookd-bench-e2e, the receiver) during the
  // window; -1 when not measured (wrk runs as its own process).
  double client_cpu_s = -1;
  std::string first_error;
};

// The headers hookd-worker sends with a delivery (content-type, webhook-id, webhook-timestamp,
// webhook-signature), with fixed values: the receiver answers without checking them.
std::vector<std::pair<std::string, std::string>> CeilingHeaders();

// Keeps `options.connections` POSTs outstanding through hookd::http::NewCurlSender (plain http
// and 127.0.0.0/8 allowed) for warm-up + duration and counts what completes inside the window.
// Latency is from Send to the completion callback. INTERNAL when the sender cannot be created,
// CANCELLED when `interrupted` became true.
absl::StatusOr<CeilingResult> RunSenderCeiling(const CeilingOptions& options,
                                               const std::atomic<bool>& interrupted);

// The path of executable `name` on $PATH (or `name` itself when it contains a '/' and is
// executable); "" when not found.
std::string FindExecutable(absl::string_view name);

// Runs `wrk` (a path) twice against options.url, a warm-up of options.warmup then the measured
// run, with a Lua script that makes each request the same POST. Parses Requests/sec and the
// latency distribution. UNAVAILABLE when wrk fails or prints nothing parsable (the message
// carries its output's first lines).
absl::StatusOr<CeilingResult> RunWrkCeiling(const std::string& wrk, const CeilingOptions& options);

// Parses the text wrk prints with --latency; exposed for a quick check of the parser.
absl::StatusOr<CeilingResult> ParseWrkOutput(absl::string_view output);

}  // namespace hookd::bench
