#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hookd/common/store_options.h"
#include "pqxx/pqxx"

namespace hookd::db {

// Work that commits with a change or not at all (its audit row), run in the change's transaction
// after its write; an error rolls the change back. Mutations of hookd's stores take one.
using InTransaction = std::function<absl::Status(pqxx::work& txn)>;

// Translates the exception being handled (call inside a catch block) into a Status: a broken
// connection is UNAVAILABLE, a unique violation ALREADY_EXISTS, a foreign key violation
// FAILED_PRECONDITION, a check violation (a row of a day without a partition: hookd's schema has
// no CHECK constraint) UNAVAILABLE, a serialization failure or deadlock ABORTED, anything else
// INTERNAL.
// `what` names the operation. The message never carries the SQL text or its parameters.
absl::Status TranslateCurrentException(std::string_view what);

// Whether `status` is TranslateCurrentException's answer to a row of a day without a partition.
bool IsMissingPartition(const absl::Status& status);

// OK when `options` names a Postgres url and at least one connection, else INVALID_ARGUMENT
// naming "database_url" (and HOOKD_DATABASE_URL) or "database_pool_size": for a check at start,
// before anything is connected.
absl::Status ValidatePgOptions(const PgOptions& options);

// A bounded set of libpqxx connections shared by threads. libpqxx is blocking, so callers run on
// worker threads (see ThreadPool), never on a gRPC reactor thread.
class PgPool {
 public:
  // Opens one connection to check the url. INVALID_ARGUMENT as ValidatePgOptions says,
  // UNAVAILABLE when Postgres cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgPool>> Create(const PgOptions& options);

  // Runs `fn` with a connection of its own, waiting while all `size` are in use. Exceptions thrown
  // by `fn` are translated (see TranslateCurrentException); a connection that broke is dropped
  // and reopened by the next caller.
  absl::Status Run(std::string_view what, const std::function<absl::Status(pqxx::connection&)>& fn);

  // Runs `fn` inside a read-committed transaction and commits when it returns OK; any error
  // rolls the transaction back.
  absl::Status Transact(std::string_view what, const std::function<absl::Status(pqxx::work&)>& fn);

  const std::string& url() const { return url_; }

 private:
  PgPool(std::string url, int size) : url_(std::move(url)), size_(size) {}

  std::unique_ptr<pqxx::connection> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);

  const std::string url_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int outstanding_ = 0;
};

}  // namespace hookd::db
