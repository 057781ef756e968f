#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hookd/common/absl_view.h"
#include "hookd/http/http_sender.h"
#include "hookd/http/ip_policy.h"

namespace hookd::http {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;
using CurlStringPtr = std::unique_ptr<char, CurlFreeDeleter>;

constexpr char kShuttingDown[] = "sender shutting down";
// Response header bytes read at most: hookd needs a few headers (Retry-After) and keeps none in
// the log, so a larger header section is an endpoint misbehaving, not data to buffer.
constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;
constexpr char kPlainHttpRefused[] = "plain http is not allowed (HOOKD_ALLOW_HTTP)";
// Bounds how long a slow DNS answer or SYN can eat into the request timeout before any byte of
// the request is sent.
constexpr absl::Duration kMaxConnectTimeout = absl::Seconds(10);
// epoll_wait returns earlier for curl's own timers and for wakeups; this only bounds how long a
// lost wakeup could go unnoticed.
constexpr int kPollTimeoutMs = 1000;
// Socket events taken per epoll_wait.
constexpr int kMaxEvents = 256;

struct FdCloser {
  void operator()(int* fd) const {
    close(*fd);
    delete fd;
  }
};
using FdPtr = std::unique_ptr<int, FdCloser>;

absl::Status InitCurlOnce() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

// The address curl is about to connect to, in the form the IP policy decides on.
std::optional<IpAddress> ToIpAddress(const curl_sockaddr& address) {
  if (address.family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, &address.addr, sizeof(v4));
    uint8_t b[4];
    std::memcpy(b, &v4.sin_addr.s_addr, sizeof(b));
    return IpAddress::V4(b[0], b[1], b[2], b[3]);
  }
  if (address.family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, &address.addr, sizeof(v6));
    // Going through the text form lets Parse fold IPv4-mapped addresses into their IPv4 form,
    // so ::ffff:127.0.0.1 meets the same rules as 127.0.0.1.
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text)) == nullptr) return std::nullopt;
    return IpAddress::Parse(text);
  }
  return std::nullopt;
}

v1::AttemptError MapCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return v1::ATTEMPT_ERROR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
      return v1::ATTEMPT_ERROR_CONNECTION;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return v1::ATTEMPT_ERROR_TLS;
    default:
      return v1::ATTEMPT_ERROR_INTERNAL;
  }
}

class CurlSender;

// The scheme and authority of `url`, lower-cased ("https://hooks.example.com:8443"): requests
// with equal keys share one endpoint host's limit, as curl's connection pool shares connections
// by host and port. A url without "://" is its own key (Configure refuses it anyway).
std::string HostKey(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t end = url.find_first_of("/?#", scheme_end + 3);
  return absl::AsciiStrToLower(AbslView(url.substr(0, end)));
}

// One request from Send until its `done` has run.
struct Transfer {
  HttpRequest request;
  // HostKey(request.url): the requests that share a host's limit.
  std::string host;
  // Whether the transfer counts against its host's limit (set when it started).
  bool counted_for_host = false;
  std::function<void(HttpResult)> done;
  HttpResult result;
  // Set while the transfer runs; returned to the sender's free list afterwards.
  CurlEasyPtr easy;
  // curl keeps a pointer to the list, so it lives as long as the transfer.
  CurlSlistPtr header_list;
  const std::vector<IpNetwork>* allowlist = nullptr;
  // Addresses the connect guard refused, to name them when the transfer fails.
  std::vector<std::string> refused_addresses;
  // The body outgrew max_response_bytes and the write callback ended the transfer.
  bool body_capped = false;
  // Bytes of response header lines so far; past kMaxResponseHeaderBytes the header callback
  // ends the transfer and sets headers_too_large.
  size_t header_bytes = 0;
  bool headers_too_large = false;
  size_t max_response_bytes = 0;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

// Why a transfer cannot start: the attempt's error and its detail.
struct Refusal {
  v1::AttemptError error;
  std::string detail;
};

// Checks `url` before any DNS lookup or connection, rather than leaving it to curl: plain http
// is refused (FORBIDDEN_ADDRESS) unless allowed, and a url without a scheme, which curl would
// guess to be http, is refused too. nullopt when it may be requested.
std::optional<Refusal> CheckUrl(const std::string& url, bool allow_http) {
  auto internal = [](std::string detail) {
    return Refusal{.error = v1::ATTEMPT_ERROR_INTERNAL, .detail = std::move(detail)};
  };
  CurlUrlPtr parsed(curl_url());
  if (parsed == nullptr) return internal("curl_url failed");
  if (CURLUcode code = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0);
      code != CURLUE_OK) {
    return internal(absl::StrCat("invalid url: ", curl_url_strerror(code)));
  }
  char* raw_scheme = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw_scheme, 0) != CURLUE_OK) {
    return internal("invalid url: no scheme");
  }
  CurlStringPtr scheme(raw_scheme);
  absl::string_view scheme_view(scheme.get());
  if (scheme_view == "http") {
    if (!allow_http) {
      return Refusal{.error = v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS, .detail = kPlainHttpRefused};
    }
  } else if (scheme_view != "https") {
    return internal(absl::StrCat("unsupported url scheme \"", scheme_view, "\""));
  }
  return std::nullopt;
}

// The request's headers as curl's list, "Expect:" last (curl adds "Expect: 100-continue" for
// large bodies; most webhook receivers never answer it, so it would only add a round trip).
// INTERNAL naming a header without a name, with a colon in its name, or spanning lines (it would
// smuggle headers of its own into the request).
absl::StatusOr<CurlSlistPtr> HeaderList(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  constexpr std::string_view kLineBreaks("\r\n\0", 3);
  auto bad = [&](const std::string& text) { return text.find_first_of(kLineBreaks) != text.npos; };
  CurlSlistPtr list;
  auto append = [&list](const std::string& line) {
    curl_slist* appended = curl_slist_append(list.get(), line.c_str());
    if (appended == nullptr) return false;  // `list` is left whole, and freed by its owner
    (void)list.release();
    list.reset(appended);
    return true;
  };
  for (const auto& [name, value] : headers) {
    if (name.empty() || bad(name) || bad(value) || name.find(':') != std::string::npos) {
      return absl::InternalError(
          absl::StrCat("invalid request header \"", absl::CEscape(name), "\""));
    }
    // "Name:" would tell curl to drop the header; "Name;" sends it with an empty value.
    if (!append(value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value))) {
      return absl::InternalError("curl_slist_append failed");
    }
  }
  if (!append("Expect:")) return absl::InternalError("curl_slist_append failed");
  return list;
}

// curl calls this for every connection it opens, after DNS resolution, so the policy sees the
// address actually used rather than the host name in the url.
curl_socket_t OpenSocketGuard(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* transfer = static_cast<Transfer*>(clientp);
  std::optional<IpAddress> ip = ToIpAddress(*address);
  if (!ip.has_value()) {
    transfer->refused_addresses.push_back(absl::StrCat("address family ", address->family));
    return CURL_SOCKET_BAD;
  }
  if (!IsAllowedAddress(*ip, *transfer->allowlist)) {
    std::string text = ip->ToString();
    auto& refused = transfer->refused_addresses;
    if (std::find(refused.begin(), refused.end(), text) == refused.end()) refused.push_back(text);
    return CURL_SOCKET_BAD;
  }
  // CLOEXEC keeps endpoint connections out of any process a service might spawn.
  int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

size_t WriteBody(char* data, size_t size, size_t count, void* userdata) {
  auto* transfer = static_cast<Transfer*>(userdata);
  size_t total = size * count;
  std::string& body = transfer->result.body_excerpt;
  size_t room = transfer->max_response_bytes - body.size();
  if (total > room) {
    // Reading on would spend the worker's bandwidth and the app's timeout on bytes nobody
    // keeps; the status is already known, so the transfer ends here (CURLE_WRITE_ERROR).
    body.append(data, room);
    transfer->body_capped = true;
    return 0;
  }
  body.append(data, total);
  return total;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* userdata) {
  auto* transfer = static_cast<Transfer*>(userdata);
  size_t total = size * count;
  transfer->header_bytes += total;
  if (transfer->header_bytes > kMaxResponseHeaderBytes) {
    transfer->headers_too_large = true;
    return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
  }
  std::string_view line(data, total);
  // A status line starts a new response (after a 1xx), whose headers replace the previous ones.
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    transfer->result.headers.clear();
    return total;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return total;
  absl::string_view name(line.data(), colon);
  absl::string_view value(line.data() + colon + 1, line.size() - colon - 1);
  transfer->result.headers.emplace_back(absl::AsciiStrToLower(name),
                                        std::string(absl::StripAsciiWhitespace(value)));
  return total;
}

class CurlSender final : public HttpSender {
 public:
  static absl::StatusOr<std::unique_ptr<HttpSender>> Create(HttpSenderOptions options) {
    if (absl::Status status = InitCurlOnce(); !status.ok()) return status;
    CurlMultiPtr multi(curl_multi_init());
    if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
    FdPtr epoll(new int(epoll_fd));
    int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
    FdPtr wake(new int(wake_fd));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &event) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl(eventfd): ", strerror(errno)));
    }
    CURLMcode code =
        curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS,
                          static_cast<long>(std::max(options.max_idle_connections, 1)));
    if (code != CURLM_OK) {
      return absl::InternalError(
          absl::StrCat("curl_multi_setopt(MAXCONNECTS): ", curl_multi_strerror(code)));
    }
    // The per-host limit is the sender's own (StartQueued), not CURLMOPT_MAX_HOST_CONNECTIONS:
    // curl would queue the surplus inside the transfer, where the wait counts against the
    // request's timeout.
    return std::unique_ptr<HttpSender>(
        new CurlSender(std::move(options), std::move(multi), std::move(epoll), std::move(wake)));
  }

  ~CurlSender() override {
    {
      std::lock_guard lock(mu_);
      accepting_ = false;
    }
    Wake();
    thread_.join();
    // The multi handle goes before the easy handles it might still reference in its caches.
    multi_.reset();
  }

  void Send(HttpRequest request, std::function<void(HttpResult)> done) override {
    auto transfer = std::make_unique<Transfer>();
    transfer->host = HostKey(request.url);
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    bool wake;
    {
      std::lock_guard lock(mu_);
      if (accepting_) {
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        // One wakeup per batch: until the multi thread takes the queue again, a wakeup is
        // pending. (Whether the queue was empty says nothing: it may hold only requests whose
        // host is at its limit, and this one's host may have room.)
        wake = !wake_pending_;
        wake_pending_ = true;
        queue_.push_back(std::move(transfer));
        transfer = nullptr;
      }
    }
    if (transfer != nullptr) {
      transfer->result.start_time = absl::Now();
      Fail(*transfer, v1::ATTEMPT_ERROR_INTERNAL, kShuttingDown);
      transfer->done(std::move(transfer->result));
      return;
    }
    if (wake) Wake();
  }

  int in_flight() const override { return in_flight_.load(std::memory_order_relaxed); }

 private:
  CurlSender(HttpSenderOptions options, CurlMultiPtr multi, FdPtr epoll, FdPtr wake)
      : options_(std::move(options)),
        multi_(std::move(multi)),
        epoll_(std::move(epoll)),
        wake_(std::move(wake)) {
    options_.max_in_flight = std::max(options_.max_in_flight, 1);
    // The event-driven interface: curl tells which sockets to watch and when its next timeout
    // is, and only the transfers whose sockets are ready are processed. curl_multi_perform
    // instead walks (and polls) every running transfer on each call, which at hundreds of
    // keep-alive transfers cost more than the requests themselves.
    curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlSender::OnSocket);
    curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, static_cast<void*>(this));
    curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlSender::OnTimer);
    curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, static_cast<void*>(this));
    thread_ = std::thread([this] { Run(); });
  }

  void Wake() {
    uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: a wakeup is pending anyway.
    [[maybe_unused]] ssize_t written = write(*wake_, &one, sizeof(one));
  }

  // CURLMOPT_SOCKETFUNCTION: watch `socket` for what curl waits for.
  static int OnSocket(CURL*, curl_socket_t socket, int what, void* self_ptr, void*) {
    auto* self = static_cast<CurlSender*>(self_ptr);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(*self->epoll_, EPOLL_CTL_DEL, socket, nullptr);
      return 0;
    }
    epoll_event event{};
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    event.data.fd = socket;
    // curl may announce a socket again with new interests; a closed socket leaves epoll by
    // itself, so its number can come back as a new one.
    if (epoll_ctl(*self->epoll_, EPOLL_CTL_MOD, socket, &event) != 0 && errno == ENOENT) {
      epoll_ctl(*self->epoll_, EPOLL_CTL_ADD, socket, &event);
    }
    return 0;
  }

  // CURLMOPT_TIMERFUNCTION: curl wants CURL_SOCKET_TIMEOUT in `timeout_ms` (-1: no timer).
  static int OnTimer(CURLM*, long timeout_ms, void* self_ptr) {
    auto* self = static_cast<CurlSender*>(self_ptr);
    self->timer_due_ =
        timeout_ms < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Milliseconds(timeout_ms);
    return 0;
  }

  // Runs curl's timeout handling when its timer is due.
  void RunDueTimer() {
    if (absl::Now() < timer_due_) return;
    timer_due_ = absl::InfiniteFuture();
    int running = 0;
    curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);
  }

  static void Fail(Transfer& transfer, v1::AttemptError error, std::string detail) {
    transfer.result.status_code = 0;
    transfer.result.error = error;
    transfer.result.error_detail = std::move(detail);
  }

  void Run() {
    epoll_event events[kMaxEvents];
    while (true) {
      if (!StartQueued()) break;
      // New transfers set a timer of 0 ms: that is when curl starts them.
      RunDueTimer();
      // Finished transfers free slots that queued requests can take without waiting.
      if (CollectFinished() > 0) continue;
      int wait_ms = kPollTimeoutMs;
      if (timer_due_ != absl::InfiniteFuture()) {
        wait_ms = static_cast<int>(std::clamp<int64_t>(
            absl::ToInt64Milliseconds(absl::Ceil(timer_due_ - absl::Now(), absl::Milliseconds(1))),
            0, kPollTimeoutMs));
      }
      int ready = epoll_wait(*epoll_, events, kMaxEvents, wait_ms);
      for (int i = 0; i < ready; ++i) {
        int fd = events[i].data.fd;
        if (fd == *wake_) {
          uint64_t count = 0;
          [[maybe_unused]] ssize_t got = read(*wake_, &count, sizeof(count));
          continue;
        }
        int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        int running = 0;
        curl_multi_socket_action(multi_.get(), fd, flags, &running);
      }
      CollectFinished();
    }
    Shutdown();
  }

  // Moves queued requests into free slots. Returns false once the sender is being destroyed.
  bool StartQueued() {
    std::vector<std::unique_ptr<Transfer>> batch;
    {
      std::lock_guard lock(mu_);
      if (!accepting_) return false;
      wake_pending_ = false;  // a Send from now on wakes the thread again
      const int limit = options_.max_connections_per_host;
      // In order, skipping requests whose host is at its limit: they keep their place.
      for (auto it = queue_.begin();
           it != queue_.end() &&
           static_cast<int>(active_.size() + batch.size()) < options_.max_in_flight;) {
        if (limit > 0) {
          int& running = host_running_[(*it)->host];
          if (running >= limit) {
            ++it;
            continue;
          }
          ++running;
          (*it)->counted_for_host = true;
        }
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
    }
    for (auto& transfer : batch) Start(std::move(transfer));
    return true;
  }

  // Ends a transfer's claim on its host's share (multi thread).
  void ReleaseHost(Transfer& transfer) {
    if (!transfer.counted_for_host) return;
    transfer.counted_for_host = false;
    auto it = host_running_.find(transfer.host);
    if (it != host_running_.end() && --it->second <= 0) host_running_.erase(it);
  }

  void Start(std::unique_ptr<Transfer> transfer) {
    transfer->result.start_time = absl::Now();
    if (!Configure(*transfer)) {
      Complete(std::move(transfer));
      return;
    }
    CURL* easy = transfer->easy.get();
    CURLMcode code = curl_multi_add_handle(multi_.get(), easy);
    if (code != CURLM_OK) {
      Fail(*transfer, v1::ATTEMPT_ERROR_INTERNAL,
           absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(code)));
      Complete(std::move(transfer));
      return;
    }
    active_.emplace(easy, std::move(transfer));
  }

  // Checks the request and sets up an easy handle for it. Returns true when it is ready to add
  // to the multi handle, else false with the reason in transfer.result.
  bool Configure(Transfer& transfer) {
    if (std::optional<Refusal> refusal = CheckUrl(transfer.request.url, options_.allow_http)) {
      Fail(transfer, refusal->error, std::move(refusal->detail));
      return false;
    }
    absl::StatusOr<CurlSlistPtr> headers = HeaderList(transfer.request.headers);
    if (!headers.ok()) {
      Fail(transfer, v1::ATTEMPT_ERROR_INTERNAL, std::string(headers.status().message()));
      return false;
    }
    transfer.header_list = *std::move(headers);
    if (!free_easy_.empty()) {
      transfer.easy = std::move(free_easy_.back());
      free_easy_.pop_back();
    } else {
      transfer.easy.reset(curl_easy_init());
      if (transfer.easy == nullptr) {
        Fail(transfer, v1::ATTEMPT_ERROR_INTERNAL, "curl_easy_init failed");
        return false;
      }
    }
    transfer.allowlist = &options_.private_allowlist;
    transfer.max_response_bytes = options_.max_response_bytes;
    if (CURLcode code = SetOptions(transfer); code != CURLE_OK) {
      Fail(transfer, v1::ATTEMPT_ERROR_INTERNAL,
           absl::StrCat("curl_easy_setopt: ", curl_easy_strerror(code)));
      return false;
    }
    return true;
  }

  // Sets every option of `transfer`'s easy handle; the first failure's code.
  CURLcode SetOptions(Transfer& transfer) {
    const HttpRequest& request = transfer.request;
    // curl treats 0 as "no timeout", which an endpoint could exploit to hold a slot forever.
    int64_t timeout_ms = std::max<int64_t>(absl::ToInt64Milliseconds(request.timeout), 1);
    int64_t connect_timeout_ms =
        std::min(timeout_ms, absl::ToInt64Milliseconds(kMaxConnectTimeout));

    CURL* easy = transfer.easy.get();
    CURLcode code = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (code == CURLE_OK) code = curl_easy_setopt(easy, option, value);
    };
    set(CURLOPT_PRIVATE, static_cast<void*>(&transfer));
    set(CURLOPT_ERRORBUFFER, transfer.error_buffer);
    set(CURLOPT_URL, request.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    set(CURLOPT_PROTOCOLS_STR, options_.allow_http ? "http,https" : "https");
#else
    set(CURLOPT_PROTOCOLS,
        options_.allow_http ? long{CURLPROTO_HTTP | CURLPROTO_HTTPS} : long{CURLPROTO_HTTPS});
#endif
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.data());
    set(CURLOPT_HTTPHEADER, transfer.header_list.get());
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms));
    set(CURLOPT_FOLLOWLOCATION, 0L);
    // Timeouts must not rely on SIGALRM in a multithreaded process.
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    // An http_proxy/https_proxy variable would make curl connect to the proxy, and the guard
    // would then judge the proxy's address instead of the endpoint's.
    set(CURLOPT_PROXY, "");
    set(CURLOPT_OPENSOCKETFUNCTION, &OpenSocketGuard);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&transfer));
    set(CURLOPT_WRITEFUNCTION, &WriteBody);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    set(CURLOPT_HEADERFUNCTION, &CollectHeader);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
    return code;
  }

  // Completes every transfer curl reports done. Returns how many.
  int CollectFinished() {
    int finished = 0;
    int remaining = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_.get(), &remaining)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      CURLcode code = message->data.result;
      auto it = active_.find(easy);
      if (it == active_.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      active_.erase(it);
      curl_multi_remove_handle(multi_.get(), easy);
      SetOutcome(*transfer, code);
      Complete(std::move(transfer));
      ++finished;
    }
    return finished;
  }

  static void SetOutcome(Transfer& transfer, CURLcode code) {
    HttpResult& result = transfer.result;
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.body_capped)) {
      long status = 0;
      curl_easy_getinfo(transfer.easy.get(), CURLINFO_RESPONSE_CODE, &status);
      result.status_code = static_cast<int>(status);
      result.error = v1::ATTEMPT_ERROR_NONE;
      result.error_detail.clear();
      return;
    }
    // Partial headers and body of a failed transfer would describe a response that never
    // completed.
    result.headers.clear();
    result.body_excerpt.clear();
    // Ours (CollectHeader), or curl's own limit of 100 KB per header line (which it reports as
    // CURLE_OUT_OF_MEMORY, though nothing ran out).
    if (transfer.headers_too_large || (code == CURLE_OUT_OF_MEMORY && transfer.header_bytes > 0)) {
      Fail(transfer, v1::ATTEMPT_ERROR_RESPONSE_TOO_LARGE,
           absl::StrCat("response headers larger than ", kMaxResponseHeaderBytes / 1024, " KiB"));
      return;
    }
    if (code == CURLE_COULDNT_CONNECT && !transfer.refused_addresses.empty()) {
      Fail(transfer, v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS,
           absl::StrCat("endpoint resolved to ", absl::StrJoin(transfer.refused_addresses, ", "),
                        ", a private, loopback or metadata address not in "
                        "HOOKD_PRIVATE_ALLOWLIST"));
      return;
    }
    std::string detail = curl_easy_strerror(code);
    if (transfer.error_buffer[0] != '\0' && detail != transfer.error_buffer) {
      absl::StrAppend(&detail, ": ", transfer.error_buffer);
    }
    if (code == CURLE_COULDNT_RESOLVE_HOST) {
      transfer.result.cause = HttpResult::Cause::kHostNotResolved;
    } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_INVALIDCERTSTATUS ||
               code == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
      transfer.result.cause = HttpResult::Cause::kCertificateRejected;
    }
    Fail(transfer, MapCurlCode(code), std::move(detail));
  }

  // Recycles the easy handle and runs `done` (outside any lock, so it may call Send).
  void Complete(std::unique_ptr<Transfer> transfer) {
    transfer->result.duration = absl::Now() - transfer->result.start_time;
    ReleaseHost(*transfer);
    if (transfer->easy != nullptr) {
      // Reset keeps the handle's allocations and the multi handle keeps the connections, so the
      // next request to the same host skips the TCP and TLS handshakes.
      curl_easy_reset(transfer->easy.get());
      free_easy_.push_back(std::move(transfer->easy));
    }
    transfer->done(std::move(transfer->result));
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
  }

  void Shutdown() {
    while (!active_.empty()) {
      auto it = active_.begin();
      CURL* easy = it->first;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      active_.erase(it);
      curl_multi_remove_handle(multi_.get(), easy);
      transfer->result.headers.clear();
      transfer->result.body_excerpt.clear();
      Fail(*transfer, v1::ATTEMPT_ERROR_INTERNAL, kShuttingDown);
      Complete(std::move(transfer));
    }
    // accepting_ is false, so no Send can add to the queue any more.
    std::deque<std::unique_ptr<Transfer>> queued;
    {
      std::lock_guard lock(mu_);
      queued.swap(queue_);
    }
    for (auto& transfer : queued) {
      transfer->result.start_time = absl::Now();
      Fail(*transfer, v1::ATTEMPT_ERROR_INTERNAL, kShuttingDown);
      Complete(std::move(transfer));
    }
  }

  HttpSenderOptions options_;
  CurlMultiPtr multi_;
  FdPtr epoll_;  // the sockets curl asked to watch, and wake_
  FdPtr wake_;   // an eventfd: Send and the destructor wake the multi thread
  // When curl wants CURL_SOCKET_TIMEOUT; touched only by the multi thread (curl calls OnTimer
  // from inside calls that thread makes).
  absl::Time timer_due_ = absl::InfiniteFuture();

  // A std::mutex rather than absl::Mutex: the system Abseil is not built for ThreadSanitizer,
  // which would then not see this lock.
  std::mutex mu_;
  bool accepting_ = true;                        // guarded by mu_
  bool wake_pending_ = false;                    // guarded by mu_: Send woke the thread
  std::deque<std::unique_ptr<Transfer>> queue_;  // guarded by mu_
  std::atomic<int> in_flight_{0};

  // Touched only by the multi thread.
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active_;
  // Requests running per HostKey, when max_connections_per_host limits them. Read and written
  // by the multi thread only (StartQueued holds mu_ for the queue, not for this).
  std::unordered_map<std::string, int> host_running_;
  std::vector<CurlEasyPtr> free_easy_;

  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpSender>> NewCurlSender(HttpSenderOptions options) {
  return CurlSender::Create(std::move(options));
}

}  // namespace hookd::http
