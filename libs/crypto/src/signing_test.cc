#include "hookd/crypto/signing.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/crypto/base64.h"
#include "nlohmann/json.hpp"

namespace hookd {
namespace {

struct Vector {
  std::string secret;
  std::string msg_id;
  int64_t timestamp;
  std::string body;
  std::string signature;
};

std::vector<Vector> LoadVectors() {
  const std::string path = std::string(HOOKD_FIXTURES_DIR) + "/standard-webhooks-vectors.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  const nlohmann::json json = nlohmann::json::parse(in);
  std::vector<Vector> vectors;
  for (const nlohmann::json& v : json.at("vectors")) {
    vectors.push_back({v.at("secret").get<std::string>(), v.at("msg_id").get<std::string>(),
                       v.at("timestamp").get<int64_t>(), v.at("body").get<std::string>(),
                       v.at("signature").get<std::string>()});
  }
  return vectors;
}

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

}  // namespace
}  // namespace hookd
