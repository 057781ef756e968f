#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hookd::testing {

// A database of its own for one test binary, on the server scripts/test.sh starts, so that
// `ctest -j` never shares state between suites. Dropped again when destroyed.
class TestDatabase {
 public:
  // Creates `hookd_t_<suite>_<random>` through the superuser url in HOOKD_TEST_DATABASE_URL.
  // FAILED_PRECONDITION when that variable is unset, UNAVAILABLE when the server is down.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create(std::string_view suite);
  ~TestDatabase();

  // postgresql:// url of the new database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}

  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// `url` with its database name replaced by `database`.
std::string WithDatabase(std::string_view url, std::string_view database);

}  // namespace hookd::testing
