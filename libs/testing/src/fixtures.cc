#include "hookd/testing/fixtures.h"

#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace hookd::testing {

std::vector<SignatureVector> LoadSignatureVectors() {
  const std::string path = std::string(HOOKD_FIXTURES_DIR) + "/standard-webhooks-vectors.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  if (!in.good()) return {};
  const nlohmann::json json = nlohmann::json::parse(in);
  std::vector<SignatureVector> vectors;
  for (const nlohmann::json& v : json.at("vectors")) {
    vectors.push_back({v.at("secret").get<std::string>(), v.at("msg_id").get<std::string>(),
                       v.at("timestamp").get<int64_t>(), v.at("body").get<std::string>(),
                       v.at("signature").get<std::string>()});
  }
  return vectors;
}

}  // namespace hookd::testing
