#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

// Standard Webhooks (https://www.standardwebhooks.com) signatures. A signing secret is
// "whsec_" + base64(key); signatures are computed with the decoded key bytes.

namespace hookd {

inline constexpr std::string_view kSigningSecretPrefix = "whsec_";

// A fresh secret: "whsec_" + base64 of 32 random bytes.
std::string NewSigningSecret();

// Returns the key bytes of a "whsec_..." secret, or INVALID_ARGUMENT (field "secret") when the
// prefix is missing, the rest is not base64, or the key is not 24..64 bytes long.
absl::StatusOr<std::string> DecodeSigningSecret(std::string_view secret);

// "v1," + base64(HMAC-SHA256(key, msg_id + "." + timestamp + "." + body)), `key` being the
// decoded secret bytes and `timestamp` in decimal Unix seconds.
std::string SignV1(std::string_view key, std::string_view msg_id, int64_t timestamp,
                   std::string_view body);

// True when any space-separated "v1,<base64>" entry of `signature_header` matches the expected
// signature. Several entries appear while a secret is being rotated; entries of other versions
// are ignored. Comparison is constant-time.
bool VerifyV1(std::string_view key, std::string_view msg_id, int64_t timestamp,
              std::string_view body, std::string_view signature_header);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);

// Compares in time that depends only on the lengths, so that a signature or token cannot be
// guessed byte by byte. False when the sizes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hookd
