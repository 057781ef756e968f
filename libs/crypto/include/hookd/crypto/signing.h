#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

// Standard Webhooks (https://www.standardwebhooks.com) signatures. A `v1` (HMAC) signing secret
// is "whsec_" + base64(key); signatures are computed with the decoded key bytes. A `v1a`
// (Ed25519) secret key is "whsk_" + base64(32-byte private seed), and receivers verify with the
// public key "whpk_" + base64(32-byte raw public key).

namespace hookd {

inline constexpr std::string_view kSigningSecretPrefix = "whsec_";
inline constexpr std::string_view kEd25519SecretPrefix = "whsk_";
inline constexpr std::string_view kEd25519PublicKeyPrefix = "whpk_";

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

// A fresh Ed25519 secret key: "whsk_" + base64 of a 32-byte random seed.
std::string NewEd25519SigningSecret();

// The public key "whpk_..." of a "whsk_..." secret, or INVALID_ARGUMENT (field "secret") when
// the prefix is missing or the rest is not the base64 of exactly 32 bytes.
absl::StatusOr<std::string> Ed25519PublicKey(std::string_view secret);

// "v1a," + base64(Ed25519 signature of msg_id + "." + timestamp + "." + body), `secret` being
// the "whsk_..." string and `timestamp` in decimal Unix seconds. INVALID_ARGUMENT (field
// "secret") as for Ed25519PublicKey.
absl::StatusOr<std::string> SignV1a(std::string_view secret, std::string_view msg_id,
                                    int64_t timestamp, std::string_view body);

// True when any space-separated "v1a,<base64>" entry of `signature_header` is a valid signature
// under `public_key` ("whpk_..."). Both kinds of entries appear while an app changes scheme;
// entries of other versions are ignored. False when the public key is malformed.
bool VerifyV1a(std::string_view public_key, std::string_view msg_id, int64_t timestamp,
               std::string_view body, std::string_view signature_header);

// Raw 64-byte Ed25519 (RFC 8032, pure) signature of `message` under the 32-byte private `seed`;
// INVALID_ARGUMENT (field "seed") when the seed is not 32 bytes.
absl::StatusOr<std::string> Ed25519SignRaw(std::string_view seed, std::string_view message);

// The hash functions an HMAC may use.
enum class HmacDigest { kSha256, kSha512, kSha1 };

// Raw HMAC of the concatenation of `parts` under `key`: signed content made of several pieces
// (a timestamp, the body) is hashed without being copied into one string.
std::string Hmac(HmacDigest digest, std::string_view key, std::span<const std::string_view> parts);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);

// Compares in time that depends only on the lengths, so that a signature or token cannot be
// guessed byte by byte. False when the sizes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hookd
