#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "hookd/http/ip_policy.h"
#include "hookd/v1/app.pb.h"

// The rules an app must satisfy before it is stored. Every error is INVALID_ARGUMENT made by
// hookd::InvalidField, so its message starts with the request path of the offending field
// ("app.url: ...") and says what is allowed.

namespace hookd::apps {

// Server settings that change what an app may contain.
struct ValidationOptions {
  // HOOKD_ALLOW_HTTP: permits plain http:// endpoint urls.
  bool allow_http = false;
  // HOOKD_PRIVATE_ALLOWLIST: restricted addresses that endpoints may use nevertheless.
  std::vector<http::IpNetwork> private_allowlist;
};

// Fills unset settings with their defaults: timeout 10 s, disable_after_failures 10, signature
// SIGNATURE_SCHEME_V1. Retry stays empty when unset (meaning the Standard Webhooks schedule).
void ApplyDefaults(hookd::v1::App& app);

// Checks every rule of an app about to be stored (after ApplyDefaults); output-only fields are
// ignored. Returns the first violation as INVALID_ARGUMENT naming the field.
absl::Status ValidateApp(const hookd::v1::App& app, const ValidationOptions& options);

// Makes the stored form of a valid app's signature profiles: the deprecated
// compat_signature_header becomes one more profile (after the Standard Webhooks one when the app
// had none), and every profile gets its preset's fields filled in. Idempotent.
void ResolveSignatureProfiles(hookd::v1::App& app);

// Whether `secret` (a key about to become the app's current one) can sign for every profile of
// the resolved `app`, and be echoed by its payload template. INVALID_ARGUMENT naming `field`.
absl::Status ValidateSecretForApp(const hookd::v1::App& app, std::string_view secret,
                                  std::string_view field);

// Returns INVALID_ARGUMENT naming `field` unless `tenant` is 1..64 of [A-Za-z0-9_.-].
absl::Status ValidateTenant(std::string_view tenant, std::string_view field);

// Returns INVALID_ARGUMENT naming `field` unless `url` is an absolute https url (http with
// allow_http) of at most 2048 printable ASCII characters, with a host, without userinfo, with
// a port in 1..65535, whose host is not a restricted IP literal or localhost outside
// options.private_allowlist.
absl::Status ValidateUrl(std::string_view url, const ValidationOptions& options,
                         std::string_view field);

// Returns INVALID_ARGUMENT naming `field` unless `name` is an event type name: dot-separated
// segments of [a-z0-9_-], at most 128 characters, e.g. `video.ready`.
absl::Status ValidateEventTypeName(std::string_view name, std::string_view field);

// Whether `name` is reserved for hookd's own operational events (README, "Operational events"):
// `hookd` and every type under `hookd.`. Only hookd publishes them; no client creates, archives
// or publishes one.
bool IsReservedEventType(std::string_view name);

// Returns INVALID_ARGUMENT naming `field` when `name` is reserved (IsReservedEventType).
absl::Status RefuseReservedEventType(std::string_view name, std::string_view field);

// Whether a custom header's value is write-only (README, "Custom headers"): `authorization`,
// `cookie`, and any name containing `token`, `secret`, `key` or `password`, in any case. hookd
// answers such a value empty except to an admin WatchApps with include_secrets (the workers).
bool IsSensitiveHeader(std::string_view name);

// Returns INVALID_ARGUMENT naming `field` unless `pattern` is `*`, an event type name, or a name
// followed by `.*` (e.g. `video.*`).
absl::Status ValidateEventTypePattern(std::string_view pattern, std::string_view field);

// Whether a valid `pattern` selects `event_type`: `*` selects everything, `video.*` every type
// starting with `video.` (not `video` itself), any other pattern only the type it spells.
bool PatternMatches(std::string_view pattern, std::string_view event_type);

// Returns INVALID_ARGUMENT naming `field` unless `channel` is 1..128 of [A-Za-z0-9_.:-].
absl::Status ValidateChannel(std::string_view channel, std::string_view field);

// The waits before each retry (attempts = size + 1): explicit delays, expanded exponential
// parameters, or the Standard Webhooks schedule 5s,5m,30m,2h,5h,10h,10h when neither is set.
// Expects a validated policy; out-of-range attempt counts are clamped to 1..50.
std::vector<absl::Duration> RetryDelays(const hookd::v1::RetryPolicy& policy);

}  // namespace hookd::apps
