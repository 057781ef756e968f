#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// Which endpoint addresses a webhook may reach. Webhook urls come from tenants, so without this
// policy anyone able to create an app could make the workers request internal services or the
// cloud metadata endpoint (SSRF). Urls are checked when an app is saved, and the worker checks
// every resolved address again at connect time because DNS answers can change.

namespace hookd::http {

// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are stored as the
// IPv4 address they map, so every policy decision sees one form of each IPv4 address.
struct IpAddress {
  enum class Family { kV4, kV6 };

  // Parses a numeric address as inet_pton does (dotted quad only for IPv4), also accepting a
  // bracketed IPv6 address as written in urls ("[::1]"). Returns nullopt for anything else,
  // including host names and IPv6 zone ids.
  static std::optional<IpAddress> Parse(std::string_view text);

  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);

  // The 16-byte IPv6 form: IPv4 addresses as `::ffff:a.b.c.d`.
  std::array<uint8_t, 16> ToV6Bytes() const;

  // Canonical text: dotted quad, or RFC 5952 IPv6.
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

  Family family = Family::kV4;
  // Network byte order. An IPv4 address uses bytes[0..3]; the rest stay zero.
  std::array<uint8_t, 16> bytes = {};
};

// An IPv4 or IPv6 CIDR block.
class IpNetwork {
 public:
  // Parses "address/prefix" or a bare address (a single host: /32 or /128). Host bits beyond the
  // prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8). Returns INVALID_ARGUMENT for an unparsable
  // address or a prefix out of range for the family.
  static absl::StatusOr<IpNetwork> Parse(std::string_view cidr);

  // Whether `address` lies in this block. An IPv4 block also contains the IPv4-mapped IPv6
  // forms of its addresses.
  bool Contains(const IpAddress& address) const;

  // "network/prefix".
  std::string ToString() const;

  friend bool operator==(const IpNetwork&, const IpNetwork&) = default;

 private:
  IpNetwork(IpAddress network, int prefix_length)
      : network_(network), prefix_length_(prefix_length) {}

  IpAddress network_;
  // Of the family of network_: 0..32 or 0..128.
  int prefix_length_ = 0;
};

// Parses HOOKD_PRIVATE_ALLOWLIST: CIDRs separated by commas, blanks around items and empty items
// ignored. Returns INVALID_ARGUMENT "private_allowlist: <item> is not a CIDR" for a bad item.
absl::StatusOr<std::vector<IpNetwork>> ParseAllowlist(std::string_view comma_separated);

// Whether a webhook must not reach `address` unless an operator allows it: this host, private,
// shared (CGNAT), link-local (cloud metadata), benchmarking, multicast, reserved and broadcast
// IPv4 ranges; unspecified, loopback, unique-local, link-local, site-local and multicast IPv6;
// and IPv6 forms that embed a restricted IPv4 address (NAT64 64:ff9b::/96, IPv4-compatible ::/96).
bool IsRestrictedAddress(const IpAddress& address);

// Whether a webhook may reach `address`: it is not restricted, or `allowlist` covers it.
bool IsAllowedAddress(const IpAddress& address, const std::vector<IpNetwork>& allowlist);

}  // namespace hookd::http
