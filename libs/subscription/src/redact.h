#pragma once

#include "hookd/apps/validation.h"
#include "hookd/crypto/signing.h"
#include "hookd/v1/app.pb.h"

namespace hookd::subscription {

// Removes every secret from an app about to leave the server: the signing secrets, the
// basic-auth password and the values of sensitive custom headers (apps::IsSensitiveHeader), left
// empty under their names. Key metadata (ids, expiry) stays, and Ed25519 keys get their public
// key, which receivers need and which is no secret.
inline void RedactApp(v1::App& app) {
  for (auto& [name, value] : *app.mutable_headers()) {
    if (apps::IsSensitiveHeader(name)) value.clear();
  }
  app.clear_secret();
  app.clear_public_key();
  for (auto& key : *app.mutable_signing_keys()) {
    if (key.public_key().empty() && key.secret().rfind("whsk_", 0) == 0) {
      auto public_key = Ed25519PublicKey(key.secret());
      if (public_key.ok()) key.set_public_key(*public_key);
    }
    if (app.public_key().empty() && !key.public_key().empty()) {
      app.set_public_key(key.public_key());  // keys are ordered current first
    }
    key.clear_secret();
  }
  if (app.auth().has_basic()) app.mutable_auth()->mutable_basic()->clear_password();
}

}  // namespace hookd::subscription
