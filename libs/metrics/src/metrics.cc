#include "hookd/metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/hash/hash.h"

namespace hookd::metrics {
namespace {

// Aliases of overflowed values kept for a lock-free lookup; beyond this many, such values take
// the family's mutex on each lookup instead of growing the maps without bound.
constexpr size_t kMaxAliases = 10000;

[[noreturn]] void Misuse(const std::string& what) {
  std::fprintf(stderr, "hookd metrics: %s\n", what.c_str());
  std::abort();
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Length-prefixed, so no two lists of values share a key.
std::string KeyOf(const std::vector<std::string_view>& values) {
  std::string key;
  for (std::string_view v : values) {
    key += std::to_string(v.size());
    key += ':';
    key += v;
  }
  return key;
}

// HELP text escapes backslash and newline; label values also the double quote.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || (quote && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} with `extra` (already escaped, e.g. le="0.5") last; "" without labels.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "{" : ",") + extra;
  if (!out.empty()) out += "}";
  return out;
}

const char* TypeName(int type) {
  switch (type) {
    case 0:
      return "counter";
    case 1:
      return "gauge";
    default:
      return "histogram";
  }
}

std::string Header(const std::string& name, const std::string& help, const char* type) {
  return "# HELP " + name + " " + Escape(help, false) + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
    if (!(bounds_[i] < bounds_[i + 1])) Misuse("histogram bounds must increase");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // Buckets are few (about a dozen): a linear scan beats a binary search here.
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t Histogram::Count() const {
  uint64_t total = 0;
  for (uint64_t c : BucketCounts()) total += c;
  return total;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) out.push_back(bound);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> LagBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400};
}

template <typename T>
Family<T>::Family(std::vector<std::string> label_names, FamilyOptions options, Factory factory)
    : label_names_(std::move(label_names)),
      options_(std::move(options)),
      factory_(std::move(factory)) {
  if (options_.bounded_label && *options_.bounded_label >= label_names_.size()) {
    Misuse("bounded label out of range");
  }
}

template <typename T>
T* Family<T>::Find(const std::string& key) const {
  const Shard& shard = shards_[absl::Hash<std::string>()(key) % kShards];
  std::shared_lock<std::shared_mutex> lock(shard.mu);
  auto it = shard.by_key.find(key);
  return it == shard.by_key.end() ? nullptr : it->second;
}

template <typename T>
T& Family<T>::With(const std::vector<std::string_view>& values) {
  if (values.size() != label_names_.size()) Misuse("wrong number of label values");
  std::string key = KeyOf(values);
  if (T* found = Find(key)) return *found;
  return Create(key, std::vector<std::string>(values.begin(), values.end()));
}

template <typename T>
T& Family<T>::Create(const std::string& key, std::vector<std::string> values) {
  std::lock_guard<std::mutex> lock(mu_);
  bool alias = false;
  if (options_.bounded_label) {
    std::string& bounded = values[*options_.bounded_label];
    if (bounded_seen_.count(bounded) == 0) {
      if (bounded_seen_.size() < options_.max_values) {
        bounded_seen_.insert(bounded);
      } else {
        bounded = options_.overflow_value;
        alias = true;
      }
    }
  }
  auto& child = children_[values];
  if (child == nullptr) child = factory_();
  T* ptr = child.get();
  if (alias && aliases_ >= kMaxAliases) return *ptr;
  if (alias) ++aliases_;
  Shard& shard = shards_[absl::Hash<std::string>()(key) % kShards];
  std::unique_lock<std::shared_mutex> shard_lock(shard.mu);
  shard.by_key.emplace(key, ptr);
  return *ptr;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::Children() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const T*>> out;
  for (const auto& [values, child] : children_) out.emplace_back(values, child.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CallbackHandle& CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

void CallbackHandle::Reset() {
  if (registry_ != nullptr) registry_->RemoveCallback(id_);
  registry_ = nullptr;
}

Registry::Entry& Registry::Add(const std::string& name, const std::string& help, Type type,
                               std::vector<std::string> label_names, std::vector<double> bounds,
                               const FamilyOptions& options) {
  if (!ValidName(name)) Misuse("invalid metric name " + name);
  for (const auto& label : label_names) {
    if (!ValidName(label) || label == "le") Misuse("invalid label name " + label);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    if (it->second.type != type || it->second.label_names != label_names ||
        it->second.bounds != bounds) {
      Misuse("metric " + name + " registered twice with different types or labels");
    }
    return it->second;
  }
  Entry& e = entries_[name];
  e.type = type;
  e.help = help;
  e.label_names = label_names;
  e.bounds = bounds;
  switch (type) {
    case Type::kCounter:
      e.counters = std::make_unique<Family<Counter>>(label_names, options,
                                                     [] { return std::make_unique<Counter>(); });
      break;
    case Type::kGauge:
      e.gauges = std::make_unique<Family<Gauge>>(label_names, options,
                                                 [] { return std::make_unique<Gauge>(); });
      break;
    case Type::kHistogram:
      e.histograms = std::make_unique<Family<Histogram>>(
          label_names, options, [bounds] { return std::make_unique<Histogram>(bounds); });
      break;
  }
  return e;
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help) {
  return AddCounterFamily(name, help, {}).With({});
}

Family<Counter>& Registry::AddCounterFamily(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names,
                                            FamilyOptions options) {
  return *Add(name, help, Type::kCounter, std::move(label_names), {}, options).counters;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help) {
  return AddGaugeFamily(name, help, {}).With({});
}

Family<Gauge>& Registry::AddGaugeFamily(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        FamilyOptions options) {
  return *Add(name, help, Type::kGauge, std::move(label_names), {}, options).gauges;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds) {
  return AddHistogramFamily(name, help, {}, std::move(bounds)).With({});
}

Family<Histogram>& Registry::AddHistogramFamily(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds, FamilyOptions options) {
  return *Add(name, help, Type::kHistogram, std::move(label_names), std::move(bounds), options)
              .histograms;
}

CallbackHandle Registry::AddCallbackGauge(const std::string& name, const std::string& help,
                                          std::function<std::optional<double>()> sample) {
  if (!ValidName(name)) Misuse("invalid metric name " + name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(name) > 0) Misuse("metric " + name + " is not a callback gauge");
  }
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  uint64_t id = next_callback_id_++;
  callbacks_.push_back({id, name, help, std::move(sample)});
  return CallbackHandle(this, id);
}

void Registry::RemoveCallback(uint64_t id) {
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  std::erase_if(callbacks_, [id](const Callback& c) { return c.id == id; });
}

std::string Registry::Render() const {
  std::map<std::string, std::string> blocks;  // by name, so the output is sorted
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, e] : entries_) {
      std::string& out = blocks[name];
      out = Header(name, e.help, TypeName(static_cast<int>(e.type)));
      if (e.counters != nullptr) {
        for (const auto& [values, c] : e.counters->Children()) {
          out += name + LabelText(e.label_names, values) + " " + FormatValue(c->Value()) + "\n";
        }
      } else if (e.gauges != nullptr) {
        for (const auto& [values, g] : e.gauges->Children()) {
          out += name + LabelText(e.label_names, values) + " " + FormatValue(g->Value()) + "\n";
        }
      } else {
        for (const auto& [values, h] : e.histograms->Children()) {
          std::vector<uint64_t> counts = h->BucketCounts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < e.bounds.size() ? FormatValue(e.bounds[i]) : "+Inf";
            out += name + "_bucket" + LabelText(e.label_names, values, "le=\"" + le + "\"") + " " +
                   std::to_string(cumulative) + "\n";
          }
          const std::string labels = LabelText(e.label_names, values);
          out += name + "_sum" + labels + " " + FormatValue(h->Sum()) + "\n";
          out += name + "_count" + labels + " " + std::to_string(cumulative) + "\n";
        }
      }
    }
  }
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  // The most recent registration of a name wins.
  std::map<std::string, const Callback*> latest;
  for (const Callback& c : callbacks_) latest[c.name] = &c;
  for (const auto& [name, c] : latest) {
    std::optional<double> value = c->sample();
    if (!value) continue;
    blocks[name] = Header(name, c->help, "gauge") + name + " " + FormatValue(*value) + "\n";
  }
  std::string text;
  for (const auto& [name, block] : blocks) text += block;
  return text;
}

Registry& DefaultRegistry() {
  static auto* registry = new Registry();
  return *registry;
}

}  // namespace hookd::metrics
