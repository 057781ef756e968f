// hookd-bench-e2e: measures delivery end to end, from PublishBatch on hookd-ingest to the POST
// arriving at an HTTP receiver that this process runs itself. It creates its own tenant with
// --apps apps pointing at the receiver, publishes events that carry their send time, waits for
// every delivery, and prints a table plus one `RESULT {json}` line.
//
// With --phases it runs several measurements in one process against the same receiver: the HTTP
// ceiling (hookd's own HTTP sender in a loop, and wrk), sustained throughput, latency at fixed
// rates and fan-out, each e2e phase with a tenant and apps of its own; bench/run.sh starts a
// private cluster and collects the RESULT lines of every phase.
//
// Like hookd-bench-ingest it only talks to loopback: every OK publish is a durable commit that
// a worker then delivers, so pointing it at a shared cluster would flood real tenants.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench_util.h"
#include "ceiling.h"
#include "grpcpp/grpcpp.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

ABSL_FLAG(std::string, target, "",
          "hookd-ingest address host:port, loopback only (env HOOKD_INGEST_SERVER, default "
          "127.0.0.1:50052)");
ABSL_FLAG(std::string, server, "",
          "hookd-subscription address host:port, loopback only (env HOOKD_SERVER, default "
          "127.0.0.1:50051)");
ABSL_FLAG(std::string, token, "",
          "admin bearer token (env HOOKD_TOKEN, else HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(int, apps, 1, "apps subscribed to bench.e2e; every event is delivered to each (fan-out)");
ABSL_FLAG(double, rate, 0,
          "offered events/s, paced on a fixed schedule (latency); 0 = as fast as the cluster "
          "delivers, bounded by --max_backlog (throughput)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "measured publishing window");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(5),
          "publishing before the window; those events are delivered but not counted");
ABSL_FLAG(int, batch_size, 100,
          "most events per PublishBatch; paced mode sends what is due, so fewer at low rates");
ABSL_FLAG(int, publishers, 4,
          "publishing threads, each with its own connection and one call in flight");
ABSL_FLAG(int, payload_bytes, 1024,
          "size of each payload {\"sent_us\":...,\"seq\":...,\"pad\":\"xxx...\"}, at least 64");
ABSL_FLAG(int64_t, max_backlog, 20000,
          "throughput mode only: publishing pauses while more deliveries than this are "
          "acknowledged but not yet received (0 = no bound)");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(60),
          "after publishing, how long to wait for the outstanding deliveries");
ABSL_FLAG(absl::Duration, drain_idle_timeout, absl::Seconds(10),
          "stop waiting for outstanding deliveries earlier when none arrived for this long "
          "(they failed; the app has no retries)");
ABSL_FLAG(int, receiver_port, 0, "port of the built-in receiver on 127.0.0.1 (0 = any free one)");
ABSL_FLAG(bool, probe_delivery, true,
          "before the load, wait until one probe event reached every app (fails fast when no "
          "hookd-worker delivers)");
ABSL_FLAG(absl::Duration, ready_timeout, absl::Seconds(30),
          "how long set-up waits for ingest to fan out to every app and for the probe deliveries");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(30), "deadline of each call");
ABSL_FLAG(int64_t, max_events, 5'000'000,
          "safety bound on events published, warm-up included; publishing stops when reached");
ABSL_FLAG(std::string, phases, "",
          "comma-separated phases run one after the other against the same receiver: ceiling, "
          "throughput, latency:<events/s>, fanout:<apps>; e.g. "
          "ceiling,throughput,latency:500,latency:1000,latency:2000,fanout:10. Empty: one run "
          "of --rate and --apps for --duration");
ABSL_FLAG(absl::Duration, latency_duration, absl::Seconds(20),
          "with --phases: measured window of each latency and fan-out phase (throughput uses "
          "--duration)");
ABSL_FLAG(double, fanout_rate, 200, "with --phases: events/s of the fanout phases");
ABSL_FLAG(absl::Duration, ceiling_duration, absl::Seconds(10),
          "ceiling phase: measured window of each client");
ABSL_FLAG(absl::Duration, ceiling_warmup, absl::Seconds(2),
          "ceiling phase: load before each client's window (not counted)");
ABSL_FLAG(int, ceiling_connections, 64,
          "ceiling phase: requests hookd's HTTP sender keeps outstanding, each on its own "
          "keep-alive connection (hookd-worker's default --max_connections_per_host)");
ABSL_FLAG(std::string, wrk, "wrk",
          "ceiling phase: wrk executable, looked up on PATH; empty = skip wrk");
ABSL_FLAG(int, wrk_threads, 2, "ceiling phase: wrk -t");
ABSL_FLAG(int, wrk_connections, 0, "ceiling phase: wrk -c (0 = --ceiling_connections)");
ABSL_FLAG(std::string, database_url, "",
          "Postgres of the cluster, read only: each e2e phase then reports the WAL it wrote "
          "per delivery, from pg_stat_wal before and after it (every writer of that Postgres "
          "counts: keep it private to the cluster)");
ABSL_FLAG(absl::Duration, settle_timeout, absl::Seconds(30),
          "with --phases: after an e2e phase, wait up to this long for the receiver to go quiet "
          "(late or stray deliveries of that phase) before the next one starts");

namespace hookd::bench {
namespace {

namespace v1 = ::hookd::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitSetup = 2;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it
constexpr char kEventType[] = "bench.e2e";
constexpr char kProgram[] = "hookd-bench-e2e";
// Beyond this share of failed events the run fails: its figures would describe error paths.
constexpr double kMaxErrorRatio = 0.01;
constexpr int kMinPayloadBytes = 64;
// The largest deliveries_expected this tool can wait for without the receiver's bookkeeping
// (one set entry per delivery) outgrowing a developer machine's memory.
constexpr int kMaxApps = 1000;
// Pending connections the receiver's socket queues (the kernel caps it at net.core.somaxconn).
constexpr int kListenBacklog = 4096;

std::atomic<bool> interrupted{false};

// SIGINT/SIGTERM end the run early but still print figures and delete the apps; a second
// signal kills the process the default way, for when cleanup itself hangs.
void OnSignal(int signal) {
  if (interrupted.exchange(true)) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

struct Config {
  std::string target;        // hookd-ingest, a loopback literal host:port
  std::string server;        // hookd-subscription, same
  std::string database_url;  // read only: pg_stat_wal
  std::string token;
  int apps = 0;
  double rate = 0;
  absl::Duration duration;
  absl::Duration warmup;
  int batch_size = 0;
  int publishers = 0;
  int payload_bytes = 0;
  int64_t max_backlog = 0;
  absl::Duration drain_timeout;
  absl::Duration drain_idle_timeout;
  int receiver_port = 0;
  bool probe_delivery = true;
  absl::Duration ready_timeout;
  absl::Duration rpc_timeout;
  int64_t max_events = 0;
  // --phases
  std::string phases;
  absl::Duration latency_duration;
  double fanout_rate = 0;
  absl::Duration settle_timeout;
  int ceiling_connections = 0;
  absl::Duration ceiling_duration;
  absl::Duration ceiling_warmup;
  std::string wrk;
  int wrk_threads = 0;
  int wrk_connections = 0;
  // The receivers' dialect of the apps (README "Signature profiles"): empty for Standard
  // Webhooks, or one of kDialects.
  std::string dialect;
};

// Dialects a throughput phase can measure (throughput:<dialect>): a preset's signature, or
// VideoPilot's whole recipe (a payload template and its signature header).
constexpr absl::string_view kDialects[] = {"github", "stripe", "shopify", "slack", "videopilot"};

absl::StatusOr<Config> ConfigFromFlags() {
  Config config;
  absl::StatusOr<std::string> target =
      LoopbackTarget("--target", FirstNonEmpty({absl::GetFlag(FLAGS_target),
                                                Getenv("HOOKD_INGEST_SERVER"), "127.0.0.1:50052"}));
  if (!target.ok()) return target.status();
  config.target = *target;
  absl::StatusOr<std::string> server = LoopbackTarget(
      "--server",
      FirstNonEmpty({absl::GetFlag(FLAGS_server), Getenv("HOOKD_SERVER"), "127.0.0.1:50051"}));
  if (!server.ok()) return server.status();
  config.server = *server;
  config.database_url = absl::GetFlag(FLAGS_database_url);
  config.token = FirstNonEmpty(
      {absl::GetFlag(FLAGS_token), Getenv("HOOKD_TOKEN"), Getenv("HOOKD_ADMIN_TOKEN")});
  config.apps = absl::GetFlag(FLAGS_apps);
  if (config.apps < 1 || config.apps > kMaxApps) {
    return absl::InvalidArgumentError(absl::StrCat("--apps: 1 .. ", kMaxApps));
  }
  config.rate = absl::GetFlag(FLAGS_rate);
  if (!(config.rate >= 0) || std::isinf(config.rate)) {
    return absl::InvalidArgumentError("--rate: events per second, 0 or more");
  }
  config.duration = absl::GetFlag(FLAGS_duration);
  config.warmup = absl::GetFlag(FLAGS_warmup);
  if (config.duration <= absl::ZeroDuration() || config.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive and --warmup not negative");
  }
  config.batch_size = absl::GetFlag(FLAGS_batch_size);
  if (config.batch_size < 1 || config.batch_size > 1000) {
    return absl::InvalidArgumentError("--batch_size: 1 .. 1000 (PublishBatch's limit)");
  }
  config.publishers = absl::GetFlag(FLAGS_publishers);
  if (config.publishers < 1) return absl::InvalidArgumentError("--publishers: at least 1");
  config.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  if (config.payload_bytes < kMinPayloadBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--payload_bytes: at least ", kMinPayloadBytes, " (room for sent_us, seq)"));
  }
  config.max_backlog = absl::GetFlag(FLAGS_max_backlog);
  if (config.max_backlog < 0) return absl::InvalidArgumentError("--max_backlog: 0 or more");
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  config.drain_idle_timeout = absl::GetFlag(FLAGS_drain_idle_timeout);
  config.receiver_port = absl::GetFlag(FLAGS_receiver_port);
  if (config.receiver_port < 0 || config.receiver_port > 65535) {
    return absl::InvalidArgumentError("--receiver_port: 0 .. 65535");
  }
  config.probe_delivery = absl::GetFlag(FLAGS_probe_delivery);
  config.ready_timeout = absl::GetFlag(FLAGS_ready_timeout);
  config.rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  config.max_events = absl::GetFlag(FLAGS_max_events);
  if (config.max_events < 1) return absl::InvalidArgumentError("--max_events: at least 1");
  config.phases = absl::GetFlag(FLAGS_phases);
  config.latency_duration = absl::GetFlag(FLAGS_latency_duration);
  if (config.latency_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--latency_duration must be positive");
  }
  config.fanout_rate = absl::GetFlag(FLAGS_fanout_rate);
  if (!(config.fanout_rate > 0) || std::isinf(config.fanout_rate)) {
    return absl::InvalidArgumentError("--fanout_rate: events per second, more than 0");
  }
  config.settle_timeout = absl::GetFlag(FLAGS_settle_timeout);
  config.ceiling_connections = absl::GetFlag(FLAGS_ceiling_connections);
  config.ceiling_duration = absl::GetFlag(FLAGS_ceiling_duration);
  config.ceiling_warmup = absl::GetFlag(FLAGS_ceiling_warmup);
  if (config.ceiling_connections < 1 || config.ceiling_duration <= absl::ZeroDuration() ||
      config.ceiling_warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--ceiling_connections must be at least 1, --ceiling_duration positive and "
        "--ceiling_warmup not negative");
  }
  config.wrk = absl::GetFlag(FLAGS_wrk);
  config.wrk_threads = absl::GetFlag(FLAGS_wrk_threads);
  config.wrk_connections = absl::GetFlag(FLAGS_wrk_connections);
  if (config.wrk_connections == 0) config.wrk_connections = config.ceiling_connections;
  if (config.wrk_threads < 1 || config.wrk_connections < config.wrk_threads) {
    return absl::InvalidArgumentError(
        "--wrk_threads must be at least 1 and --wrk_connections at least --wrk_threads");
  }
  return config;
}

// One measurement of a --phases run.
struct Phase {
  enum class Kind { kCeiling, kE2e };
  Kind kind = Kind::kE2e;
  std::string name;  // as written in --phases, or the mode of a single run
  // e2e phases: the run's shape, copied over the flags' values.
  int apps = 1;
  double rate = 0;
  absl::Duration duration;
  std::string dialect;
};

// The phases --phases lists, or the single run the other flags describe. INVALID_ARGUMENT
// naming the item that is not a phase.
absl::StatusOr<std::vector<Phase>> ParsePhases(const Config& config) {
  std::vector<Phase> phases;
  if (config.phases.empty()) {
    Phase single;
    single.name = config.rate == 0 ? "throughput" : (config.apps > 1 ? "fanout" : "latency");
    single.apps = config.apps;
    single.rate = config.rate;
    single.duration = config.duration;
    phases.push_back(single);
  }
  for (absl::string_view item : absl::StrSplit(config.phases, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    Phase phase;
    phase.name = std::string(item);
    absl::string_view value;
    auto invalid = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("--phases: \"", item, "\" ", why));
    };
    if (item == "ceiling") {
      phase.kind = Phase::Kind::kCeiling;
    } else if (item == "throughput") {
      phase.duration = config.duration;
    } else if (absl::StartsWith(item, "throughput:")) {
      value = item.substr(std::string_view("throughput:").size());
      if (std::find(std::begin(kDialects), std::end(kDialects), value) == std::end(kDialects)) {
        return invalid(absl::StrCat("wants a dialect: ", absl::StrJoin(kDialects, ", ")));
      }
      phase.dialect = std::string(value);
      phase.duration = config.duration;
    } else if (absl::StartsWith(item, "latency:")) {
      value = item.substr(std::string_view("latency:").size());
      if (!absl::SimpleAtod(value, &phase.rate) || !(phase.rate > 0) || std::isinf(phase.rate)) {
        return invalid("wants events/s above 0, e.g. latency:1000");
      }
      phase.duration = config.latency_duration;
    } else if (absl::StartsWith(item, "fanout:")) {
      value = item.substr(std::string_view("fanout:").size());
      if (!absl::SimpleAtoi(value, &phase.apps) || phase.apps < 1 || phase.apps > kMaxApps) {
        return invalid(absl::StrCat("wants 1 .. ", kMaxApps, " apps, e.g. fanout:10"));
      }
      phase.rate = config.fanout_rate;
      phase.duration = config.latency_duration;
    } else {
      return invalid(
          "is not a phase (ceiling, throughput, throughput:<dialect>, latency:<rate>, "
          "fanout:<apps>)");
    }
    phases.push_back(std::move(phase));
  }
  if (phases.empty()) return absl::InvalidArgumentError("--phases: no phase given");
  // Only the ceiling runs without the cluster.
  bool cluster = std::any_of(phases.begin(), phases.end(),
                             [](const Phase& p) { return p.kind == Phase::Kind::kE2e; });
  if (cluster && config.token.empty()) {
    return absl::InvalidArgumentError(
        "no token: pass --token or set HOOKD_TOKEN (e.g. HOOKD_TOKEN=$(cat .data/admin-token))");
  }
  return phases;
}

// The flags' configuration with the shape of e2e phase `phase`.
Config PhaseConfig(const Config& config, const Phase& phase) {
  Config phase_config = config;
  phase_config.apps = phase.apps;
  phase_config.rate = phase.rate;
  phase_config.duration = phase.duration;
  phase_config.dialect = phase.dialect;
  return phase_config;
}

const char* ModeName(const Config& config) {
  if (config.rate == 0) return "throughput";
  return config.apps > 1 ? "fanout" : "latency";
}

// {"sent_us":<unix micros>,"seq":<n>,"pad":"xxx..."} of exactly `bytes` bytes (the flag check
// leaves room for the fields), so payload size is a controlled variable.
std::string MakePayload(int64_t sent_us, int64_t seq, int bytes) {
  std::string payload = absl::StrFormat("{\"sent_us\":%d,\"seq\":%d,\"pad\":\"", sent_us, seq);
  size_t used = payload.size() + 2;
  if (static_cast<size_t>(bytes) > used) payload.append(static_cast<size_t>(bytes) - used, 'x');
  payload.append("\"}");
  return payload;
}

// The number after "sent_us": in a delivery body, which is the payload either alone or inside
// the Standard Webhooks envelope; -1 when there is none.
int64_t ParseSentMicros(absl::string_view body) {
  constexpr absl::string_view kKey = "\"sent_us\":";
  size_t at = body.find(kKey);
  if (at == absl::string_view::npos) return -1;
  absl::string_view rest = body.substr(at + kKey.size());
  size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  int64_t value = 0;
  if (digits == 0 || !absl::SimpleAtoi(rest.substr(0, digits), &value)) return -1;
  return value;
}

// One delivery of a measured event, as the receiver saw it.
struct Arrival {
  int64_t arrival_us = 0;
  int64_t sent_us = 0;
  int app = 0;
  bool duplicate = false;
};

// The in-process webhook endpoint, one for the whole run. It answers every POST at once with
// 200. POST /hook/<phase>/<app> is a delivery: the receiver records when it arrived and when its
// event was sent, for the phase Reset last named (a POST of another phase, e.g. a late one of the
// previous phase, only counts as stale). Events are "measured" when their sent_us falls inside
// the window set by SetWindow; only those are kept, others (probe, warm-up) are counted. POST
// /ceiling is the ceiling phase's load: counted, nothing recorded.
class Receiver {
 public:
  // `max_apps`: the most apps any phase uses. FAILED_PRECONDITION when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<Receiver>> Start(int port, int max_apps) {
    // Before any event_base exists: makes event_base_loopbreak from the destructor's thread safe.
    static const int threads_ok = evthread_use_pthreads();
    if (threads_ok != 0) return absl::InternalError("libevent: evthread_use_pthreads failed");
    std::unique_ptr<Receiver> receiver(new Receiver(max_apps));
    Receiver* self = receiver.get();
    self->base_ = event_base_new();
    self->http_ = self->base_ == nullptr ? nullptr : evhttp_new(self->base_);
    self->reply_ = evbuffer_new();
    if (self->http_ == nullptr || self->reply_ == nullptr) {
      return absl::InternalError("libevent: cannot create the receiver's event loop");
    }
    // One event-loop thread serves every connection. The workers keep up to 64 keep-alive
    // connections each, mostly idle between requests: a thread per connection (cpp-httplib,
    // before) cost ~90 us of CPU per request in wakeups and idle polls, taken from the cluster
    // under test on this 2-core machine. evhttp keeps connections open for any number of
    // requests and writes each response in one write (so Nagle never delays it).
    evhttp_set_timeout(self->http_, 3600);  // idle connections stay open for the whole run
    evhttp_set_gencb(self->http_, &Receiver::OnRequest, self);

    // The listening socket is made here to listen with a deep backlog: when a worker or the
    // ceiling opens hundreds of connections at once, a short one makes the kernel drop SYNs and
    // the clients retry a second later, which would show as one-second stalls in every figure.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, kListenBacklog) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::string error = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot bind the receiver to 127.0.0.1:", port, ": ", error));
    }
    if (evhttp_accept_socket_with_handle(self->http_, fd) == nullptr) {
      ::close(fd);
      return absl::InternalError("libevent: cannot accept on the receiver's socket");
    }
    receiver->port_ = ntohs(address.sin_port);
    // A loopbreak that comes before the loop runs is forgotten when it starts, so Start returns
    // only once the loop has run its first callback (connections queue on the socket meanwhile).
    std::promise<void> running;
    std::future<void> started = running.get_future();
    event_base_once(
        self->base_, -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* promise) {
          static_cast<std::promise<void>*>(promise)->set_value();
        },
        &running, nullptr);
    receiver->thread_ = std::thread([self] { event_base_dispatch(self->base_); });
    if (started.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      return absl::FailedPreconditionError("the receiver's event loop did not start");
    }
    return receiver;
  }

  ~Receiver() {
    if (base_ != nullptr) event_base_loopbreak(base_);
    if (thread_.joinable()) thread_.join();
    if (http_ != nullptr) evhttp_free(http_);
    if (reply_ != nullptr) evbuffer_free(reply_);
    if (base_ != nullptr) event_base_free(base_);
  }

  int port() const { return port_; }

  // Starts phase `phase` with apps 0 .. apps-1 (at most the constructor's max_apps): forgets
  // every arrival and count so far and measures nothing until SetWindow.
  void Reset(int phase, int apps) {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = phase;
    apps_ = std::min(apps, static_cast<int>(posts_per_app_.size()));
    std::fill(posts_per_app_.begin(), posts_per_app_.end(), 0);
    seen_.clear();
    arrivals_.clear();
    unparsed_ = 0;
    window_start_us_ = INT64_MAX;
    window_end_us_ = INT64_MIN;
    measured_.store(0);
    distinct_total_.store(0);
  }

  void SetWindow(int64_t start_us, int64_t end_us) {
    std::lock_guard<std::mutex> lock(mu_);
    window_start_us_ = start_us;
    window_end_us_ = end_us;
  }

  // Distinct deliveries (webhook-id + app) of measured events so far.
  int64_t measured() const { return measured_.load(std::memory_order_relaxed); }
  // Distinct deliveries of any event of the current phase, probe and warm-up included.
  int64_t distinct_total() const { return distinct_total_.load(std::memory_order_relaxed); }
  // POSTs to /ceiling since the start.
  int64_t ceiling_requests() const { return ceiling_requests_.load(std::memory_order_relaxed); }
  // POSTs to /hook/<phase>/... of a phase other than the current one, since the start.
  int64_t stale() const { return stale_.load(std::memory_order_relaxed); }
  // When the last POST to /hook/ of any phase arrived (unix µs; 0 before the first).
  int64_t last_post_us() const { return last_post_us_.load(std::memory_order_relaxed); }

  // How many apps of the current phase received at least one POST of any event.
  int AppsReached() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(posts_per_app_.begin(), posts_per_app_.end(),
                                          [](int64_t n) { return n > 0; }));
  }

  struct Snapshot {
    std::vector<Arrival> arrivals;  // measured events only, in arrival order
    int64_t unparsed = 0;           // POSTs without webhook-id, sent_us or a known app
  };
  Snapshot Take() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Snapshot{arrivals_, unparsed_};
  }

 private:
  explicit Receiver(int max_apps) : posts_per_app_(static_cast<size_t>(max_apps), 0) {}

  // Every request, on the event-loop thread.
  static void OnRequest(evhttp_request* request, void* self_ptr) {
    auto* self = static_cast<Receiver*>(self_ptr);
    absl::string_view path = evhttp_request_get_uri(request);
    path = path.substr(0, path.find('?'));
    int phase = -1;
    int app = -1;
    bool post = evhttp_request_get_command(request) == EVHTTP_REQ_POST;
    if (post && path == "/ceiling") {
      self->ceiling_requests_.fetch_add(1, std::memory_order_relaxed);
    } else if (post && ParseHookPath(path, phase, app)) {
      evbuffer* in = evhttp_request_get_input_buffer(request);
      size_t size = evbuffer_get_length(in);
      const char* body = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
      const char* id = evhttp_find_header(evhttp_request_get_input_headers(request), "webhook-id");
      self->Record(phase, app, id == nullptr ? "" : id,
                   absl::string_view(body == nullptr ? "" : body, body == nullptr ? 0 : size));
    } else {
      evhttp_send_error(request, HTTP_NOTFOUND, nullptr);
      return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", "text/plain");
    evbuffer_add(self->reply_, "ok", 2);
    evhttp_send_reply(request, HTTP_OK, "OK", self->reply_);  // moves the body out of reply_
  }

  // "/hook/<phase>/<app>", both decimal.
  static bool ParseHookPath(absl::string_view path, int& phase, int& app) {
    if (!absl::ConsumePrefix(&path, "/hook/")) return false;
    std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
    auto decimal = [](absl::string_view part, int& out) {
      return !part.empty() && std::all_of(part.begin(), part.end(), absl::ascii_isdigit) &&
             absl::SimpleAtoi(part, &out);
    };
    return parts.size() == 2 && decimal(parts[0], phase) && decimal(parts[1], app);
  }

  void Record(int phase, int app, absl::string_view id, absl::string_view body) {
    int64_t arrival_us = NowMicros();
    last_post_us_.store(arrival_us, std::memory_order_relaxed);
    int64_t sent_us = ParseSentMicros(body);
    std::lock_guard<std::mutex> lock(mu_);
    if (phase != phase_) {
      stale_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (app < 0 || app >= apps_ || sent_us < 0 || id.empty()) {
      ++unparsed_;
      return;
    }
    ++posts_per_app_[static_cast<size_t>(app)];
    // Standard Webhooks dedup key: the same event id to the same endpoint is a repeat.
    bool duplicate = !seen_.insert(absl::StrCat(id, "#", app)).second;
    if (!duplicate) distinct_total_.fetch_add(1, std::memory_order_relaxed);
    if (sent_us < window_start_us_ || sent_us >= window_end_us_) return;
    if (!duplicate) measured_.fetch_add(1, std::memory_order_relaxed);
    arrivals_.push_back(Arrival{arrival_us, sent_us, app, duplicate});
  }

  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  evbuffer* reply_ = nullptr;  // the response body, refilled for each request
  std::thread thread_;
  int port_ = 0;
  std::atomic<int64_t> measured_{0};
  std::atomic<int64_t> distinct_total_{0};
  std::atomic<int64_t> ceiling_requests_{0};
  std::atomic<int64_t> stale_{0};
  std::atomic<int64_t> last_post_us_{0};
  mutable std::mutex mu_;
  int phase_ = -1;                        // guarded by mu_; nothing is recorded before Reset
  int apps_ = 0;                          // guarded by mu_
  int64_t window_start_us_ = INT64_MAX;   // guarded by mu_; nothing is measured before SetWindow
  int64_t window_end_us_ = INT64_MIN;     // guarded by mu_
  std::vector<int64_t> posts_per_app_;    // guarded by mu_; max_apps entries
  std::unordered_set<std::string> seen_;  // guarded by mu_
  std::vector<Arrival> arrivals_;         // guarded by mu_
  int64_t unparsed_ = 0;                  // guarded by mu_
};

void AddAuth(grpc::ClientContext& context, const Config& config, absl::Duration timeout) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", config.token));
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// A tenant nobody else uses, so the run's apps are the only ones its events fan out to and a
// crashed earlier run's leftovers cannot receive (or distort) this run's events.
std::string RandomTenant() {
  std::random_device device;
  std::mt19937_64 random((static_cast<uint64_t>(device()) << 32) ^ device());
  return absl::StrFormat("bench-e2e-%08x", static_cast<uint32_t>(random()));
}

// Makes `app` speak `dialect` (see kDialects). Every dialect keeps a `webhook-id` header, by
// which the receiver counts distinct deliveries; signing and rendering cost what they cost for
// real receivers.
void ApplyDialect(const std::string& dialect, v1::App& app) {
  if (dialect.empty()) return;
  v1::SignatureProfile* profile = app.add_signature_profiles();
  if (dialect == "videopilot") {
    // README, "Recipes": VideoPilot.
    app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
    app.set_payload_template(
        R"({"event":"{{event_type}}","data":"{{payload}}","timestamp":"{{timestamp}}"})");
    profile->set_signature_header("X-VideoPilot-Signature");
    profile->set_signature_format("sha256={sig}");
    profile->set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  } else {
    profile->set_preset(dialect);
  }
  profile->set_id_header("webhook-id");
}

// The apps this run created; DeleteAll removes them again, so repeated runs leave only their
// delivery log behind.
class BenchApps {
 public:
  BenchApps(const Config& config, v1::AppService::Stub& stub) : config_(config), stub_(stub) {}

  // Creates `config.apps` apps of `tenant` pointing at phase `phase`'s paths on `receiver_port`.
  // The error names the failing call, with a hint when the cluster refuses plain-http loopback
  // urls.
  absl::Status CreateAll(const std::string& tenant, int receiver_port, int phase) {
    for (int i = 0; i < config_.apps; ++i) {
      v1::CreateAppRequest request;
      v1::App* app = request.mutable_app();
      app->set_tenant(tenant);
      app->set_name(absl::StrCat("bench-e2e-", i));
      app->set_description("hookd-bench-e2e receiver; deleted when the run ends");
      app->set_url(absl::StrCat("http://127.0.0.1:", receiver_port, "/hook/", phase, "/", i));
      app->add_event_types(kEventType);
      // No retries: the receiver always answers 200, so a failed attempt is the cluster's
      // failure and should show as backlog, not as a duplicate with a retry delay in the tail.
      v1::ExponentialBackoff* backoff = app->mutable_retry()->mutable_exponential();
      backoff->mutable_initial_delay()->set_seconds(1);
      backoff->set_multiplier(1.0);
      backoff->mutable_max_delay()->set_seconds(1);
      backoff->set_max_attempts(1);
      // A burst of failures under overload must not disable the app and hold the rest.
      app->set_disable_after_failures(10000);
      ApplyDialect(config_.dialect, *app);
      request.set_skip_connection_test(true);

      grpc::ClientContext context;
      AddAuth(context, config_, absl::Seconds(10));
      v1::App created;
      grpc::Status status = stub_.CreateApp(&context, request, &created);
      if (!status.ok()) {
        std::string message =
            absl::StrCat("CreateApp on ", config_.server, " failed: ", Describe(status));
        if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
            absl::StrContains(status.error_message(), "url")) {
          absl::StrAppend(&message,
                          "\n  hint: the receiver is a plain-http loopback url; run the cluster "
                          "with HOOKD_ALLOW_HTTP=true and HOOKD_PRIVATE_ALLOWLIST covering "
                          "127.0.0.0/8 (scripts/up.sh sets both for dev)");
        }
        return absl::FailedPreconditionError(message);
      }
      ids_.push_back(created.id());
    }
    return absl::OkStatus();
  }

  // Deletes every app created; failures are printed, not fatal: the figures are already out.
  void DeleteAll() {
    int deleted = 0;
    for (const std::string& id : ids_) {
      grpc::ClientContext context;
      AddAuth(context, config_, absl::Seconds(10));
      v1::DeleteAppRequest request;
      request.set_id(id);
      google::protobuf::Empty empty;
      grpc::Status status = stub_.DeleteApp(&context, request, &empty);
      if (status.ok()) {
        ++deleted;
      } else {
        absl::FPrintF(stderr, "%s: warning: DeleteApp %s: %s\n", kProgram, id, Describe(status));
      }
    }
    if (!ids_.empty()) {
      absl::FPrintF(stderr, "%s: deleted %d of %d bench apps\n", kProgram, deleted, ids_.size());
    }
    ids_.clear();
  }

  ~BenchApps() { DeleteAll(); }

 private:
  const Config& config_;
  v1::AppService::Stub& stub_;
  std::vector<std::string> ids_;
};

absl::Status EnsureEventType(const Config& config, v1::EventTypeService::Stub& stub) {
  v1::CreateEventTypeRequest request;
  request.mutable_event_type()->set_name(kEventType);
  request.mutable_event_type()->set_description("hookd-bench-e2e load");
  grpc::ClientContext context;
  AddAuth(context, config, absl::Seconds(10));
  v1::EventType created;
  grpc::Status status = stub.CreateEventType(&context, request, &created);
  // A previous run created it: that is the state we want.
  if (status.ok() || status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat("CreateEventType ", kEventType, " on ",
                                                    config.server, " failed: ", Describe(status)));
}

// Hands out the events to publish. Paced mode follows a fixed schedule (event i is due at
// start + i / rate) and gives a publisher whatever is due, at most a batch, so the offered rate
// does not depend on how long calls take (open loop). Throughput mode hands out full batches
// while the cluster keeps up, i.e. while acknowledged-but-undelivered deliveries stay below
// --max_backlog: without that bound ingest (tens of thousands of events/s) would pile up a
// backlog the workers need minutes to clear, and the next run would measure that.
class Schedule {
 public:
  // Deliveries the receiver got before, the probe's, do not count against the bound.
  Schedule(const Config& config, absl::Time start, absl::Time end, const Receiver& receiver)
      : config_(config),
        start_(start),
        end_(end),
        receiver_(receiver),
        received_before_(receiver.distinct_total()) {}

  // Events to publish now (> 0); 0 with *wake set when none is due yet; -1 when publishing is
  // over (window closed, --max_events reached or interrupted).
  int Claim(absl::Time now, absl::Time* wake) {
    std::lock_guard<std::mutex> lock(mu_);
    if (now >= end_ || next_ >= config_.max_events || interrupted.load()) return -1;
    int64_t n = std::min<int64_t>(config_.batch_size, config_.max_events - next_);
    if (config_.rate == 0) {
      if (config_.max_backlog > 0 &&
          acked_deliveries_.load() - (receiver_.distinct_total() - received_before_) >
              config_.max_backlog) {
        *wake = now + absl::Milliseconds(1);
        return 0;
      }
    } else {
      int64_t due =
          static_cast<int64_t>(std::floor(absl::ToDoubleSeconds(now - start_) * config_.rate)) + 1;
      n = std::min(n, due - next_);
      if (n <= 0) {
        *wake = start_ + absl::Seconds(static_cast<double>(next_) / config_.rate);
        return 0;
      }
    }
    next_ += n;
    return static_cast<int>(n);
  }

  // Deliveries ingest acknowledged (PublishResponse.delivery_count), warm-up included.
  void AddAcked(int64_t deliveries) { acked_deliveries_.fetch_add(deliveries); }
  bool max_events_reached() const {
    std::lock_guard<std::mutex> lock(mu_);
    return next_ >= config_.max_events;
  }

 private:
  const Config& config_;
  const absl::Time start_;
  const absl::Time end_;
  const Receiver& receiver_;
  const int64_t received_before_;
  mutable std::mutex mu_;
  int64_t next_ = 0;  // guarded by mu_
  std::atomic<int64_t> acked_deliveries_{0};
};

// What one publisher thread saw of measured events (sent inside the window).
struct PublisherStats {
  int64_t events_ok = 0;
  int64_t event_errors = 0;  // per-event errors and events of failed calls
  int64_t deliveries_acked = 0;
  std::vector<int64_t> call_latency_us;  // OK PublishBatch calls
};

class Publisher {
 public:
  Publisher(const Config& config, std::string tenant, std::shared_ptr<grpc::Channel> channel,
            Schedule& schedule, std::atomic<int64_t>& seq, std::atomic<int64_t>& published,
            ErrorLog& errors, int64_t window_start_us, int64_t window_end_us)
      : config_(config),
        tenant_(std::move(tenant)),
        stub_(v1::IngestService::NewStub(channel)),
        schedule_(schedule),
        seq_(seq),
        published_(published),
        errors_(errors),
        window_start_us_(window_start_us),
        window_end_us_(window_end_us) {}

  void Run() {
    v1::PublishBatchRequest request;
    v1::PublishBatchResponse response;
    while (true) {
      absl::Time now = absl::Now();
      absl::Time wake;
      int n = schedule_.Claim(now, &wake);
      if (n < 0) break;
      if (n == 0) {
        // Short naps so the end of the window and a Ctrl-C are noticed promptly.
        absl::SleepFor(std::clamp(wake - now, absl::ZeroDuration(), absl::Milliseconds(10)));
        continue;
      }
      int64_t first_seq = seq_.fetch_add(n);
      // One stamp per batch: it is when the batch goes out, so publisher-side waiting for a
      // free thread is not charged to hookd (the achieved rate shows if it fell behind).
      int64_t sent_us = NowMicros();
      request.clear_events();
      for (int i = 0; i < n; ++i) {
        v1::PublishRequest* event = request.add_events();
        event->set_tenant(tenant_);
        event->set_event_type(kEventType);
        event->set_payload(MakePayload(sent_us, first_seq + i, config_.payload_bytes));
      }
      grpc::ClientContext context;
      AddAuth(context, config_, config_.rpc_timeout);
      response.Clear();
      grpc::Status status = stub_->PublishBatch(&context, request, &response);
      int64_t done_us = NowMicros();
      Account(n, sent_us, done_us, status, response);
    }
  }

  const PublisherStats& stats() const { return stats_; }

 private:
  void Account(int n, int64_t sent_us, int64_t done_us, const grpc::Status& status,
               const v1::PublishBatchResponse& response) {
    bool measured = sent_us >= window_start_us_ && sent_us < window_end_us_;
    if (!status.ok()) {
      errors_.Add(absl::StrCat("PublishBatch: ", Describe(status)));
      if (measured) stats_.event_errors += n;
      return;
    }
    int64_t ok = 0;
    int64_t deliveries = 0;
    for (int e = 0; e < n; ++e) {
      if (e < response.errors_size() && response.errors(e).code() != 0) {
        errors_.Add(absl::StrCat("event: code ", response.errors(e).code(), ": ",
                                 response.errors(e).message()));
      } else if (e < response.results_size()) {
        ++ok;
        deliveries += response.results(e).delivery_count();
      } else {
        errors_.Add("event: missing from PublishBatchResponse.results");
      }
    }
    schedule_.AddAcked(deliveries);
    published_.fetch_add(ok, std::memory_order_relaxed);
    if (!measured) return;
    stats_.events_ok += ok;
    stats_.event_errors += n - ok;
    stats_.deliveries_acked += deliveries;
    stats_.call_latency_us.push_back(done_us - sent_us);
  }

  const Config& config_;
  const std::string tenant_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
  Schedule& schedule_;
  std::atomic<int64_t>& seq_;
  std::atomic<int64_t>& published_;
  ErrorLog& errors_;
  const int64_t window_start_us_;
  const int64_t window_end_us_;
  PublisherStats stats_;
};

// Before the load: one Publish, retried until ingest fans it out to every app (it learns about
// new apps through WatchApps, a moment after CreateApp), then, unless disabled, until the
// receiver got it on every app's path, which proves a worker delivers to these apps. Setup
// mistakes thus surface as one message instead of a run of errors or an empty result.
absl::Status Probe(const Config& config, v1::IngestService::Stub& stub, const std::string& tenant,
                   const Receiver& receiver) {
  absl::Time started = absl::Now();
  absl::Time deadline = started + config.ready_timeout;
  std::string last;
  while (true) {
    if (interrupted.load()) return absl::CancelledError("interrupted");
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type(kEventType);
    request.set_payload(MakePayload(NowMicros(), 0, config.payload_bytes));
    grpc::ClientContext context;
    AddAuth(context, config, absl::Seconds(5));
    v1::PublishResponse response;
    grpc::Status status = stub.Publish(&context, request, &response);
    bool retry = false;
    if (status.ok()) {
      if (response.delivery_count() >= config.apps) break;
      last = absl::StrFormat(
          "probe event of tenant %s fanned out to %d apps, want %d (ingest has not learned "
          "about the new apps; is it connected to hookd-subscription?)",
          tenant, response.delivery_count(), config.apps);
      retry = true;
    } else {
      last = absl::StrCat("probe Publish to ", config.target, " failed: ", Describe(status));
      retry = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    }
    if (!retry || absl::Now() >= deadline) return absl::FailedPreconditionError(last);
    absl::SleepFor(absl::Milliseconds(250));
  }
  if (!config.probe_delivery) return absl::OkStatus();
  absl::Time published = absl::Now();
  while (receiver.AppsReached() < config.apps) {
    if (interrupted.load()) return absl::CancelledError("interrupted");
    if (absl::Now() >= deadline) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the probe event reached %d of %d apps within --ready_timeout %s: is hookd-worker "
          "running (scripts/up.sh starts it once built), allowed to call http://127.0.0.1 "
          "(HOOKD_ALLOW_HTTP, HOOKD_PRIVATE_ALLOWLIST), and not busy with an earlier backlog? "
          "--probe_delivery=false skips this check",
          receiver.AppsReached(), config.apps, absl::FormatDuration(config.ready_timeout)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::FPrintF(stderr,
                "%s: probe delivered to all %d apps %s after its publish was acknowledged\n",
                kProgram, config.apps, absl::FormatDuration(absl::Now() - published));
  return absl::OkStatus();
}

// Postgres' write-ahead log so far (pg_stat_wal, cluster-wide).
struct Wal {
  int64_t records = 0;
  int64_t full_page_images = 0;
  int64_t bytes = 0;
  std::string lsn;  // pg_current_wal_lsn(): where bench/wal_by_relation.sql starts or ends
};

// pg_stat_wal of `database_url`; nullopt without one or when it cannot be read (a warning).
std::optional<Wal> ReadWal(const std::string& database_url) {
  if (database_url.empty()) return std::nullopt;
  try {
    pqxx::connection conn(database_url);
    pqxx::read_transaction txn(conn);
    pqxx::row row = txn.exec1(
        "SELECT wal_records, wal_fpi, wal_bytes, pg_current_wal_lsn()::text FROM pg_stat_wal");
    return Wal{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<int64_t>(),
               row[3].as<std::string>()};
  } catch (const std::exception& e) {
    absl::FPrintF(stderr, "%s: reading pg_stat_wal: %s\n", kProgram, e.what());
    return std::nullopt;
  }
}

struct Summary {
  double duration_s = 0;  // measured publishing window
  int64_t events_published = 0;
  int64_t event_errors = 0;
  int64_t deliveries_acked = 0;
  int64_t deliveries_expected = 0;
  int64_t deliveries_received = 0;
  int64_t duplicates = 0;
  int64_t backlog_at_end = 0;
  int64_t unparsed = 0;
  double deliveries_per_s = 0;
  double delivery_span_s = 0;  // first to last measured arrival
  double events_per_s = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  double call_p50_ms = 0, call_p99_ms = 0;
  double drain_s = 0;
  bool drained = false;
  bool cut_short = false;  // --max_events or a signal ended publishing early
  // Postgres' WAL from the first publish to the end of the drain, per delivery that arrived
  // in that time (warm-up included); negative without --database_url.
  double wal_bytes_per_delivery = -1;
  double wal_records_per_delivery = -1;
  double wal_fpi_per_delivery = -1;
  std::string wal_start_lsn, wal_end_lsn;  // the same window as LSNs; empty without
  int64_t wal_deliveries = 0;              // the deliveries the WAL figures divide by
  // This process (publishers and receiver) from the first publish to the end of the drain:
  // on a small machine it competes with the cluster for the same cores.
  double bench_cpu_s = 0;
  double bench_wall_s = 0;
  int64_t min_app_received = 0, max_app_received = 0;
};

Summary Summarize(const Config& config, const std::vector<std::unique_ptr<Publisher>>& publishers,
                  const Receiver::Snapshot& snapshot, double duration_s) {
  Summary s;
  s.duration_s = duration_s;
  std::vector<int64_t> calls;
  for (const auto& publisher : publishers) {
    const PublisherStats& stats = publisher->stats();
    s.events_published += stats.events_ok;
    s.event_errors += stats.event_errors;
    s.deliveries_acked += stats.deliveries_acked;
    calls.insert(calls.end(), stats.call_latency_us.begin(), stats.call_latency_us.end());
  }
  s.deliveries_expected = s.events_published * config.apps;
  s.unparsed = snapshot.unparsed;
  std::vector<int64_t> latencies;
  std::vector<int64_t> per_app(static_cast<size_t>(config.apps), 0);
  int64_t first = INT64_MAX;
  int64_t last = INT64_MIN;
  for (const Arrival& arrival : snapshot.arrivals) {
    if (arrival.duplicate) {
      ++s.duplicates;
      continue;
    }
    // First arrivals only: a duplicate is extra work, not a later delivery of the same event.
    latencies.push_back(arrival.arrival_us - arrival.sent_us);
    ++per_app[static_cast<size_t>(arrival.app)];
    first = std::min(first, arrival.arrival_us);
    last = std::max(last, arrival.arrival_us);
  }
  s.deliveries_received = static_cast<int64_t>(latencies.size());
  s.backlog_at_end = std::max<int64_t>(0, s.deliveries_expected - s.deliveries_received);
  s.min_app_received = *std::min_element(per_app.begin(), per_app.end());
  s.max_app_received = *std::max_element(per_app.begin(), per_app.end());
  if (s.deliveries_received >= 2 && last > first) {
    s.delivery_span_s = static_cast<double>(last - first) / 1e6;
    s.deliveries_per_s = static_cast<double>(s.deliveries_received) / s.delivery_span_s;
  } else if (duration_s > 0) {
    s.deliveries_per_s = static_cast<double>(s.deliveries_received) / duration_s;
  }
  if (duration_s > 0) s.events_per_s = static_cast<double>(s.events_published) / duration_s;
  auto ms = [](const std::vector<int64_t>& sorted, double q) {
    return static_cast<double>(NearestRank(sorted, q)) / 1e3;
  };
  std::sort(latencies.begin(), latencies.end());
  s.p50_ms = ms(latencies, 0.50);
  s.p95_ms = ms(latencies, 0.95);
  s.p99_ms = ms(latencies, 0.99);
  s.max_ms = ms(latencies, 1.0);
  std::sort(calls.begin(), calls.end());
  s.call_p50_ms = ms(calls, 0.50);
  s.call_p99_ms = ms(calls, 0.99);
  return s;
}

std::string RateText(const Config& config) {
  return config.rate == 0 ? std::string("max") : absl::StrFormat("%g/s", config.rate);
}

void PrintTable(const Config& config, const std::string& phase, const std::string& tenant,
                int receiver_port, const Summary& s, const ErrorLog& errors) {
  absl::PrintF("\n%s  phase=%s  mode=%s  rate=%s  apps=%d  ingest=%s  subscription=%s\n", kProgram,
               phase, ModeName(config), RateText(config), config.apps, config.target,
               config.server);
  absl::PrintF(
      "  tenant %s, receiver 127.0.0.1:%d (libevent, one thread), payload %d B, batches of <= %d "
      "from %d publishers%s\n",
      tenant, receiver_port, config.payload_bytes, config.batch_size, config.publishers,
      config.rate == 0 && config.max_backlog > 0
          ? absl::StrCat(", backlog bounded at ", config.max_backlog)
          : std::string());
  absl::PrintF("  warm-up %s, measured %.2f s of publishing%s; drain %.1f s, %s\n",
               absl::FormatDuration(config.warmup), s.duration_s, s.cut_short ? " (cut short)" : "",
               s.drain_s,
               s.drained            ? "all deliveries arrived"
               : interrupted.load() ? "interrupted"
                                    : "deliveries missing");
  absl::PrintF("  %-20s %12s %12s\n", "", "total", "per second");
  absl::PrintF("  %-20s %12d %12.1f   errors %d, deliveries acknowledged %d\n", "events published",
               s.events_published, s.events_per_s, s.event_errors, s.deliveries_acked);
  absl::PrintF("  %-20s %12d %12.1f   of %d expected; duplicates %d; backlog at end %d\n",
               "deliveries received", s.deliveries_received, s.deliveries_per_s,
               s.deliveries_expected, s.duplicates, s.backlog_at_end);
  absl::PrintF("  %-20s over %.2f s from the first to the last measured arrival\n", "",
               s.delivery_span_s);
  absl::PrintF("  publish -> receipt (ms): p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", s.p50_ms,
               s.p95_ms, s.p99_ms, s.max_ms);
  absl::PrintF("  PublishBatch call (ms):  p50 %.2f  p99 %.2f\n", s.call_p50_ms, s.call_p99_ms);
  if (s.wal_bytes_per_delivery >= 0) {
    absl::PrintF("  Postgres WAL per delivery: %.0f bytes, %.1f records (%.2f full-page images)\n",
                 s.wal_bytes_per_delivery, s.wal_records_per_delivery, s.wal_fpi_per_delivery);
  }
  if (config.apps > 1) {
    absl::PrintF("  per app received: min %d  max %d\n", s.min_app_received, s.max_app_received);
  }
  if (s.unparsed > 0) {
    absl::PrintF("  %d POSTs without webhook-id, sent_us or a known /hook/<i> path\n", s.unparsed);
  }
  absl::PrintF("  this process (publishers + receiver): %.1f s CPU in %.1f s, %.0f%% of a core\n",
               s.bench_cpu_s, s.bench_wall_s,
               s.bench_wall_s > 0 ? 100 * s.bench_cpu_s / s.bench_wall_s : 0.0);
  errors.Print(stdout);
  if (config.rate > 0 && s.events_per_s < 0.95 * config.rate) {
    absl::PrintF(
        "  note: achieved %.1f events/s, below the offered %g: the publishers or ingest fell "
        "behind (more --publishers?)\n",
        s.events_per_s, config.rate);
  }
  if (s.backlog_at_end > 0) {
    absl::PrintF(
        "  note: %d deliveries had not arrived when the drain ended (after %.1f s; "
        "--drain_timeout %s, --drain_idle_timeout %s); the latency percentiles miss exactly "
        "the slowest ones, and the run's delivery log says what became of them\n",
        s.backlog_at_end, s.drain_s, absl::FormatDuration(config.drain_timeout),
        absl::FormatDuration(config.drain_idle_timeout));
  }
}

void PrintResult(const Config& config, const std::string& phase, const std::string& tenant,
                 const Summary& s) {
  // One line of JSON for scripts; its strings are numeric addresses, a phase name ParsePhases
  // accepted, the mode and a tenant of [a-z0-9-], so no escaping is needed.
  absl::PrintF(
      "RESULT "
      "{\"phase\":\"%s\",\"mode\":\"%s\",\"rate_offered\":%g,\"apps\":%d,\"events_published\":%d,"
      "\"deliveries_expected\":%d,\"deliveries_received\":%d,\"duplicates\":%d,"
      "\"deliveries_per_s\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f,\"backlog_at_end\":%d,\"duration_s\":%.3f,\"events_per_s\":%.1f,"
      "\"event_errors\":%d,\"deliveries_acked\":%d,\"delivery_span_s\":%.3f,\"drain_s\":%.3f,"
      "\"drained\":%s,\"publish_call_p50_ms\":%.3f,\"publish_call_p99_ms\":%.3f,"
      "\"unparsed\":%d,\"batch_size\":%d,\"publishers\":%d,\"payload_bytes\":%d,"
      "\"max_backlog\":%d,\"warmup_s\":%.3f,\"cut_short\":%s,\"bench_cpu_s\":%.2f,"
      "\"wal_bytes_per_delivery\":%.1f,\"wal_records_per_delivery\":%.2f,"
      "\"wal_fpi_per_delivery\":%.3f,\"wal_start_lsn\":\"%s\",\"wal_end_lsn\":\"%s\","
      "\"wal_deliveries\":%d,\"tenant\":\"%s\","
      "\"target\":\"%s\",\"server\":\"%s\"}\n",
      phase, ModeName(config), config.rate, config.apps, s.events_published, s.deliveries_expected,
      s.deliveries_received, s.duplicates, s.deliveries_per_s, s.p50_ms, s.p95_ms, s.p99_ms,
      s.max_ms, s.backlog_at_end, s.duration_s, s.events_per_s, s.event_errors, s.deliveries_acked,
      s.delivery_span_s, s.drain_s, s.drained ? "true" : "false", s.call_p50_ms, s.call_p99_ms,
      s.unparsed, config.batch_size, config.publishers, config.payload_bytes,
      config.rate == 0 ? config.max_backlog : 0, absl::ToDoubleSeconds(config.warmup),
      s.cut_short ? "true" : "false", s.bench_cpu_s, s.wal_bytes_per_delivery,
      s.wal_records_per_delivery, s.wal_fpi_per_delivery, s.wal_start_lsn, s.wal_end_lsn,
      s.wal_deliveries, tenant, config.target, config.server);
  std::fflush(stdout);
}

bool WaitConnected(const std::shared_ptr<grpc::Channel>& channel, const std::string& target,
                   const char* service) {
  if (channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)))) return true;
  absl::FPrintF(stderr, "%s: cannot connect to %s within 5s; is %s running (scripts/up.sh)?\n",
                kProgram, target, service);
  return false;
}

// What every e2e phase talks to.
struct Cluster {
  v1::AppService::Stub& apps;
  v1::IngestService::Stub& probe;
  const std::vector<std::shared_ptr<grpc::Channel>>& channels;
};

// One end-to-end measurement with `config`'s apps, rate and duration: creates a fresh tenant
// whose apps post to phase `phase_index`'s paths, probes, publishes, drains, prints the table
// and the RESULT line, and deletes the apps. Returns the exit status of that phase.
int RunE2ePhase(const Config& config, const std::string& phase_name, int phase_index,
                Receiver& receiver, Cluster& cluster) {
  receiver.Reset(phase_index, config.apps);
  std::string tenant = RandomTenant();
  // Declared before everything that can fail after CreateApp, so every exit path deletes them.
  BenchApps apps(config, cluster.apps);
  if (absl::Status status = apps.CreateAll(tenant, receiver.port(), phase_index); !status.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", kProgram, status.message());
    return kExitSetup;
  }
  absl::FPrintF(stderr, "%s: phase %s: tenant %s, %d apps -> http://127.0.0.1:%d/hook/%d/<i>\n",
                kProgram, phase_name, tenant, config.apps, receiver.port(), phase_index);

  if (absl::Status status = Probe(config, cluster.probe, tenant, receiver); !status.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", kProgram, status.message());
    return interrupted.load() ? kExitInterrupted : kExitSetup;
  }

  const std::optional<Wal> wal_start = ReadWal(config.database_url);
  const int64_t received_start = receiver.distinct_total();
  absl::Time start = absl::Now();
  double cpu_start = ProcessCpuSeconds();
  absl::Time window_start = start + config.warmup;
  absl::Time window_end = window_start + config.duration;
  int64_t window_start_us = absl::ToUnixMicros(window_start);
  int64_t window_end_us = absl::ToUnixMicros(window_end);
  receiver.SetWindow(window_start_us, window_end_us);
  Schedule schedule(config, start, window_end, receiver);
  std::atomic<int64_t> seq{1};
  std::atomic<int64_t> published{0};
  ErrorLog errors;
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (int i = 0; i < config.publishers; ++i) {
    publishers.push_back(std::make_unique<Publisher>(
        config, tenant, cluster.channels[static_cast<size_t>(i)], schedule, seq, published, errors,
        window_start_us, window_end_us));
  }
  absl::FPrintF(stderr, "%s: %s mode, rate %s, %d apps, warm-up %s, measuring %s\n", kProgram,
                ModeName(config), RateText(config), config.apps,
                absl::FormatDuration(config.warmup), absl::FormatDuration(config.duration));
  std::atomic<int> running{config.publishers};
  std::vector<std::thread> threads;
  for (auto& publisher : publishers) {
    threads.emplace_back([&publisher, &running] {
      publisher->Run();
      running.fetch_sub(1);
    });
  }
  int64_t last_published = 0;
  int64_t last_received = 0;
  auto progress = [&](const char* stage) {
    int64_t now_published = published.load();
    int64_t now_received = receiver.distinct_total();
    absl::FPrintF(stderr, "  t=%6.1fs  %-8s published %7d/s  delivered %7d/s  measured %d\n",
                  absl::ToDoubleSeconds(absl::Now() - start), stage, now_published - last_published,
                  now_received - last_received, receiver.measured());
    last_published = now_published;
    last_received = now_received;
  };
  while (running.load() > 0) {
    // Named by where the second began, so the first line after the warm-up reads "warmup".
    const char* stage = absl::Now() < window_start ? "warmup" : "measure";
    absl::Time tick = absl::Now() + absl::Seconds(1);
    while (running.load() > 0 && absl::Now() < tick) absl::SleepFor(absl::Milliseconds(20));
    progress(stage);
  }
  for (std::thread& thread : threads) thread.join();
  absl::Time publish_end = std::min(absl::Now(), window_end);
  double duration_s = absl::ToDoubleSeconds(publish_end - window_start);
  bool cut_short = interrupted.load() || schedule.max_events_reached();

  int64_t events_measured = 0;
  for (const auto& publisher : publishers) events_measured += publisher->stats().events_ok;
  int64_t expected = events_measured * config.apps;
  absl::Time drain_start = absl::Now();
  absl::Time drain_deadline = drain_start + config.drain_timeout;
  int64_t drain_seen = receiver.measured();
  absl::Time last_arrival = drain_start;
  while (receiver.measured() < expected && absl::Now() < drain_deadline && !interrupted.load()) {
    absl::Time tick = std::min(absl::Now() + absl::Seconds(1), drain_deadline);
    while (receiver.measured() < expected && absl::Now() < tick && !interrupted.load()) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    progress("drain");
    if (receiver.measured() != drain_seen) {
      drain_seen = receiver.measured();
      last_arrival = absl::Now();
    } else if (absl::Now() - last_arrival >= config.drain_idle_timeout) {
      // Without retries a delivery that has not come by now failed; waiting longer only
      // delays the next phase.
      break;
    }
  }
  double drain_s = absl::ToDoubleSeconds(absl::Now() - drain_start);
  double bench_cpu_s = ProcessCpuSeconds() - cpu_start;
  double bench_wall_s = absl::ToDoubleSeconds(absl::Now() - start);

  if (duration_s <= 0 || events_measured == 0) {
    absl::FPrintF(stderr, "%s: no event was published inside the measured window%s\n", kProgram,
                  cut_short ? " (cut short during the warm-up)" : "");
    errors.Print(stderr);
    return interrupted.load() ? kExitInterrupted : kExitSetup;
  }
  Summary summary = Summarize(config, publishers, receiver.Take(), duration_s);
  summary.drain_s = drain_s;
  summary.drained = summary.backlog_at_end == 0;
  summary.cut_short = cut_short;
  summary.bench_cpu_s = bench_cpu_s;
  summary.bench_wall_s = bench_wall_s;
  const std::optional<Wal> wal_end = ReadWal(config.database_url);
  const int64_t received = receiver.distinct_total() - received_start;
  if (wal_start.has_value() && wal_end.has_value() && received > 0) {
    const double n = static_cast<double>(received);
    summary.wal_bytes_per_delivery = static_cast<double>(wal_end->bytes - wal_start->bytes) / n;
    summary.wal_records_per_delivery =
        static_cast<double>(wal_end->records - wal_start->records) / n;
    summary.wal_fpi_per_delivery =
        static_cast<double>(wal_end->full_page_images - wal_start->full_page_images) / n;
    summary.wal_start_lsn = wal_start->lsn;
    summary.wal_end_lsn = wal_end->lsn;
    summary.wal_deliveries = received;
  }
  PrintTable(config, phase_name, tenant, receiver.port(), summary, errors);
  PrintResult(config, phase_name, tenant, summary);
  apps.DeleteAll();

  int64_t attempted = summary.events_published + summary.event_errors;
  double error_ratio =
      attempted == 0 ? 0
                     : static_cast<double>(summary.event_errors) / static_cast<double>(attempted);
  if (error_ratio > kMaxErrorRatio) {
    absl::FPrintF(stderr, "%s: %.2f%% of events failed to publish (limit %.0f%%)\n", kProgram,
                  100 * error_ratio, 100 * kMaxErrorRatio);
    return kExitFailed;
  }
  // The figures are out, but a script must not take a run the user stopped for a complete one.
  if (interrupted.load()) return kExitInterrupted;
  if (summary.deliveries_received == 0) {
    absl::FPrintF(stderr, "%s: no delivery of a measured event arrived\n", kProgram);
    return kExitFailed;
  }
  return kExitOk;
}

// Between e2e phases: waits until no delivery POST has arrived for a second (deliveries of the
// finished phase that came after its drain, e.g. of a backlog), at most `timeout`, so the next
// phase does not share the workers with them.
void Settle(const Receiver& receiver, absl::Duration timeout) {
  constexpr absl::Duration kQuiet = absl::Seconds(1);
  absl::Time started = absl::Now();
  int64_t stale_before = receiver.stale();
  while (!interrupted.load() && absl::Now() - started < timeout) {
    absl::Time last = absl::FromUnixMicros(receiver.last_post_us());
    if (absl::Now() - last >= kQuiet) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::FPrintF(stderr, "%s: settled in %.1f s (%d late POSTs of earlier phases meanwhile)\n",
                kProgram, absl::ToDoubleSeconds(absl::Now() - started),
                receiver.stale() - stale_before);
}

// A JSON string literal of `text`; bytes that are not UTF-8 become U+FFFD.
std::string JsonQuote(absl::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PrintCeiling(const CeilingResult& r, int64_t receiver_requests, int body_bytes,
                  absl::Duration warmup) {
  absl::PrintF("\n%s  phase=ceiling  client=%s  %d connections, %d client thread%s\n", kProgram,
               r.client, r.connections, r.threads, r.threads == 1 ? "" : "s");
  absl::PrintF(
      "  %d POSTs of %d B in %.2f s: %.1f requests/s, %d errors; the receiver answered %d "
      "(warm-up included)\n",
      r.requests, body_bytes, r.duration_s, r.requests_per_s, r.errors, receiver_requests);
  absl::PrintF("  latency (ms): p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", r.p50_ms, r.p90_ms,
               r.p99_ms, r.max_ms);
  if (!r.first_error.empty()) absl::PrintF("  first error: %s\n", r.first_error);
  absl::PrintF(
      "RESULT {\"phase\":\"ceiling\",\"client\":\"%s\",\"available\":true,\"connections\":%d,"
      "\"threads\":%d,\"duration_s\":%.3f,\"requests\":%d,\"errors\":%d,"
      "\"requests_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"receiver_requests\":%d,\"client_cpu_s\":%s,\"body_bytes\":%d,\"warmup_s\":%.3f,"
      "\"first_error\":%s}\n",
      r.client, r.connections, r.threads, r.duration_s, r.requests, r.errors, r.requests_per_s,
      r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, receiver_requests,
      r.client_cpu_s < 0 ? std::string("null") : absl::StrFormat("%.2f", r.client_cpu_s),
      body_bytes, absl::ToDoubleSeconds(warmup), JsonQuote(r.first_error));
  std::fflush(stdout);
}

// The ceiling: POSTs to the receiver's /ceiling from hookd's HTTP sender in a loop, then from
// wrk when it is installed. Returns the exit status of the phase; wrk missing or failing is
// reported in its RESULT line and is not a failure.
int RunCeilingPhase(const Config& config, const Receiver& receiver) {
  CeilingOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", receiver.port(), "/ceiling");
  // What a worker sends for one of the e2e phases' events: the Standard Webhooks envelope
  // around a payload of --payload_bytes.
  options.body = absl::StrCat("{\"type\":\"", kEventType,
                              "\",\"timestamp\":\"2026-01-01T00:00:00.000000Z\",\"data\":",
                              MakePayload(NowMicros(), 0, config.payload_bytes), "}");
  options.headers = CeilingHeaders();
  options.warmup = config.ceiling_warmup;
  options.duration = config.ceiling_duration;
  int body_bytes = static_cast<int>(options.body.size());

  options.connections = config.ceiling_connections;
  absl::FPrintF(stderr, "%s: ceiling: hookd-http, %d requests outstanding, warm-up %s, %s\n",
                kProgram, options.connections, absl::FormatDuration(options.warmup),
                absl::FormatDuration(options.duration));
  int64_t before = receiver.ceiling_requests();
  absl::StatusOr<CeilingResult> sender = RunSenderCeiling(options, interrupted);
  if (!sender.ok()) {
    absl::FPrintF(stderr, "%s: ceiling: %s\n", kProgram, sender.status().message());
    return interrupted.load() ? kExitInterrupted : kExitSetup;
  }
  PrintCeiling(*sender, receiver.ceiling_requests() - before, body_bytes, options.warmup);
  int status = kExitOk;
  if (sender->requests == 0 || static_cast<double>(sender->errors) >
                                   kMaxErrorRatio * static_cast<double>(sender->requests)) {
    absl::FPrintF(stderr, "%s: ceiling: %d of %d requests failed\n", kProgram, sender->errors,
                  sender->requests);
    status = kExitFailed;
  }

  std::string wrk = FindExecutable(config.wrk);
  if (wrk.empty()) {
    std::string reason =
        config.wrk.empty()
            ? std::string("skipped (--wrk empty)")
            : absl::StrCat(config.wrk, absl::StrContains(config.wrk, '/') ? " is not executable"
                                                                          : " not found on PATH");
    absl::FPrintF(stderr, "%s: ceiling: wrk %s\n", kProgram, reason);
    absl::PrintF(
        "RESULT {\"phase\":\"ceiling\",\"client\":\"wrk\",\"available\":false,"
        "\"reason\":%s}\n",
        JsonQuote(reason));
    std::fflush(stdout);
    return status;
  }
  if (interrupted.load()) return kExitInterrupted;
  options.connections = config.wrk_connections;
  options.wrk_threads = config.wrk_threads;
  absl::FPrintF(stderr, "%s: ceiling: %s -t%d -c%d, warm-up %s, %s\n", kProgram, wrk,
                options.wrk_threads, options.connections, absl::FormatDuration(options.warmup),
                absl::FormatDuration(options.duration));
  before = receiver.ceiling_requests();
  absl::StatusOr<CeilingResult> wrk_result = RunWrkCeiling(wrk, options);
  if (interrupted.load()) return kExitInterrupted;
  if (!wrk_result.ok()) {
    absl::FPrintF(stderr, "%s: ceiling: %s\n", kProgram, wrk_result.status().message());
    absl::PrintF(
        "RESULT {\"phase\":\"ceiling\",\"client\":\"wrk\",\"available\":false,"
        "\"reason\":%s}\n",
        JsonQuote(wrk_result.status().message()));
    std::fflush(stdout);
    return kExitFailed;
  }
  // The receiver's count spans wrk's warm-up too.
  PrintCeiling(*wrk_result, receiver.ceiling_requests() - before, body_bytes, options.warmup);
  return status;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hookd-bench-e2e: end-to-end delivery benchmark of a hookd cluster on loopback.\n"
      "Runs an HTTP receiver, creates --apps apps of a fresh tenant pointing at it, publishes\n"
      "bench.e2e events through hookd-ingest (--rate R paced, or --rate 0 as fast as the\n"
      "cluster delivers), waits for the deliveries and prints a table and one `RESULT {json}`\n"
      "line. --phases runs several such measurements, and the HTTP ceiling against the same\n"
      "receiver, in one process (bench/run.sh uses it). Exit 1 if more than 1% of events\n"
      "failed to publish or nothing arrived, 2 on a setup error, 130 when interrupted (after\n"
      "printing what was measured).\n"
      "Usage: HOOKD_TOKEN=... hookd-bench-e2e [--rate 500] [--apps 10] [--duration 20s] ...\n"
      "       HOOKD_TOKEN=... hookd-bench-e2e --phases ceiling,throughput,latency:1000,fanout:10");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Config> config_or = ConfigFromFlags();
  absl::StatusOr<std::vector<Phase>> phases_or =
      config_or.ok() ? ParsePhases(*config_or) : config_or.status();
  if (!phases_or.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", kProgram, phases_or.status().message());
    return kExitSetup;
  }
  const Config& config = *config_or;
  const std::vector<Phase>& phases = *phases_or;
  int max_apps = 1;
  bool any_e2e = false;
  for (const Phase& phase : phases) {
    if (phase.kind != Phase::Kind::kCeiling) {
      any_e2e = true;
      max_apps = std::max(max_apps, phase.apps);
    }
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  absl::StatusOr<std::unique_ptr<Receiver>> receiver_or =
      Receiver::Start(config.receiver_port, max_apps);
  if (!receiver_or.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", kProgram, receiver_or.status().message());
    return kExitSetup;
  }
  Receiver& receiver = **receiver_or;

  std::shared_ptr<grpc::Channel> control;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::unique_ptr<v1::AppService::Stub> app_stub;
  std::unique_ptr<v1::IngestService::Stub> probe_stub;
  if (any_e2e) {
    control = grpc::CreateChannel(config.server, grpc::InsecureChannelCredentials());
    channels = MakeChannels(config.target, config.publishers);
    if (!WaitConnected(control, config.server, "hookd-subscription")) return kExitSetup;
    for (const auto& channel : channels) {
      // Connected up front so the warm-up does not include connection setup.
      if (!WaitConnected(channel, config.target, "hookd-ingest")) return kExitSetup;
    }
    app_stub = v1::AppService::NewStub(control);
    probe_stub = v1::IngestService::NewStub(channels[0]);
    auto event_type_stub = v1::EventTypeService::NewStub(control);
    if (absl::Status status = EnsureEventType(config, *event_type_stub); !status.ok()) {
      absl::FPrintF(stderr, "%s: %s\n", kProgram, status.message());
      return kExitSetup;
    }
  }

  int exit_status = kExitOk;
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& phase = phases[i];
    if (phases.size() > 1) {
      absl::FPrintF(stderr, "%s: === phase %d/%d: %s ===\n", kProgram, i + 1, phases.size(),
                    phase.name);
    }
    int status = kExitOk;
    if (phase.kind == Phase::Kind::kCeiling) {
      status = RunCeilingPhase(config, receiver);
    } else {
      Cluster cluster{*app_stub, *probe_stub, channels};
      status = RunE2ePhase(PhaseConfig(config, phase), phase.name, static_cast<int>(i), receiver,
                           cluster);
      bool more_e2e = std::any_of(phases.begin() + static_cast<std::ptrdiff_t>(i) + 1, phases.end(),
                                  [](const Phase& p) { return p.kind == Phase::Kind::kE2e; });
      if (status != kExitSetup && status != kExitInterrupted && more_e2e) {
        Settle(receiver, config.settle_timeout);
      }
    }
    // A set-up error would repeat in every later phase; an interrupt means stop.
    if (status == kExitSetup || status == kExitInterrupted) return status;
    if (status != kExitOk) exit_status = status;
  }
  return exit_status;
}

}  // namespace
}  // namespace hookd::bench

int main(int argc, char** argv) { return hookd::bench::Main(argc, argv); }
