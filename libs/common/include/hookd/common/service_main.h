#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace hookd {

// The settings every hookd service reads, from flags with HOOKD_* environment fallbacks
// (README, "Configuration"). Services use the ones they need.
struct ServiceSettings {
  std::string listen;             // --listen, HOOKD_LISTEN
  std::string metrics_listen;     // --metrics_listen, HOOKD_METRICS_LISTEN
  std::string database_url;       // --database_url, HOOKD_DATABASE_URL
  std::string redis_url;          // --redis_url, HOOKD_REDIS_URL
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
// `service`, configures the process's TLS (--tls_*) and resolves the settings; `default_listen` is
// the service's port, e.g. ":50052". Exits with status 2 and a message naming the setting when one
// is malformed.
ServiceSettings ParseServiceFlags(int argc, char** argv, std::string_view service,
                                  std::string_view usage, std::string_view default_listen);

// Runs a started server until SIGTERM or SIGINT, which ParseServiceFlags blocked: `wait` blocks
// until the server stops, `shutdown` stops it (called once, on the first signal). Returns the
// process exit code, 0.
int ServeUntilSignal(const std::function<void()>& wait, const std::function<void()>& shutdown);

// Logs `status` as critical and returns exit code 1, for failures at start.
int FailStartup(const absl::Status& status);

}  // namespace hookd
