#include "hookd/db/leader_lock.h"

#include "hookd/db/pg_pool.h"

namespace hookd::db {

absl::StatusOr<bool> LeaderLock::Acquire() {
  try {
    if (conn_ != nullptr && !conn_->is_open()) Release();
    if (leader_) return true;
    if (conn_ == nullptr) conn_ = std::make_unique<pqxx::connection>(database_url_);
    pqxx::nontransaction txn(*conn_);
    leader_ = txn.exec_params1("SELECT pg_try_advisory_lock($1)", key_)[0].as<bool>();
    return leader_;
  } catch (...) {
    Release();
    return TranslateCurrentException("leader lock");
  }
}

void LeaderLock::Release() {
  if (leader_ && conn_ != nullptr && conn_->is_open()) {
    // Unlocked before returning: closing the connection alone frees the lock only once the
    // server has noticed, so another replica trying right after would still find it taken.
    try {
      pqxx::nontransaction txn(*conn_);
      txn.exec_params("SELECT pg_advisory_unlock($1)", key_);
    } catch (...) {
      // A broken session frees its locks when the server ends it.
    }
  }
  conn_.reset();
  leader_ = false;
}

}  // namespace hookd::db
