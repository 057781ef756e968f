#pragma once

#include <string>
#include <string_view>

namespace hookd {

// One step of a JSON pointer (RFC 6901) to member `key`: "/" and the key with `~` written `~0`
// and `/` written `~1`. Error messages name places in payloads, templates and schemas so.
inline std::string JsonPointerStep(std::string_view key) {
  std::string step = "/";
  for (char c : key) {
    if (c == '~') {
      step += "~0";
    } else if (c == '/') {
      step += "~1";
    } else {
      step += c;
    }
  }
  return step;
}

}  // namespace hookd
