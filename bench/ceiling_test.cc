#include "ceiling.h"

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hookd::bench {
namespace {

constexpr char kWrkOutput[] = R"(Running 10s test @ http://127.0.0.1:40123/ceiling
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.87ms    2.10ms  48.20ms   88.00%
    Req/Sec    13.02k     1.01k   15.40k    71.00%
  Latency Distribution
     50%    9.51ms
     75%   10.60ms
     90%  612.00us
     99%    1.02s
  259123 requests in 10.01s, 21.50MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  25886.41
Transfer/sec:      2.15MB
)";

TEST(ParseWrkOutputTest, ReadsRateLatenciesAndErrors) {
  absl::StatusOr<CeilingResult> result = ParseWrkOutput(kWrkOutput);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->client, "wrk");
  EXPECT_DOUBLE_EQ(result->requests_per_s, 25886.41);
  EXPECT_EQ(result->threads, 2);
  EXPECT_EQ(result->connections, 256);
  EXPECT_EQ(result->requests, 259123);
  EXPECT_DOUBLE_EQ(result->duration_s, 10.01);
  EXPECT_EQ(result->errors, 3 + 2 + 4);
  EXPECT_DOUBLE_EQ(result->p50_ms, 9.51);
  EXPECT_DOUBLE_EQ(result->p90_ms, 0.612);
  EXPECT_DOUBLE_EQ(result->p99_ms, 1020);
  EXPECT_DOUBLE_EQ(result->max_ms, 48.2);
}

TEST(ParseWrkOutputTest, NoRateIsUnavailable) {
  absl::StatusOr<CeilingResult> result = ParseWrkOutput("unable to connect to 127.0.0.1:1\n");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
}

TEST(FindExecutableTest, FindsOnPathAndRefusesMissing) {
  EXPECT_THAT(FindExecutable("sh"), testing::EndsWith("/sh"));
  EXPECT_EQ(FindExecutable("hookd-no-such-tool"), "");
  EXPECT_EQ(FindExecutable(""), "");
}

TEST(RunSenderCeilingTest, KeepsRequestsOutstandingAgainstAReceiver) {
  httplib::Server server;
  std::atomic<int> posts{0};
  server.Post("/ceiling", [&](const httplib::Request& request, httplib::Response& response) {
    if (request.get_header_value("webhook-id").empty()) response.status = 400;
    ++posts;
    response.set_content("ok", "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) absl::SleepFor(absl::Milliseconds(1));

  CeilingOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port) + "/ceiling";
  options.body = R"({"type":"bench.e2e","data":{}})";
  options.headers = CeilingHeaders();
  options.connections = 4;
  options.warmup = absl::Milliseconds(100);
  options.duration = absl::Milliseconds(400);
  std::atomic<bool> interrupted{false};
  absl::StatusOr<CeilingResult> result = RunSenderCeiling(options, interrupted);
  server.stop();
  thread.join();

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->client, "hookd-http");
  EXPECT_EQ(result->errors, 0) << result->first_error;
  EXPECT_GT(result->requests, 0);
  EXPECT_LE(result->requests, posts.load());
  EXPECT_NEAR(result->duration_s, 0.4, 0.05);
  EXPECT_GT(result->requests_per_s, 0);
  EXPECT_GT(result->p50_ms, 0);
  EXPECT_LE(result->p50_ms, result->p99_ms);
}

}  // namespace
}  // namespace hookd::bench
