#include "ceiling.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench_util.h"
#include "hookd/http/http_sender.h"
#include "hookd/http/ip_policy.h"

namespace hookd::bench {
namespace {

// Completions are recorded on the sender's thread and read by the caller once every request is
// done; the lock is uncontended and makes that hand-over explicit.
class SenderLoop {
 public:
  SenderLoop(const CeilingOptions& options, http::HttpSender& sender, int64_t window_start_us,
             int64_t window_end_us, const std::atomic<bool>& interrupted)
      : options_(options),
        sender_(sender),
        window_start_us_(window_start_us),
        window_end_us_(window_end_us),
        interrupted_(interrupted) {}

  void Issue() {
    http::HttpRequest request;
    request.url = options_.url;
    request.headers = options_.headers;
    request.body = options_.body;
    request.timeout = absl::Seconds(10);
    int64_t sent_us = NowMicros();
    sender_.Send(std::move(request),
                 [this, sent_us](http::HttpResult result) { OnDone(sent_us, result); });
  }

  struct Totals {
    int64_t requests = 0;
    int64_t errors = 0;
    std::vector<int64_t> latency_us;  // OK requests
    std::string first_error;
  };
  Totals Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(totals_);
  }

 private:
  void OnDone(int64_t sent_us, const http::HttpResult& result) {
    int64_t now_us = NowMicros();
    if (now_us >= window_start_us_ && now_us < window_end_us_) {
      bool ok = result.error == v1::ATTEMPT_ERROR_NONE && result.status_code >= 200 &&
                result.status_code < 300;
      std::lock_guard<std::mutex> lock(mu_);
      ++totals_.requests;
      if (ok) {
        totals_.latency_us.push_back(now_us - sent_us);
      } else {
        ++totals_.errors;
        if (totals_.first_error.empty()) {
          totals_.first_error =
              result.error == v1::ATTEMPT_ERROR_NONE
                  ? absl::StrCat("HTTP ", result.status_code)
                  : absl::StrCat(v1::AttemptError_Name(result.error), ": ", result.error_detail);
        }
      }
    }
    // The next request leaves from the completion, so exactly `connections` stay outstanding.
    if (now_us < window_end_us_ && !interrupted_.load()) Issue();
  }

  const CeilingOptions& options_;
  http::HttpSender& sender_;
  const int64_t window_start_us_;
  const int64_t window_end_us_;
  const std::atomic<bool>& interrupted_;
  std::mutex mu_;
  Totals totals_;  // guarded by mu_
};

// "612.00us", "1.23ms", "2.01s", "1.00m" (wrk's units) in milliseconds; -1 when unparsable.
double WrkMillis(absl::string_view text) {
  struct Unit {
    absl::string_view suffix;
    double ms;
  };
  // "ms" before "s", "us" before "s".
  for (const Unit& unit :
       {Unit{"us", 1e-3}, Unit{"ms", 1.0}, Unit{"s", 1e3}, Unit{"m", 6e4}, Unit{"h", 3.6e6}}) {
    if (!absl::ConsumeSuffix(&text, unit.suffix)) continue;
    double value = 0;
    return absl::SimpleAtod(text, &value) ? value * unit.ms : -1;
  }
  return -1;
}

// Runs `command` through the shell; returns its exit status and fills `output` with its
// stdout and stderr.
int RunCapture(const std::string& command, std::string* output) {
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ShellQuote(absl::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string FirstLines(absl::string_view text, int lines) {
  std::vector<absl::string_view> all = absl::StrSplit(text, '\n');
  if (static_cast<int>(all.size()) > lines) all.resize(static_cast<size_t>(lines));
  return absl::StrJoin(all, "\n  ");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> CeilingHeaders() {
  // A real delivery's id, timestamp and v1 signature have these lengths.
  return {{"content-type", "application/json"},
          {"webhook-id", "evt_01JD0000000000000000000000"},
          {"webhook-timestamp", absl::StrCat(absl::ToUnixSeconds(absl::Now()))},
          {"webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}};
}

absl::StatusOr<CeilingResult> RunSenderCeiling(const CeilingOptions& options,
                                               const std::atomic<bool>& interrupted) {
  absl::StatusOr<http::IpNetwork> loopback = http::IpNetwork::Parse("127.0.0.0/8");
  if (!loopback.ok()) return loopback.status();
  http::HttpSenderOptions sender_options;
  sender_options.max_in_flight = options.connections;
  sender_options.max_connections_per_host = options.connections;
  sender_options.allow_http = true;
  sender_options.private_allowlist = {*loopback};
  absl::StatusOr<std::unique_ptr<http::HttpSender>> sender = http::NewCurlSender(sender_options);
  if (!sender.ok()) return sender.status();

  absl::Time start = absl::Now();
  absl::Time window_start = start + options.warmup;
  absl::Time window_end = window_start + options.duration;
  SenderLoop loop(options, **sender, absl::ToUnixMicros(window_start),
                  absl::ToUnixMicros(window_end), interrupted);
  for (int i = 0; i < options.connections; ++i) loop.Issue();
  while (absl::Now() < window_start && !interrupted.load()) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  double cpu_start = ProcessCpuSeconds();
  while (absl::Now() < window_end && !interrupted.load()) absl::SleepFor(absl::Milliseconds(10));
  double cpu_s = ProcessCpuSeconds() - cpu_start;
  absl::Time stopped = std::min(absl::Now(), window_end);
  // Requests still out finish on their own (the receiver answers at once); the bound only
  // keeps a wedged receiver from hanging the tool.
  absl::Time drain_deadline = absl::Now() + absl::Seconds(15);
  while ((*sender)->in_flight() > 0 && absl::Now() < drain_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  sender->reset();  // closes the connections, freeing the receiver's threads for what follows
  if (interrupted.load()) return absl::CancelledError("interrupted");

  SenderLoop::Totals totals = loop.Take();
  CeilingResult result;
  result.client = "hookd-http";
  result.connections = options.connections;
  result.threads = 1;  // the sender drives every transfer from one thread
  result.duration_s = absl::ToDoubleSeconds(stopped - window_start);
  result.requests = totals.requests;
  result.errors = totals.errors;
  result.first_error = totals.first_error;
  if (result.duration_s > 0) {
    result.requests_per_s = static_cast<double>(totals.requests) / result.duration_s;
  }
  std::sort(totals.latency_us.begin(), totals.latency_us.end());
  auto ms = [&](double q) { return static_cast<double>(NearestRank(totals.latency_us, q)) / 1e3; };
  result.p50_ms = ms(0.50);
  result.p90_ms = ms(0.90);
  result.p99_ms = ms(0.99);
  result.max_ms = ms(1.0);
  result.client_cpu_s = cpu_s;
  return result;
}

std::string FindExecutable(absl::string_view name) {
  if (name.empty()) return "";
  if (absl::StrContains(name, '/')) {
    std::string path(name);
    return access(path.c_str(), X_OK) == 0 ? path : "";
  }
  for (absl::string_view dir : absl::StrSplit(Getenv("PATH"), ':', absl::SkipEmpty())) {
    std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

absl::StatusOr<CeilingResult> ParseWrkOutput(absl::string_view output) {
  CeilingResult result;
  result.client = "wrk";
  bool have_rate = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (words.empty()) continue;
    if (words[0] == "Requests/sec:" && words.size() >= 2) {
      have_rate = absl::SimpleAtod(words[1], &result.requests_per_s);
    } else if (words.size() == 2 && absl::EndsWith(words[0], "%")) {
      // Latency distribution: "50%   1.23ms".
      double ms = WrkMillis(words[1]);
      if (words[0] == "50%") result.p50_ms = ms;
      if (words[0] == "90%") result.p90_ms = ms;
      if (words[0] == "99%") result.p99_ms = ms;
    } else if (words[0] == "Latency" && words.size() >= 4) {
      // Thread stats: "Latency  avg  stdev  max  +/-".
      result.max_ms = WrkMillis(words[3]);
    } else if (words.size() >= 4 && words[1] == "requests" && words[2] == "in") {
      // "466000 requests in 10.00s, 40.00MB read"
      (void)absl::SimpleAtoi(words[0], &result.requests);
      result.duration_s = WrkMillis(absl::StripSuffix(words[3], ",")) / 1e3;
    } else if (absl::StartsWith(line, "Socket errors:")) {
      // "Socket errors: connect 0, read 0, write 0, timeout 0"
      for (size_t i = 3; i < words.size(); i += 2) {
        int64_t n = 0;
        if (absl::SimpleAtoi(absl::StripSuffix(words[i], ","), &n)) result.errors += n;
      }
    } else if (absl::StartsWith(line, "Non-2xx or 3xx responses:")) {
      int64_t n = 0;
      if (absl::SimpleAtoi(words.back(), &n)) result.errors += n;
    } else if (words.size() >= 4 && words[1] == "threads" && words[2] == "and") {
      // "2 threads and 256 connections"
      (void)absl::SimpleAtoi(words[0], &result.threads);
      (void)absl::SimpleAtoi(words[3], &result.connections);
    }
  }
  if (!have_rate) return absl::UnavailableError("no Requests/sec line in wrk's output");
  return result;
}

absl::StatusOr<CeilingResult> RunWrkCeiling(const std::string& wrk, const CeilingOptions& options) {
  // The script makes every request the same POST a worker would send.
  char script_path[] = "/tmp/hookd-bench-wrk-XXXXXX.lua";
  int fd = mkstemps(script_path, 4);
  if (fd < 0) return absl::InternalError("cannot create the wrk script in /tmp");
  std::string script = "wrk.method = \"POST\"\n";
  absl::StrAppend(&script, "wrk.body = [==[", options.body, "]==]\n");
  for (const auto& [name, value] : options.headers) {
    absl::StrAppend(&script, "wrk.headers[\"", name, "\"] = [==[", value, "]==]\n");
  }
  bool written = write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  close(fd);
  struct Unlink {
    const char* path;
    ~Unlink() { unlink(path); }
  } unlink_script{script_path};
  if (!written) return absl::InternalError("cannot write the wrk script");

  auto command = [&](absl::Duration duration) {
    int64_t seconds =
        std::max<int64_t>(1, absl::ToInt64Seconds(duration + absl::Milliseconds(500)));
    return absl::StrFormat("%s -t%d -c%d -d%ds --latency -s %s %s", ShellQuote(wrk),
                           options.wrk_threads, options.connections, seconds,
                           ShellQuote(script_path), ShellQuote(options.url));
  };
  std::string output;
  if (options.warmup > absl::ZeroDuration()) {
    int status = RunCapture(command(options.warmup), &output);
    if (status != 0) {
      return absl::UnavailableError(
          absl::StrCat("wrk warm-up exited with ", status, ":\n  ", FirstLines(output, 8)));
    }
    output.clear();
  }
  int status = RunCapture(command(options.duration), &output);
  if (status != 0) {
    return absl::UnavailableError(
        absl::StrCat("wrk exited with ", status, ":\n  ", FirstLines(output, 8)));
  }
  absl::StatusOr<CeilingResult> result = ParseWrkOutput(output);
  if (!result.ok()) {
    return absl::UnavailableError(
        absl::StrCat(result.status().message(), ":\n  ", FirstLines(output, 12)));
  }
  if (result->connections == 0) result->connections = options.connections;
  if (result->threads == 0) result->threads = options.wrk_threads;
  return result;
}

}  // namespace hookd::bench
