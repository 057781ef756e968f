#include "hookd/metrics/server.h"

#include <unistd.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/testing/metrics_text.h"
#include "hookd/testing/process.h"
#include "httplib.h"

namespace hookd::metrics {
namespace {

using testing::ParseMetricsText;
using testing::ScrapeMetrics;

TEST(MetricsServer, ServesTheRegistryOnAPickedPort) {
  Registry registry;
  registry.AddCounterFamily("hookd_test_total", "Things.", {"kind"}).With({"a"}).Increment(3);
  registry.AddHistogram("hookd_test_seconds", "Latency.", {0.5, 1}).Observe(0.75);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  auto scrape = ScrapeMetrics((*server)->port());
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->Get("hookd_test_total", {{"kind", "a"}}), 3);
  EXPECT_EQ(scrape->types.at("hookd_test_seconds"), "histogram");
  EXPECT_EQ(scrape->Get("hookd_test_seconds_bucket", {{"le", "0.5"}}), 0);
  EXPECT_EQ(scrape->Get("hookd_test_seconds_bucket", {{"le", "1"}}), 1);
  EXPECT_EQ(scrape->Get("hookd_test_seconds_count"), 1);
  // The standard process metrics come with every server.
  EXPECT_EQ(scrape->types.at("process_resident_memory_bytes"), "gauge");
  EXPECT_GT(*scrape->Get("process_resident_memory_bytes"), 1 << 20);
  double start = *scrape->Get("process_start_time_seconds");
  double now = absl::ToUnixMicros(absl::Now()) / 1e6;
  EXPECT_LE(start, now);
  EXPECT_GT(start, now - 3600);

  // Updates show at the next scrape.
  registry.AddCounterFamily("hookd_test_total", "Things.", {"kind"}).With({"a"}).Increment();
  EXPECT_EQ(ScrapeMetrics((*server)->port())->Get("hookd_test_total", {{"kind", "a"}}), 4);

  httplib::Client client("127.0.0.1", (*server)->port());
  auto other = client.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

TEST(MetricsServer, ColonPortListensOnEveryInterface) {
  Registry registry;
  const int port = testing::FreePort();
  auto server = MetricsServer::Start(":" + std::to_string(port), registry);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->port(), port);
  EXPECT_TRUE(ScrapeMetrics(port).ok());
}

TEST(MetricsServer, RefusesMalformedAndTakenAddresses) {
  Registry registry;
  for (const char* bad : {"9090", "host:", "host:port", ":70000", ":-1"}) {
    auto server = MetricsServer::Start(bad, registry);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(server.status().message().find("metrics_listen"), std::string::npos);
  }
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(MetricsServer, NothingWhenNotConfigured) {
  auto server = MetricsServer::StartIfConfigured("");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(*server, nullptr);
}

TEST(MetricsText, RoundTripsWhatTheRegistryRenders) {
  Registry registry;
  registry.AddCounterFamily("hookd_test_total", "Help \\ with\nnewline.", {"v"})
      .With({"quote\" back\\ nl\n"})
      .Increment(2);
  registry.AddGauge("hookd_test_gauge", "G.").Set(-0.5);
  auto scrape = ParseMetricsText(registry.Render());
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->Get("hookd_test_total", {{"v", "quote\" back\\ nl\n"}}), 2);
  EXPECT_EQ(scrape->Get("hookd_test_gauge"), -0.5);
  EXPECT_EQ(scrape->help.at("hookd_test_total"), "Help \\ with\nnewline.");
}

TEST(MetricsText, RejectsWhatTheFormatDoesNotAllow) {
  for (const char* bad : {
           "x 1\n",                                      // no TYPE line
           "# TYPE x counter\nx{a=\"1} 1\n",             // unterminated value
           "# TYPE x counter\nx{a=1} 1\n",               // unquoted value
           "# TYPE x counter\nx one\n",                  // not a number
           "# TYPE x counter\nx 1\nx 2\n",               // series twice
           "# TYPE x counter\nx 1\n# TYPE x counter\n",  // second TYPE
           "# TYPE x counter\nx 1",                      // no final newline
           "# TYPE x widget\n",                          // unknown type
           "# TYPE x counter\nx{a=\"\\t\"} 1\n",         // unknown escape
       }) {
    EXPECT_EQ(ParseMetricsText(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace hookd::metrics
