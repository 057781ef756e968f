#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "hookd/common/store_options.h"

namespace hookd {

// The settings every hookd service reads, from flags with HOOKD_* environment fallbacks
// (README, "Configuration"). Services use the ones they need.
struct ServiceSettings {
  std::string listen;          // --listen, HOOKD_LISTEN
  std::string metrics_listen;  // --metrics_listen, HOOKD_METRICS_LISTEN
  // --database_url (HOOKD_DATABASE_URL), --database_pool_size.
  PgOptions postgres;
  // --redis_url (HOOKD_REDIS_URL), --redis_key_prefix, --partitions.
  RedisOptions redis;
  std::string admin_token;        // --admin_token, HOOKD_ADMIN_TOKEN
  std::string master_key;         // --master_key, HOOKD_MASTER_KEY
  std::string subscription_addr;  // --subscription_addr, HOOKD_SUBSCRIPTION_ADDR
  bool allow_http = false;        // --allow_http, HOOKD_ALLOW_HTTP
  std::string private_allowlist;  // --private_allowlist, HOOKD_PRIVATE_ALLOWLIST
  std::string ops_tenant;         // --ops_tenant, HOOKD_OPS_TENANT
  std::string health_listen;      // --health_listen, HOOKD_HEALTH_LISTEN
  // The --tls_* settings (HOOKD_TLS_*) are not here: ParseServiceFlags checks them and makes
  // them the process's (ConfigureProcessTls), which every server and channel follows.
};

// `args` (argv, program name first) with '-' in flag names turned into '_', so that the
// documented spellings such as --log-level=debug reach Abseil, whose names cannot hold '-'.
// Only the name part of an argument starting with '-' is rewritten (what follows '=' is left
// alone), and nothing after a "--" argument.
std::vector<std::string> NormalizeFlagNames(const std::vector<std::string>& args);

// Blocks SIGTERM and SIGINT (see ServeUntilSignal; call this before starting any thread),
// parses the command line (absl flags, so `--help` lists every flag; names may use dashes, see
// NormalizeFlagNames), sets up logging (--log_level, --log_format) for
// `service`, configures the process's TLS (--tls_*) and resolves the settings, taking the
// service's `defaults` where a setting is not given. Exits with status 2 and a message naming the
// setting when one is malformed.
struct ServiceDefaults {
  std::string_view listen;     // the service's port, e.g. ":50052"
  int database_pool_size = 4;  // Postgres connections
};
ServiceSettings ParseServiceFlags(int argc, char** argv, std::string_view service,
                                  std::string_view usage, const ServiceDefaults& defaults);

// Runs a started server until SIGTERM or SIGINT, which ParseServiceFlags blocked: `wait` blocks
// until the server stops, `shutdown` stops it (called once, on the first signal). Returns the
// process exit code, 0.
int ServeUntilSignal(const std::function<void()>& wait, const std::function<void()>& shutdown);

// Logs `status` as critical and returns exit code 1, for failures at start.
int FailStartup(const absl::Status& status);

}  // namespace hookd
