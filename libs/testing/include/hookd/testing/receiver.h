#pragma once

// A real HTTP receiver for tests that send webhooks (cpp-httplib on 127.0.0.1, a free port), which
// records every request and answers as the test tells it.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace hookd::testing {

class Receiver {
 public:
  struct Request {
    std::string path;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    absl::Time at;
    int remote_port = 0;
  };
  struct Response {
    int status = 200;
    std::map<std::string, std::string> headers;
    std::string body = "ok";
    // Held before answering (a slow or hanging endpoint).
    absl::Duration delay = absl::ZeroDuration();
  };
  using Handler = std::function<Response(const Request&)>;

  Receiver();
  ~Receiver();

  std::string url(const std::string& path) const;
  int port() const { return port_; }
  // Answers requests to `path` with `handler` (default: 200 "ok").
  void Handle(const std::string& path, Handler handler);
  // A handler that answers every request with `status`.
  static Handler Answer(int status);
  // Requests to `path` so far, in arrival order.
  std::vector<Request> Received(const std::string& path) const;
  // Waits until `path` received at least `count` requests.
  bool WaitFor(const std::string& path, size_t count, absl::Duration timeout = absl::Seconds(20));

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, std::vector<Request>> received_;
};

}  // namespace hookd::testing
