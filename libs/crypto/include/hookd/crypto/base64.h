#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hookd {

// Standard alphabet (RFC 4648 section 4) with "=" padding.
std::string Base64Encode(std::string_view bytes);

// Decodes the standard alphabet, with or without trailing padding. Returns INVALID_ARGUMENT when
// the text holds a character outside the alphabet (whitespace included), misplaced padding, or a
// length no encoding can produce. The message never echoes the input, which may be a secret.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

// Lowercase hexadecimal, two characters per byte.
std::string HexEncode(std::string_view bytes);

}  // namespace hookd
