#pragma once

// A small Prometheus client: counters, gauges and histograms, label families, gauges sampled at
// scrape time, and a registry that renders the text exposition format 0.0.4.
//
// Updating a metric is a relaxed atomic operation. Finding a labelled child takes a shared lock
// of one of a family's shards; hot paths look a child up once and keep the reference (children
// live as long as their registry).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hookd::metrics {

class Counter {
 public:
  // `amount` must not be negative (a counter only goes up).
  void Increment(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in fixed buckets. Rendered as cumulative `_bucket{le="..."}` series (the
// last one `+Inf`), `_sum` and `_count`.
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);
  void Observe(absl::Duration duration) { Observe(absl::ToDoubleSeconds(duration)); }

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations per bucket (not cumulative), one more than bounds() (the +Inf bucket last).
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds for request durations in seconds, 1 ms to 30 s.
std::vector<double> LatencyBuckets();
// Bucket bounds for delays that span seconds to days (publish-to-delivery lag with retries).
std::vector<double> LagBuckets();
// `count` bounds start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);

struct FamilyOptions {
  // When set, this label (its index in the family's label names) takes at most `max_values`
  // distinct values; later values are recorded as `overflow_value`. For labels fed by user data
  // (app ids), so that the number of series stays bounded.
  std::optional<size_t> bounded_label;
  size_t max_values = 100;
  std::string overflow_value = "other";
};

// The children of one metric, one per combination of label values.
template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  Family(std::vector<std::string> label_names, FamilyOptions options, Factory factory);

  // The child with these label values (one per label name, in order), created on first use.
  // Values of a bounded label beyond its cap map to the overflow value's child.
  T& With(const std::vector<std::string_view>& values);
  T& With(std::initializer_list<std::string_view> values) {
    return With(std::vector<std::string_view>(values));
  }

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Every child with its label values, sorted by them (for rendering).
  std::vector<std::pair<std::vector<std::string>, const T*>> Children() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::shared_mutex mu;
    // Keyed by the label values as asked; several keys may share a child (overflow aliases).
    std::unordered_map<std::string, T*> by_key;
  };

  T* Find(const std::string& key) const;
  T& Create(const std::string& key, std::vector<std::string> values);

  const std::vector<std::string> label_names_;
  const FamilyOptions options_;
  const Factory factory_;
  std::array<Shard, kShards> shards_;
  // Owns the children; taken only when a key is seen for the first time and to render.
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
  std::set<std::string> bounded_seen_;  // admitted values of the bounded label
  size_t aliases_ = 0;
};

class Registry;

// Keeps a callback gauge registered; removes it when destroyed. Movable.
class CallbackHandle {
 public:
  CallbackHandle() = default;
  CallbackHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  CallbackHandle(CallbackHandle&& other) noexcept { *this = std::move(other); }
  CallbackHandle& operator=(CallbackHandle&& other) noexcept;
  ~CallbackHandle() { Reset(); }
  void Reset();

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

// A set of named metrics and its text exposition. Metric names must be valid Prometheus names;
// adding a name twice returns the existing metric when its type and labels match (so metric
// sets defined as process-wide singletons and callers in tests coexist) and aborts otherwise.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(const std::string& name, const std::string& help);
  Family<Counter>& AddCounterFamily(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names,
                                    FamilyOptions options = {});
  Gauge& AddGauge(const std::string& name, const std::string& help);
  Family<Gauge>& AddGaugeFamily(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, FamilyOptions options = {});
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);
  Family<Histogram>& AddHistogramFamily(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds, FamilyOptions options = {});

  // A gauge whose value `sample` computes at each scrape (on the scraping thread); nullopt
  // leaves the gauge out of that scrape. While the handle lives. When several handles hold the
  // same name, the most recent one is rendered. The handle's destructor waits for a running
  // `sample` to return, so `sample` may use objects destroyed right after the handle.
  [[nodiscard]] CallbackHandle AddCallbackGauge(const std::string& name, const std::string& help,
                                                std::function<std::optional<double>()> sample);

  // Every metric in the text format 0.0.4, sorted by name: `# HELP`, `# TYPE`, then samples.
  std::string Render() const;

 private:
  friend class CallbackHandle;
  enum class Type { kCounter, kGauge, kHistogram };
  struct Entry {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  struct Callback {
    uint64_t id;
    std::string name;
    std::string help;
    std::function<std::optional<double>()> sample;
  };

  Entry& Add(const std::string& name, const std::string& help, Type type,
             std::vector<std::string> label_names, std::vector<double> bounds,
             const FamilyOptions& options);
  void RemoveCallback(uint64_t id);

  mutable std::mutex mu_;  // the maps, not the metrics' values
  std::map<std::string, Entry> entries_;
  // Held while callbacks run and while one is removed.
  mutable std::mutex callbacks_mu_;
  std::vector<Callback> callbacks_;
  uint64_t next_callback_id_ = 1;
};

// The process-wide registry that services' metrics live in and /metrics serves.
Registry& DefaultRegistry();

// Calls `sample` at most once per `max_age` and hands out the last answer meanwhile, so several
// gauges read at one scrape share one round trip. A failed sample (nullopt) is not kept.
template <typename T>
class SampleCache {
 public:
  SampleCache(std::function<std::optional<T>()> sample, absl::Duration max_age)
      : sample_(std::move(sample)), max_age_(max_age) {}

  std::optional<T> Get(absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_ || now - at_ >= max_age_) {
      last_ = sample_();
      at_ = now;
    }
    return last_;
  }

 private:
  const std::function<std::optional<T>()> sample_;
  const absl::Duration max_age_;
  std::mutex mu_;
  std::optional<T> last_;
  absl::Time at_;
};

// A callback gauge on `registry` reading `field` of what `cache` samples (left out of a scrape
// when the sample failed). For several gauges drawn from one query.
template <typename T, typename Field>
[[nodiscard]] CallbackHandle AddSampledGauge(Registry& registry, const std::string& name,
                                             const std::string& help,
                                             std::shared_ptr<SampleCache<T>> cache,
                                             Field T::*field) {
  return registry.AddCallbackGauge(name, help, [cache, field]() -> std::optional<double> {
    std::optional<T> sample = cache->Get(absl::Now());
    if (!sample) return std::nullopt;
    return static_cast<double>((*sample).*field);
  });
}

// Text format helpers, exposed for tests and parsers.
// `value` as Prometheus writes it: shortest round-trip decimal, `+Inf`, `-Inf`, `NaN`.
std::string FormatValue(double value);
// A label value with `\`, `"` and newline escaped.
std::string EscapeLabelValue(std::string_view value);

}  // namespace hookd::metrics
