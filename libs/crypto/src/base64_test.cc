#include "hookd/crypto/base64.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff\x00", 3)), "+/8A");
}

TEST(Base64Test, RoundTripsShortAndBinaryInputs) {
  const std::string inputs[] = {"",
                                "a",
                                "ab",
                                "abc",
                                "abcd",
                                std::string("\0", 1),
                                std::string("\0\xff", 2),
                                std::string("\xff\xfe\xfd", 3)};
  for (const std::string& input : inputs) {
    absl::StatusOr<std::string> decoded = Base64Decode(Base64Encode(input));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, input);
  }
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  absl::StatusOr<std::string> decoded = Base64Decode(Base64Encode(all_bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, all_bytes);
}

TEST(Base64Test, DecodesWithoutPadding) {
  EXPECT_EQ(Base64Decode("Zg").value(), "f");
  EXPECT_EQ(Base64Decode("Zm8").value(), "fo");
  EXPECT_EQ(Base64Decode("Zm9vYg").value(), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYmE").value(), "fooba");
  EXPECT_EQ(Base64Decode("").value(), "");
}

TEST(Base64Test, RejectsInvalidInput) {
  const char* invalid[] = {
      "Zm9v!",      // character outside the alphabet
      "Zm9v YmFy",  // whitespace
      "Zm9v-_",     // URL-safe alphabet
      "Z",          // impossible length
      "Zm9vY",      // impossible length
      "Zg=",        // padding without a complete group
      "Zg===",      // too much padding
      "=Zg=",       // padding in the middle
      "Zg==Zg==",   // padding in the middle
      "====",
  };
  for (const char* text : invalid) {
    absl::StatusOr<std::string> decoded = Base64Decode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(HexEncodeTest, IsLowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
}

}  // namespace
}  // namespace hookd
