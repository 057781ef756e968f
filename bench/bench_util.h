#pragma once

// Helpers shared by the load generators in bench/: flag and environment fallbacks, the
// loopback-only target check, gRPC channels and status text, exact percentiles, and a
// bounded log of distinct errors.

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace hookd::bench {

// The value of environment variable `name`, or "" when unset.
std::string Getenv(const char* name);

// The first non-empty value, or "" when all are empty.
std::string FirstNonEmpty(std::initializer_list<std::string> values);

// Resolves `target` (host:port or [v6]:port) and returns it as a numeric address to dial, so
// that what was checked is exactly what gets connected to (no second, different DNS answer).
// `flag` names the flag in messages. INVALID_ARGUMENT for a malformed or unresolvable target,
// FAILED_PRECONDITION when any address it resolves to is not loopback (127.0.0.0/8, ::1).
absl::StatusOr<std::string> LoopbackTarget(absl::string_view flag, absl::string_view target);

// `count` insecure channels to `target`, each its own TCP connection (see the .cc for why), with
// no message size limits.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int count);

// The gRPC code's name, e.g. "ALREADY_EXISTS".
const char* CodeName(grpc::StatusCode code);

// "CODE: message".
std::string Describe(const grpc::Status& status);

// Wall clock in unix microseconds.
int64_t NowMicros();

// User plus system CPU time of this process, in seconds.
double ProcessCpuSeconds();

// The nearest-rank `q`-quantile (0 < q <= 1) of `sorted` (ascending); 0 when it is empty.
// Every sample is kept, so the percentiles are exact rather than histogram estimates.
int64_t NearestRank(const std::vector<int64_t>& sorted, double q);

// Distinct error messages in order of first appearance, with counts. Only the error path takes
// the lock, so a healthy run never contends on it.
class ErrorLog {
 public:
  void Add(std::string message);
  // Prints the first few messages with their counts, then how many more there were.
  void Print(FILE* out) const;
  bool empty() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, int64_t>> entries_;
  int64_t others_ = 0;
};

}  // namespace hookd::bench
