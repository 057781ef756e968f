#pragma once

#include <string>

#include "absl/time/time.h"

namespace hookd {

// Where a service keeps its state, declared once for every service's options (ServiceSettings
// fills both from the shared flags, README "Configuration"). Plain data: libs/db opens the
// Postgres pool, libs/queue the Redis connections.

// The Postgres of the apps and the delivery log.
struct PgOptions {
  // postgresql://user@host:port/db (HOOKD_DATABASE_URL).
  std::string url;
  // Connections the process holds (--database_pool_size; each service has its own default).
  int pool_size = 4;
};

// The Redis streams of pending deliveries.
struct RedisOptions {
  // redis://[[user]:password@]host[:port][/db] (HOOKD_REDIS_URL), one server; user and
  // password may be percent-encoded. Port defaults to 6379, db to 0. Or a Redis Cluster by its
  // seed nodes: redis+cluster://[[user]:password@]host[:port][,host[:port]...] (RedisClient).
  std::string url;
  // Every key starts with "<key_prefix>:" (--redis_key_prefix); tests use a unique prefix each
  // so that suites run by `ctest -j` never share keys.
  std::string key_prefix = "hookd";
  // Number of stream partitions (1..1024, --partitions). Changing it moves apps to other
  // partitions, so every process of one cluster must agree on it.
  int partitions = 16;
  absl::Duration connect_timeout = absl::Seconds(2);
  // How long one command (or pipeline) may wait for its replies before the connection is given
  // up as broken; blocking reads add their block time on top.
  absl::Duration command_timeout = absl::Seconds(5);
};

}  // namespace hookd
