#include "hookd/auth/token_cache.h"

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/status.h"
#include "spdlog/spdlog.h"

namespace hookd::auth {
namespace {

using google::protobuf::util::TimeUtil;

// Changes read per query; the feed is read until a query returns fewer.
constexpr int kFetchBatch = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<TokenCache>> TokenCache::Start(const std::string& database_url,
                                                              TokenCacheOptions options) {
  HOOKD_ASSIGN_OR_RETURN(std::unique_ptr<db::PgPool> db,
                         db::PgPool::Create({.url = database_url, .pool_size = 1}));
  std::unique_ptr<TokenCache> cache(new TokenCache(std::move(db), options));
  HOOKD_RETURN_IF_ERROR(cache->Refresh());
  cache->task_.Start();
  return cache;
}

TokenCache::TokenCache(std::unique_ptr<db::PgPool> db, TokenCacheOptions options)
    : options_(options), db_(std::move(db)), store_(*db_), flushed_at_(absl::Now()), task_([this] {
        return Tick();
      }) {}

TokenCache::~TokenCache() {
  task_.Stop();
  absl::Status flushed = FlushUses();
  if (!flushed.ok()) spdlog::warn("token uses not written: {}", flushed.ToString());
}

absl::Status TokenCache::Refresh() {
  std::lock_guard<std::mutex> refreshing(refresh_mu_);
  const absl::Time started = options_.clock->Now();
  int64_t after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    after = version_;
  }
  for (;;) {
    HOOKD_ASSIGN_OR_RETURN(std::vector<TokenChange> changes,
                           store_.ChangesSince(after, kFetchBatch));
    std::lock_guard<std::mutex> lock(mu_);
    for (TokenChange& change : changes) {
      const v1::Token& token = change.token;
      Entry entry{.id = token.id(),
                  .role = RoleFromProto(token.role()).value_or(Role::kViewer),
                  .tenant = token.tenant(),
                  .expire = std::nullopt,
                  .revoked = token.has_revoke_time()};
      if (!RoleFromProto(token.role())) entry.revoked = true;  // a role this binary does not know
      if (token.has_expire_time()) {
        entry.expire = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(token.expire_time()));
      }
      hash_of_id_[entry.id] = change.hash;
      by_hash_[change.hash] = std::move(entry);
      version_ = change.version;
    }
    after = version_;
    if (static_cast<int>(changes.size()) < kFetchBatch) {
      fresh_at_ = started;
      return absl::OkStatus();
    }
  }
}

absl::Duration TokenCache::Tick() {
  absl::Status refreshed = Refresh();
  if (!refreshed.ok()) spdlog::warn("token changes not read: {}", refreshed.ToString());
  if (absl::Now() - flushed_at_ >= options_.use_flush_interval) {
    absl::Status flushed = FlushUses();
    if (!flushed.ok()) spdlog::warn("token uses not written: {}", flushed.ToString());
  }
  return options_.poll_interval;
}

absl::Status TokenCache::FlushUses() {
  absl::flat_hash_map<std::string, absl::Time> uses;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uses.swap(uses_);
    flushed_at_ = absl::Now();
  }
  absl::Status written = store_.RecordUses(uses);
  if (!written.ok()) {
    // Kept for the next flush; a use seen since is newer and wins.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, time] : uses) uses_.try_emplace(id, time);
  }
  return written;
}

absl::Status TokenCache::Refusal(const Entry& entry, absl::Time now) const {
  if (entry.revoked) return absl::UnauthenticatedError("token " + entry.id + " is revoked");
  if (entry.expire && *entry.expire <= now) {
    return absl::UnauthenticatedError("token " + entry.id + " has expired");
  }
  if (now - fresh_at_ > options_.max_staleness) {
    return absl::UnavailableError(
        "the token list could not be read from Postgres lately; retry, or use HOOKD_ADMIN_TOKEN");
  }
  return absl::OkStatus();
}

absl::Status TokenCache::StillValid(const std::string& token_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto hash = hash_of_id_.find(token_id);
  if (hash == hash_of_id_.end()) return absl::UnauthenticatedError("invalid token");
  return Refusal(by_hash_.at(hash->second), options_.clock->Now());
}

absl::StatusOr<Principal> TokenCache::Find(std::string_view secret) {
  const std::string hash = TokenHash(secret);
  const absl::Time now = options_.clock->Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return absl::UnauthenticatedError("invalid token");
  const Entry& entry = it->second;
  if (absl::Status refused = Refusal(entry, now); !refused.ok()) return refused;
  uses_[entry.id] = now;
  return Principal{.token_id = entry.id, .role = entry.role, .tenant = entry.tenant};
}

}  // namespace hookd::auth
