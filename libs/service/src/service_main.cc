#include "hookd/service/service_main.h"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "hookd/common/config.h"
#include "hookd/common/logging.h"
#include "hookd/service/tls.h"
#include "spdlog/spdlog.h"

// Secrets keep empty flag defaults and come from the environment, so `--help` and `ps` never
// show them unless an operator passes them on the command line on purpose.
ABSL_FLAG(std::string, listen, "", "gRPC listen address (env HOOKD_LISTEN)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics HTTP address, host:port or :port; port 0 picks one (env "
          "HOOKD_METRICS_LISTEN, default: not served)");
ABSL_FLAG(std::string, database_url, "",
          "Postgres url, postgresql://user@host:port/db (env HOOKD_DATABASE_URL)");
ABSL_FLAG(int, database_pool_size, 0,
          "Postgres connections (0: the service's default, 8 in hookd-subscription, where it is "
          "also the number of threads running RPCs, 6 in hookd-ingest, 4 in hookd-worker)");
ABSL_FLAG(std::string, redis_url, "",
          "Redis url, redis://host:port/db, or a Redis Cluster by its seed nodes, "
          "redis+cluster://host:port,host:port (env HOOKD_REDIS_URL)");
ABSL_FLAG(std::string, redis_key_prefix, "hookd", "prefix of every Redis key");
ABSL_FLAG(int, partitions, 16,
          "Redis stream partitions (every hookd-subscription, hookd-ingest and hookd-worker of "
          "one cluster must agree)");
ABSL_FLAG(std::string, admin_token, "",
          "bootstrap admin bearer token (env HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(std::string, master_key, "",
          "base64 of 32 bytes encrypting secrets at rest (env HOOKD_MASTER_KEY; prefer the "
          "environment)");
ABSL_FLAG(std::string, subscription_addr, "",
          "where hookd-subscription answers (env HOOKD_SUBSCRIPTION_ADDR, default "
          "127.0.0.1:50051)");
ABSL_FLAG(std::string, allow_http, "",
          "true permits plain http:// endpoint urls (env HOOKD_ALLOW_HTTP, default false)");
ABSL_FLAG(std::string, private_allowlist, "",
          "comma-separated CIDRs endpoints may resolve to although private or loopback "
          "(env HOOKD_PRIVATE_ALLOWLIST, default none)");
ABSL_FLAG(std::string, ops_tenant, "",
          "tenant hookd-subscription and hookd-worker publish hookd's operational events into "
          "(hookd.app.disabled, ...) (env HOOKD_OPS_TENANT, default hookd-ops)");
ABSL_FLAG(std::string, health_listen, "",
          "plaintext gRPC address answering grpc.health.v1 alone, for probes without a client "
          "certificate (env HOOKD_HEALTH_LISTEN, default none)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve TLS with it, and present it to hookd-subscription "
          "(env HOOKD_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert (env HOOKD_TLS_KEY)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CAs whose client certificates are required (mTLS) (env HOOKD_TLS_CLIENT_CA)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CAs that hookd-subscription's certificate is verified against; set, the channels "
          "this service opens speak TLS (env HOOKD_TLS_CA)");
ABSL_FLAG(std::string, tls_refresh, "",
          "how often the TLS files are read again for a rotation (env HOOKD_TLS_REFRESH, "
          "default 60s)");
ABSL_FLAG(std::string, log_level, "",
          "trace, debug, info, warn, error, critical or off; also --log-level (env "
          "HOOKD_LOG_LEVEL, default info)");
ABSL_FLAG(std::string, log_format, "",
          "json (one JSON object per line) or text (for a terminal); also --log-format (env "
          "HOOKD_LOG_FORMAT, default json)");

namespace hookd {
namespace {

[[noreturn]] void Die(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  std::exit(2);
}

// ":50051" means every interface, as README's configuration table writes it.
std::string ListenAddress(std::string value) {
  if (!value.empty() && value.front() == ':') return "0.0.0.0" + value;
  return value;
}

// gRPC's own messages (connection errors and the like) as log lines of the same shape.
void LogFromGrpc(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  Log(level, args->message != nullptr ? args->message : "",
      {{"source", "grpc"},
       {"file", args->file != nullptr ? args->file : ""},
       {"line", args->line}});
}

// Protobuf's own messages (a request whose string field is not UTF-8, say) likewise, rather than
// its "[libprotobuf ERROR ...]" text on stderr.
void LogFromProtobuf(google::protobuf::LogLevel level, const char* filename, int line,
                     const std::string& message) {
  spdlog::level::level_enum mapped = spdlog::level::err;
  if (level == google::protobuf::LOGLEVEL_INFO) mapped = spdlog::level::info;
  if (level == google::protobuf::LOGLEVEL_WARNING) mapped = spdlog::level::warn;
  Log(mapped, message,
      {{"source", "protobuf"}, {"file", filename != nullptr ? filename : ""}, {"line", line}});
}

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

std::vector<std::string> NormalizeFlagNames(const std::vector<std::string>& args) {
  std::vector<std::string> out = args;
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& arg = out[i];
    if (arg == "--") break;  // what follows is not a flag
    if (arg.size() < 2 || arg[0] != '-') continue;
    size_t start = arg[1] == '-' ? 2 : 1;
    size_t end = std::min(arg.find('='), arg.size());
    for (size_t k = start; k < end; ++k) {
      if (arg[k] == '-') arg[k] = '_';
    }
  }
  return out;
}

ServiceSettings ParseServiceFlags(int argc, char** argv, std::string_view service,
                                  std::string_view usage, const ServiceDefaults& defaults) {
  // Blocked before any thread exists, so every thread (gRPC's included) inherits the mask and
  // the signals reach only ServeUntilSignal's sigwait, never a default handler.
  sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // `--help` lists hookd's flags (the service's own and the shared ones above), not Abseil's.
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "/services/") || absl::StrContains(file, "service_main");
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(
      std::string(usage) +
      "\nA flag whose help names an environment variable (env HOOKD_...) falls back to it when "
      "not given. Flag names may be written with dashes or underscores: --log-level=debug is "
      "--log_level=debug.");
  // Abseil flag names cannot hold '-'; the documented spellings (--log-level) are rewritten.
  // Abseil may keep pointers into argv (the program name): the copy lives as long as the process,
  // held by a static so that LeakSanitizer sees it still referenced at exit.
  static std::vector<std::string>* const args =
      new std::vector<std::string>(NormalizeFlagNames(std::vector<std::string>(argv, argv + argc)));
  std::vector<char*> normalized;
  for (std::string& arg : *args) normalized.push_back(arg.data());
  normalized.push_back(nullptr);
  absl::ParseCommandLine(static_cast<int>(args->size()), normalized.data());
  if (auto status =
          InitLogging(service, FlagOrEnv(absl::GetFlag(FLAGS_log_level), "HOOKD_LOG_LEVEL", "info"),
                      FlagOrEnv(absl::GetFlag(FLAGS_log_format), "HOOKD_LOG_FORMAT", "json"));
      !status.ok()) {
    Die(status);
  }
  gpr_set_log_function(LogFromGrpc);
  google::protobuf::SetLogHandler(LogFromProtobuf);
  ServiceSettings s;
  s.listen = ListenAddress(FlagOrEnv(absl::GetFlag(FLAGS_listen), "HOOKD_LISTEN", defaults.listen));
  s.metrics_listen = FlagOrEnv(absl::GetFlag(FLAGS_metrics_listen), "HOOKD_METRICS_LISTEN");
  s.postgres.url = FlagOrEnv(absl::GetFlag(FLAGS_database_url), "HOOKD_DATABASE_URL");
  const int pool_size = absl::GetFlag(FLAGS_database_pool_size);
  s.postgres.pool_size = pool_size == 0 ? defaults.database_pool_size : pool_size;
  s.redis.url = FlagOrEnv(absl::GetFlag(FLAGS_redis_url), "HOOKD_REDIS_URL");
  s.redis.key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  s.redis.partitions = absl::GetFlag(FLAGS_partitions);
  s.admin_token = FlagOrEnv(absl::GetFlag(FLAGS_admin_token), "HOOKD_ADMIN_TOKEN");
  s.master_key = FlagOrEnv(absl::GetFlag(FLAGS_master_key), "HOOKD_MASTER_KEY");
  s.subscription_addr = FlagOrEnv(absl::GetFlag(FLAGS_subscription_addr), "HOOKD_SUBSCRIPTION_ADDR",
                                  "127.0.0.1:50051");
  auto allow_http =
      ParseBool("allow_http", FlagOrEnv(absl::GetFlag(FLAGS_allow_http), "HOOKD_ALLOW_HTTP"));
  if (!allow_http.ok()) Die(allow_http.status());
  s.allow_http = *allow_http;
  s.private_allowlist =
      FlagOrEnv(absl::GetFlag(FLAGS_private_allowlist), "HOOKD_PRIVATE_ALLOWLIST");
  s.ops_tenant = FlagOrEnv(absl::GetFlag(FLAGS_ops_tenant), "HOOKD_OPS_TENANT", "hookd-ops");
  s.health_listen = FlagOrEnv(absl::GetFlag(FLAGS_health_listen), "HOOKD_HEALTH_LISTEN");
  if (!s.health_listen.empty()) s.health_listen = ListenAddress(s.health_listen);
  TlsSettings tls;
  tls.cert_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_cert), "HOOKD_TLS_CERT");
  tls.key_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_key), "HOOKD_TLS_KEY");
  tls.client_ca_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_client_ca), "HOOKD_TLS_CLIENT_CA");
  tls.ca_file = FlagOrEnv(absl::GetFlag(FLAGS_tls_ca), "HOOKD_TLS_CA");
  const std::string refresh = FlagOrEnv(absl::GetFlag(FLAGS_tls_refresh), "HOOKD_TLS_REFRESH");
  if (!refresh.empty() && !absl::ParseDuration(refresh, &tls.refresh_interval)) {
    Die(absl::InvalidArgumentError("HOOKD_TLS_REFRESH: not a duration, e.g. 60s"));
  }
  // Checked with OpenSSL before anything listens or connects: a bad file stops the start with
  // its path and the reason.
  if (absl::Status configured = ConfigureProcessTls(tls); !configured.ok()) Die(configured);
  return s;
}

int ServeUntilSignal(const std::function<void()>& wait, const std::function<void()>& shutdown) {
  sigset_t signals = ShutdownSignals();
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {}: shutting down", signal);
    shutdown();
  });
  wait();
  waiter.join();
  spdlog::info("stopped");
  return 0;
}

int FailStartup(const absl::Status& status) {
  spdlog::critical("{}", status.ToString());
  return 1;
}

}  // namespace hookd
