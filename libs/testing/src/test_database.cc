#include "hookd/testing/test_database.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "hookd/common/ids.h"
#include "hookd/db/pg_pool.h"
#include "pqxx/pqxx"

namespace hookd::testing {

std::string WithDatabase(std::string_view url, std::string_view database) {
  size_t scheme = url.find("://");
  size_t path = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  size_t query = url.find('?');
  std::string_view base = url.substr(0, std::min(path, query));
  std::string_view rest = query == std::string_view::npos ? "" : url.substr(query);
  return std::string(base) + "/" + std::string(database) + std::string(rest);
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create(std::string_view suite) {
  const char* admin = std::getenv("HOOKD_TEST_DATABASE_URL");
  if (admin == nullptr || *admin == '\0') {
    return absl::FailedPreconditionError(
        "HOOKD_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh");
  }
  // The ULID's random tail keeps parallel runs of the same suite apart.
  std::string name =
      absl::AsciiStrToLower("hookd_t_" + std::string(suite) + "_" + NewId("db").substr(3 + 10));
  try {
    pqxx::connection conn(admin);
    pqxx::nontransaction txn(conn);
    txn.exec("CREATE DATABASE " + txn.quote_name(name));
  } catch (...) {
    return db::TranslateCurrentException("create test database");
  }
  return std::unique_ptr<TestDatabase>(new TestDatabase(admin, name, WithDatabase(admin, name)));
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction txn(conn);
    txn.exec("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (...) {
    // The whole server is thrown away after the run; a leftover database harms nothing.
  }
}

}  // namespace hookd::testing
