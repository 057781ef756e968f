#include "hookd/http/ip_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/status.h"

namespace hookd::http {
namespace {

using Bytes = std::array<uint8_t, 16>;

constexpr int kV4MappedPrefix = 96;

// ::ffff:0:0/96.
bool IsV4Mapped(const Bytes& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

// Whether the first `prefix_length` bits of `a` and `b` agree.
bool PrefixMatches(const Bytes& a, const Bytes& b, int prefix_length) {
  int full_bytes = prefix_length / 8;
  if (std::memcmp(a.data(), b.data(), full_bytes) != 0) return false;
  int rest_bits = prefix_length % 8;
  if (rest_bits == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (a[full_bytes] & mask) == (b[full_bytes] & mask);
}

bool InV4Range(uint32_t address, uint32_t network, int prefix_length) {
  uint32_t mask = prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
  return (address & mask) == (network & mask);
}

constexpr uint32_t V4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return a << 24 | b << 16 | c << 8 | d;
}

bool IsRestrictedV4(const uint8_t* b) {
  uint32_t a = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  struct Range {
    uint32_t network;
    int prefix_length;
  };
  static constexpr Range kRanges[] = {
      {V4(0, 0, 0, 0), 8},       // "this network"; 0.0.0.0 reaches the local host
      {V4(10, 0, 0, 0), 8},      // private
      {V4(100, 64, 0, 0), 10},   // shared address space (carrier-grade NAT)
      {V4(127, 0, 0, 0), 8},     // loopback
      {V4(169, 254, 0, 0), 16},  // link-local, includes the cloud metadata 169.254.169.254
      {V4(172, 16, 0, 0), 12},   // private
      {V4(192, 0, 0, 0), 24},    // IETF protocol assignments
      {V4(192, 168, 0, 0), 16},  // private
      {V4(198, 18, 0, 0), 15},   // benchmarking
      {V4(224, 0, 0, 0), 3},     // multicast 224/4, reserved 240/4, broadcast
  };
  return std::any_of(std::begin(kRanges), std::end(kRanges),
                     [a](const Range& r) { return InV4Range(a, r.network, r.prefix_length); });
}

bool IsRestrictedV6(const Bytes& b) {
  // ::/96 holds the unspecified address ::, loopback ::1 and the deprecated IPv4-compatible
  // addresses, which some stacks still route to the embedded IPv4 address.
  bool first_12_zero = std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; });
  if (first_12_zero) {
    bool is_unspecified_or_loopback =
        b[12] == 0 && b[13] == 0 && b[14] == 0 && (b[15] == 0 || b[15] == 1);
    return is_unspecified_or_loopback || IsRestrictedV4(&b[12]);
  }
  // NAT64 (RFC 6052) translates 64:ff9b::/96 to the embedded IPv4 address.
  static constexpr Bytes kNat64 = {0x00, 0x64, 0xff, 0x9b};
  if (PrefixMatches(b, kNat64, 96)) return IsRestrictedV4(&b[12]);
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  // fec0::/10 site-local is deprecated but may still be routed inside a site.
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;
  if (b[0] == 0xff) return true;  // ff00::/8 multicast
  return false;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  bool bracketed = text.size() >= 2 && text.front() == '[' && text.back() == ']';
  if (bracketed) text = text.substr(1, text.size() - 2);
  // inet_pton needs a NUL-terminated string.
  std::string copy(text);
  IpAddress address;
  if (!bracketed && inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) {
    address.family = Family::kV4;
    return address;
  }
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  address.family = Family::kV6;
  if (IsV4Mapped(address.bytes)) {
    return V4(address.bytes[12], address.bytes[13], address.bytes[14], address.bytes[15]);
  }
  return address;
}

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress address;
  address.family = Family::kV4;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

std::array<uint8_t, 16> IpAddress::ToV6Bytes() const {
  if (family == Family::kV6) return bytes;
  Bytes mapped = {};
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  std::copy(bytes.begin(), bytes.begin() + 4, mapped.begin() + 12);
  return mapped;
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kV4 ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

absl::StatusOr<IpNetwork> IpNetwork::Parse(std::string_view cidr) {
  auto invalid = [cidr] {
    return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(cidr), "\" is not a CIDR"));
  };
  std::string_view address_text = cidr;
  std::optional<int> prefix_length;
  if (size_t slash = cidr.find('/'); slash != std::string_view::npos) {
    address_text = cidr.substr(0, slash);
    std::string_view prefix_text = cidr.substr(slash + 1);
    // SimpleAtoi would accept a sign and blanks, which no CIDR has.
    int value = 0;
    if (prefix_text.empty() || prefix_text.size() > 3 ||
        !std::all_of(prefix_text.begin(), prefix_text.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(AbslView(prefix_text), &value)) {
      return invalid();
    }
    prefix_length = value;
  }
  std::optional<IpAddress> address = IpAddress::Parse(address_text);
  if (!address.has_value()) return invalid();
  int max_length = address->family == IpAddress::Family::kV4 ? 32 : 128;
  // "::ffff:10.0.0.0/104" names an IPv4 block; Parse already turned its address into IPv4.
  bool written_as_v4_mapped =
      address->family == IpAddress::Family::kV4 && address_text.find(':') != std::string::npos;
  if (written_as_v4_mapped && prefix_length.has_value()) {
    if (*prefix_length < kV4MappedPrefix) return invalid();
    *prefix_length -= kV4MappedPrefix;
  }
  int length = prefix_length.value_or(max_length);
  if (length < 0 || length > max_length) return invalid();
  // Clear the host bits so that equal blocks compare equal and print alike.
  IpAddress network = *address;
  for (int bit = length; bit < max_length; ++bit) {
    network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return IpNetwork(network, length);
}

bool IpNetwork::Contains(const IpAddress& address) const {
  int length =
      network_.family == IpAddress::Family::kV4 ? prefix_length_ + kV4MappedPrefix : prefix_length_;
  return PrefixMatches(network_.ToV6Bytes(), address.ToV6Bytes(), length);
}

std::string IpNetwork::ToString() const {
  return absl::StrCat(network_.ToString(), "/", prefix_length_);
}

absl::StatusOr<std::vector<IpNetwork>> ParseAllowlist(std::string_view comma_separated) {
  std::vector<IpNetwork> networks;
  for (absl::string_view item : absl::StrSplit(AbslView(comma_separated), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    absl::StatusOr<IpNetwork> network =
        IpNetwork::Parse(std::string_view(item.data(), item.size()));
    if (!network.ok()) {
      return InvalidField("private_allowlist", absl::StrCat(item, " is not a CIDR"));
    }
    networks.push_back(*network);
  }
  return networks;
}

bool IsRestrictedAddress(const IpAddress& address) {
  Bytes b = address.ToV6Bytes();
  if (IsV4Mapped(b)) return IsRestrictedV4(&b[12]);
  return IsRestrictedV6(b);
}

bool IsAllowedAddress(const IpAddress& address, const std::vector<IpNetwork>& allowlist) {
  if (!IsRestrictedAddress(address)) return true;
  return std::any_of(allowlist.begin(), allowlist.end(),
                     [&address](const IpNetwork& network) { return network.Contains(address); });
}

}  // namespace hookd::http
