#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace hookd {

// Debian's Abseil build has its own absl::string_view, which does not convert from
// std::string_view: this passes one to absl::StrCat, StrSplit and friends without a copy.
inline absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace hookd
