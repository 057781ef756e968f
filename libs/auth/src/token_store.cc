#include "hookd/auth/token_store.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/random.h"
#include "hookd/crypto/signing.h"
#include "hookd/db/sql.h"

namespace hookd::auth {
namespace {

using google::protobuf::util::TimeUtil;

// Serializes token writes so versions commit in the order they are drawn (see migration 0010).
constexpr int64_t kTokenVersionLockKey = 0x686f6f6b6410;  // "hookd" 10

constexpr char kColumns[] =
    "id, hash, name, role, tenant, created_by,"
    " (extract(epoch FROM create_time) * 1000000)::bigint,"
    " (extract(epoch FROM expire_time) * 1000000)::bigint,"
    " (extract(epoch FROM revoke_time) * 1000000)::bigint,"
    " (extract(epoch FROM last_use_time) * 1000000)::bigint, version";

void SetTime(const pqxx::field& field, google::protobuf::Timestamp* time) {
  *time = TimeUtil::MicrosecondsToTimestamp(field.as<int64_t>());
}

v1::Token FromRow(const pqxx::row& row) {
  v1::Token token;
  token.set_id(row[0].as<std::string>());
  token.set_name(row[2].as<std::string>());
  token.set_role(static_cast<v1::Role>(row[3].as<int>()));
  token.set_tenant(row[4].as<std::string>());
  token.set_created_by(row[5].as<std::string>());
  SetTime(row[6], token.mutable_create_time());
  if (!row[7].is_null()) SetTime(row[7], token.mutable_expire_time());
  if (!row[8].is_null()) SetTime(row[8], token.mutable_revoke_time());
  if (!row[9].is_null()) SetTime(row[9], token.mutable_last_use_time());
  return token;
}

absl::Status NotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("token ", AbslView(id), " not found"));
}

}  // namespace

std::string NewTokenSecret() { return "hkd_" + HexEncode(RandomBytes(32)); }

std::string TokenHash(std::string_view secret) { return Sha256(secret); }

absl::StatusOr<v1::Token> TokenStore::Create(const v1::Token& token, std::string_view hash,
                                             const db::InTransaction& also) {
  std::string expire;
  if (token.has_expire_time()) {
    expire = db::TimestampLiteral(
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(token.expire_time())));
  }
  v1::Token stored;
  HOOKD_RETURN_IF_ERROR(pool_.Transact("create token", [&](pqxx::work& txn) -> absl::Status {
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", kTokenVersionLockKey);
    pqxx::row row = txn.exec_params1(
        absl::StrCat("INSERT INTO api_tokens (id, hash, name, role, tenant, created_by,"
                     " expire_time, version) VALUES ($1, $2, $3, $4, $5, $6,"
                     " NULLIF($7, '')::timestamptz, nextval('api_token_version_seq'))"
                     " RETURNING ",
                     kColumns),
        token.id(), pqxx::binarystring(hash.data(), hash.size()), token.name(),
        static_cast<int>(token.role()), token.tenant(), token.created_by(), expire);
    stored = FromRow(row);
    if (also) return also(txn);
    return absl::OkStatus();
  }));
  return stored;
}

absl::StatusOr<TokenPage> TokenStore::List(std::string_view tenant, int page_size,
                                           std::string_view after_id) {
  TokenPage page;
  HOOKD_RETURN_IF_ERROR(pool_.Transact("list tokens", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows =
        txn.exec_params(absl::StrCat("SELECT ", kColumns,
                                     " FROM api_tokens WHERE ($1 = '' OR tenant = $1) AND id > $2"
                                     " ORDER BY id LIMIT $3"),
                        std::string(tenant), std::string(after_id), page_size + 1);
    for (int i = 0; i < static_cast<int>(rows.size()) && i < page_size; ++i) {
      page.tokens.push_back(FromRow(rows[i]));
    }
    if (static_cast<int>(rows.size()) > page_size) page.last_id = page.tokens.back().id();
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<v1::Token> TokenStore::Revoke(
    std::string_view id, const std::function<absl::Status(const v1::Token&)>& check,
    const db::InTransaction& also) {
  v1::Token token;
  HOOKD_RETURN_IF_ERROR(pool_.Transact("revoke token", [&](pqxx::work& txn) -> absl::Status {
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", kTokenVersionLockKey);
    pqxx::result rows = txn.exec_params(
        absl::StrCat("SELECT ", kColumns, " FROM api_tokens WHERE id = $1 FOR UPDATE"),
        std::string(id));
    if (rows.empty()) return NotFound(id);
    token = FromRow(rows[0]);
    HOOKD_RETURN_IF_ERROR(check(token));
    if (!token.has_revoke_time()) {
      token = FromRow(txn.exec_params1(
          absl::StrCat("UPDATE api_tokens SET revoke_time = now(),"
                       " version = nextval('api_token_version_seq') WHERE id = $1 RETURNING ",
                       kColumns),
          std::string(id)));
    }
    if (also) return also(txn);
    return absl::OkStatus();
  }));
  return token;
}

absl::StatusOr<std::vector<TokenChange>> TokenStore::ChangesSince(int64_t after, int limit) {
  std::vector<TokenChange> changes;
  HOOKD_RETURN_IF_ERROR(pool_.Transact("token changes", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows = txn.exec_params(
        absl::StrCat("SELECT ", kColumns,
                     " FROM api_tokens WHERE version > $1 ORDER BY version LIMIT $2"),
        after, limit);
    for (const auto& row : rows) {
      TokenChange change;
      pqxx::binarystring hash(row[1]);
      change.hash = hash.str();
      change.token = FromRow(row);
      change.token.clear_last_use_time();
      change.version = row[10].as<int64_t>();
      changes.push_back(std::move(change));
    }
    return absl::OkStatus();
  }));
  return changes;
}

absl::Status TokenStore::RecordUses(const absl::flat_hash_map<std::string, absl::Time>& uses) {
  if (uses.empty()) return absl::OkStatus();
  // In id order, so that two replicas writing the same tokens lock their rows in the same
  // order and never deadlock.
  std::map<std::string, absl::Time> sorted(uses.begin(), uses.end());
  std::vector<std::string> ids, times;
  for (const auto& [id, time] : sorted) {
    ids.push_back(id);
    times.push_back(db::TimestampLiteral(time));
  }
  return pool_.Transact("record token uses", [&](pqxx::work& txn) -> absl::Status {
    txn.exec_params(
        "UPDATE api_tokens t SET last_use_time = greatest(t.last_use_time, u.time)"
        " FROM unnest($1::text[], $2::timestamptz[]) AS u(id, time) WHERE t.id = u.id",
        db::ArrayLiteral(ids), db::ArrayLiteral(times));
    return absl::OkStatus();
  });
}

}  // namespace hookd::auth
