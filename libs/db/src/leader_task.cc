#include "hookd/db/leader_task.h"

#include "hookd/common/status.h"

namespace hookd::db {

absl::StatusOr<bool> LeaderTask::WhileLeading(
    const std::function<absl::Status(pqxx::connection&)>& work) {
  std::lock_guard<std::mutex> lock(mu_);
  HOOKD_ASSIGN_OR_RETURN(bool leading, lock_.Acquire());
  if (!leading) return false;
  absl::Status status = work(*lock_.connection());
  if (status.code() == absl::StatusCode::kUnavailable) lock_.Release();
  HOOKD_RETURN_IF_ERROR(status);
  return true;
}

void LeaderTask::Stop() {
  task_.Stop();
  std::lock_guard<std::mutex> lock(mu_);
  lock_.Release();
}

}  // namespace hookd::db
