#include "hookd/queue/redis_connection.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <mutex>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/status.h"
#include "replies.h"

namespace hookd::queue {
namespace {

constexpr char kUrlField[] = "redis_url";
constexpr char kUrlShape[] = "expected redis://[[user]:password@]host[:port][/db]";
constexpr char kClusterUrlShape[] =
    "expected redis+cluster://[[user]:password@]host[:port][,host[:port]...]";

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// hiredis writes with write(2), not send(MSG_NOSIGNAL): writing to a connection Redis closed would
// raise SIGPIPE and kill the process instead of returning EPIPE. A handler someone installed is
// left alone.
void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decodes `text` so that passwords may contain ':', '@' or '/'.
bool PercentDecode(std::string_view text, std::string& out) {
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Schemes are case-insensitive (RFC 3986).
bool HasSchemePrefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (absl::ascii_tolower(text[i]) != prefix[i]) return false;
  }
  return true;
}

// Parses `user_info` ("user:password", percent-encoded) into `endpoint`.
absl::Status ParseUserInfo(std::string_view user_info, std::string_view shape,
                           RedisEndpoint& endpoint) {
  size_t colon = user_info.find(':');
  if (colon == std::string_view::npos) {
    return InvalidField(kUrlField,
                        absl::StrCat(AbslView(shape), " (user info without a password)"));
  }
  if (!PercentDecode(user_info.substr(0, colon), endpoint.user) ||
      !PercentDecode(user_info.substr(colon + 1), endpoint.password)) {
    return InvalidField(kUrlField, "bad percent-encoding in user info");
  }
  if (endpoint.password.empty()) {
    return InvalidField(kUrlField, absl::StrCat(AbslView(shape), " (empty password)"));
  }
  return absl::OkStatus();
}

// Parses `host_port` ("host", "host:port", "[IPv6]" or "[IPv6]:port") into `endpoint`; a problem's
// message starts with `where` (which node of a list).
absl::Status ParseHostPort(std::string_view host_port, std::string_view shape,
                           std::string_view where, RedisEndpoint& endpoint) {
  auto invalid = [&](std::string_view problem) {
    return InvalidField(kUrlField, absl::StrCat(AbslView(where), AbslView(problem)));
  };
  std::string_view port_text;
  if (host_port.starts_with('[')) {  // [IPv6]:port
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) return invalid("unterminated [IPv6] host");
    endpoint.host = std::string(host_port.substr(1, close - 1));
    std::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid(shape);
      port_text = after.substr(1);
      if (port_text.empty()) return invalid("empty port");
    }
  } else {
    size_t colon = host_port.find(':');
    endpoint.host = std::string(host_port.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = host_port.substr(colon + 1);
      if (port_text.empty()) return invalid("empty port");
    }
  }
  if (endpoint.host.empty()) return invalid(absl::StrCat(AbslView(shape), " (no host)"));
  if (!port_text.empty() && !ParseIntInRange(port_text, 1, 65535, endpoint.port)) {
    return invalid("port must be a number in 1..65535");
  }
  return absl::OkStatus();
}

// The part of `url` after `scheme` ("redis://"), checked for TLS and for a query or fragment.
absl::StatusOr<std::string_view> AfterScheme(const std::string& url, std::string_view scheme,
                                             std::string_view tls_scheme, std::string_view shape) {
  std::string_view rest = url;
  if (HasSchemePrefix(rest, tls_scheme)) {
    return InvalidField(kUrlField,
                        absl::StrCat("TLS (", AbslView(tls_scheme), ") is not supported"));
  }
  if (!HasSchemePrefix(rest, scheme)) {
    return InvalidField(kUrlField, absl::StrCat(AbslView(shape), " (wrong scheme)"));
  }
  rest.remove_prefix(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidField(kUrlField, absl::StrCat(AbslView(shape), " (no query or fragment)"));
  }
  return rest;
}

}  // namespace

absl::StatusOr<RedisEndpoint> ParseRedisUrl(const std::string& url) {
  HOOKD_ASSIGN_OR_RETURN(std::string_view rest,
                         AfterScheme(url, "redis://", "rediss://", kUrlShape));
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  RedisEndpoint endpoint;
  // The last '@' ends the user info, so an unencoded '@' in a password still parses.
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    HOOKD_RETURN_IF_ERROR(ParseUserInfo(authority.substr(0, at), kUrlShape, endpoint));
    authority.remove_prefix(at + 1);
  }
  HOOKD_RETURN_IF_ERROR(ParseHostPort(authority, kUrlShape, "", endpoint));
  if (!path.empty() && !ParseIntInRange(path, 0, 1 << 20, endpoint.db)) {
    return InvalidField(kUrlField, "db must be a non-negative number, as in redis://host:6379/0");
  }
  return endpoint;
}

absl::StatusOr<std::vector<RedisEndpoint>> ParseRedisClusterUrl(const std::string& url) {
  HOOKD_ASSIGN_OR_RETURN(std::string_view rest, AfterScheme(url, "redis+cluster://",
                                                            "rediss+cluster://", kClusterUrlShape));
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (!path.empty() && path != "0") {
    return InvalidField(kUrlField, "a Redis Cluster has only db 0");
  }
  RedisEndpoint credentials;
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    HOOKD_RETURN_IF_ERROR(ParseUserInfo(authority.substr(0, at), kClusterUrlShape, credentials));
    authority.remove_prefix(at + 1);
  }
  std::vector<RedisEndpoint> seeds;
  for (absl::string_view piece : absl::StrSplit(AbslView(authority), ',')) {
    const std::string_view node(piece.data(), piece.size());
    RedisEndpoint seed = credentials;
    const std::string where = absl::StrCat("node ", seeds.size() + 1, ": ");
    if (node.empty()) return InvalidField(kUrlField, absl::StrCat(where, "empty"));
    HOOKD_RETURN_IF_ERROR(ParseHostPort(node, kClusterUrlShape, where, seed));
    seeds.push_back(std::move(seed));
  }
  return seeds;
}

bool IsClusterUrl(const std::string& url) {
  return HasSchemePrefix(url, "redis+cluster://") || HasSchemePrefix(url, "rediss+cluster://");
}

absl::Status ValidateRedisOptions(const RedisOptions& options) {
  // Stream keys carry the partition in a hash tag; more than this many streams is a mistake.
  constexpr int kMaxPartitions = 1024;
  if (options.partitions < 1 || options.partitions > kMaxPartitions) {
    return InvalidField("partitions", absl::StrCat("must be in 1..", kMaxPartitions));
  }
  if (options.key_prefix.empty()) return InvalidField("redis_key_prefix", "must not be empty");
  if (IsClusterUrl(options.url)) return ParseRedisClusterUrl(options.url).status();
  return ParseRedisUrl(options.url).status();
}

bool Reply::IsErrorCode(const std::string& code) const {
  return type == Type::kError && absl::StartsWith(str, code) &&
         (str.size() == code.size() || str[code.size()] == ' ');
}

absl::Status ReplyStatus(const Reply& reply, const std::string& what) {
  if (!reply.is_error()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("redis ", what, ": ", reply.str));
}

void RedisConnection::ContextDeleter::operator()(redisContext* context) const {
  redisFree(context);
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, const RedisOptions& options)
    : endpoint_(std::move(endpoint)),
      connect_timeout_(options.connect_timeout),
      command_timeout_(options.command_timeout) {}

RedisConnection::~RedisConnection() = default;

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Create(
    const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(RedisEndpoint endpoint, ParseRedisUrl(options.url));
  return Create(std::move(endpoint), options);
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Create(
    RedisEndpoint endpoint, const RedisOptions& options) {
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return InvalidField("connect_timeout", "must be positive");
  }
  if (options.command_timeout <= absl::ZeroDuration()) {
    return InvalidField("command_timeout", "must be positive");
  }
  IgnoreSigpipeOnce();
  std::unique_ptr<RedisConnection> connection(new RedisConnection(std::move(endpoint), options));
  HOOKD_RETURN_IF_ERROR(connection->Connect());
  return connection;
}

absl::Status RedisConnection::Connect() {
  context_.reset();
  socket_timeout_ = absl::ZeroDuration();
  ContextPtr context(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                             absl::ToTimeval(connect_timeout_)));
  auto where = [&] { return absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port); };
  if (context == nullptr) return absl::UnavailableError(absl::StrCat(where(), ": out of memory"));
  if (context->err != 0) {
    return absl::UnavailableError(absl::StrCat(where(), ": connect: ", context->errstr));
  }
  // Keepalive lets a connection to a vanished host fail instead of idling forever.
  redisEnableKeepAlive(context.get());
  LimitReplySizes(context->reader);
  context_ = std::move(context);
  HOOKD_RETURN_IF_ERROR(SetTimeout(command_timeout_));

  std::vector<std::vector<std::string>> setup;
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) {
      setup.push_back({"AUTH", endpoint_.password});
    } else {
      setup.push_back({"AUTH", endpoint_.user, endpoint_.password});
    }
  }
  if (endpoint_.db != 0) setup.push_back({"SELECT", std::to_string(endpoint_.db)});
  if (setup.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<Reply>> replies = Pipeline(setup);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < replies->size(); ++i) {
    if ((*replies)[i].is_error()) {
      // A refused AUTH or SELECT would make every later command fail or hit the wrong db.
      context_.reset();
      return ReplyStatus((*replies)[i], setup[i][0]);
    }
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::SetTimeout(absl::Duration timeout) {
  if (timeout == socket_timeout_) return absl::OkStatus();
  if (redisSetTimeout(context_.get(), absl::ToTimeval(timeout)) != REDIS_OK) {
    std::string error = context_->errstr;
    context_.reset();
    return absl::UnavailableError(absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port,
                                               ": setting the socket timeout: ", error));
  }
  socket_timeout_ = timeout;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Reply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands, absl::Duration extra_wait) {
  std::vector<const std::vector<std::string>*> pointers;
  pointers.reserve(commands.size());
  for (const auto& command : commands) pointers.push_back(&command);
  return Pipeline(pointers, extra_wait);
}

absl::StatusOr<std::vector<Reply>> RedisConnection::Pipeline(
    const std::vector<const std::vector<std::string>*>& commands, absl::Duration extra_wait) {
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  for (const auto* command : commands) {
    if (command->empty()) return absl::InvalidArgumentError("redis: empty command in pipeline");
  }
  if (context_ == nullptr) HOOKD_RETURN_IF_ERROR(Connect());
  HOOKD_RETURN_IF_ERROR(SetTimeout(command_timeout_ + std::max(extra_wait, absl::ZeroDuration())));

  auto broken = [&] {
    std::string error = context_->errstr[0] != '\0' ? context_->errstr : "connection lost";
    // The socket may still hold replies of this pipeline; reading on would misattribute them.
    context_.reset();
    return absl::UnavailableError(
        absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port, ": ", error));
  };
  for (const auto* command : commands) {
    argv_.clear();
    argv_len_.clear();
    for (const std::string& arg : *command) {
      argv_.push_back(arg.data());
      argv_len_.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv_.size()), argv_.data(),
                               argv_len_.data()) != REDIS_OK) {
      return broken();
    }
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    // The first call flushes the whole output buffer, so all commands travel together.
    if (redisGetReply(context_.get(), &raw) != REDIS_OK) return broken();
    ReplyPtr reply(static_cast<redisReply*>(raw));
    replies.push_back(ConvertReply(*reply));
  }
  return replies;
}

absl::StatusOr<Reply> RedisConnection::Command(const std::vector<std::string>& argv) {
  HOOKD_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline({argv}));
  HOOKD_RETURN_IF_ERROR(ReplyStatus(replies[0], argv[0]));
  return std::move(replies[0]);
}

}  // namespace hookd::queue
