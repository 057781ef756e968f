#include "hookd/crypto/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/random.h"

namespace hookd {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

constexpr size_t kHeaderSize = 1 + SecretBox::kNonceSize;
constexpr size_t kOverhead = kHeaderSize + SecretBox::kTagSize;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<std::unique_ptr<SecretBox>> SecretBox::Create(std::string_view master_key_base64) {
  absl::StatusOr<std::string> decoded = Base64Decode(master_key_base64);
  if (!decoded.ok()) {
    // The decoder's message is generic, but keep ours fixed so nothing about the key can leak.
    return InvalidField("master_key", "must be base64");
  }
  if (decoded->size() != kKeySize) {
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return InvalidField("master_key", "must decode to exactly 32 bytes");
  }
  std::array<unsigned char, kKeySize> key;
  std::memcpy(key.data(), decoded->data(), kKeySize);
  OPENSSL_cleanse(decoded->data(), decoded->size());
  auto box = std::unique_ptr<SecretBox>(new SecretBox(key));
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

SecretBox::SecretBox(const std::array<unsigned char, kKeySize>& key) : key_(key) {}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

absl::StatusOr<std::string> SecretBox::Seal(std::string_view plaintext,
                                            std::string_view associated_data) const {
  // EVP lengths are ints.
  if (plaintext.size() > INT_MAX - kOverhead) {
    return InvalidField("plaintext", "too large");
  }
  if (associated_data.size() > INT_MAX) {
    return InvalidField("associated_data", "too large");
  }
  const std::string nonce = RandomBytes(kNonceSize);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::InternalError("secret_box: EVP_CIPHER_CTX_new failed");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), Bytes(nonce)) != 1) {
    return absl::InternalError("secret_box: cipher setup failed");
  }

  std::string sealed(kOverhead + plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = kVersion;
  std::memcpy(out + 1, nonce.data(), kNonceSize);

  int len = 0;
  if (!associated_data.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return absl::InternalError("secret_box: associated data failed");
  }
  unsigned char* ciphertext = out + kHeaderSize;
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ciphertext, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return absl::InternalError("secret_box: encryption failed");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext + written, &len) != 1) {
    return absl::InternalError("secret_box: encryption failed");
  }
  written += len;
  if (static_cast<size_t>(written) != plaintext.size()) {
    return absl::InternalError("secret_box: unexpected ciphertext length");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, ciphertext + written) != 1) {
    return absl::InternalError("secret_box: reading the tag failed");
  }
  return sealed;
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed,
                                            std::string_view associated_data) const {
  if (sealed.size() < kOverhead) {
    return absl::DataLossError("secret_box: sealed value is too short");
  }
  if (static_cast<unsigned char>(sealed[0]) != kVersion) {
    return absl::DataLossError("secret_box: unknown format version");
  }
  if (sealed.size() > INT_MAX || associated_data.size() > INT_MAX) {
    return absl::DataLossError("secret_box: sealed value is too large");
  }
  const std::string_view nonce = sealed.substr(1, kNonceSize);
  const std::string_view ciphertext =
      sealed.substr(kHeaderSize, sealed.size() - kHeaderSize - kTagSize);
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer.
  std::string tag(sealed.substr(sealed.size() - kTagSize));

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return absl::InternalError("secret_box: EVP_CIPHER_CTX_new failed");
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), Bytes(nonce)) != 1) {
    return absl::InternalError("secret_box: cipher setup failed");
  }

  int len = 0;
  if (!associated_data.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return absl::InternalError("secret_box: associated data failed");
  }
  std::string plaintext(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  int written = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), out, &len, Bytes(ciphertext),
                          static_cast<int>(ciphertext.size())) != 1) {
      return absl::InternalError("secret_box: decryption failed");
    }
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1) {
    return absl::InternalError("secret_box: setting the tag failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + written, &len) != 1) {
    // Unverified plaintext must not survive in memory we hand back to the allocator.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError(
        "secret_box: authentication failed (wrong key, tampered value, or wrong associated data)");
  }
  written += len;
  plaintext.resize(static_cast<size_t>(written));
  return plaintext;
}

}  // namespace hookd
