#pragma once

#include "hookd/v1/app.pb.h"

namespace hookd::subscription {

// Removes every secret from an app about to leave the server: the signing secrets and the
// basic-auth password. Key metadata (ids, expiry) stays.
inline void RedactApp(v1::App& app) {
  app.clear_secret();
  for (auto& key : *app.mutable_signing_keys()) key.clear_secret();
  if (app.auth().has_basic()) app.mutable_auth()->mutable_basic()->clear_password();
}

}  // namespace hookd::subscription
