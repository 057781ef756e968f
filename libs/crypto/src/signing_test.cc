#include "hookd/crypto/signing.h"

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/crypto/base64.h"
#include "hookd/testing/fixtures.h"
#include "nlohmann/json.hpp"

namespace hookd {
namespace {

using Vector = testing::SignatureVector;

std::vector<Vector> LoadVectors() { return testing::LoadSignatureVectors(); }

TEST(StandardWebhooksTest, MatchesReferenceVectors) {
  const std::vector<Vector> vectors = LoadVectors();
  ASSERT_FALSE(vectors.empty());
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.msg_id);
    absl::StatusOr<std::string> key = DecodeSigningSecret(v.secret);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(SignV1(*key, v.msg_id, v.timestamp, v.body), v.signature);
    EXPECT_TRUE(VerifyV1(*key, v.msg_id, v.timestamp, v.body, v.signature));

    EXPECT_FALSE(VerifyV1(*key, v.msg_id, v.timestamp, v.body + " ", v.signature));
    EXPECT_FALSE(VerifyV1(*key, v.msg_id, v.timestamp + 1, v.body, v.signature));
    EXPECT_FALSE(VerifyV1(*key, v.msg_id + "x", v.timestamp, v.body, v.signature));

    const std::string wrong = "v1," + Base64Encode(std::string(32, 'w'));
    EXPECT_FALSE(VerifyV1(*key, v.msg_id, v.timestamp, v.body, wrong));
    EXPECT_TRUE(VerifyV1(*key, v.msg_id, v.timestamp, v.body, wrong + " " + v.signature));
    EXPECT_TRUE(VerifyV1(*key, v.msg_id, v.timestamp, v.body, v.signature + " " + wrong));
  }
}

TEST(VerifyV1Test, IgnoresOtherVersionsAndEmptyHeaders) {
  const std::string key(32, 'k');
  const std::string signature = SignV1(key, "msg_1", 1700000000, "{}");
  ASSERT_EQ(signature.substr(0, 3), "v1,");
  const std::string b64 = signature.substr(3);
  EXPECT_FALSE(VerifyV1(key, "msg_1", 1700000000, "{}", ""));
  EXPECT_FALSE(VerifyV1(key, "msg_1", 1700000000, "{}", "v2," + b64));
  EXPECT_FALSE(VerifyV1(key, "msg_1", 1700000000, "{}", b64));
  EXPECT_TRUE(VerifyV1(key, "msg_1", 1700000000, "{}", "v1a,abc " + signature));
  EXPECT_FALSE(VerifyV1(std::string(32, 'K'), "msg_1", 1700000000, "{}", signature));
}

TEST(HmacSha256Test, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231 test case 2 (SHA-256, SHA-512) and RFC 2202 test case 2 (SHA-1), whole and in parts:
// signed content made of several pieces hashes as their concatenation.
TEST(HmacTest, EveryDigestMatchesItsRfcVectorWholeAndInParts) {
  const std::string_view whole[] = {"what do ya want for nothing?"};
  const std::string_view parts[] = {"what do ya", "", " want for nothing?"};
  struct Case {
    HmacDigest digest;
    std::string hex;
  };
  for (const Case& c : std::vector<Case>{
           {HmacDigest::kSha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
           {HmacDigest::kSha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d0"
            "34f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
           {HmacDigest::kSha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"}}) {
    EXPECT_EQ(HexEncode(Hmac(c.digest, "Jefe", whole)), c.hex);
    EXPECT_EQ(HexEncode(Hmac(c.digest, "Jefe", parts)), c.hex);
  }
}

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ConstantTimeEqualsTest, ComparesContentAndSize) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(SigningSecretTest, NewSecretHasPrefixAndDecodesTo32Bytes) {
  const std::string a = NewSigningSecret();
  const std::string b = NewSigningSecret();
  EXPECT_EQ(a.substr(0, 6), "whsec_");
  absl::StatusOr<std::string> key = DecodeSigningSecret(a);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_NE(a, b);
}

TEST(SigningSecretTest, RejectsBadSecrets) {
  absl::StatusOr<std::string> no_prefix = DecodeSigningSecret(Base64Encode(std::string(32, 'k')));
  EXPECT_EQ(no_prefix.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(no_prefix.status().message(), "secret: must start with whsec_");

  EXPECT_EQ(DecodeSigningSecret("whsec_!!!!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSigningSecret("whsec_" + Base64Encode(std::string(23, 'k'))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSigningSecret("whsec_" + Base64Encode(std::string(65, 'k'))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeSigningSecret("whsec_" + Base64Encode(std::string(24, 'k'))).value(),
            std::string(24, 'k'));
  EXPECT_EQ(DecodeSigningSecret("whsec_" + Base64Encode(std::string(64, 'k'))).value(),
            std::string(64, 'k'));
}

// RFC 8032 section 7.1, TEST 1: the empty message.
constexpr char kRfcSeedHex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfcPublicKeyHex[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr char kRfcSignatureHex[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";

// The test vectors are hex; the library has no decoder because nothing else needs one.
std::string FromHex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

std::string RfcSecret() { return "whsk_" + Base64Encode(FromHex(kRfcSeedHex)); }
std::string RfcPublicKey() { return "whpk_" + Base64Encode(FromHex(kRfcPublicKeyHex)); }

TEST(Ed25519Test, MatchesRfc8032Test1) {
  absl::StatusOr<std::string> signature = Ed25519SignRaw(FromHex(kRfcSeedHex), "");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(HexEncode(*signature), kRfcSignatureHex);
}

TEST(Ed25519Test, SignRawRefusesASeedOfTheWrongSize) {
  EXPECT_EQ(Ed25519SignRaw(std::string(31, 's'), "m").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519SignRaw(std::string(33, 's'), "m").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519Test, PublicKeyMatchesRfc8032Test1) {
  absl::StatusOr<std::string> public_key = Ed25519PublicKey(RfcSecret());
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  EXPECT_EQ(*public_key, RfcPublicKey());
}

TEST(SignV1aTest, SignsTheV1ContentWithEd25519) {
  absl::StatusOr<std::string> signature = SignV1a(RfcSecret(), "msg_1", 1700000000, "{}");
  ASSERT_TRUE(signature.ok()) << signature.status();
  ASSERT_EQ(signature->substr(0, 4), "v1a,");
  absl::StatusOr<std::string> raw = Ed25519SignRaw(FromHex(kRfcSeedHex), "msg_1.1700000000.{}");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*signature, "v1a," + Base64Encode(*raw));
  EXPECT_EQ(Base64Decode(signature->substr(4)).value().size(), 64u);
}

TEST(SignV1aTest, RoundTripsAndRejectsTampering) {
  const std::string secret = NewEd25519SigningSecret();
  absl::StatusOr<std::string> public_key = Ed25519PublicKey(secret);
  ASSERT_TRUE(public_key.ok()) << public_key.status();
  absl::StatusOr<std::string> signature = SignV1a(secret, "msg_1", 1700000000, "{\"a\":1}");
  ASSERT_TRUE(signature.ok()) << signature.status();

  EXPECT_TRUE(VerifyV1a(*public_key, "msg_1", 1700000000, "{\"a\":1}", *signature));
  EXPECT_FALSE(VerifyV1a(*public_key, "msg_1", 1700000000, "{\"a\":2}", *signature));
  EXPECT_FALSE(VerifyV1a(*public_key, "msg_1", 1700000001, "{\"a\":1}", *signature));
  EXPECT_FALSE(VerifyV1a(*public_key, "msg_2", 1700000000, "{\"a\":1}", *signature));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, "{\"a\":1}", *signature));
}

TEST(SignV1aTest, EmptyBodyRoundTrips) {
  absl::StatusOr<std::string> signature = SignV1a(RfcSecret(), "msg_1", 0, "");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_TRUE(VerifyV1a(RfcPublicKey(), "msg_1", 0, "", *signature));
}

TEST(VerifyV1aTest, AcceptsAnyV1aEntryOfAMixedHeader) {
  const std::string body = "{}";
  absl::StatusOr<std::string> signature = SignV1a(RfcSecret(), "msg_1", 1700000000, body);
  ASSERT_TRUE(signature.ok()) << signature.status();
  const std::string v1 = SignV1(std::string(32, 'k'), "msg_1", 1700000000, body);
  const std::string wrong = "v1a," + Base64Encode(std::string(64, 'w'));

  EXPECT_TRUE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, "v1,xxx " + *signature));
  EXPECT_TRUE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, *signature + " " + v1));
  EXPECT_TRUE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, wrong + " " + *signature));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, v1));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, wrong));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, ""));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, "v1a,"));
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, "v1a,!!!"));
  // The same signature under another version tag is not a v1a entry.
  EXPECT_FALSE(VerifyV1a(RfcPublicKey(), "msg_1", 1700000000, body, "v2," + signature->substr(4)));
  // And VerifyV1 ignores the v1a entry it does not understand.
  EXPECT_TRUE(VerifyV1(std::string(32, 'k'), "msg_1", 1700000000, body, *signature + " " + v1));
}

TEST(VerifyV1aTest, RefusesMalformedPublicKeys) {
  absl::StatusOr<std::string> signature = SignV1a(RfcSecret(), "msg_1", 1700000000, "{}");
  ASSERT_TRUE(signature.ok()) << signature.status();
  const std::string raw = FromHex(kRfcPublicKeyHex);
  for (const std::string& key : std::vector<std::string>{
           Base64Encode(raw), "whsk_" + Base64Encode(raw), "whpk_!!!!",
           "whpk_" + Base64Encode(raw.substr(1)), "whpk_" + Base64Encode(raw + "x"), RfcSecret()}) {
    SCOPED_TRACE(key);
    EXPECT_FALSE(VerifyV1a(key, "msg_1", 1700000000, "{}", *signature));
  }
}

TEST(Ed25519SecretTest, NewSecretsDifferAndDecodeTo32Bytes) {
  const std::string a = NewEd25519SigningSecret();
  const std::string b = NewEd25519SigningSecret();
  EXPECT_NE(a, b);
  for (const std::string& secret : {a, b}) {
    ASSERT_EQ(secret.substr(0, 5), "whsk_");
    absl::StatusOr<std::string> seed = Base64Decode(secret.substr(5));
    ASSERT_TRUE(seed.ok()) << seed.status();
    EXPECT_EQ(seed->size(), 32u);
    EXPECT_TRUE(Ed25519PublicKey(secret).ok());
  }
}

TEST(Ed25519SecretTest, RejectsBadSecretsWithoutEchoingThem) {
  const std::string seed = FromHex(kRfcSeedHex);
  for (const std::string& secret : std::vector<std::string>{
           Base64Encode(seed), "whsec_" + Base64Encode(seed), "whpk_" + Base64Encode(seed),
           "whsk_!!!!", "whsk_" + Base64Encode(seed.substr(1)), "whsk_" + Base64Encode(seed + "x"),
           "whsk_"}) {
    SCOPED_TRACE(secret);
    absl::StatusOr<std::string> public_key = Ed25519PublicKey(secret);
    EXPECT_EQ(public_key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(public_key.status().message()), ::testing::StartsWith("secret: "));
    absl::StatusOr<std::string> signature = SignV1a(secret, "msg_1", 1700000000, "{}");
    EXPECT_EQ(signature.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(signature.status().message()), ::testing::StartsWith("secret: "));
    EXPECT_THAT(std::string(signature.status().message()),
                ::testing::Not(::testing::HasSubstr(Base64Encode(seed).substr(0, 8))));
  }
  EXPECT_EQ(Ed25519PublicKey(Base64Encode(seed)).status().message(),
            "secret: must start with whsk_");
}

}  // namespace
}  // namespace hookd
