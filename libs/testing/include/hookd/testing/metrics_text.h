#pragma once

// Reading Prometheus text exposition (format 0.0.4) in tests: a strict parser, and a scrape of
// a service's /metrics over HTTP.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace hookd::testing {

struct MetricSample {
  std::string name;  // as written, e.g. hookd_x_seconds_bucket
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct MetricsScrape {
  std::vector<MetricSample> samples;
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;   // family name -> help text (unescaped)

  // The value of the sample `name` with exactly `labels`; nullopt when there is none.
  std::optional<double> Get(const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) const;
  // The sum over samples `name` whose labels include every pair of `match` (0 when none).
  double Sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const;
  // The samples `name` whose labels include every pair of `match`.
  std::vector<MetricSample> Find(const std::string& name,
                                 const std::map<std::string, std::string>& match = {}) const;
};

// Parses `text`. INVALID_ARGUMENT naming the line for anything the format does not allow: a
// malformed sample, label or value, a TYPE line after its samples, a sample of a family without
// a TYPE line, or the same series twice.
absl::StatusOr<MetricsScrape> ParseMetricsText(std::string_view text);

// GET http://127.0.0.1:`port`/metrics and parse it. UNAVAILABLE when the request fails,
// INTERNAL for a status other than 200 or a content type other than text/plain version 0.0.4.
absl::StatusOr<MetricsScrape> ScrapeMetrics(int port);

}  // namespace hookd::testing
