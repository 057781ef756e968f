#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/v1/app.pb.h"

// Signature profiles: how the headers of one signature of a delivery are made, so that hookd can
// speak the dialect of receivers written against other vendors' docs (README, "Signature
// profiles"). A profile names the headers that carry the id, timestamp, event type and signature,
// the signed content as a template over {id}, {timestamp} and {body}, the algorithm, encoding,
// value format, which bytes of the secret key the HMAC, and which keys sign during a rotation.

namespace hookd::dialect {

// The names of the shipped presets, in documentation order.
std::span<const std::string_view> PresetNames();

// What kind of secret a signing key holds: a Standard Webhooks HMAC secret (`whsec_<base64>`),
// an Ed25519 secret key (`whsk_<base64>`), or a customer-chosen text used as it is.
enum class SecretKind { kWhsec, kEd25519, kText };
SecretKind KindOfSecret(std::string_view secret);

// Checks a secret chosen by a caller: printable ASCII of 16..256 bytes without leading or
// trailing blanks, or a valid `whsec_` value. A `whsk_` value is refused (Ed25519 keys are
// generated). INVALID_ARGUMENT naming `field`; the message never contains the secret.
absl::Status ValidateChosenSecret(std::string_view secret, std::string_view field);

// `profile` with every field it leaves unset taken from its preset, then from the defaults (hex,
// HMAC-SHA256, `{body}`, `{sig}`, one space, the secret's text, all keys, seconds). Idempotent.
// INVALID_ARGUMENT naming `field`.preset for an unknown preset.
absl::StatusOr<v1::SignatureProfile> Resolve(const v1::SignatureProfile& profile,
                                             std::string_view field);

// The profiles an app signs with, resolved: its own, or one `standard-webhooks` profile when it
// has none. INVALID_ARGUMENT for a profile that cannot be resolved (an unknown preset), rather
// than a request without a signature its receiver checks.
absl::StatusOr<std::vector<v1::SignatureProfile>> EffectiveProfiles(const v1::App& app);

// Checks a resolved profile: header names (HTTP tokens of 1..64 characters, none that hookd or
// HTTP sets itself, none twice), the signed content (`{body}` required, no unknown
// placeholders), the format (`{sig}` required), the separator, and the fields the Standard
// Webhooks algorithm fixes. INVALID_ARGUMENT naming `field`.<member>.
absl::Status ValidateProfile(const v1::SignatureProfile& profile, std::string_view field);

// Whether the secret `secret` can sign for the resolved `profile`; INVALID_ARGUMENT naming
// `secret_field` that says which profile (`profile_field`) needs what. Profiles without a
// signature header take any secret.
absl::Status CheckSecretFits(const v1::SignatureProfile& profile, std::string_view secret,
                             std::string_view profile_field, std::string_view secret_field);

// What one request's headers are made of.
struct SignInput {
  std::string_view id;          // the event id, the same on every attempt
  std::string_view event_type;  // e.g. video.ready
  absl::Time now;               // the attempt's time: the timestamp sent and signed
  std::string_view body;        // the exact bytes sent
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Appends the headers of the resolved `profile` to `headers`: id, timestamp, event type and
// signature, each when the profile names its header. `secrets` are the app's valid secrets,
// newest first; each signs if the profile can use its kind (SIGNATURE_ROTATION_NEWEST_KEY: only
// the first usable one). INVALID_ARGUMENT when the profile has a signature header and no secret
// it can use, or a `whsec_` secret is malformed; messages name no secret.
absl::Status AppendHeaders(const v1::SignatureProfile& profile,
                           std::span<const std::string_view> secrets, const SignInput& input,
                           Headers& headers);

}  // namespace hookd::dialect
