#include "hookd/crypto/signing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/random.h"

namespace hookd {
namespace {

constexpr size_t kNewSecretSize = 32;
constexpr size_t kMinSecretSize = 24;
constexpr size_t kMaxSecretSize = 64;
constexpr std::string_view kV1Prefix = "v1,";

// Hashing in-memory buffers only fails on allocation failure or a broken OpenSSL install; neither
// is recoverable, and returning a wrong MAC would be worse.
[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "hookd: %s failed\n", what);
  std::abort();
}

}  // namespace

std::string NewSigningSecret() {
  return std::string(kSigningSecretPrefix) + Base64Encode(RandomBytes(kNewSecretSize));
}

absl::StatusOr<std::string> DecodeSigningSecret(std::string_view secret) {
  if (!secret.starts_with(kSigningSecretPrefix)) {
    return InvalidField("secret", "must start with whsec_");
  }
  secret.remove_prefix(kSigningSecretPrefix.size());
  absl::StatusOr<std::string> key = Base64Decode(secret);
  if (!key.ok()) return InvalidField("secret", "must be whsec_ followed by base64");
  if (key->size() < kMinSecretSize || key->size() > kMaxSecretSize) {
    return InvalidField("secret", "must decode to 24..64 bytes");
  }
  return key;
}

std::string SignV1(std::string_view key, std::string_view msg_id, int64_t timestamp,
                   std::string_view body) {
  // Debian's Abseil has its own string_view, so absl::StrCat does not take std::string_view.
  std::string content;
  const std::string decimal_timestamp = std::to_string(timestamp);
  content.reserve(msg_id.size() + decimal_timestamp.size() + body.size() + 2);
  content.append(msg_id).append(".").append(decimal_timestamp).append(".").append(body);
  return std::string(kV1Prefix) + Base64Encode(HmacSha256(key, content));
}

bool VerifyV1(std::string_view key, std::string_view msg_id, int64_t timestamp,
              std::string_view body, std::string_view signature_header) {
  const std::string expected = SignV1(key, msg_id, timestamp, body);
  bool matched = false;
  // Check every entry rather than stopping at the first match, so timing does not reveal which
  // entry matched.
  size_t pos = 0;
  while (pos <= signature_header.size()) {
    size_t end = signature_header.find(' ', pos);
    if (end == std::string_view::npos) end = signature_header.size();
    const std::string_view entry = signature_header.substr(pos, end - pos);
    if (entry.starts_with(kV1Prefix)) matched |= ConstantTimeEquals(entry, expected);
    pos = end + 1;
  }
  return matched;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  // HMAC() reads a null key as "no key given"; an empty string_view may have a null data().
  static constexpr char kEmpty = 0;
  const void* key_ptr = key.empty() ? &kEmpty : key.data();
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr) {
    DieOpenSsl("HMAC-SHA256");
  }
  out.resize(len);
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    DieOpenSsl("SHA-256");
  }
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace hookd
