#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"

// The few pieces of JSON text that request bodies are assembled from, so that a published
// payload can be embedded byte for byte instead of being parsed and re-serialized.

namespace hookd::dialect {

// Escapes `text` as the inside of a JSON string. UTF-8 passes through unchanged: receivers
// verify the signature over our exact bytes, so there is no reason to re-encode non-ASCII.
std::string JsonEscape(std::string_view text);

// RFC 3339 in UTC; milliseconds only when there are any, so whole-second times keep the short
// form that receivers (and the Standard Webhooks reference vectors) most often show.
std::string Rfc3339(absl::Time time);

}  // namespace hookd::dialect
