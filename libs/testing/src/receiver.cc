#include "hookd/testing/receiver.h"

#include <sys/socket.h>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "hookd/testing/testing.h"
#include "httplib.h"

namespace hookd::testing {

Receiver::Receiver() : server_(std::make_unique<httplib::Server>()) {
  // cpp-httplib holds a thread per keep-alive connection: enough threads for every connection
  // the test's workers open (see Cluster::StartWorker's --max_in_flight), or requests would
  // wait for a free thread and time out.
  server_->new_task_queue = [] { return new httplib::ThreadPool(256); };
  server_->set_keep_alive_max_count(100000);
  int listen_fd = -1;
  server_->set_socket_options([&listen_fd](socket_t fd) {
    httplib::default_socket_options(fd);
    listen_fd = fd;
  });
  server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Request request;
    request.path = req.path;
    for (const auto& [name, value] : req.headers) {
      request.headers[absl::AsciiStrToLower(name)] = value;
    }
    request.body = req.body;
    request.at = absl::Now();
    request.remote_port = req.remote_port;
    Handler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_[req.path].push_back(request);
      auto it = handlers_.find(req.path);
      if (it != handlers_.end()) handler = it->second;
    }
    Response response = handler ? handler(request) : Response{};
    if (response.delay > absl::ZeroDuration()) {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(response.delay));
    }
    res.status = response.status;
    for (const auto& [name, value] : response.headers) res.set_header(name, value);
    res.set_content(response.body, "text/plain");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  // httplib listens with a backlog of 5: a burst of worker connections would see dropped SYNs
  // and 1 s retransmits. listen() again only resizes the queue.
  if (listen_fd >= 0) ::listen(listen_fd, 1024);
  server_->set_socket_options(httplib::default_socket_options);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  PollUntil([this] { return server_->is_running(); }, absl::Seconds(5));
}

Receiver::~Receiver() {
  server_->stop();
  thread_.join();
}

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

Receiver::Handler Receiver::Answer(int status) {
  return [status](const Request&) {
    Response response;
    response.status = status;
    return response;
  };
}

void Receiver::Handle(const std::string& path, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[path] = std::move(handler);
}

std::vector<Receiver::Request> Receiver::Received(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = received_.find(path);
  return it == received_.end() ? std::vector<Request>() : it->second;
}

bool Receiver::WaitFor(const std::string& path, size_t count, absl::Duration timeout) {
  return PollUntil([&] { return Received(path).size() >= count; }, timeout);
}

}  // namespace hookd::testing
