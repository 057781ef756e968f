#include "hookd/common/ids.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>

#include "absl/time/clock.h"
#include "openssl/rand.h"

namespace hookd {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Adds one to the 80-bit big-endian number; wraps to zero on overflow, which needs 2^80 ids in
// one millisecond.
void Increment(std::array<uint8_t, 10>& bytes) {
  for (int i = 9; i >= 0; --i) {
    if (++bytes[i] != 0) return;
  }
}

std::string Encode(uint64_t ms, const std::array<uint8_t, 10>& random) {
  // 128 bits: 48 time + 80 random, written as 26 base32 digits (the top 2 bits are zero).
  std::array<uint8_t, 16> bits{};
  for (int i = 0; i < 6; ++i) bits[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) bits[6 + i] = random[i];
  std::string out(26, '0');
  for (int i = 25, bit = 0; i >= 0; --i, bit += 5) {
    // Collect the 5 bits starting `bit` bits from the least significant end.
    int value = 0;
    for (int b = 0; b < 5; ++b) {
      int pos = bit + b;
      if (pos >= 128) break;
      int byte = 15 - pos / 8;
      if (bits[byte] & (1 << (pos % 8))) value |= 1 << b;
    }
    out[i] = kCrockford[value];
  }
  return out;
}

}  // namespace

std::string IdGenerator::Next(std::string_view prefix, absl::Time time) {
  uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(time));
  std::array<uint8_t, 10> random;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ms <= last_ms_) {
      ms = last_ms_;
      Increment(last_random_);
    } else {
      last_ms_ = ms;
      if (RAND_bytes(last_random_.data(), last_random_.size()) != 1) {
        // OpenSSL's generator failing is not recoverable here; fall back to the OS source.
        std::random_device rd;
        for (auto& b : last_random_) b = static_cast<uint8_t>(rd());
      }
    }
    random = last_random_;
  }
  std::string id(prefix);
  id.push_back('_');
  return id + Encode(ms, random);
}

std::string IdLowerBoundAt(std::string_view prefix, absl::Time time) {
  int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(time));
  std::string id(prefix);
  id.push_back('_');
  return id + Encode(static_cast<uint64_t>(ms), std::array<uint8_t, 10>{});
}

std::optional<absl::Time> IdTime(std::string_view id) {
  const size_t underscore = id.find('_');
  if (underscore == std::string_view::npos || id.size() < underscore + 11) return std::nullopt;
  uint64_t ms = 0;
  for (char c : id.substr(underscore + 1, 10)) {
    const char* digit = std::strchr(kCrockford, c);
    if (c == '\0' || digit == nullptr) return std::nullopt;
    ms = ms * 32 + static_cast<uint64_t>(digit - kCrockford);
  }
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

std::string NewId(std::string_view prefix) {
  static IdGenerator* generator = new IdGenerator();
  return generator->Next(prefix, absl::Now());
}

bool IsValidId(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 1 + 26) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  std::string_view ulid = id.substr(prefix.size() + 1);
  if (ulid[0] > '7') return false;  // 128 bits leave 2 spare bits in the first digit.
  for (char c : ulid) {
    if (std::string_view(kCrockford).find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace hookd
