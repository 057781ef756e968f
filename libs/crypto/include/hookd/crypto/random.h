#pragma once

#include <cstddef>
#include <string>

namespace hookd {

// `n` bytes from the OpenSSL CSPRNG. Aborts the process if the generator fails: handing out
// predictable keys or nonces would be worse than stopping, and on Linux it does not fail in
// practice.
std::string RandomBytes(size_t n);

}  // namespace hookd
