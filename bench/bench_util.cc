#include "bench_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace hookd::bench {
namespace {

constexpr size_t kMaxDistinctErrors = 100;
constexpr size_t kPrintedErrors = 5;

bool IsLoopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

std::string Getenv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string FirstNonEmpty(std::initializer_list<std::string> values) {
  for (const std::string& value : values) {
    if (!value.empty()) return value;
  }
  return "";
}

absl::StatusOr<std::string> LoopbackTarget(absl::string_view flag, absl::string_view target) {
  std::string host;
  std::string port;
  if (!target.empty() && target.front() == '[') {
    size_t close = target.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": want [ipv6]:port, got ", target));
    }
    host = std::string(target.substr(1, close - 1));
    port = std::string(target.substr(close + 2));
  } else {
    size_t colon = target.rfind(':');
    if (colon == absl::string_view::npos || target.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": want host:port (no scheme), got '", target, "'"));
    }
    host = std::string(target.substr(0, colon));
    port = std::string(target.substr(colon + 1));
  }
  int port_number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) || port_number <= 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": bad host or port in '", target, "'"));
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &results); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(results, &freeaddrinfo);
  std::string dial;
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    inet_ntop(ai->ai_family, raw, text, sizeof(text));
    if (!IsLoopback(ai->ai_addr)) {
      return absl::FailedPreconditionError(
          absl::StrCat(flag, " ", target, " resolves to ", text,
                       ", which is not a loopback address; the hookd benchmarks only load-test "
                       "this machine (127.0.0.0/8 or ::1)"));
    }
    if (dial.empty()) {
      dial = ai->ai_family == AF_INET6 ? absl::StrCat("[", text, "]:", port)
                                       : absl::StrCat(text, ":", port);
    }
  }
  if (dial.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": no address"));
  return dial;
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments share one subchannel, hence one TCP connection; a local
    // pool plus a distinct argument gives each its own, so one HTTP/2 connection (and the one
    // server thread reading it) is not what the run measures.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("hookd.bench.channel_index", i);
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "CODE_UNKNOWN";
  }
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int64_t NearestRank(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ErrorLog::Add(std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [text, count] : entries_) {
    if (text == message) {
      ++count;
      return;
    }
  }
  if (entries_.size() < kMaxDistinctErrors) {
    entries_.emplace_back(std::move(message), 1);
  } else {
    ++others_;
  }
}

void ErrorLog::Print(FILE* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < entries_.size() && i < kPrintedErrors; ++i) {
    absl::FPrintF(out, "  error x%d  %s\n", entries_[i].second, entries_[i].first);
  }
  size_t hidden = entries_.size() > kPrintedErrors ? entries_.size() - kPrintedErrors : 0;
  if (hidden > 0 || others_ > 0) {
    absl::FPrintF(out, "  ... and %d more distinct errors\n", hidden + others_);
  }
}

bool ErrorLog::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.empty() && others_ == 0;
}

}  // namespace hookd::bench
