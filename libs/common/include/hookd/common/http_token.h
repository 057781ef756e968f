#pragma once

#include <algorithm>
#include <string_view>

namespace hookd {

// Whether `text` is an HTTP token (RFC 7230 section 3.2.6): one or more letters, digits and
// !#$%&'*+-.^_`|~, as a header name must be.
inline bool IsHttpToken(std::string_view text) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

}  // namespace hookd
