#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "pqxx/pqxx"

namespace hookd::db {

// A Postgres array literal ('{"a","b"}') of `values`, each quoted and escaped, for one `$n::T[]`
// parameter: a batch then travels as a few parameters of one prepared statement instead of a
// statement text that Postgres parses and plans for every batch.
std::string ArrayLiteral(const std::vector<std::string>& values);

// `time` as a timestamptz literal with microseconds ("2026-11-23 10:00:00.123456+00"), or
// "infinity" / "-infinity" for absl's infinite times.
std::string TimestampLiteral(absl::Time time);

// Runs prepared statement `name` with `args`, defining it on this transaction's connection
// first (libpqxx keeps definitions per connection, and a repeated identical definition is free).
template <typename... Args>
pqxx::result ExecPrepared(pqxx::work& txn, const std::string& name, const std::string& sql,
                          Args&&... args) {
  txn.conn().prepare(name, sql);
  return txn.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace hookd::db
