#include "hookd/testing/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/testing/testing.h"

extern char** environ;

namespace hookd::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool PortAcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
    const std::string& log_path) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  // fork + exec rather than posix_spawn: the child must ask for SIGKILL when its parent dies
  // (PR_SET_PDEATHSIG), which only code running between fork and exec can do.
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("cannot fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    // A test process blocks signals for its own reasons; the service must start clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execvpe(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

namespace {

// The whole of a service's log ("" when it cannot be read).
std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Whether this binary runs under AddressSanitizer or ThreadSanitizer, and so do the services it
// starts: the checking builds (README, "Sanitizers and fuzzing") instrument everything.
constexpr bool kSanitized =
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// A sanitizer's report in a service's log fails the running test. Tests end services with
// signals and do not look at their exit status, so an error at shutdown (a leak, a race while
// draining) would otherwise pass unseen.
void FailOnSanitizerReport(const std::string& log_path) {
  if (!kSanitized || log_path == "/dev/null") return;
  const std::string log = ReadLog(log_path);
  for (const char* marker : {"SUMMARY: AddressSanitizer", "SUMMARY: LeakSanitizer",
                             "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: ThreadSanitizer"}) {
    const size_t at = log.find(marker);
    if (at == std::string::npos) continue;
    // The report starts some way before its summary line.
    const size_t from = at > 6000 ? at - 6000 : 0;
    ADD_FAILURE() << "sanitizer report in " << log_path << ":\n"
                  << log.substr(from, at - from + 200);
    return;
  }
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGCONT);
    kill(pid_, SIGTERM);
    if (Wait(absl::Seconds(10)) == -1) {
      kill(pid_, SIGKILL);
      Wait(absl::Seconds(10));
    }
  }
  FailOnSanitizerReport(log_path_);
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

int ChildProcess::Wait(absl::Duration timeout) {
  int status = -1;
  bool exited = PollUntil(
      [&] {
        if (reaped_) return true;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) reaped_ = true;
        return reaped_;
      },
      timeout, absl::Milliseconds(10));
  return exited ? status : -1;
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

std::string ChildProcess::LogTail(size_t bytes) const {
  const std::string text = ReadLog(log_path_);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

ScratchRedis::ScratchRedis(bool persistent) {
  if (!persistent) return;
  char dir[] = "/tmp/hookd-scratch-redis.XXXXXX";
  if (mkdtemp(dir) != nullptr) dir_ = dir;
}

ScratchRedis::~ScratchRedis() {
  Stop();
  if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

absl::Status ScratchRedis::Start() {
  Stop();
  std::vector<std::string> argv = {
      "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
      "--save",       "",       "--loglevel",          "warning"};
  if (dir_.empty()) {
    argv.insert(argv.end(), {"--appendonly", "no"});
  } else {
    // fsync on every write: a test stopping Redis must find every acknowledged write again.
    argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir_});
  }
  auto process = ChildProcess::Spawn(argv, {}, "/dev/null");
  if (!process.ok()) return process.status();
  process_ = std::move(*process);
  const std::string ping = "redis-cli -p " + std::to_string(port_) + " ping >/dev/null 2>&1";
  if (!PollUntil([&] { return std::system(ping.c_str()) == 0; })) {
    return absl::DeadlineExceededError("redis-server on port " + std::to_string(port_) +
                                       " did not answer");
  }
  return absl::OkStatus();
}

void ScratchRedis::Stop() { process_.reset(); }
void ScratchRedis::Freeze() {
  if (process_) process_->Signal(SIGSTOP);
}
void ScratchRedis::Thaw() {
  if (process_) process_->Signal(SIGCONT);
}

}  // namespace hookd::testing
