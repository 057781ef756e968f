#include "hookd/metrics/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include "gtest/gtest.h"

namespace hookd::metrics {
namespace {

TEST(FormatValue, WritesWhatPrometheusParses) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(EscapeLabelValue, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(Registry, RendersCountersAndGaugesExactly) {
  Registry registry;
  Counter& requests = registry.AddCounter("hookd_test_requests_total", "Requests handled.");
  requests.Increment();
  requests.Increment(2);
  Family<Counter>& by_code =
      registry.AddCounterFamily("hookd_test_codes_total", "By code.", {"method", "code"});
  by_code.With({"Get", "OK"}).Increment(5);
  by_code.With({"Get", "NOT_FOUND"}).Increment();
  by_code.With({"A\"b\\c\nd", "OK"}).Increment();
  Gauge& depth = registry.AddGauge("hookd_test_depth", "Help with a \\ and a\nnewline.");
  depth.Set(7);
  depth.Add(-2.5);
  // An unused family still announces itself.
  registry.AddGaugeFamily("hookd_test_empty", "Nothing yet.", {"x"});

  EXPECT_EQ(registry.Render(),
            "# HELP hookd_test_codes_total By code.\n"
            "# TYPE hookd_test_codes_total counter\n"
            "hookd_test_codes_total{method=\"A\\\"b\\\\c\\nd\",code=\"OK\"} 1\n"
            "hookd_test_codes_total{method=\"Get\",code=\"NOT_FOUND\"} 1\n"
            "hookd_test_codes_total{method=\"Get\",code=\"OK\"} 5\n"
            "# HELP hookd_test_depth Help with a \\\\ and a\\nnewline.\n"
            "# TYPE hookd_test_depth gauge\n"
            "hookd_test_depth 4.5\n"
            "# HELP hookd_test_empty Nothing yet.\n"
            "# TYPE hookd_test_empty gauge\n"
            "# HELP hookd_test_requests_total Requests handled.\n"
            "# TYPE hookd_test_requests_total counter\n"
            "hookd_test_requests_total 3\n");
}

TEST(Registry, RendersHistogramBucketsCumulatively) {
  Registry registry;
  Family<Histogram>& latency =
      registry.AddHistogramFamily("hookd_test_seconds", "Latency.", {"method"}, {0.125, 0.5, 1});
  Histogram& get = latency.With({"Get"});
  get.Observe(0.0625);
  get.Observe(0.125);  // on the bound: le is inclusive
  get.Observe(0.25);
  get.Observe(absl::Milliseconds(750));
  get.Observe(4);
  EXPECT_EQ(get.Count(), 5u);
  EXPECT_EQ(get.BucketCounts(), (std::vector<uint64_t>{2, 1, 1, 1}));

  EXPECT_EQ(registry.Render(),
            "# HELP hookd_test_seconds Latency.\n"
            "# TYPE hookd_test_seconds histogram\n"
            "hookd_test_seconds_bucket{method=\"Get\",le=\"0.125\"} 2\n"
            "hookd_test_seconds_bucket{method=\"Get\",le=\"0.5\"} 3\n"
            "hookd_test_seconds_bucket{method=\"Get\",le=\"1\"} 4\n"
            "hookd_test_seconds_bucket{method=\"Get\",le=\"+Inf\"} 5\n"
            "hookd_test_seconds_sum{method=\"Get\"} 5.1875\n"
            "hookd_test_seconds_count{method=\"Get\"} 5\n");
}

TEST(Registry, UnlabelledHistogram) {
  Registry registry;
  registry.AddHistogram("hookd_test_batch", "Batch sizes.", {1, 10}).Observe(3);
  EXPECT_EQ(registry.Render(),
            "# HELP hookd_test_batch Batch sizes.\n"
            "# TYPE hookd_test_batch histogram\n"
            "hookd_test_batch_bucket{le=\"1\"} 0\n"
            "hookd_test_batch_bucket{le=\"10\"} 1\n"
            "hookd_test_batch_bucket{le=\"+Inf\"} 1\n"
            "hookd_test_batch_sum 3\n"
            "hookd_test_batch_count 1\n");
}

TEST(Registry, AddingAgainReturnsTheSameMetric) {
  Registry registry;
  Counter& a = registry.AddCounter("hookd_test_total", "Help.");
  Counter& b = registry.AddCounter("hookd_test_total", "Help.");
  EXPECT_EQ(&a, &b);
  a.Increment();
  EXPECT_EQ(b.Value(), 1);
}

TEST(RegistryDeathTest, AddingAgainWithOtherLabelsAborts) {
  Registry registry;
  registry.AddCounterFamily("hookd_test_total", "Help.", {"a"});
  EXPECT_DEATH(registry.AddCounterFamily("hookd_test_total", "Help.", {"b"}), "registered twice");
  EXPECT_DEATH(registry.AddGauge("hookd_test_total", "Help."), "registered twice");
  EXPECT_DEATH(registry.AddCounter("bad-name", "Help."), "invalid metric name");
}

TEST(Family, BoundedLabelTakesAtMostMaxValuesThenOther) {
  Registry registry;
  Family<Counter>& per_app =
      registry.AddCounterFamily("hookd_test_app_total", "Per app.", {"app_id", "outcome"},
                                FamilyOptions{.bounded_label = 0, .max_values = 2});
  per_app.With({"app_1", "ok"}).Increment();
  per_app.With({"app_2", "ok"}).Increment();
  per_app.With({"app_1", "failed"}).Increment();  // app_1 is admitted: a new outcome is fine
  Counter& third = per_app.With({"app_3", "ok"});
  Counter& fourth = per_app.With({"app_4", "ok"});
  EXPECT_EQ(&third, &fourth);
  EXPECT_EQ(&third, &per_app.With({"other", "ok"}));
  third.Increment();
  fourth.Increment();
  per_app.With({"app_3", "ok"}).Increment();  // an alias, found again
  per_app.With({"app_2", "ok"}).Increment();  // still its own series
  per_app.With({"app_4", "failed"}).Increment();

  EXPECT_EQ(registry.Render(),
            "# HELP hookd_test_app_total Per app.\n"
            "# TYPE hookd_test_app_total counter\n"
            "hookd_test_app_total{app_id=\"app_1\",outcome=\"failed\"} 1\n"
            "hookd_test_app_total{app_id=\"app_1\",outcome=\"ok\"} 1\n"
            "hookd_test_app_total{app_id=\"app_2\",outcome=\"ok\"} 2\n"
            "hookd_test_app_total{app_id=\"other\",outcome=\"failed\"} 1\n"
            "hookd_test_app_total{app_id=\"other\",outcome=\"ok\"} 3\n");
}

TEST(Family, DefaultCapIsOneHundredApps) {
  Registry registry;
  Family<Counter>& per_app = registry.AddCounterFamily(
      "hookd_test_app_total", "Per app.", {"app_id"}, FamilyOptions{.bounded_label = 0});
  for (int i = 0; i < 250; ++i) per_app.With({"app_" + std::to_string(i)}).Increment();
  auto children = per_app.Children();
  ASSERT_EQ(children.size(), 101u);
  double other = 0;
  for (const auto& [values, counter] : children) {
    if (values[0] == "other") other = counter->Value();
  }
  EXPECT_EQ(other, 150);
}

TEST(Family, ConcurrentIncrementsAllCount) {
  Registry registry;
  Family<Counter>& family = registry.AddCounterFamily("hookd_test_total", "Help.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&family] {
      for (int i = 0; i < 10000; ++i) family.With({std::to_string(i % 8)}).Increment();
    });
  }
  for (auto& t : threads) t.join();
  double total = 0;
  for (const auto& [values, counter] : family.Children()) total += counter->Value();
  EXPECT_EQ(total, 40000);
  EXPECT_EQ(family.Children().size(), 8u);
}

TEST(Registry, CallbackGaugesAreSampledAtRenderWhileRegistered) {
  Registry registry;
  int calls = 0;
  {
    CallbackHandle handle = registry.AddCallbackGauge("hookd_test_sampled", "Sampled.", [&] {
      ++calls;
      return std::optional<double>(calls * 10);
    });
    CallbackHandle absent = registry.AddCallbackGauge("hookd_test_absent", "Unknown now.",
                                                      [] { return std::optional<double>(); });
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(registry.Render(),
              "# HELP hookd_test_sampled Sampled.\n"
              "# TYPE hookd_test_sampled gauge\n"
              "hookd_test_sampled 10\n");
    EXPECT_EQ(registry.Render(),
              "# HELP hookd_test_sampled Sampled.\n"
              "# TYPE hookd_test_sampled gauge\n"
              "hookd_test_sampled 20\n");
    // A newer registration of the same name wins while it lives.
    CallbackHandle newer = registry.AddCallbackGauge("hookd_test_sampled", "Sampled.",
                                                     [] { return std::optional<double>(-1); });
    EXPECT_EQ(registry.Render(),
              "# HELP hookd_test_sampled Sampled.\n"
              "# TYPE hookd_test_sampled gauge\n"
              "hookd_test_sampled -1\n");
  }
  EXPECT_EQ(registry.Render(), "");
  EXPECT_EQ(calls, 2);
}

TEST(SampleCache, SamplesOncePerMaxAge) {
  int calls = 0;
  SampleCache<int> cache([&] { return std::optional<int>(++calls); }, absl::Seconds(1));
  absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(cache.Get(t0), 1);
  EXPECT_EQ(cache.Get(t0 + absl::Milliseconds(999)), 1);
  EXPECT_EQ(cache.Get(t0 + absl::Seconds(1)), 2);
  EXPECT_EQ(calls, 2);
}

TEST(SampleCache, DoesNotKeepAFailure) {
  int calls = 0;
  SampleCache<int> cache(
      [&]() -> std::optional<int> {
        if (++calls == 1) return std::nullopt;
        return calls;
      },
      absl::Seconds(1));
  absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(cache.Get(t0), std::nullopt);
  EXPECT_EQ(cache.Get(t0), 2);
}

TEST(Buckets, ExponentialAndDefaults) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  for (const auto& bounds : {LatencyBuckets(), LagBuckets()}) {
    EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end()));
  }
}

}  // namespace
}  // namespace hookd::metrics
