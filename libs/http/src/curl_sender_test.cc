#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/http/http_sender.h"
#include "hookd/http/ip_policy.h"

namespace hookd::http {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// What one request looked like when it reached the receiver.
struct Seen {
  std::string path;
  httplib::Headers headers;
  std::string body;
  int remote_port = 0;
};

// A local webhook endpoint on 127.0.0.1 and a free port.
class Receiver {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit Receiver(size_t threads = 8) {
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // The default closes a connection after 5 requests, which would hide connection reuse.
    server_.set_keep_alive_max_count(100000);
    server_.set_keep_alive_timeout(30);
    server_.set_socket_options([this](socket_t fd) {
      httplib::default_socket_options(fd);
      listen_fd_ = fd;
    });
  }

  ~Receiver() {
    Release();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Registers a handler; call before Start.
  void Post(const std::string& path, Handler handler) {
    server_.Post(path, [this, handler = std::move(handler)](const httplib::Request& request,
                                                            httplib::Response& response) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back({request.path, request.headers, request.body, request.remote_port});
        ++running_;
        max_running_ = std::max(max_running_, running_);
        changed_.notify_all();
      }
      handler(request, response);
      std::lock_guard lock(mu_);
      --running_;
    });
  }

  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // httplib listens with a backlog of 5; under a burst of connects the kernel then drops SYNs
    // and the clients' 1 s retransmits, not the sender, would set the pace. listen() again
    // only resizes the queue.
    ASSERT_EQ(listen(listen_fd_, 1024), 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib's stop() does nothing until the server runs, and would then leave the listening
    // thread blocked in accept for good.
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!server_.is_running()) {
      ASSERT_LT(absl::Now(), deadline) << "receiver did not start";
      absl::SleepFor(absl::Milliseconds(1));
    }
  }

  std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  int max_running() {
    std::lock_guard lock(mu_);
    return max_running_;
  }
  std::set<int> remote_ports() {
    std::lock_guard lock(mu_);
    std::set<int> ports;
    for (const Seen& seen : seen_) ports.insert(seen.remote_port);
    return ports;
  }

  // Returns whether `n` requests arrived before `timeout`.
  bool WaitForCount(size_t n, absl::Duration timeout = absl::Seconds(10)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                             [&] { return seen_.size() >= n; });
  }

  // Plays an endpoint that does not answer: blocks until Release or `limit`.
  void Stall(absl::Duration limit) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, absl::ToChronoMilliseconds(limit), [&] { return released_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  socket_t listen_fd_ = -1;
  // std::mutex rather than absl::Mutex, which the system Abseil hides from ThreadSanitizer.
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Seen> seen_;  // guarded by mu_, as are the next three
  int running_ = 0;
  int max_running_ = 0;
  bool released_ = false;
};

constexpr char kUserAgent[] = "hookd-test/1";

HttpSenderOptions LoopbackOptions() {
  HttpSenderOptions options;
  options.allow_http = true;
  options.private_allowlist = {*http::IpNetwork::Parse("127.0.0.0/8")};
  options.user_agent = kUserAgent;
  return options;
}

std::unique_ptr<HttpSender> MakeSender(HttpSenderOptions options) {
  absl::StatusOr<std::unique_ptr<HttpSender>> sender = NewCurlSender(std::move(options));
  EXPECT_TRUE(sender.ok()) << sender.status();
  return sender.ok() ? *std::move(sender) : nullptr;
}

HttpRequest Request(const std::string& url, std::string body = R"({"type":"video.ready"})") {
  HttpRequest request;
  request.url = url;
  request.headers = {{"content-type", "application/json"}};
  request.body = std::move(body);
  request.timeout = absl::Seconds(10);
  return request;
}

// Sends and waits for `done`; a result with ATTEMPT_ERROR_UNSPECIFIED means it never came.
HttpResult SendAndWait(HttpSender& sender, HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpResult>>();
  std::future<HttpResult> future = promise->get_future();
  sender.Send(std::move(request),
              [promise](HttpResult result) { promise->set_value(std::move(result)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "done was not called within 30 s";
    HttpResult missing;
    missing.error = v1::ATTEMPT_ERROR_UNSPECIFIED;
    return missing;
  }
  return future.get();
}

// Returns whether `condition` held before `timeout`.
bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Collects the results of many concurrent Sends.
class Collector {
 public:
  std::function<void(HttpResult)> Callback(int index) {
    return [this, index](HttpResult result) {
      // Notifying under the lock: once the waiter sees the last result it may destroy this.
      std::lock_guard lock(mu_);
      results_.emplace_back(index, std::move(result));
      threads_.insert(std::this_thread::get_id());
      changed_.notify_all();
    };
  }
  bool WaitFor(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                             [&] { return results_.size() >= n; });
  }
  std::vector<std::pair<int, HttpResult>> results() {
    std::lock_guard lock(mu_);
    return results_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<int, HttpResult>> results_;  // guarded by mu_
  std::set<std::thread::id> threads_;                // guarded by mu_
};

std::string Header(const httplib::Headers& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

TEST(CurlSenderTest, ReturnsStatusCodesAsIs) {
  Receiver receiver;
  for (int status : {200, 204, 500, 410}) {
    receiver.Post("/status/" + std::to_string(status),
                  [status](const httplib::Request&, httplib::Response& response) {
                    response.status = status;
                    if (status != 204) response.set_content("answer", "text/plain");
                  });
  }
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());

  for (int status : {200, 204, 500, 410}) {
    SCOPED_TRACE(status);
    HttpResult result =
        SendAndWait(*sender, Request(receiver.Url("/status/" + std::to_string(status))));
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE);
    EXPECT_EQ(result.status_code, status);
    EXPECT_EQ(result.body_excerpt, status == 204 ? "" : "answer");
    EXPECT_EQ(result.error_detail, "");
    EXPECT_GT(result.duration, absl::ZeroDuration());
    EXPECT_LE(result.start_time, absl::Now());
  }
  EXPECT_EQ(receiver.count(), 4u);
  EXPECT_TRUE(PollUntil([&] { return sender->in_flight() == 0; }));
}

TEST(CurlSenderTest, DoesNotFollowRedirects) {
  Receiver receiver;
  std::atomic<int> target_hits{0};
  receiver.Post("/target", [&](const httplib::Request&, httplib::Response&) { ++target_hits; });
  receiver.Start();
  receiver.Post("/redirect", [&](const httplib::Request&, httplib::Response& response) {
    response.status = 302;
    response.set_header("Location", receiver.Url("/target"));
  });
  auto sender = MakeSender(LoopbackOptions());

  HttpResult result = SendAndWait(*sender, Request(receiver.Url("/redirect")));

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE);
  EXPECT_EQ(result.status_code, 302);
  EXPECT_EQ(result.Header("location"), receiver.Url("/target"));
  EXPECT_EQ(target_hits.load(), 0);
  ASSERT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.seen()[0].path, "/redirect");
}

TEST(CurlSenderTest, SendsHeadersAndBodyExactly) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  HttpRequest request = Request(receiver.Url("/hook"), R"({"type":"video.ready","data":{}})");
  request.headers.emplace_back("webhook-id", "evt_01H");
  request.headers.emplace_back("X-Custom", "a value, with: colon");

  HttpResult result = SendAndWait(*sender, request);

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE);
  EXPECT_EQ(result.status_code, 200);
  ASSERT_EQ(receiver.count(), 1u);
  Seen seen = receiver.seen()[0];
  EXPECT_EQ(seen.body, R"({"type":"video.ready","data":{}})");
  EXPECT_EQ(Header(seen.headers, "Content-Type"), "application/json");
  EXPECT_EQ(Header(seen.headers, "Content-Length"), "32");
  EXPECT_EQ(Header(seen.headers, "webhook-id"), "evt_01H");
  EXPECT_EQ(Header(seen.headers, "x-custom"), "a value, with: colon");
  EXPECT_EQ(Header(seen.headers, "User-Agent"), kUserAgent);
  EXPECT_EQ(seen.headers.count("Expect"), 0u);
}

// httplib drops headers with empty values, so this one reads the request off a plain socket.
TEST(CurlSenderTest, SendsEmptyHeaderValueOnTheWire) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::string raw;
  std::thread server([&] {
    int connection = accept(listener, nullptr, nullptr);
    if (connection < 0) return;
    char buffer[4096];
    // The body is "{}", so the request ends two bytes after the blank line.
    while (raw.find("\r\n\r\n") == std::string::npos || raw.size() < raw.find("\r\n\r\n") + 4 + 2) {
      ssize_t n = read(connection, buffer, sizeof(buffer));
      if (n <= 0) break;
      raw.append(buffer, n);
    }
    constexpr char kResponse[] = "HTTP/1.1 204 No Content\r\n\r\n";
    (void)!write(connection, kResponse, sizeof(kResponse) - 1);
    close(connection);
  });
  auto sender = MakeSender(LoopbackOptions());
  HttpRequest request =
      Request("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/hook", "{}");
  request.headers.emplace_back("x-empty", "");

  HttpResult result = SendAndWait(*sender, request);
  server.join();
  close(listener);

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << result.error_detail;
  EXPECT_EQ(result.status_code, 204);
  EXPECT_THAT(raw, ::testing::StartsWith("POST /hook HTTP/1.1\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\nx-empty:\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\ncontent-type: application/json\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\nUser-Agent: hookd-test/1\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\nContent-Length: 2\r\n"));
  EXPECT_THAT(raw, ::testing::Not(HasSubstr("Expect")));
  EXPECT_THAT(raw, ::testing::EndsWith("\r\n\r\n{}"));
}

TEST(CurlSenderTest, SendsBinaryBodyByteExact) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  // Every byte value, NUL and UTF-8 included, and over 1 MiB, where curl would otherwise send
  // "Expect: 100-continue".
  std::string body("a\0b\xff\xfe\xc3\xa9\r\n", 9);
  for (int i = 0; i < 2 * 1024 * 1024; ++i) body.push_back(static_cast<char>(i % 256));

  HttpResult result = SendAndWait(*sender, Request(receiver.Url("/hook"), body));

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << result.error_detail;
  EXPECT_EQ(result.status_code, 200);
  ASSERT_EQ(receiver.count(), 1u);
  Seen seen = receiver.seen()[0];
  EXPECT_EQ(seen.body.size(), body.size());
  EXPECT_TRUE(seen.body == body);
  EXPECT_EQ(seen.headers.count("Expect"), 0u);
}

TEST(CurlSenderTest, TimesOutSlowEndpoint) {
  Receiver receiver;
  receiver.Post("/slow", [&](const httplib::Request&, httplib::Response&) {
    receiver.Stall(absl::Seconds(2));
  });
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  HttpRequest request = Request(receiver.Url("/slow"));
  request.timeout = absl::Milliseconds(300);

  HttpResult result = SendAndWait(*sender, request);

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_TIMEOUT);
  EXPECT_EQ(result.status_code, 0);
  EXPECT_THAT(result.error_detail, HasSubstr("Timeout was reached"));
  // curl checks its timer at millisecond granularity on its own clock.
  EXPECT_GE(result.duration, absl::Milliseconds(290));
  EXPECT_LT(result.duration, absl::Milliseconds(1500));
  std::cout << "timeout after " << result.duration << ": " << result.error_detail << "\n";
}

TEST(CurlSenderTest, ClosedPortIsConnectionError) {
  // A bound socket that does not listen answers SYN with RST, and holding it keeps the port
  // from being reused by anyone else during the test.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  int port = ntohs(address.sin_port);
  auto sender = MakeSender(LoopbackOptions());

  HttpResult result =
      SendAndWait(*sender, Request("http://127.0.0.1:" + std::to_string(port) + "/"));
  close(fd);

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_CONNECTION);
  EXPECT_EQ(result.status_code, 0);
  EXPECT_THAT(result.error_detail, HasSubstr("Couldn't connect to server"));
}

TEST(CurlSenderTest, KeepsAtMostMaxResponseBytes) {
  Receiver receiver;
  std::string big;
  for (int i = 0; i < 10 * 1024; ++i) big.push_back(static_cast<char>('a' + i % 26));
  receiver.Post("/big", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(big, "text/plain");
  });
  receiver.Post("/exact", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(big.substr(0, 4096), "text/plain");
  });
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());

  HttpResult result = SendAndWait(*sender, Request(receiver.Url("/big")));
  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << result.error_detail;
  EXPECT_EQ(result.status_code, 200);
  EXPECT_EQ(result.body_excerpt.size(), 4096u);
  EXPECT_EQ(result.body_excerpt, big.substr(0, 4096));
  EXPECT_EQ(result.Header("content-length"), "10240");

  HttpResult exact = SendAndWait(*sender, Request(receiver.Url("/exact")));
  EXPECT_EQ(exact.error, v1::ATTEMPT_ERROR_NONE) << exact.error_detail;
  EXPECT_EQ(exact.body_excerpt, big.substr(0, 4096));
}

TEST(CurlSenderTest, ReadsResponseHeaders) {
  Receiver receiver;
  receiver.Post("/limited", [](const httplib::Request&, httplib::Response& response) {
    response.status = 429;
    response.set_header("Retry-After", "120");
    response.set_header("X-Trace", "  spaced value  ");
  });
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());

  HttpResult result = SendAndWait(*sender, Request(receiver.Url("/limited")));

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE);
  EXPECT_EQ(result.status_code, 429);
  EXPECT_EQ(result.Header("retry-after"), "120");
  EXPECT_EQ(result.Header("Retry-After"), "120");
  EXPECT_EQ(result.Header("x-trace"), "spaced value");
  EXPECT_EQ(result.Header("x-missing"), "");
  for (const auto& [name, value] : result.headers) {
    EXPECT_EQ(name, absl::AsciiStrToLower(name));
  }
}

TEST(CurlSenderTest, RunsManyRequestsConcurrentlyOnOneThread) {
  constexpr int kRequests = 200;
  Receiver receiver(/*threads=*/kRequests + 16);
  receiver.Post("/slow", [](const httplib::Request&, httplib::Response&) {
    absl::SleepFor(absl::Milliseconds(200));
  });
  receiver.Start();
  Collector collector;
  auto sender = MakeSender(LoopbackOptions());

  absl::Time start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    sender->Send(Request(receiver.Url("/slow"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(collector.WaitFor(kRequests));
  absl::Duration first_batch = absl::Now() - start;
  size_t first_connections = receiver.remote_ports().size();

  // The same again: the idle connections of the first batch carry the second.
  start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    sender->Send(Request(receiver.Url("/slow"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(collector.WaitFor(2 * kRequests));
  absl::Duration second_batch = absl::Now() - start;
  size_t connections = receiver.remote_ports().size();

  std::cout << kRequests << " concurrent 200 ms requests: " << first_batch << " over "
            << first_connections << " connections; again: " << second_batch << ", " << connections
            << " connections in all\n";
  EXPECT_LT(first_batch, absl::Seconds(5));
  EXPECT_LT(second_batch, absl::Seconds(5));
  EXPECT_LE(connections, static_cast<size_t>(kRequests) + 5);
  auto results = collector.results();
  ASSERT_EQ(results.size(), 2u * kRequests);
  for (const auto& [index, result] : results) {
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << result.error_detail;
    EXPECT_EQ(result.status_code, 200);
  }
  EXPECT_EQ(receiver.count(), 2u * kRequests);
  EXPECT_EQ(collector.threads().size(), 1u);
  EXPECT_EQ(collector.threads().count(std::this_thread::get_id()), 0u);
  EXPECT_TRUE(PollUntil([&] { return sender->in_flight() == 0; }));
}

TEST(CurlSenderTest, OpensAtMostMaxConnectionsPerHost) {
  constexpr int kRequests = 24;
  constexpr int kConnections = 4;
  Receiver receiver(/*threads=*/kRequests + 4);
  receiver.Post("/slow", [](const httplib::Request&, httplib::Response&) {
    absl::SleepFor(absl::Milliseconds(50));
  });
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_connections_per_host = kConnections;
  auto sender = MakeSender(options);
  Collector collector;
  for (int i = 0; i < kRequests; ++i) {
    sender->Send(Request(receiver.Url("/slow"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(collector.WaitFor(kRequests));
  // The requests beyond the limit waited for a connection instead of opening their own, and
  // the limit was used in full.
  EXPECT_EQ(receiver.remote_ports().size(), static_cast<size_t>(kConnections));
  EXPECT_EQ(receiver.max_running(), kConnections);
  for (const auto& [index, result] : collector.results()) {
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << result.error_detail;
    EXPECT_EQ(result.status_code, 200);
  }
  EXPECT_EQ(receiver.count(), static_cast<size_t>(kRequests));
}

// Requests waiting for their host's share wait in the sender's queue, where no timeout runs:
// three requests of 300 ms through one connection, each with a 500 ms timeout, all succeed (the
// last left the queue after 600 ms).
TEST(CurlSenderTest, WaitingForTheHostsShareDoesNotCountAgainstTheTimeout) {
  Receiver receiver(/*threads=*/4);
  receiver.Post("/slow", [](const httplib::Request&, httplib::Response&) {
    absl::SleepFor(absl::Milliseconds(300));
  });
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_connections_per_host = 1;
  auto sender = MakeSender(options);
  Collector collector;
  for (int i = 0; i < 3; ++i) {
    HttpRequest request = Request(receiver.Url("/slow"), std::to_string(i));
    request.timeout = absl::Milliseconds(500);
    sender->Send(std::move(request), collector.Callback(i));
  }
  ASSERT_TRUE(collector.WaitFor(3));
  for (const auto& [index, result] : collector.results()) {
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_NONE) << index << ": " << result.error_detail;
    EXPECT_EQ(result.status_code, 200);
    EXPECT_LT(result.duration, absl::Milliseconds(500)) << index;
  }
  EXPECT_EQ(receiver.max_running(), 1);
}

// A host at its limit holds back only its own requests: one queued behind them for another host
// starts at once.
TEST(CurlSenderTest, AHostAtItsLimitDoesNotHoldBackAnotherHost) {
  Receiver slow;
  slow.Post("/held",
            [&](const httplib::Request&, httplib::Response&) { slow.Stall(absl::Seconds(20)); });
  slow.Start();
  Receiver fast;
  fast.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  fast.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_connections_per_host = 2;
  auto sender = MakeSender(options);
  Collector collector;
  for (int i = 0; i < 6; ++i) {
    sender->Send(Request(slow.Url("/held"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(slow.WaitForCount(2));
  // At once: it waited for curl's next timer (200 ms) when the queue it joined held only
  // requests whose host was at its limit.
  const absl::Time sent = absl::Now();
  HttpResult result = SendAndWait(*sender, Request(fast.Url("/hook")));
  EXPECT_LT(absl::Now() - sent, absl::Milliseconds(100)) << (absl::Now() - sent);
  EXPECT_EQ(result.status_code, 200) << result.error_detail;
  EXPECT_EQ(slow.count(), 2u);
  // (The fast request counts until its callback has returned.)
  EXPECT_TRUE(PollUntil([&] { return sender->in_flight() == 6; }));
  slow.Release();
  ASSERT_TRUE(collector.WaitFor(6));
  EXPECT_EQ(slow.max_running(), 2);
}

// Response headers past 64 KiB are an error of their own, whether curl's 100 KB line limit or
// hookd's 64 KiB total stops them, and nothing of the response is kept.
TEST(CurlSenderTest, OversizedResponseHeadersAreTheirOwnError) {
  Receiver receiver;
  receiver.Post("/one-huge", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Huge", std::string(100 * 1024, 'a'));
  });
  receiver.Post("/many", [](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 20; ++i)
      res.set_header("X-Big-" + std::to_string(i), std::string(4000, 'b'));
  });
  receiver.Post("/fine", [](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 10; ++i)
      res.set_header("X-Big-" + std::to_string(i), std::string(4000, 'b'));
  });
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  for (const std::string path : {"/one-huge", "/many"}) {
    HttpResult result = SendAndWait(*sender, Request(receiver.Url(path)));
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_RESPONSE_TOO_LARGE)
        << path << ": " << result.error_detail;
    EXPECT_EQ(result.error_detail, "response headers larger than 64 KiB") << path;
    EXPECT_EQ(result.status_code, 0) << path;
    EXPECT_TRUE(result.headers.empty()) << path;
  }
  HttpResult fine = SendAndWait(*sender, Request(receiver.Url("/fine")));
  EXPECT_EQ(fine.error, v1::ATTEMPT_ERROR_NONE) << fine.error_detail;
  EXPECT_EQ(fine.status_code, 200);
  EXPECT_EQ(fine.Header("x-big-9").size(), 4000u);
}

TEST(CurlSenderTest, ReusesConnectionsForSequentialRequests) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());

  for (int i = 0; i < 50; ++i) {
    HttpResult result = SendAndWait(*sender, Request(receiver.Url("/hook"), std::to_string(i)));
    ASSERT_EQ(result.status_code, 200) << result.error_detail;
  }

  EXPECT_EQ(receiver.count(), 50u);
  EXPECT_EQ(receiver.remote_ports().size(), 1u);
}

TEST(CurlSenderTest, LimitsRequestsInFlightAndCountsQueued) {
  Receiver receiver;
  receiver.Post("/held", [&](const httplib::Request&, httplib::Response&) {
    receiver.Stall(absl::Seconds(20));
  });
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_in_flight = 3;
  Collector collector;
  auto sender = MakeSender(options);

  for (int i = 0; i < 10; ++i) {
    sender->Send(Request(receiver.Url("/held"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(receiver.WaitForCount(3));
  EXPECT_EQ(sender->in_flight(), 10);
  EXPECT_EQ(receiver.count(), 3u);
  receiver.Release();

  ASSERT_TRUE(collector.WaitFor(10));
  EXPECT_EQ(receiver.count(), 10u);
  EXPECT_EQ(receiver.max_running(), 3);
  EXPECT_TRUE(PollUntil([&] { return sender->in_flight() == 0; }));
}

TEST(CurlSenderTest, StartsQueuedRequestsInFifoOrder) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_in_flight = 1;
  Collector collector;
  auto sender = MakeSender(options);

  for (int i = 0; i < 8; ++i) {
    sender->Send(Request(receiver.Url("/hook"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(collector.WaitFor(8));

  std::vector<std::string> bodies;
  for (const Seen& seen : receiver.seen()) bodies.push_back(seen.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"}));
  std::vector<int> done_order;
  for (const auto& [index, result] : collector.results()) done_order.push_back(index);
  EXPECT_EQ(done_order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(CurlSenderTest, RefusesPrivateAddressesNotAllowlisted) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  HttpSenderOptions options;
  options.allow_http = true;
  auto sender = MakeSender(options);
  std::string port = std::to_string(receiver.port());

  struct Case {
    std::string url;
    std::string named_address;
  };
  for (const Case& c : std::vector<Case>{
           {receiver.Url("/hook"), "127.0.0.1"},
           {receiver.Url("/hook", "localhost"), "127.0.0.1"},
           {"http://[::1]:" + port + "/hook", "::1"},
           {"http://[::ffff:127.0.0.1]:" + port + "/hook", "127.0.0.1"},
           {"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
           {"http://10.0.0.1:" + port + "/hook", "10.0.0.1"},
           {"http://0.0.0.0:" + port + "/hook", "0.0.0.0"},
       }) {
    SCOPED_TRACE(c.url);
    HttpResult result = SendAndWait(*sender, Request(c.url));
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS) << result.error_detail;
    EXPECT_EQ(result.status_code, 0);
    EXPECT_THAT(result.error_detail, HasSubstr(c.named_address));
    EXPECT_THAT(result.error_detail, HasSubstr("HOOKD_PRIVATE_ALLOWLIST"));
    // Refused before connecting, so an unroutable address fails at once.
    EXPECT_LT(result.duration, absl::Seconds(1));
  }
  EXPECT_EQ(receiver.count(), 0u);
  EXPECT_THAT(receiver.seen(), IsEmpty());
}

TEST(CurlSenderTest, ReachesAllowlistedLoopback) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());

  HttpResult by_address = SendAndWait(*sender, Request(receiver.Url("/hook")));
  // localhost may also resolve to ::1, which stays refused; curl then tries 127.0.0.1.
  HttpResult by_name = SendAndWait(*sender, Request(receiver.Url("/hook", "localhost")));

  EXPECT_EQ(by_address.error, v1::ATTEMPT_ERROR_NONE) << by_address.error_detail;
  EXPECT_EQ(by_address.status_code, 200);
  EXPECT_EQ(by_name.error, v1::ATTEMPT_ERROR_NONE) << by_name.error_detail;
  EXPECT_EQ(by_name.status_code, 200);
  EXPECT_EQ(receiver.count(), 2u);
}

TEST(CurlSenderTest, RefusesPlainHttpUnlessAllowed) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.allow_http = false;
  auto sender = MakeSender(options);

  for (const std::string& url : {receiver.Url("/hook"), std::string("HTTP://127.0.0.1:") +
                                                            std::to_string(receiver.port())}) {
    SCOPED_TRACE(url);
    HttpResult result = SendAndWait(*sender, Request(url));
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS);
    EXPECT_EQ(result.error_detail, "plain http is not allowed (HOOKD_ALLOW_HTTP)");
    EXPECT_EQ(result.status_code, 0);
  }
  EXPECT_EQ(receiver.count(), 0u);
}

TEST(CurlSenderTest, RejectsUnusableRequestsWithoutSending) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  std::string port = std::to_string(receiver.port());

  HttpResult ftp = SendAndWait(*sender, Request("ftp://127.0.0.1:" + port + "/"));
  EXPECT_EQ(ftp.error, v1::ATTEMPT_ERROR_INTERNAL);
  EXPECT_EQ(ftp.error_detail, "unsupported url scheme \"ftp\"");

  HttpResult no_scheme = SendAndWait(*sender, Request("127.0.0.1:" + port + "/hook"));
  EXPECT_EQ(no_scheme.error, v1::ATTEMPT_ERROR_INTERNAL);
  EXPECT_THAT(no_scheme.error_detail, HasSubstr("invalid url"));

  HttpRequest injected = Request(receiver.Url("/hook"));
  injected.headers.emplace_back("x-custom", "a\r\nx-injected: 1");
  HttpResult injection = SendAndWait(*sender, injected);
  EXPECT_EQ(injection.error, v1::ATTEMPT_ERROR_INTERNAL);
  EXPECT_EQ(injection.error_detail, "invalid request header \"x-custom\"");

  EXPECT_EQ(receiver.count(), 0u);
  // The sender still works after refusing.
  EXPECT_EQ(SendAndWait(*sender, Request(receiver.Url("/hook"))).status_code, 200);
}

TEST(CurlSenderTest, HttpsToPlainHttpEndpointIsTlsError) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.allow_http = false;
  auto sender = MakeSender(options);

  HttpResult result = SendAndWait(
      *sender, Request("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"));

  EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_TLS) << result.error_detail;
  EXPECT_EQ(result.status_code, 0);
  EXPECT_EQ(receiver.count(), 0u);
}

TEST(CurlSenderTest, DestructorCompletesEveryRequest) {
  Receiver receiver;
  receiver.Post("/held", [&](const httplib::Request&, httplib::Response&) {
    receiver.Stall(absl::Seconds(20));
  });
  receiver.Start();
  HttpSenderOptions options = LoopbackOptions();
  options.max_in_flight = 2;
  Collector collector;
  auto sender = MakeSender(options);
  for (int i = 0; i < 6; ++i) {
    sender->Send(Request(receiver.Url("/held"), std::to_string(i)), collector.Callback(i));
  }
  ASSERT_TRUE(receiver.WaitForCount(2));
  EXPECT_EQ(sender->in_flight(), 6);

  absl::Time start = absl::Now();
  sender.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  auto results = collector.results();
  ASSERT_EQ(results.size(), 6u);
  std::set<int> indexes;
  for (const auto& [index, result] : results) {
    indexes.insert(index);
    EXPECT_EQ(result.error, v1::ATTEMPT_ERROR_INTERNAL);
    EXPECT_EQ(result.error_detail, "sender shutting down");
    EXPECT_EQ(result.status_code, 0);
  }
  EXPECT_EQ(indexes, (std::set<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(collector.threads().count(std::this_thread::get_id()), 0u);
}

TEST(CurlSenderTest, DoneMaySendAgain) {
  Receiver receiver;
  receiver.Post("/hook", [](const httplib::Request&, httplib::Response&) {});
  receiver.Start();
  auto sender = MakeSender(LoopbackOptions());
  auto promise = std::make_shared<std::promise<HttpResult>>();
  std::future<HttpResult> second = promise->get_future();

  sender->Send(Request(receiver.Url("/hook"), "first"), [&, promise](HttpResult first) {
    EXPECT_EQ(first.status_code, 200);
    // A retry scheduled from the callback, as a worker does.
    sender->Send(Request(receiver.Url("/hook"), "second"),
                 [promise](HttpResult result) { promise->set_value(std::move(result)); });
  });

  ASSERT_EQ(second.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(second.get().status_code, 200);
  ASSERT_EQ(receiver.count(), 2u);
  EXPECT_EQ(receiver.seen()[1].body, "second");
}

}  // namespace
}  // namespace hookd::http
