#include "hookd/crypto/signing.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

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
constexpr size_t kEd25519KeySize = 32;
constexpr size_t kEd25519SignatureSize = 64;
constexpr std::string_view kV1aPrefix = "v1a,";

struct PkeyDeleter {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Hashing or signing in-memory buffers with a well-formed key only fails on allocation failure or
// a broken OpenSSL install; neither is recoverable, and returning a wrong MAC or signature would
// be worse.
[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "hookd: %s failed\n", what);
  std::abort();
}

// EVP calls may read a null pointer as "no data" whatever the length, and an empty string_view
// may have a null data().
const unsigned char* Bytes(std::string_view s) {
  static constexpr unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// "msg_id.timestamp.body", the content that both v1 and v1a sign.
std::string SignedContent(std::string_view msg_id, int64_t timestamp, std::string_view body) {
  // Debian's Abseil has its own string_view, so absl::StrCat does not take std::string_view.
  std::string content;
  const std::string decimal_timestamp = std::to_string(timestamp);
  content.reserve(msg_id.size() + decimal_timestamp.size() + body.size() + 2);
  content.append(msg_id).append(".").append(decimal_timestamp).append(".").append(body);
  return content;
}

// The space-separated entries of a signature header, empty ones included.
std::vector<std::string_view> HeaderEntries(std::string_view header) {
  std::vector<std::string_view> entries;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(' ', pos);
    if (end == std::string_view::npos) end = header.size();
    entries.push_back(header.substr(pos, end - pos));
    pos = end + 1;
  }
  return entries;
}

// The 32-byte seed of a "whsk_..." secret. The messages are fixed so that no part of the secret
// can reach a log line.
absl::StatusOr<std::string> DecodeEd25519Secret(std::string_view secret) {
  if (!secret.starts_with(kEd25519SecretPrefix)) {
    return InvalidField("secret", "must start with whsk_");
  }
  secret.remove_prefix(kEd25519SecretPrefix.size());
  absl::StatusOr<std::string> seed = Base64Decode(secret);
  if (!seed.ok()) return InvalidField("secret", "must be whsk_ followed by base64");
  if (seed->size() != kEd25519KeySize) {
    OPENSSL_cleanse(seed->data(), seed->size());
    return InvalidField("secret", "must decode to exactly 32 bytes");
  }
  return seed;
}

// Any 32 bytes are a valid Ed25519 seed, so this fails only like hashing does (see DieOpenSsl).
PkeyPtr Ed25519PrivateKey(std::string_view seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size()));
  if (key == nullptr) DieOpenSsl("Ed25519 key setup");
  return key;
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
  return std::string(kV1Prefix) +
         Base64Encode(HmacSha256(key, SignedContent(msg_id, timestamp, body)));
}

bool VerifyV1(std::string_view key, std::string_view msg_id, int64_t timestamp,
              std::string_view body, std::string_view signature_header) {
  const std::string expected = SignV1(key, msg_id, timestamp, body);
  bool matched = false;
  // Check every entry rather than stopping at the first match, so timing does not reveal which
  // entry matched.
  for (const std::string_view entry : HeaderEntries(signature_header)) {
    if (entry.starts_with(kV1Prefix)) matched |= ConstantTimeEquals(entry, expected);
  }
  return matched;
}

std::string NewEd25519SigningSecret() {
  return std::string(kEd25519SecretPrefix) + Base64Encode(RandomBytes(kEd25519KeySize));
}

absl::StatusOr<std::string> Ed25519PublicKey(std::string_view secret) {
  absl::StatusOr<std::string> seed = DecodeEd25519Secret(secret);
  if (!seed.ok()) return seed.status();
  const PkeyPtr key = Ed25519PrivateKey(*seed);
  // EVP_PKEY keeps its own copy; ours need not outlive this call.
  OPENSSL_cleanse(seed->data(), seed->size());
  std::string public_key(kEd25519KeySize, '\0');
  size_t len = public_key.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(public_key.data()),
                                  &len) != 1 ||
      len != kEd25519KeySize) {
    DieOpenSsl("Ed25519 public key");
  }
  return std::string(kEd25519PublicKeyPrefix) + Base64Encode(public_key);
}

absl::StatusOr<std::string> SignV1a(std::string_view secret, std::string_view msg_id,
                                    int64_t timestamp, std::string_view body) {
  absl::StatusOr<std::string> seed = DecodeEd25519Secret(secret);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<std::string> signature =
      Ed25519SignRaw(*seed, SignedContent(msg_id, timestamp, body));
  OPENSSL_cleanse(seed->data(), seed->size());
  if (!signature.ok()) return signature.status();
  return std::string(kV1aPrefix) + Base64Encode(*signature);
}

bool VerifyV1a(std::string_view public_key, std::string_view msg_id, int64_t timestamp,
               std::string_view body, std::string_view signature_header) {
  if (!public_key.starts_with(kEd25519PublicKeyPrefix)) return false;
  public_key.remove_prefix(kEd25519PublicKeyPrefix.size());
  const absl::StatusOr<std::string> raw_key = Base64Decode(public_key);
  if (!raw_key.ok() || raw_key->size() != kEd25519KeySize) return false;
  const PkeyPtr key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(*raw_key), raw_key->size()));
  // The key comes from the caller, so a refusal here is a bad key, not a broken OpenSSL.
  if (key == nullptr) return false;

  const std::string content = SignedContent(msg_id, timestamp, body);
  for (std::string_view entry : HeaderEntries(signature_header)) {
    if (!entry.starts_with(kV1aPrefix)) continue;
    entry.remove_prefix(kV1aPrefix.size());
    const absl::StatusOr<std::string> signature = Base64Decode(entry);
    if (!signature.ok() || signature->size() != kEd25519SignatureSize) continue;
    // A one-shot EVP_DigestVerify finishes its context, so every entry needs a fresh one.
    const MdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
    // Ed25519 hashes the message itself (RFC 8032 pure mode), so no digest is named.
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
      DieOpenSsl("Ed25519 verify setup");
    }
    // Unlike VerifyV1, nothing here is secret, so stopping at the first match reveals nothing.
    if (EVP_DigestVerify(ctx.get(), Bytes(*signature), signature->size(), Bytes(content),
                         content.size()) == 1) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> Ed25519SignRaw(std::string_view seed, std::string_view message) {
  if (seed.size() != kEd25519KeySize) return InvalidField("seed", "must be 32 bytes");
  const PkeyPtr key = Ed25519PrivateKey(seed);
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
  std::string signature(kEd25519SignatureSize, '\0');
  size_t len = signature.size();
  // Ed25519 hashes the message itself (RFC 8032 pure mode), so no digest is named and the
  // message goes in one call.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     Bytes(message), message.size()) != 1 ||
      len != kEd25519SignatureSize) {
    DieOpenSsl("Ed25519 signing");
  }
  return signature;
}

std::string Hmac(HmacDigest digest, std::string_view key, std::span<const std::string_view> parts) {
  // One context per digest with the algorithm fetched at first use, copied per call: HMAC()
  // fetches both by name on every call, lookups under a lock that cost more than hashing a
  // 1 KiB webhook body.
  static const auto make_template = [](const char* name) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) DieOpenSsl("EVP_MAC_fetch(HMAC)");
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    std::string digest_name(name);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
        OSSL_PARAM_construct_end()};
    if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) DieOpenSsl("HMAC setup");
    return ctx;
  };
  static EVP_MAC_CTX* const kSha256 = make_template("SHA256");
  static EVP_MAC_CTX* const kSha512 = make_template("SHA512");
  static EVP_MAC_CTX* const kSha1 = make_template("SHA1");
  EVP_MAC_CTX* const base = digest == HmacDigest::kSha512 ? kSha512
                            : digest == HmacDigest::kSha1 ? kSha1
                                                          : kSha256;
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(base),
                                                                &EVP_MAC_CTX_free);
  // An empty key still needs a non-null pointer.
  static constexpr unsigned char kEmpty = 0;
  const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (ctx == nullptr || EVP_MAC_init(ctx.get(), key_ptr, key.size(), nullptr) != 1) {
    DieOpenSsl("HMAC init");
  }
  for (std::string_view part : parts) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                       part.size()) != 1) {
      DieOpenSsl("HMAC update");
    }
  }
  std::string out(EVP_MAX_MD_SIZE, '\0');
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) !=
      1) {
    DieOpenSsl("HMAC final");
  }
  out.resize(len);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  const std::string_view parts[] = {data};
  return Hmac(HmacDigest::kSha256, key, parts);
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
