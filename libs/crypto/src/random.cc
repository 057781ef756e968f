#include "hookd/crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace hookd {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    // RAND_bytes takes an int length.
    const int chunk = static_cast<int>(std::min<size_t>(n - done, INT_MAX));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), chunk) != 1) {
      std::fprintf(stderr, "hookd: RAND_bytes failed; refusing to continue without randomness\n");
      std::abort();
    }
    done += static_cast<size_t>(chunk);
  }
  return out;
}

}  // namespace hookd
