#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/auth/permissions.h"
#include "hookd/auth/token_store.h"
#include "hookd/common/clock.h"
#include "hookd/common/periodic_task.h"
#include "hookd/db/pg_pool.h"

namespace hookd::auth {

struct TokenCacheOptions {
  // How often the cache reads the tokens changed since it last looked: a revocation reaches every
  // replica within about this long (README promises a second).
  absl::Duration poll_interval = absl::Milliseconds(250);
  // How often the uses seen are written to last_use_time, in one statement.
  absl::Duration use_flush_interval = absl::Minutes(1);
  // A cache that could not read the changes for this long refuses the tokens it holds
  // (UNAVAILABLE) rather than honour one revoked meanwhile; HOOKD_ADMIN_TOKEN keeps working.
  absl::Duration max_staleness = absl::Seconds(5);
  // Decides expiry and staleness, and times the uses (not owned; outlives the cache).
  const Clock* clock = &Clock::Real();
};

// Every API token, in memory, kept current from the api_tokens change feed, so that checking a
// call's token reads no database: each service (ingest, subscription) holds one.
class TokenCache {
 public:
  // Reads every token on a connection of its own, then follows the changes in the background.
  // UNAVAILABLE when Postgres cannot be reached.
  static absl::StatusOr<std::unique_ptr<TokenCache>> Start(const std::string& database_url,
                                                           TokenCacheOptions options = {});
  // Stops following and writes the uses not yet written.
  ~TokenCache();

  // The principal of a token's text. UNAUTHENTICATED for an unknown, expired or revoked token,
  // UNAVAILABLE when the cache is stale (see TokenCacheOptions::max_staleness). A token found is
  // a use, written with the next flush.
  absl::StatusOr<Principal> Find(std::string_view secret);

  // Whether the token `token_id` found earlier still holds, for calls that outlive their first
  // check (streams): UNAUTHENTICATED once revoked or expired, UNAVAILABLE when the cache is stale.
  absl::Status StillValid(const std::string& token_id);

  // Reads the changes now, for a caller that just changed a token on this replica.
  absl::Status Refresh();

 private:
  struct Entry {
    std::string id;
    Role role = Role::kViewer;
    std::string tenant;
    std::optional<absl::Time> expire;
    bool revoked = false;
  };

  TokenCache(std::unique_ptr<db::PgPool> db, TokenCacheOptions options);
  absl::Duration Tick();
  // Why `entry` is refused now, or OK; called under mu_.
  absl::Status Refusal(const Entry& entry, absl::Time now) const;
  absl::Status FlushUses();

  const TokenCacheOptions options_;
  std::unique_ptr<db::PgPool> db_;
  TokenStore store_;
  std::mutex refresh_mu_;  // one reader of the feed at a time; taken before mu_
  std::mutex mu_;
  // Guarded by mu_.
  absl::flat_hash_map<std::string, Entry> by_hash_;
  absl::flat_hash_map<std::string, std::string> hash_of_id_;
  absl::flat_hash_map<std::string, absl::Time> uses_;
  int64_t version_ = 0;
  absl::Time fresh_at_;  // when the feed was last read whole
  absl::Time flushed_at_;
  PeriodicTask task_;
};

}  // namespace hookd::auth
