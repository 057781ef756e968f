// hookd-bench-ingest: a closed-loop load generator for hookd-ingest. It keeps a fixed number of
// Publish (or PublishBatch) calls in flight over a few channels, measures for a fixed window
// after a warm-up, and prints a table plus one `RESULT {json}` line that scripts collect.
//
// It only ever talks to loopback: every OK answer is a durable Postgres commit, so pointing it at
// a shared or production ingest would flood real tenants with fake events.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench_util.h"
#include "grpcpp/grpcpp.h"
#include "hookd/v1/ingest.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "hookd-ingest address host:port, loopback only (env HOOKD_INGEST_SERVER, default "
          "127.0.0.1:50052)");
ABSL_FLAG(std::string, token, "",
          "bearer token (env HOOKD_TOKEN, else HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(std::string, tenant, "bench", "tenant of the published events");
ABSL_FLAG(std::string, event_type, "video.ready", "event type of the published events");
ABSL_FLAG(int, payload_bytes, 1024,
          "size of each event's payload, a JSON object {\"data\":\"xxx...\"} padded to it");
ABSL_FLAG(std::string, payload_file, "",
          "publish this file's bytes as every event's payload instead of --payload_bytes of "
          "{\"data\":\"xxx...\"}, e.g. a seed payload whose event type has a JSON Schema");
ABSL_FLAG(std::string, mode, "publish", "publish (one event per call) or batch (PublishBatch)");
ABSL_FLAG(int, concurrency, 64, "calls kept in flight at once");
ABSL_FLAG(int, batch_size, 500, "events per PublishBatch call (batch mode)");
ABSL_FLAG(int, channels, 4, "gRPC channels (HTTP/2 connections) the calls are spread over");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured window");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "load before the window, not counted");
ABSL_FLAG(int64_t, max_events, 5'000'000,
          "safety bound on events sent, warm-up included; the window ends early when reached");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(30), "deadline of each call");
ABSL_FLAG(absl::Duration, ready_timeout, absl::Seconds(30),
          "how long the probe publish before the run retries while ingest is not ready");
ABSL_FLAG(int, min_deliveries, 0,
          "the probe publish retries until an event fans out to at least this many apps, so a "
          "run right after creating the app waits for ingest to learn about it");

namespace hookd::bench {
namespace {

namespace v1 = ::hookd::v1;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitTooManyErrors = 1;
constexpr int kExitSetup = 2;
// More than this share of failed calls (or events) fails the run: a benchmark that mostly
// measured error paths must not be mistaken for a throughput figure.
constexpr double kMaxErrorRatio = 0.01;
// gRPC's default receive limit on the server side; a larger batch would be refused whole.
constexpr size_t kDefaultMaxMessageBytes = 4 * 1024 * 1024;

enum class Mode { kPublish, kBatch };

struct Config {
  std::string target;  // a loopback literal host:port, as dialled
  std::string token;
  std::string tenant;
  std::string event_type;
  int payload_bytes = 0;
  // Every event's payload: --payload_file's bytes, or {"data":"xxx..."} of payload_bytes.
  std::string payload;
  Mode mode = Mode::kPublish;
  int concurrency = 0;
  int batch_size = 0;  // events per call: 1 in publish mode
  int channels = 0;
  absl::Duration duration;
  absl::Duration warmup;
  int64_t max_events = 0;
  absl::Duration rpc_timeout;
  absl::Duration ready_timeout;
  int min_deliveries = 0;
};

// {"data":"xxx...x"} of exactly `bytes` bytes: a valid JSON object of a controlled size.
std::string MakePayload(int bytes) {
  constexpr std::string_view kPrefix = "{\"data\":\"";
  constexpr std::string_view kSuffix = "\"}";
  std::string payload(kPrefix);
  payload.append(static_cast<size_t>(bytes) - kPrefix.size() - kSuffix.size(), 'x');
  payload.append(kSuffix);
  return payload;
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  std::string raw_target = FirstNonEmpty(
      {absl::GetFlag(FLAGS_target), Getenv("HOOKD_INGEST_SERVER"), "127.0.0.1:50052"});
  absl::StatusOr<std::string> target = LoopbackTarget("--target", raw_target);
  if (!target.ok()) return target.status();
  config.target = *target;
  config.token = FirstNonEmpty(
      {absl::GetFlag(FLAGS_token), Getenv("HOOKD_TOKEN"), Getenv("HOOKD_ADMIN_TOKEN")});
  if (config.token.empty()) {
    return absl::InvalidArgumentError(
        "no token: pass --token or set HOOKD_TOKEN (e.g. HOOKD_TOKEN=$(cat .data/admin-token))");
  }
  config.tenant = absl::GetFlag(FLAGS_tenant);
  config.event_type = absl::GetFlag(FLAGS_event_type);
  config.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  if (config.payload_bytes < static_cast<int>(MakePayload(11).size())) {
    return absl::InvalidArgumentError("--payload_bytes: at least 11 ({\"data\":\"\"})");
  }
  config.payload = MakePayload(config.payload_bytes);
  if (const std::string file = absl::GetFlag(FLAGS_payload_file); !file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--payload_file: cannot read ", file));
    config.payload.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    config.payload_bytes = static_cast<int>(config.payload.size());
  }
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "publish") {
    config.mode = Mode::kPublish;
    config.batch_size = 1;
  } else if (mode == "batch") {
    config.mode = Mode::kBatch;
    config.batch_size = absl::GetFlag(FLAGS_batch_size);
    if (config.batch_size < 1) return absl::InvalidArgumentError("--batch_size: at least 1");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--mode: publish or batch, got ", mode));
  }
  config.concurrency = absl::GetFlag(FLAGS_concurrency);
  if (config.concurrency < 1) return absl::InvalidArgumentError("--concurrency: at least 1");
  config.channels = std::min(absl::GetFlag(FLAGS_channels), config.concurrency);
  if (config.channels < 1) return absl::InvalidArgumentError("--channels: at least 1");
  config.duration = absl::GetFlag(FLAGS_duration);
  config.warmup = absl::GetFlag(FLAGS_warmup);
  if (config.duration <= absl::ZeroDuration() || config.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive and --warmup not negative");
  }
  config.max_events = absl::GetFlag(FLAGS_max_events);
  if (config.max_events < config.batch_size) {
    return absl::InvalidArgumentError("--max_events: smaller than one call");
  }
  config.rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  config.ready_timeout = absl::GetFlag(FLAGS_ready_timeout);
  config.min_deliveries = absl::GetFlag(FLAGS_min_deliveries);
  return config;
}

// One in-flight call position. A slot has at most one call outstanding and starts the next one
// from the previous one's callback, so its fields need no lock: gRPC orders the callbacks.
struct Slot {
  v1::IngestService::Stub* stub = nullptr;
  v1::PublishRequest publish_request;
  v1::PublishBatchRequest batch_request;
  v1::PublishResponse publish_response;
  v1::PublishBatchResponse batch_response;
  std::unique_ptr<grpc::ClientContext> context;  // one per call: gRPC forbids reuse
  Clock::time_point started;

  // Calls completed inside the measured window.
  std::vector<int64_t> ok_latencies_ns;
  int64_t calls = 0;
  int64_t failed_calls = 0;
  int64_t events = 0;
  int64_t event_errors = 0;
  int64_t deliveries = 0;
  Clock::time_point last_counted;
};

struct Summary {
  double duration_s = 0;
  int64_t calls = 0;
  int64_t failed_calls = 0;
  int64_t events = 0;
  int64_t event_errors = 0;
  int64_t deliveries = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  bool truncated = false;  // --max_events ended the window early
};

// Keeps `concurrency` calls in flight until the window closes, then waits for them to drain.
class LoadRun {
 public:
  LoadRun(const Config& config, std::vector<std::unique_ptr<v1::IngestService::Stub>>& stubs,
          ErrorLog& errors)
      : config_(config), errors_(errors), bearer_(absl::StrCat("Bearer ", config.token)) {
    v1::PublishRequest event;
    event.set_tenant(config.tenant);
    event.set_event_type(config.event_type);
    event.set_payload(config.payload);
    slots_.resize(static_cast<size_t>(config.concurrency));
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      slot.stub = stubs[i % stubs.size()].get();
      // Each slot owns its request: protobuf messages are not documented as safe to serialize
      // from several threads at once, and the copy costs only memory.
      if (config.mode == Mode::kPublish) {
        slot.publish_request = event;
      } else {
        for (int e = 0; e < config.batch_size; ++e) *slot.batch_request.add_events() = event;
      }
    }
  }

  size_t RequestBytes() const {
    return config_.mode == Mode::kPublish ? slots_[0].publish_request.ByteSizeLong()
                                          : slots_[0].batch_request.ByteSizeLong();
  }

  // Blocks for warm-up + duration + drain, printing progress on stderr once a second.
  Summary Run() {
    Clock::time_point start = Clock::now();
    window_start_ = start + absl::ToChronoNanoseconds(config_.warmup);
    window_end_ = window_start_ + absl::ToChronoNanoseconds(config_.duration);
    in_flight_ = static_cast<int>(slots_.size());
    for (Slot& slot : slots_) Issue(slot);

    std::unique_lock<std::mutex> lock(mu_);
    int64_t last_completed = 0;
    while (!done_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return in_flight_ == 0; })) {
      int64_t completed = completed_.load(std::memory_order_relaxed);
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      absl::FPrintF(stderr, "  t=%5.1fs  %s  %8d calls/s  %8d calls total\n", elapsed,
                    Clock::now() < window_start_ ? "warmup " : "measure",
                    completed - last_completed, completed);
      last_completed = completed;
    }
    return Summarize();
  }

 private:
  void Issue(Slot& slot) {
    // Reserve the events before sending so the bound holds across all slots.
    int64_t reserved = issued_events_.fetch_add(config_.batch_size, std::memory_order_relaxed);
    if (reserved + config_.batch_size > config_.max_events) {
      truncated_.store(true, std::memory_order_relaxed);
      Retire();
      return;
    }
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->AddMetadata("authorization", bearer_);
    slot.context->set_deadline(absl::ToChronoTime(absl::Now() + config_.rpc_timeout));
    slot.started = Clock::now();
    if (config_.mode == Mode::kPublish) {
      slot.stub->async()->Publish(slot.context.get(), &slot.publish_request, &slot.publish_response,
                                  [this, &slot](grpc::Status status) { Done(slot, status); });
    } else {
      slot.stub->async()->PublishBatch(slot.context.get(), &slot.batch_request,
                                       &slot.batch_response,
                                       [this, &slot](grpc::Status status) { Done(slot, status); });
    }
  }

  void Done(Slot& slot, const grpc::Status& status) {
    Clock::time_point now = Clock::now();
    completed_.fetch_add(1, std::memory_order_relaxed);
    // Closed-loop throughput: calls that complete inside the window, whenever they started.
    if (now >= window_start_ && now <= window_end_) Count(slot, status, now);
    if (now < window_end_ && !truncated_.load(std::memory_order_relaxed)) {
      Issue(slot);
    } else {
      Retire();
    }
  }

  void Count(Slot& slot, const grpc::Status& status, Clock::time_point now) {
    ++slot.calls;
    slot.last_counted = now;
    if (!status.ok()) {
      ++slot.failed_calls;
      errors_.Add(Describe(status));
      return;
    }
    slot.ok_latencies_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count());
    if (config_.mode == Mode::kPublish) {
      ++slot.events;
      slot.deliveries += slot.publish_response.delivery_count();
      return;
    }
    const v1::PublishBatchResponse& response = slot.batch_response;
    for (int e = 0; e < config_.batch_size; ++e) {
      if (e < response.errors_size() && response.errors(e).code() != 0) {
        ++slot.event_errors;
        errors_.Add(absl::StrCat("event: code ", response.errors(e).code(), ": ",
                                 response.errors(e).message()));
      } else if (e < response.results_size()) {
        ++slot.events;
        slot.deliveries += response.results(e).delivery_count();
      } else {
        ++slot.event_errors;
        errors_.Add("event: missing from PublishBatchResponse.results");
      }
    }
  }

  void Retire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) done_cv_.notify_all();
  }

  Summary Summarize() {
    Summary summary;
    std::vector<int64_t> latencies;
    Clock::time_point last = window_start_;
    for (const Slot& slot : slots_) {
      summary.calls += slot.calls;
      summary.failed_calls += slot.failed_calls;
      summary.events += slot.events;
      summary.event_errors += slot.event_errors;
      summary.deliveries += slot.deliveries;
      latencies.insert(latencies.end(), slot.ok_latencies_ns.begin(), slot.ok_latencies_ns.end());
      last = std::max(last, slot.last_counted);
    }
    summary.truncated = truncated_.load();
    // Cut short by --max_events: the window ends with the last counted call, not the plan.
    Clock::time_point end = summary.truncated ? std::min(last, window_end_) : window_end_;
    summary.duration_s = std::chrono::duration<double>(end - window_start_).count();
    if (!latencies.empty()) {
      std::sort(latencies.begin(), latencies.end());
      auto at = [&](double q) { return static_cast<double>(NearestRank(latencies, q)) / 1e6; };
      summary.p50_ms = at(0.50);
      summary.p90_ms = at(0.90);
      summary.p99_ms = at(0.99);
      summary.max_ms = static_cast<double>(latencies.back()) / 1e6;
    }
    return summary;
  }

  const Config& config_;
  ErrorLog& errors_;
  const std::string bearer_;
  std::vector<Slot> slots_;
  Clock::time_point window_start_;
  Clock::time_point window_end_;
  std::atomic<int64_t> issued_events_{0};
  std::atomic<int64_t> completed_{0};
  std::atomic<bool> truncated_{false};
  std::mutex mu_;
  std::condition_variable done_cv_;
  int in_flight_ = 0;  // guarded by mu_
};

// One synchronous Publish before the load, retried while ingest is starting (UNAVAILABLE) or
// has not yet learned about enough apps, so that setup mistakes (bad token, unknown event type)
// surface as one clear message instead of a run full of identical errors.
absl::Status Probe(const Config& config, v1::IngestService::Stub& stub) {
  v1::PublishRequest request;
  request.set_tenant(config.tenant);
  request.set_event_type(config.event_type);
  request.set_payload(config.payload);
  absl::Time deadline = absl::Now() + config.ready_timeout;
  std::string last;
  while (true) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", config.token));
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::PublishResponse response;
    grpc::Status status = stub.Publish(&context, request, &response);
    bool retry = false;
    if (status.ok()) {
      if (response.delivery_count() >= config.min_deliveries) return absl::OkStatus();
      last = absl::StrFormat(
          "probe event fanned out to %d apps, want at least %d (is an app of "
          "tenant %s subscribed to %s?)",
          response.delivery_count(), config.min_deliveries, config.tenant, config.event_type);
      retry = true;
    } else {
      last = absl::StrCat("probe Publish to ", config.target, " failed: ", Describe(status));
      retry = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    }
    if (!retry || absl::Now() >= deadline) return absl::FailedPreconditionError(last);
    absl::SleepFor(absl::Milliseconds(250));
  }
}

const char* ModeName(Mode mode) { return mode == Mode::kPublish ? "publish" : "batch"; }

void PrintTable(const Config& config, const Summary& s, const ErrorLog& errors) {
  double failed_pct = s.calls == 0 ? 0 : 100.0 * s.failed_calls / s.calls;
  absl::PrintF("\nhookd-bench-ingest  mode=%s  target=%s  tenant=%s  event_type=%s\n",
               ModeName(config.mode), config.target, config.tenant, config.event_type);
  absl::PrintF("  %d calls in flight over %d channels, %d events/call, payload %d B\n",
               config.concurrency, config.channels, config.batch_size, config.payload_bytes);
  absl::PrintF("  warm-up %s, measured %.2f s%s\n", absl::FormatDuration(config.warmup),
               s.duration_s, s.truncated ? " (cut short by --max_events)" : "");
  absl::PrintF("  %-10s %12s %14s\n", "", "total", "per second");
  absl::PrintF("  %-10s %12d %14.1f   failed %d (%.2f%%)\n", "calls", s.calls,
               s.calls / s.duration_s, s.failed_calls, failed_pct);
  absl::PrintF("  %-10s %12d %14.1f   event errors %d, deliveries %d\n", "events", s.events,
               s.events / s.duration_s, s.event_errors, s.deliveries);
  absl::PrintF("  latency of OK calls (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", s.p50_ms,
               s.p90_ms, s.p99_ms, s.max_ms);
  errors.Print(stdout);
  if (s.events > 0 && s.deliveries == 0) {
    absl::PrintF(
        "  note: no event matched an app (deliveries 0): only the event rows were "
        "written, not the fan-out\n");
  }
}

void PrintResult(const Config& config, const Summary& s) {
  // One line of JSON for scripts; every string in it is a flag value we validated or a
  // numeric address, so no escaping is needed beyond what the formats give.
  absl::PrintF(
      "RESULT {\"mode\":\"%s\",\"concurrency\":%d,\"batch_size\":%d,\"payload_bytes\":%d,"
      "\"duration_s\":%.3f,\"calls\":%d,\"events\":%d,\"errors\":%d,\"event_errors\":%d,"
      "\"deliveries\":%d,\"events_per_s\":%.1f,\"calls_per_s\":%.1f,\"p50_ms\":%.3f,"
      "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"channels\":%d,\"warmup_s\":%.3f,"
      "\"truncated\":%s,\"target\":\"%s\",\"event_type\":\"%s\"}\n",
      ModeName(config.mode), config.concurrency, config.batch_size, config.payload_bytes,
      s.duration_s, s.calls, s.events, s.failed_calls, s.event_errors, s.deliveries,
      s.events / s.duration_s, s.calls / s.duration_s, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms,
      config.channels, absl::ToDoubleSeconds(config.warmup), s.truncated ? "true" : "false",
      config.target, config.event_type);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hookd-bench-ingest: load generator for hookd-ingest on loopback.\n"
      "Keeps --concurrency Publish (or PublishBatch) calls in flight for --warmup + --duration\n"
      "and prints a table and one `RESULT {json}` line. Exit 1 if more than 1% of calls or\n"
      "events failed, 2 on a setup error.\n"
      "Usage: HOOKD_TOKEN=... hookd-bench-ingest [--mode publish|batch] [--concurrency N] ...");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) {
    absl::FPrintF(stderr, "hookd-bench-ingest: %s\n", config.status().message());
    return kExitSetup;
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(config->target, config->channels);
  std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(v1::IngestService::NewStub(channel));
  for (const auto& channel : channels) {
    // Connect every channel up front so the warm-up does not include connection setup.
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)))) {
      absl::FPrintF(stderr,
                    "hookd-bench-ingest: cannot connect to %s within 5s; is hookd-ingest "
                    "running (scripts/up.sh)?\n",
                    config->target);
      return kExitSetup;
    }
  }
  if (absl::Status probe = Probe(*config, *stubs[0]); !probe.ok()) {
    absl::FPrintF(stderr, "hookd-bench-ingest: %s\n", probe.message());
    return kExitSetup;
  }

  ErrorLog errors;
  LoadRun run(*config, stubs, errors);
  if (run.RequestBytes() > kDefaultMaxMessageBytes) {
    absl::FPrintF(stderr,
                  "hookd-bench-ingest: warning: one request is %d bytes, above gRPC's default "
                  "4 MiB server receive limit; lower --batch_size or --payload_bytes if every "
                  "call fails with RESOURCE_EXHAUSTED\n",
                  run.RequestBytes());
  }
  absl::FPrintF(stderr, "hookd-bench-ingest: %s mode, %d in flight, warm-up %s, measuring %s\n",
                ModeName(config->mode), config->concurrency, absl::FormatDuration(config->warmup),
                absl::FormatDuration(config->duration));
  Summary summary = run.Run();
  if (summary.duration_s <= 0 || summary.calls == 0) {
    absl::FPrintF(stderr, "hookd-bench-ingest: no call completed inside the measured window%s\n",
                  summary.truncated ? " (--max_events reached during the warm-up)" : "");
    errors.Print(stderr);
    return kExitSetup;
  }
  PrintTable(*config, summary, errors);
  PrintResult(*config, summary);

  double call_error_ratio = static_cast<double>(summary.failed_calls) / summary.calls;
  int64_t events_attempted = summary.events + summary.event_errors;
  double event_error_ratio =
      events_attempted == 0 ? 0 : static_cast<double>(summary.event_errors) / events_attempted;
  if (call_error_ratio > kMaxErrorRatio || event_error_ratio > kMaxErrorRatio) {
    absl::FPrintF(stderr,
                  "hookd-bench-ingest: %.2f%% of calls and %.2f%% of events failed (limit "
                  "%.0f%%)\n",
                  100 * call_error_ratio, 100 * event_error_ratio, 100 * kMaxErrorRatio);
    return kExitTooManyErrors;
  }
  return kExitOk;
}

}  // namespace
}  // namespace hookd::bench

int main(int argc, char** argv) { return hookd::bench::Main(argc, argv); }
