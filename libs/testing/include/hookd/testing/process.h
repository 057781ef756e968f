#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hookd::testing {

// A port on 127.0.0.1 that nothing listened on a moment ago.
int FreePort();

// Whether a TCP connection to 127.0.0.1:`port` succeeds now.
bool PortAcceptsConnections(int port);

// A child process of a test: a real service binary or server. Its output goes to `log_path`.
// The destructor ends it (SIGTERM, then SIGKILL after 10 s), and the child gets SIGKILL if the
// test process dies first, so no process outlives the test. In a sanitizer build the destructor
// also fails the running test when the log holds a sanitizer's report.
class ChildProcess {
 public:
  // Starts `argv` (argv[0] looked up in PATH) with `env` added to this process's environment.
  // INTERNAL when it cannot be started.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
      const std::string& log_path);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Sends `signal` (SIGKILL for a crash, SIGSTOP to freeze).
  void Signal(int signal);
  // Waits up to `timeout` for the process to exit; returns its wait status, or -1 on timeout.
  int Wait(absl::Duration timeout = absl::Seconds(10));
  bool Running();
  // The last `bytes` of its log, for failure messages.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool reaped_ = false;
};

// A redis-server of the test's own on a free port, which the test can stop, restart and freeze
// to prove behaviour while Redis is away. Persistent, it keeps an append-only file in a temporary
// folder, so a restart comes back with its data, as the deployed Redis (AOF on) does; otherwise
// a restart comes back empty.
class ScratchRedis {
 public:
  explicit ScratchRedis(bool persistent = false);
  ~ScratchRedis();
  // Starts (again) on the same port and waits until it answers PING. INTERNAL when
  // redis-server cannot run, DEADLINE_EXCEEDED when it does not answer within 10 s.
  absl::Status Start();
  void Stop();
  void Freeze();
  void Thaw();
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  int port() const { return port_; }

 private:
  int port_ = FreePort();
  std::string dir_;  // for the append-only file; empty when not persistent
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace hookd::testing
