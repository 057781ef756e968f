#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/v1/token.pb.h"

namespace hookd::auth {

// A new token's text: `hkd_` and 64 hex characters of 256 random bits.
std::string NewTokenSecret();
// The SHA-256 of a token's text: all hookd stores of it, and what a call's token is looked up by.
std::string TokenHash(std::string_view secret);

// A token as the caches hold it: found by the hash of its text.
struct TokenChange {
  std::string hash;
  v1::Token token;  // without secret and last_use_time
  int64_t version = 0;
};

struct TokenPage {
  std::vector<v1::Token> tokens;
  // Non-empty when another page may follow.
  std::string last_id;
};

// The api_tokens table (migration 0010).
class TokenStore {
 public:
  explicit TokenStore(db::PgPool& pool) : pool_(pool) {}

  // Stores `token` (id, name, role, tenant, created_by, expire_time set by the caller) under the
  // hash of its secret, then runs `also` (when set) in the same transaction; answers the token as
  // stored, without the secret.
  absl::StatusOr<v1::Token> Create(const v1::Token& token, std::string_view hash,
                                   const db::InTransaction& also = nullptr);

  // Tokens ordered by id after `after_id`, of `tenant` unless empty.
  absl::StatusOr<TokenPage> List(std::string_view tenant, int page_size, std::string_view after_id);

  // Revokes `id` once `check` accepts the stored token (its error is the answer, and nothing
  // changes), then runs `also` (when set) in the same transaction; an already revoked token is
  // answered as it is.
  absl::StatusOr<v1::Token> Revoke(std::string_view id,
                                   const std::function<absl::Status(const v1::Token&)>& check,
                                   const db::InTransaction& also = nullptr);

  // Changes with a version above `after`, oldest first, at most `limit`.
  absl::StatusOr<std::vector<TokenChange>> ChangesSince(int64_t after, int limit);

  // Moves each token's last_use_time forward to the time given (never back).
  absl::Status RecordUses(const absl::flat_hash_map<std::string, absl::Time>& uses);

 private:
  db::PgPool& pool_;
};

}  // namespace hookd::auth
