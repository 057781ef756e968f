// glibc's asynchronous getaddrinfo: the lookup runs on glibc's own thread, and gai_suspend
// bounds how long the caller waits for it (getaddrinfo itself may block for the resolver's
// full retry schedule).
#include <netdb.h>

#include <cstring>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "curl/curl.h"
#include "hookd/http/http_sender.h"

namespace hookd::http {
namespace {

std::string HostOf(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (handle == nullptr || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(),
                                        CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return "";
  }
  char* host = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr) {
    return "";
  }
  std::string out(host);
  curl_free(host);
  return out;
}

}  // namespace

bool HostIsUnknown(const std::string& url, absl::Duration timeout) {
  const std::string host = HostOf(url);
  if (host.empty() || host.front() == '[') return false;  // an IPv6 literal always "resolves"
  // Owned by glibc until the request is done; leaked on timeout, as gai_cancel cannot stop a
  // running lookup and freeing it then would be a use after free.
  auto* request = new gaicb();
  auto* hints = new addrinfo();
  std::memset(request, 0, sizeof(*request));
  hints->ai_family = AF_UNSPEC;
  hints->ai_socktype = SOCK_STREAM;
  auto* name = new std::string(host);
  request->ar_name = name->c_str();
  request->ar_request = hints;
  gaicb* list[] = {request};
  if (getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr) != 0) {
    delete name;
    delete hints;
    delete request;
    return false;
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = gai_error(request);
  while (status == EAI_INPROGRESS && absl::Now() < deadline) {
    const timespec wait = absl::ToTimespec(deadline - absl::Now());
    gai_suspend(list, 1, &wait);
    status = gai_error(request);
  }
  if (status == EAI_INPROGRESS && gai_cancel(request) != EAI_CANCELED) return false;
  if (request->ar_result != nullptr) freeaddrinfo(request->ar_result);
  delete name;
  delete hints;
  delete request;
  return status == EAI_NONAME;
}

}  // namespace hookd::http
