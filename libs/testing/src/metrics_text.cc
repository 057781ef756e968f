#include "hookd/testing/metrics_text.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "httplib.h"

namespace hookd::testing {
namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Reads a metric or label name at `pos`; empty when there is none.
std::string ReadName(std::string_view line, size_t& pos) {
  size_t start = pos;
  while (pos < line.size() && IsNameChar(line[pos], pos == start)) ++pos;
  return std::string(line.substr(start, pos - start));
}

std::optional<double> ParseValue(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::nan("");
  if (text.empty()) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

// The family a sample belongs to: histogram and summary series carry a suffix.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name) > 0) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (absl::EndsWith(name, suffix)) {
      std::string base = name.substr(0, name.size() - std::string_view(suffix).size());
      if (types.count(base) > 0) return base;
    }
  }
  return name;
}

bool Matches(const MetricSample& s, const std::string& name,
             const std::map<std::string, std::string>& match) {
  if (s.name != name) return false;
  for (const auto& [k, v] : match) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

std::optional<double> MetricsScrape::Get(const std::string& name,
                                         const std::map<std::string, std::string>& labels) const {
  for (const MetricSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

double MetricsScrape::Sum(const std::string& name,
                          const std::map<std::string, std::string>& match) const {
  double total = 0;
  for (const MetricSample& s : Find(name, match)) total += s.value;
  return total;
}

std::vector<MetricSample> MetricsScrape::Find(
    const std::string& name, const std::map<std::string, std::string>& match) const {
  std::vector<MetricSample> out;
  for (const MetricSample& s : samples) {
    if (Matches(s, name, match)) out.push_back(s);
  }
  return out;
}

absl::StatusOr<MetricsScrape> ParseMetricsText(std::string_view text) {
  MetricsScrape scrape;
  std::set<std::string> seen_series;
  std::set<std::string> families_with_samples;
  int number = 0;
  if (!text.empty() && text.back() != '\n') {
    return absl::InvalidArgumentError("metrics text does not end with a newline");
  }
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    std::string_view line(piece.data(), piece.size());
    ++number;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError("line " + std::to_string(number) + ": " + why + ": " +
                                        std::string(line));
    };
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<std::string> parts =
          absl::StrSplit(absl::string_view(line.data(), line.size()), absl::MaxSplits(' ', 3));
      if (parts.size() >= 3 && parts[1] == "TYPE") {
        std::string name(parts[2]);
        std::string type = parts.size() == 4 ? std::string(parts[3]) : "";
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (kTypes.count(type) == 0) return bad("unknown type");
        if (scrape.types.count(name) > 0) return bad("second TYPE line");
        if (families_with_samples.count(name) > 0) return bad("TYPE after samples");
        scrape.types[name] = type;
      } else if (parts.size() >= 3 && parts[1] == "HELP") {
        std::string help;
        std::string raw = parts.size() == 4 ? parts[3] : "";
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size()) {
            ++i;
            help += raw[i] == 'n' ? '\n' : raw[i];
          } else {
            help += raw[i];
          }
        }
        scrape.help[std::string(parts[2])] = help;
      }
      continue;
    }
    MetricSample sample;
    size_t pos = 0;
    sample.name = ReadName(line, pos);
    if (sample.name.empty()) return bad("no metric name");
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        std::string label = ReadName(line, pos);
        if (label.empty() || pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
          return bad("malformed label");
        }
        pos += 2;
        std::string value;
        bool closed = false;
        while (pos < line.size()) {
          char c = line[pos++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (pos >= line.size()) return bad("dangling escape");
            char e = line[pos++];
            if (e == 'n') {
              value += '\n';
            } else if (e == '\\' || e == '"') {
              value += e;
            } else {
              return bad("unknown escape");
            }
          } else {
            value += c;
          }
        }
        if (!closed) return bad("unterminated label value");
        if (!sample.labels.emplace(label, value).second) return bad("label twice");
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) return bad("unterminated labels");
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') return bad("no value");
    std::string_view tail = line.substr(pos + 1);
    std::vector<std::string> rest =
        absl::StrSplit(absl::string_view(tail.data(), tail.size()), ' ');
    if (rest.empty() || rest.size() > 2) return bad("malformed value");
    std::optional<double> value = ParseValue(rest[0]);
    if (!value) return bad("malformed value");
    sample.value = *value;
    std::string family = FamilyOf(sample.name, scrape.types);
    if (scrape.types.count(family) == 0) return bad("sample without a TYPE line");
    families_with_samples.insert(family);
    std::string series = sample.name;
    for (const auto& [k, v] : sample.labels) series += "\x1f" + k + "=" + v;
    if (!seen_series.insert(series).second) return bad("series twice");
    scrape.samples.push_back(std::move(sample));
  }
  return scrape;
}

absl::StatusOr<MetricsScrape> ScrapeMetrics(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto response = client.Get("/metrics");
  if (!response) {
    return absl::UnavailableError("GET /metrics on port " + std::to_string(port) + ": " +
                                  httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    return absl::InternalError("GET /metrics answered " + std::to_string(response->status));
  }
  std::string type = response->get_header_value("Content-Type");
  if (type != "text/plain; version=0.0.4; charset=utf-8") {
    return absl::InternalError("GET /metrics content type " + type);
  }
  return ParseMetricsText(response->body);
}

}  // namespace hookd::testing
