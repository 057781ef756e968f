#pragma once

#include "hookd/crypto/signing.h"
#include "hookd/v1/app.pb.h"

namespace hookd::subscription {

// Removes every secret from an app about to leave the server: the signing secrets and the
// basic-auth password. Key metadata (ids, expiry) stays, and Ed25519 keys get their public key,
// which receivers need and which is no secret.
inline void RedactApp(v1::App& app) {
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
