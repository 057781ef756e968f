// hookd-bench-list: how long a filtered ListDeliveries page takes over a large delivery log.
// It fills the database of a hookd-subscription with --rows deliveries (and their events) spread
// over --days, as hookd-ingest would have written them, then times --calls pages per filter over
// gRPC, one call at a time, and prints EXPLAIN (ANALYZE, BUFFERS) of the exact SQL the service
// runs for each filter. One `RESULT {json}` line per filter is for bench/run_list.sh.
//
// Loopback only: the fill writes a million rows, which must never reach a shared database.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "hookd/common/ids.h"
#include "hookd/db/pg_pool.h"
#include "hookd/db/sql.h"
#include "hookd/ledger/delivery_query.h"
#include "hookd/ledger/partitions.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

ABSL_FLAG(std::string, server, "",
          "hookd-subscription address host:port, loopback only (env HOOKD_SERVER, default "
          "127.0.0.1:50051)");
ABSL_FLAG(std::string, token, "",
          "admin bearer token (env HOOKD_TOKEN, else HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(std::string, database_url, "",
          "Postgres of that hookd-subscription, for the fill and EXPLAIN; loopback only (env "
          "HOOKD_DATABASE_URL)");
ABSL_FLAG(bool, fill, true,
          "create the apps and write --rows deliveries when the database holds no deliveries "
          "(a database that holds some is used as it is)");
ABSL_FLAG(int, rows, 1'000'000, "deliveries to write");
ABSL_FLAG(int, tenants, 10, "tenants of the fill");
ABSL_FLAG(int, apps, 100, "apps of the fill, spread evenly over the tenants");
ABSL_FLAG(int, days, 30, "the fill's deliveries are spread over this many days before now");
ABSL_FLAG(uint64_t, seed, 42, "seed of the fill's random choices");
ABSL_FLAG(int, calls, 200, "timed ListDeliveries calls per filter");
ABSL_FLAG(int, warmup_calls, 20, "calls per filter before the timed ones, not counted");
ABSL_FLAG(int, page_size, 50, "deliveries per page");
ABSL_FLAG(int, deep_page, 100, "page number that the deep-page filter reads (by page token)");
ABSL_FLAG(bool, explain, true, "print EXPLAIN (ANALYZE, BUFFERS) of each filter's query");
ABSL_FLAG(double, target_ms, 50, "a filter whose p99 reaches this misses the target (exit 1)");
ABSL_FLAG(bool, drop_day, true,
          "after the filters, drop the oldest day as the retention does and time it (target "
          "< 1 s); the log loses that day");

namespace hookd::bench {
namespace {

namespace v1 = ::hookd::v1;
using Clock = std::chrono::steady_clock;
using google::protobuf::util::TimeUtil;

constexpr int kExitOk = 0;
constexpr int kExitMissed = 1;
constexpr int kExitSetup = 2;
constexpr char kTenantPrefix[] = "list-t";

// Event types of a video platform, the first the most common: weights 1, 1/2, ... 1/10, so the
// rarest is about 3 % of the log and filtering on it has to skip many rows.
const std::vector<std::string>& EventTypes() {
  static const auto* types = new std::vector<std::string>{
      "video.ready",          "render.completed", "render.started",
      "video.media_ready",    "render.failed",    "video.script_ready",
      "video.sd_encoded",     "video.deleted",    "video.generation_failed",
      "video.thumbnail_ready"};
  return *types;
}

struct App {
  std::string id;
  std::string tenant;
};

struct Config {
  std::string server;
  std::string token;
  std::string database_url;
};

// Milliseconds to the microsecond.
double Ms(int64_t ns) { return static_cast<double>(ns / 1000) / 1e3; }

class Bench {
 public:
  explicit Bench(Config config)
      : config_(std::move(config)),
        channel_(MakeChannels(config_.server, 1)[0]),
        apps_stub_(v1::AppService::NewStub(channel_)),
        deliveries_stub_(v1::DeliveryService::NewStub(channel_)) {}

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + config_.token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  // Refuses a database that is not on this machine: the fill writes a million rows.
  absl::Status CheckDatabase() {
    try {
      pqxx::connection conn(config_.database_url);
      pqxx::read_transaction txn(conn);
      pqxx::row row = txn.exec1(
          "SELECT coalesce(inet_server_addr() <<= '127.0.0.0/8' OR inet_server_addr() = '::1',"
          " true), current_setting('shared_buffers'), version()");
      if (!row[0].as<bool>()) {
        return absl::FailedPreconditionError(
            "--database_url is not on a loopback address; the hookd benchmarks only load this "
            "machine");
      }
      postgres_ = absl::StrCat(row[2].as<std::string>().substr(0, 15),
                               ", shared_buffers=", row[1].as<std::string>());
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("--database_url: ", e.what()));
    }
  }

  // The apps of an earlier fill, or new ones created through AppService.
  absl::Status LoadOrCreateApps(int count, int tenants) {
    {
      pqxx::connection conn(config_.database_url);
      pqxx::read_transaction txn(conn);
      for (const auto& row : txn.exec_params(
               "SELECT id, tenant FROM apps WHERE tenant LIKE $1 AND delete_time IS NULL"
               " ORDER BY tenant, id",
               std::string(kTenantPrefix) + "%")) {
        apps_.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
      }
    }
    if (!apps_.empty()) return absl::OkStatus();
    for (int i = 0; i < count; ++i) {
      v1::CreateAppRequest request;
      v1::App* app = request.mutable_app();
      app->set_tenant(absl::StrFormat("%s%02d", kTenantPrefix, i % tenants));
      app->set_name(absl::StrFormat("list bench %03d", i));
      // bench.invalid never resolves (RFC 2606): nothing is ever sent there.
      app->set_url(absl::StrFormat("https://bench.invalid/hooks/%03d", i));
      app->add_event_types("*");
      request.set_skip_connection_test(true);
      v1::App created;
      grpc::Status status = apps_stub_->CreateApp(Context().get(), request, &created);
      if (!status.ok()) return absl::InternalError("CreateApp: " + Describe(status));
      apps_.push_back({created.id(), created.tenant()});
    }
    std::sort(apps_.begin(), apps_.end(), [](const App& a, const App& b) {
      return std::tie(a.tenant, a.id) < std::tie(b.tenant, b.id);
    });
    return absl::OkStatus();
  }

  int64_t CountDeliveries() {
    pqxx::connection conn(config_.database_url);
    pqxx::read_transaction txn(conn);
    return txn.exec1("SELECT count(*) FROM deliveries")[0].as<int64_t>();
  }

  // Writes `rows` deliveries over the last `days` days, oldest first, as hookd-ingest writes
  // them: one event each fanned out to 1..3 apps of its tenant, ids made at the event's time.
  // Older ones are finished (95 % succeeded, 5 % failed, except for the last tenant, which
  // never fails); the last day also holds retrying and pending ones. COPY in chunks of 100,000
  // deliveries.
  absl::Status Fill(int rows, int days, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::map<std::string, std::vector<std::string>> by_tenant;
    for (const App& app : apps_) by_tenant[app.tenant].push_back(app.id);
    std::vector<std::string> tenants;
    for (const auto& [tenant, ids] : by_tenant) tenants.push_back(tenant);
    std::vector<double> weights;
    for (size_t i = 0; i < EventTypes().size(); ++i) weights.push_back(1.0 / (i + 1));
    std::discrete_distribution<size_t> type_of(weights.begin(), weights.end());
    std::uniform_real_distribution<double> unit(0, 1);
    IdGenerator ids;
    const absl::Time end = absl::Now();
    const absl::Duration span = absl::Hours(24) * days;
    const absl::Time start = end - span;
    constexpr int kChunk = 100'000;
    const Clock::time_point began = Clock::now();
    int written = 0;
    try {
      pqxx::connection conn(config_.database_url);
      {
        // The days of the fill: hookd-subscription's retention makes only today's and those
        // ahead (ledger/partitions.h).
        pqxx::work txn(conn);
        ledger::EnsureDayPartitions(txn, ledger::UtcDay(start), ledger::UtcDay(end));
        txn.commit();
      }
      while (written < rows) {
        using EventRow =
            std::tuple<std::string, std::string, std::string, std::string, int, std::string>;
        using DeliveryRow = std::tuple<std::string, std::string, std::string, std::string,
                                       std::string, std::string>;
        // Deliveries not succeeded have a state row (migration 12).
        using StateRow = std::tuple<std::string, std::string, std::string, int, int, int,
                                    std::string, std::string>;
        // The last attempt of each attempted delivery: what a page shows of a succeeded one.
        using AttemptRow =
            std::tuple<std::string, int, std::string, std::string, int, int, int, std::string>;
        std::vector<EventRow> events;
        std::vector<DeliveryRow> deliveries;
        std::vector<StateRow> states;
        std::vector<AttemptRow> attempt_rows;
        const int chunk_end = std::min(rows, written + kChunk);
        while (written < chunk_end) {
          const absl::Time t = start + span * (static_cast<double>(written) / rows);
          const std::string& tenant = tenants[random() % tenants.size()];
          // The last tenant's endpoints never fail: "its failed deliveries" finds none.
          const bool healthy = tenant == tenants.back();
          const std::vector<std::string>& tenant_apps = by_tenant[tenant];
          const int fan_out =
              std::min<int>({1 + static_cast<int>(random() % 3),
                             static_cast<int>(tenant_apps.size()), chunk_end - written});
          const std::string& type = EventTypes()[type_of(random)];
          const std::string event_id = ids.Next("evt", t);
          const std::string created = db::TimestampLiteral(t);
          events.emplace_back(event_id, tenant, type,
                              absl::StrFormat(R"({"video_id":"v_%d","duration_s":%d})", written,
                                              static_cast<int>(random() % 3600)),
                              fan_out, created);
          const size_t first = random() % tenant_apps.size();
          const bool recent = end - t < absl::Hours(24);
          for (int k = 0; k < fan_out; ++k) {
            const double r = unit(random);
            int status = v1::SUCCEEDED, attempts = 1 + (r < 0.1 ? 1 : 0), code = 200;
            if (r > 0.95 && !healthy) {
              status = v1::FAILED, attempts = 8, code = r > 0.98 ? 0 : 500;
            } else if (recent && r > 0.92) {
              status = v1::RETRYING, attempts = 2, code = 503;
            } else if (recent && r > 0.90) {
              status = v1::PENDING, attempts = 0, code = 0;
            }
            const std::string id = ids.Next("dlv", t);
            const std::string& app = tenant_apps[(first + k) % tenant_apps.size()];
            const std::string updated = db::TimestampLiteral(t + absl::Seconds(attempts));
            deliveries.emplace_back(id, event_id, app, tenant, type, created);
            if (status != v1::SUCCEEDED) {
              states.emplace_back(id, app, tenant, status, attempts, code, created, updated);
            }
            if (attempts > 0) {
              attempt_rows.emplace_back(id, attempts, app, updated, 40, code,
                                        code == 0     ? v1::ATTEMPT_ERROR_TIMEOUT
                                        : code == 200 ? v1::ATTEMPT_ERROR_NONE
                                                      : v1::ATTEMPT_ERROR_HTTP_STATUS,
                                        "bench-list");
            }
            ++written;
          }
        }
        pqxx::work txn(conn);
        {
          pqxx::stream_to out(txn, "events",
                              std::vector<std::string>{"id", "tenant", "event_type", "payload",
                                                       "delivery_count", "create_time"});
          for (const auto& row : events) out << row;
          out.complete();
        }
        {
          pqxx::stream_to out(txn, "deliveries",
                              std::vector<std::string>{"id", "event_id", "app_id", "tenant",
                                                       "event_type", "create_time"});
          for (const auto& row : deliveries) out << row;
          out.complete();
        }
        {
          pqxx::stream_to out(
              txn, "delivery_state",
              std::vector<std::string>{"id", "app_id", "tenant", "status", "attempt_count",
                                       "last_status_code", "next_attempt_time", "update_time"});
          for (const auto& row : states) out << row;
          out.complete();
        }
        {
          pqxx::stream_to out(
              txn, "attempts",
              std::vector<std::string>{"delivery_id", "attempt", "app_id", "start_time",
                                       "duration_ms", "status_code", "error", "worker"});
          for (const auto& row : attempt_rows) out << row;
          out.complete();
        }
        txn.commit();
        std::fprintf(stderr, "  filled %d of %d deliveries (%.0f s)\n", written, rows,
                     std::chrono::duration<double>(Clock::now() - began).count());
      }
      // Statistics and the visibility map as autovacuum would have them on a steady table.
      pqxx::nontransaction maintenance(conn);
      maintenance.exec("VACUUM ANALYZE events");
      maintenance.exec("VACUUM ANALYZE deliveries");
      maintenance.exec("VACUUM ANALYZE delivery_state");
      maintenance.exec("VACUUM ANALYZE attempts");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("fill: ", e.what()));
    }
    fill_seconds_ = std::chrono::duration<double>(Clock::now() - began).count();
    return absl::OkStatus();
  }

  // Drops the oldest day of the log as the retention does (ledger/partitions.h): detaches
  // (CONCURRENTLY) and drops its attempts, delivery_state, deliveries and events tables, one
  // after the other. Returns how many deliveries the day held and how long the drops took.
  absl::StatusOr<std::pair<int64_t, double>> DropOldestDay() {
    try {
      pqxx::connection conn(config_.database_url);
      pqxx::work txn(conn);
      const std::vector<absl::CivilDay> days = ledger::PartitionDays(txn, "deliveries");
      if (days.empty()) return absl::FailedPreconditionError("no day partitions");
      const absl::CivilDay day = days.front();
      const int64_t held =
          txn.exec1("SELECT count(*) FROM deliveries_p" +
                    absl::StrFormat("%04d%02d%02d", day.year(), day.month(), day.day()))[0]
              .as<int64_t>();
      txn.commit();
      const Clock::time_point began = Clock::now();
      for (const char* table : {"attempts", "delivery_state", "deliveries", "events"}) {
        // A generous timeout: the measured time, not a timeout, decides the target.
        ledger::DropDayPartition(conn, table, day, absl::Seconds(60));
      }
      return std::make_pair(
          held, std::chrono::duration<double, std::milli>(Clock::now() - began).count());
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("drop a day: ", e.what()));
    }
  }

  // One filter: how its i-th request looks, and the filter the server makes of it (for EXPLAIN).
  struct Filter {
    std::string name;
    std::function<v1::ListDeliveriesRequest(int)> request;
  };

  std::vector<Filter> Filters(int page_size) {
    using Request = v1::ListDeliveriesRequest;
    using Make = std::function<Request(int)>;
    const absl::Time now = absl::Now();
    const size_t tenants = TenantNames().size();
    // The i-th request of a tenant's or an app's deliveries: the next tenant or app each call.
    const Make by_tenant = [this, page_size, tenants](int i) {
      Request r;
      r.set_page_size(page_size);
      r.set_tenant(TenantNames()[i % tenants]);
      return r;
    };
    const Make by_app = [this, page_size](int i) {
      Request r;
      r.set_page_size(page_size);
      r.set_app_id(apps_[i % apps_.size()].id);
      return r;
    };
    auto with = [](Make make, std::function<void(Request&, int)> change) -> Make {
      return [make, change](int i) {
        Request r = make(i);
        change(r, i);
        return r;
      };
    };
    auto status = [](v1::DeliveryStatus s) { return [s](Request& r, int) { r.set_status(s); }; };
    // Every type in turn, the rarest included; `stride` calls per type.
    auto each_type = [](size_t stride) {
      return [stride](Request& r, int i) {
        r.set_event_type(EventTypes()[(i / stride) % EventTypes().size()]);
      };
    };
    return {
        {"tenant", by_tenant},
        {"app", by_app},
        {"app+status", with(by_app, status(v1::FAILED))},
        {"tenant+status", with(by_tenant, status(v1::FAILED))},
        {"tenant+event_type", with(by_tenant, each_type(tenants))},
        // The hard cases: what a filter matches is rare or absent, so a scan along the
        // (tenant|app_id, id) indexes would read many rows to fill a page, or all of them to
        // find there is none.
        {"app+event_type", with(by_app, each_type(7))},
        {"app+status(pending)", with(by_app, status(v1::PENDING))},
        {"tenant+status(pending)", with(by_tenant, status(v1::PENDING))},
        {"tenant+event_type(none)",
         with(by_tenant, [](Request& r, int) { r.set_event_type("video.archived"); })},
        {"app+time_range",
         with(by_app,
              [now](Request& r, int i) {
                // One day of the past month, a different one each call.
                const absl::Time since = now - absl::Hours(24) * (2 + (i * 7) % 27);
                *r.mutable_since() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since));
                *r.mutable_until() =
                    TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since + absl::Hours(24)));
              })},
        {"tenant+deep_page",
         with(by_tenant,
              [this](Request& r, int) { r.set_page_token(deep_tokens_.at(r.tenant()).token); })},
    };
  }

  const std::vector<std::string>& TenantNames() {
    if (tenant_names_.empty()) {
      std::set<std::string> names;
      for (const App& app : apps_) names.insert(app.tenant);
      tenant_names_.assign(names.begin(), names.end());
    }
    return tenant_names_;
  }

  // Walks every tenant's pages to `page` and keeps its token and the id it continues below.
  absl::Status PrepareDeepPages(int page, int page_size) {
    for (const std::string& tenant : TenantNames()) {
      v1::ListDeliveriesRequest request;
      request.set_tenant(tenant);
      request.set_page_size(page_size);
      DeepPage deep;
      for (int p = 1; p < page; ++p) {
        v1::ListDeliveriesResponse response;
        grpc::Status status = deliveries_stub_->ListDeliveries(Context().get(), request, &response);
        if (!status.ok()) return absl::InternalError("ListDeliveries: " + Describe(status));
        if (response.next_page_token().empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("tenant ", tenant, " has fewer than ", page, " pages"));
        }
        deep.before_id = response.deliveries(response.deliveries_size() - 1).id();
        deep.token = response.next_page_token();
        request.set_page_token(deep.token);
      }
      deep_tokens_[tenant] = deep;
    }
    return absl::OkStatus();
  }

  struct Timing {
    std::vector<int64_t> ns;  // sorted
    int slowest = 0;          // the request number of the slowest call
    int64_t rows = 0;
    int errors = 0;
    std::string first_error;
  };

  Timing Time(const Filter& filter, int warmup, int calls) {
    Timing timing;
    int64_t slowest_ns = -1;
    for (int i = 0; i < warmup + calls; ++i) {
      const v1::ListDeliveriesRequest request = filter.request(i);
      v1::ListDeliveriesResponse response;
      auto context = Context();
      const Clock::time_point begin = Clock::now();
      grpc::Status status = deliveries_stub_->ListDeliveries(context.get(), request, &response);
      const int64_t ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - begin).count();
      if (i < warmup) continue;
      if (ns > slowest_ns) {
        slowest_ns = ns;
        timing.slowest = i;
      }
      if (!status.ok()) {
        if (timing.errors++ == 0) timing.first_error = Describe(status);
        continue;
      }
      timing.ns.push_back(ns);
      timing.rows += response.deliveries_size();
    }
    std::sort(timing.ns.begin(), timing.ns.end());
    return timing;
  }

  struct Plan {
    std::string text;
    std::vector<std::string> indexes;
    double execution_ms = 0;
  };

  // EXPLAIN (ANALYZE, BUFFERS) of the query hookd-subscription runs for `request`.
  absl::StatusOr<Plan> Explain(const v1::ListDeliveriesRequest& request) {
    ledger::DeliveryFilter filter;
    filter.tenant = request.tenant();
    filter.app_id = request.app_id();
    filter.event_type = request.event_type();
    filter.status = request.status();
    if (request.has_since()) {
      filter.since = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(request.since()));
    }
    if (request.has_until()) {
      filter.until = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(request.until()));
    }
    std::string before_id;
    for (const auto& [tenant, deep] : deep_tokens_) {
      if (deep.token == request.page_token()) before_id = deep.before_id;
    }
    Plan plan;
    try {
      pqxx::connection conn(config_.database_url);
      pqxx::read_transaction txn(conn);
      // As DeliveryLog::List asks: one row more than the page.
      ledger::ForPageReads(txn);
      const std::string sql =
          ledger::ListDeliveriesQuery(txn, filter, request.page_size() + 1, before_id);
      std::set<std::string> seen;
      const std::regex index_use("(?:Index|Index Only) Scan(?: Backward)? using (\\w+)");
      const std::regex execution("Execution Time: ([0-9.]+) ms");
      for (const auto& row : txn.exec("EXPLAIN (ANALYZE, BUFFERS) " + sql)) {
        const std::string line = row[0].as<std::string>();
        absl::StrAppend(&plan.text, "    ", line, "\n");
        std::smatch match;
        // A partition the scan stopped before (ordered Append, LIMIT) shows "never executed":
        // only the indexes read count.
        if (line.find("(never executed)") == std::string::npos &&
            std::regex_search(line, match, index_use) && seen.insert(match[1]).second) {
          plan.indexes.push_back(match[1]);
        }
        if (std::regex_search(line, match, execution)) plan.execution_ms = std::stod(match[1]);
      }
      plan.text = absl::StrCat("    ", sql, "\n", plan.text);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("EXPLAIN: ", e.what()));
    }
    return plan;
  }

  const std::vector<App>& apps() const { return apps_; }
  const std::string& postgres() const { return postgres_; }
  double fill_seconds() const { return fill_seconds_; }

 private:
  struct DeepPage {
    std::string token;
    std::string before_id;
  };

  const Config config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AppService::Stub> apps_stub_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_stub_;
  std::vector<App> apps_;
  std::vector<std::string> tenant_names_;
  std::map<std::string, DeepPage> deep_tokens_;
  std::string postgres_;
  double fill_seconds_ = 0;
};

int Main() {
  Config config;
  absl::StatusOr<std::string> server = LoopbackTarget(
      "--server",
      FirstNonEmpty({absl::GetFlag(FLAGS_server), Getenv("HOOKD_SERVER"), "127.0.0.1:50051"}));
  if (!server.ok()) {
    std::fprintf(stderr, "hookd-bench-list: %s\n", server.status().ToString().c_str());
    return kExitSetup;
  }
  config.server = *server;
  config.token = FirstNonEmpty(
      {absl::GetFlag(FLAGS_token), Getenv("HOOKD_TOKEN"), Getenv("HOOKD_ADMIN_TOKEN")});
  config.database_url =
      FirstNonEmpty({absl::GetFlag(FLAGS_database_url), Getenv("HOOKD_DATABASE_URL")});
  if (config.token.empty() || config.database_url.empty()) {
    std::fprintf(stderr, "hookd-bench-list: --token and --database_url are required\n");
    return kExitSetup;
  }
  const int page_size = absl::GetFlag(FLAGS_page_size);
  const int calls = absl::GetFlag(FLAGS_calls);
  if (page_size < 1 || calls < 1 || absl::GetFlag(FLAGS_deep_page) < 2 ||
      absl::GetFlag(FLAGS_apps) < absl::GetFlag(FLAGS_tenants) ||
      absl::GetFlag(FLAGS_tenants) < 1) {
    std::fprintf(stderr,
                 "hookd-bench-list: need --page_size, --calls >= 1, --deep_page >= 2 and "
                 "--apps >= --tenants >= 1\n");
    return kExitSetup;
  }

  Bench bench(config);
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "hookd-bench-list: %s\n", status.ToString().c_str());
    return kExitSetup;
  };
  if (absl::Status s = bench.CheckDatabase(); !s.ok()) return fail(s);
  if (absl::Status s =
          bench.LoadOrCreateApps(absl::GetFlag(FLAGS_apps), absl::GetFlag(FLAGS_tenants));
      !s.ok()) {
    return fail(s);
  }
  int64_t deliveries = bench.CountDeliveries();
  if (deliveries == 0 && absl::GetFlag(FLAGS_fill)) {
    std::fprintf(stderr, "filling %d deliveries over %zu apps of %zu tenants, %d days\n",
                 absl::GetFlag(FLAGS_rows), bench.apps().size(), bench.TenantNames().size(),
                 absl::GetFlag(FLAGS_days));
    if (absl::Status s = bench.Fill(absl::GetFlag(FLAGS_rows), absl::GetFlag(FLAGS_days),
                                    absl::GetFlag(FLAGS_seed));
        !s.ok()) {
      return fail(s);
    }
    deliveries = bench.CountDeliveries();
  } else {
    std::fprintf(stderr, "using the %lld deliveries already in the database\n",
                 static_cast<long long>(deliveries));
  }
  if (absl::Status s = bench.PrepareDeepPages(absl::GetFlag(FLAGS_deep_page), page_size); !s.ok()) {
    return fail(s);
  }

  struct Row {
    std::string name;
    Bench::Timing timing;
    Bench::Plan plan;
  };
  std::vector<Row> rows;
  for (const Bench::Filter& filter : bench.Filters(page_size)) {
    Row row{filter.name, bench.Time(filter, absl::GetFlag(FLAGS_warmup_calls), calls), {}};
    if (absl::GetFlag(FLAGS_explain)) {
      // The slowest call's request: the plan of the worst case, not of a lucky one.
      auto plan = bench.Explain(filter.request(row.timing.slowest));
      if (!plan.ok()) return fail(plan.status());
      row.plan = *plan;
      std::printf("EXPLAIN (ANALYZE, BUFFERS), %s:\n%s\n", filter.name.c_str(), plan->text.c_str());
    }
    rows.push_back(std::move(row));
  }

  const double target = absl::GetFlag(FLAGS_target_ms);
  bool missed = false;
  std::printf(
      "ListDeliveries over %lld deliveries, page_size %d, %d calls per filter after %d "
      "warm-up calls, one at a time\n",
      static_cast<long long>(deliveries), page_size, calls, absl::GetFlag(FLAGS_warmup_calls));
  std::printf("%-24s %6s %9s %8s %8s %8s %9s  %s\n", "filter", "calls", "rows/call", "p50_ms",
              "p99_ms", "max_ms", "explain", "index used");
  for (const Row& row : rows) {
    const auto& ns = row.timing.ns;
    const double p50 = Ms(NearestRank(ns, 0.5));
    const double p99 = Ms(NearestRank(ns, 0.99));
    const double max = ns.empty() ? 0 : Ms(ns.back());
    const bool ok = !ns.empty() && row.timing.errors == 0 && p99 < target;
    missed |= !ok;
    const double per_call = ns.empty() ? 0 : static_cast<double>(row.timing.rows) / ns.size();
    std::printf("%-24s %6zu %9.1f %8.2f %8.2f %8.2f %9.2f  %s%s\n", row.name.c_str(), ns.size(),
                per_call, p50, p99, max, row.plan.execution_ms,
                absl::StrJoin(row.plan.indexes, ", ").c_str(), ok ? "" : "  MISSED");
    if (row.timing.errors > 0) {
      std::printf("  %d errors, the first: %s\n", row.timing.errors,
                  row.timing.first_error.c_str());
    }
    nlohmann::ordered_json result = {
        {"filter", row.name},
        {"deliveries", deliveries},
        {"page_size", page_size},
        {"calls", ns.size()},
        {"errors", row.timing.errors},
        {"rows_per_call", per_call},
        {"p50_ms", p50},
        {"p99_ms", p99},
        {"max_ms", max},
        {"target_ms", target},
        {"met", ok},
        {"explain_execution_ms", row.plan.execution_ms},
        {"indexes", row.plan.indexes},
        {"apps", bench.apps().size()},
        {"tenants", bench.TenantNames().size()},
        {"fill_s", bench.fill_seconds()},
        {"postgres", bench.postgres()},
    };
    std::printf("RESULT %s\n", result.dump().c_str());
  }
  std::printf("target: every filter's p99 below %.0f ms: %s\n", target, missed ? "MISSED" : "met");
  if (absl::GetFlag(FLAGS_drop_day)) {
    // Last: it takes the oldest day away from the log the filters read.
    constexpr double kDropTargetMs = 1000;
    auto dropped = bench.DropOldestDay();
    if (!dropped.ok()) return fail(dropped.status());
    const auto [day_rows, ms] = *dropped;
    const bool ok = ms < kDropTargetMs;
    missed |= !ok;
    std::printf(
        "dropping the oldest day (%lld deliveries, with its attempts and events): %.1f ms%s\n",
        static_cast<long long>(day_rows), ms, ok ? "" : "  MISSED");
    nlohmann::ordered_json result = {
        {"filter", "drop_oldest_day"},
        {"deliveries", deliveries},
        {"page_size", 0},
        {"calls", 1},
        {"errors", 0},
        {"rows_per_call", day_rows},
        {"p50_ms", ms},
        {"p99_ms", ms},
        {"max_ms", ms},
        {"target_ms", kDropTargetMs},
        {"met", ok},
        {"explain_execution_ms", 0},
        {"indexes", nlohmann::json::array()},
        {"apps", bench.apps().size()},
        {"tenants", bench.TenantNames().size()},
        {"fill_s", bench.fill_seconds()},
        {"postgres", bench.postgres()},
    };
    std::printf("RESULT %s\n", result.dump().c_str());
  }
  return missed ? kExitMissed : kExitOk;
}

}  // namespace
}  // namespace hookd::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hookd-bench-list: times filtered ListDeliveries pages over a large delivery log.\n"
      "Fills the database of a hookd-subscription (loopback only) with --rows deliveries when\n"
      "it holds none, times --calls pages per filter (tenant, app, app+status, tenant+status,\n"
      "tenant+event_type, app+event_type, rare and absent statuses and types, app+time_range,\n"
      "tenant+deep_page), prints EXPLAIN (ANALYZE, BUFFERS)\n"
      "of each filter's SQL, a table and one RESULT {json} line per filter; then drops the\n"
      "oldest day as the retention does and times it (--drop_day). Exit 1 if a filter's p99\n"
      "reaches --target_ms, the drop takes 1 s or more, or a call failed, 2 for a set-up\n"
      "error.\n"
      "bench/run_list.sh runs it against a private Postgres and hookd-subscription.");
  absl::ParseCommandLine(argc, argv);
  return hookd::bench::Main();
}
