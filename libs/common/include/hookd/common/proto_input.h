#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace hookd {

// INVALID_ARGUMENT naming the field ("app.name", "events[2].payload", "app.headers[X-Key]") of
// the first string in `message` (nested messages, repeated fields and maps included) that holds
// a NUL character. Postgres text cannot store one, and libpqxx would cut the value there, so a
// request holding one is refused before any work rather than stored cut.
absl::Status RefuseNulCharacters(const google::protobuf::Message& message);

}  // namespace hookd
