#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hookd::testing {

// One Standard Webhooks signature test vector of tests/fixtures/standard-webhooks-vectors.json
// (computed with the reference library).
struct SignatureVector {
  std::string secret;
  std::string msg_id;
  int64_t timestamp = 0;
  std::string body;
  std::string signature;
};

// Every vector of the fixture file; fails the calling test (and returns none) when it cannot
// be read.
std::vector<SignatureVector> LoadSignatureVectors();

}  // namespace hookd::testing
