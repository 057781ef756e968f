#include "hookd/crypto/secret_box.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/random.h"

namespace hookd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::unique_ptr<SecretBox> NewBox() {
  absl::StatusOr<std::unique_ptr<SecretBox>> box = SecretBox::Create(Base64Encode(RandomBytes(32)));
  EXPECT_TRUE(box.ok()) << box.status();
  return *std::move(box);
}

TEST(SecretBoxTest, RoundTrips) {
  std::unique_ptr<SecretBox> box = NewBox();
  for (const std::string& plaintext : {std::string(), std::string("whsec_abc"),
                                       std::string(1000, 'x'), std::string("\0\xff", 2)}) {
    absl::StatusOr<std::string> sealed = box->Seal(plaintext, "app_1");
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    ASSERT_EQ(sealed->size(), 1 + 12 + plaintext.size() + 16);
    EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), 0x01);
    absl::StatusOr<std::string> opened = box->Open(*sealed, "app_1");
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(SecretBoxTest, RoundTripsWithEmptyAssociatedData) {
  std::unique_ptr<SecretBox> box = NewBox();
  absl::StatusOr<std::string> sealed = box->Seal("secret", "");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(box->Open(*sealed, "").value(), "secret");
}

TEST(SecretBoxTest, SealsOfTheSamePlaintextDiffer) {
  std::unique_ptr<SecretBox> box = NewBox();
  absl::StatusOr<std::string> a = box->Seal("same", "app_1");
  absl::StatusOr<std::string> b = box->Seal("same", "app_1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(a->substr(1, 12), b->substr(1, 12));
}

TEST(SecretBoxTest, DifferentAssociatedDataIsDataLoss) {
  std::unique_ptr<SecretBox> box = NewBox();
  absl::StatusOr<std::string> sealed = box->Seal("secret", "app_1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(box->Open(*sealed, "app_2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open(*sealed, "").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, AnyFlippedByteIsDataLoss) {
  std::unique_ptr<SecretBox> box = NewBox();
  absl::StatusOr<std::string> sealed = box->Seal("secret", "app_1");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_EQ(box->Open(tampered, "app_1").status().code(), absl::StatusCode::kDataLoss)
        << "byte " << i;
  }
}

TEST(SecretBoxTest, AnotherKeyIsDataLoss) {
  std::unique_ptr<SecretBox> box = NewBox();
  std::unique_ptr<SecretBox> other = NewBox();
  absl::StatusOr<std::string> sealed = box->Seal("secret", "app_1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(other->Open(*sealed, "app_1").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, MalformedInputIsDataLoss) {
  std::unique_ptr<SecretBox> box = NewBox();
  EXPECT_EQ(box->Open("", "a").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open(std::string(28, '\x01'), "a").status().code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<std::string> sealed = box->Seal("secret", "a");
  ASSERT_TRUE(sealed.ok());
  std::string wrong_version = *sealed;
  wrong_version[0] = 0x02;
  EXPECT_EQ(box->Open(wrong_version, "a").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open(sealed->substr(0, sealed->size() - 1), "a").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, RejectsBadMasterKeysWithoutEchoingThem) {
  const std::string bad_keys[] = {
      "not base64 at all!!",
      Base64Encode(std::string(31, 'k')),
      Base64Encode(std::string(33, 'k')),
      "",
  };
  for (const std::string& key : bad_keys) {
    absl::StatusOr<std::unique_ptr<SecretBox>> box = SecretBox::Create(key);
    EXPECT_EQ(box.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(std::string(box.status().message()), StartsWith("master_key:"));
    if (!key.empty()) {
      EXPECT_THAT(std::string(box.status().message()), Not(HasSubstr(key)));
    }
  }
}

}  // namespace
}  // namespace hookd
