#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hookd {

// Encrypts secrets at rest (AES-256-GCM) under one master key.
//
// Sealed format: 0x01 (version) | 12-byte random nonce | ciphertext | 16-byte tag. The version
// byte leaves room to change algorithm or key later without guessing at old rows.
//
// The associated data is authenticated but not stored: callers pass something that identifies
// the row (e.g. the app id) so that a ciphertext copied into another row fails to open.
//
// Thread-safe: every call uses its own cipher context.
class SecretBox {
 public:
  static constexpr uint8_t kVersion = 0x01;
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  // `master_key_base64` must be the base64 of exactly 32 bytes. Returns INVALID_ARGUMENT with a
  // message starting "master_key: " otherwise; the message never contains the key.
  static absl::StatusOr<std::unique_ptr<SecretBox>> Create(std::string_view master_key_base64);

  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

  // Returns the sealed bytes (see the format above), or INVALID_ARGUMENT when an input is too
  // large for OpenSSL, or INTERNAL when OpenSSL fails.
  absl::StatusOr<std::string> Seal(std::string_view plaintext,
                                   std::string_view associated_data) const;

  // Returns the plaintext, or DATA_LOSS when `sealed` is malformed, has an unknown version, or
  // does not authenticate (wrong key, tampered bytes, different associated data); INTERNAL when
  // OpenSSL fails.
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

 private:
  explicit SecretBox(const std::array<unsigned char, kKeySize>& key);

  std::array<unsigned char, kKeySize> key_;
};

}  // namespace hookd
