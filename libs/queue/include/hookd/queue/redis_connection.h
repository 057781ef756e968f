#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/common/store_options.h"

// hiredis stays out of the public headers: replies are copied into plain C++ values, so callers
// never hold a C handle.
struct redisContext;

namespace hookd::queue {

// The parts of a redis:// url.
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string user;      // empty: AUTH with the password alone (the default user)
  std::string password;  // empty: no AUTH
  int db = 0;
};

// Parses `url`. INVALID_ARGUMENT naming "redis_url" when it is not a redis:// url of the shape
// above; the message never repeats the url, which may carry a password.
absl::StatusOr<RedisEndpoint> ParseRedisUrl(const std::string& url);

// Whether `url` names a Redis Cluster: its scheme is redis+cluster:// (or rediss+cluster://,
// which ParseRedisClusterUrl refuses by name).
bool IsClusterUrl(const std::string& url);

// The seed nodes of a Redis Cluster url, redis+cluster://[[user]:password@]host[:port][,host
// [:port]...], for the cluster routing of redis_cluster.h: each node with the url's credentials,
// port 6379 unless given, db 0 (a trailing /0 is allowed; a cluster has no other db).
// INVALID_ARGUMENT naming "redis_url" and, for a bad node, its position in the list ("node 2: empty
// port"); the message never repeats the url.
absl::StatusOr<std::vector<RedisEndpoint>> ParseRedisClusterUrl(const std::string& url);

// OK when `options` has a redis:// or a redis+cluster:// url of the shapes above (else as their
// parsers say), 1 to 1024 partitions and a key prefix, else INVALID_ARGUMENT naming the field:
// for a check at start, before anything is connected.
absl::Status ValidateRedisOptions(const RedisOptions& options);

// One reply, copied out of hiredis (RESP2 types).
struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };

  Type type = Type::kNil;
  std::string str;  // kString, kStatus and kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  // Whether this is an error reply whose message starts with `code` ("BUSYGROUP", "NOSCRIPT").
  bool IsErrorCode(const std::string& code) const;
};

// INTERNAL carrying the Redis message when `reply` is an error reply, else OK. `what` names the
// operation for the message.
absl::Status ReplyStatus(const Reply& reply, const std::string& what);

// One hiredis connection. After an I/O error or timeout the socket is dropped (it may still hold
// replies of the failed call) and the next call connects anew, so one broken connection costs
// one failed call. Not thread-safe: DeliveryQueue gives each caller a connection of its own.
class RedisConnection {
 public:
  // Connects, authenticates and selects the db of `options.url`. INVALID_ARGUMENT naming
  // "redis_url" for a bad url, UNAVAILABLE when Redis cannot be reached within the connect
  // timeout, INTERNAL when Redis refuses AUTH or SELECT.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Create(const RedisOptions& options);
  // The same for `endpoint`; options.url is not read (a Redis Cluster's nodes).
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Create(RedisEndpoint endpoint,
                                                                 const RedisOptions& options);
  ~RedisConnection();

  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends all `commands` in one pipeline (one round trip) and returns their replies in order.
  // Error replies come back as replies (Reply::is_error), since some are expected, such as
  // BUSYGROUP. UNAVAILABLE when the connection broke or a reply did not arrive within the
  // command timeout plus `extra_wait`; then any prefix of the commands may have run.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands,
                                              absl::Duration extra_wait = absl::ZeroDuration());
  // The same for commands held elsewhere, which are not copied (payloads can be large).
  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<const std::vector<std::string>*>& commands,
      absl::Duration extra_wait = absl::ZeroDuration());

  // One command. UNAVAILABLE as Pipeline; an error reply becomes INTERNAL with its message.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& argv);

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

  RedisConnection(RedisEndpoint endpoint, const RedisOptions& options);

  absl::Status Connect();
  absl::Status SetTimeout(absl::Duration timeout);

  const RedisEndpoint endpoint_;
  const absl::Duration connect_timeout_;
  const absl::Duration command_timeout_;
  ContextPtr context_;                                    // null while disconnected
  absl::Duration socket_timeout_ = absl::ZeroDuration();  // what the socket of context_ has
  // Scratch space for redisAppendCommandArgv, kept to avoid allocating per command.
  std::vector<const char*> argv_;
  std::vector<size_t> argv_len_;
};

}  // namespace hookd::queue
