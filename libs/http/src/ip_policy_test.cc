#include "hookd/http/ip_policy.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace hookd::http {
namespace {

IpAddress Ip(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

TEST(IpAddress, ParsesBothFamiliesAndBrackets) {
  EXPECT_EQ(Ip("127.0.0.1"), IpAddress::V4(127, 0, 0, 1));
  EXPECT_EQ(Ip("::1").family, IpAddress::Family::kV6);
  EXPECT_EQ(Ip("[::1]"), Ip("::1"));
  EXPECT_EQ(Ip("[2001:db8::1]").ToString(), "2001:db8::1");
}

TEST(IpAddress, TreatsV4MappedAsV4) {
  EXPECT_EQ(Ip("::ffff:127.0.0.1"), IpAddress::V4(127, 0, 0, 1));
  EXPECT_EQ(Ip("[::ffff:7f00:1]"), IpAddress::V4(127, 0, 0, 1));
  EXPECT_EQ(Ip("::ffff:10.0.0.1").ToString(), "10.0.0.1");
}

TEST(IpAddress, RefusesNonNumericForms) {
  for (std::string_view text : {"", "localhost", "127.1", "0x7f.0.0.1", "1.2.3.4.5", "256.0.0.1",
                                "[1.2.3.4]", "[::1", "::1]", "fe80::1%eth0", " 1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::Parse(text).has_value()) << text;
  }
}

TEST(IpNetwork, ParsesCidrsAndBareAddresses) {
  absl::StatusOr<IpNetwork> v4 = IpNetwork::Parse("10.0.0.0/8");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_TRUE(v4->Contains(Ip("10.255.255.255")));
  EXPECT_FALSE(v4->Contains(Ip("11.0.0.0")));
  EXPECT_TRUE(v4->Contains(Ip("::ffff:10.1.2.3")));
  EXPECT_EQ(v4->ToString(), "10.0.0.0/8");

  absl::StatusOr<IpNetwork> host = IpNetwork::Parse("192.168.1.7");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->ToString(), "192.168.1.7/32");
  EXPECT_TRUE(host->Contains(Ip("192.168.1.7")));
  EXPECT_FALSE(host->Contains(Ip("192.168.1.8")));

  absl::StatusOr<IpNetwork> v6 = IpNetwork::Parse("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(Ip("fdff:ffff::1")));
  EXPECT_FALSE(v6->Contains(Ip("fe00::1")));
  EXPECT_FALSE(v6->Contains(Ip("10.0.0.1")));

  absl::StatusOr<IpNetwork> loopback6 = IpNetwork::Parse("::1");
  ASSERT_TRUE(loopback6.ok());
  EXPECT_EQ(loopback6->ToString(), "::1/128");
  EXPECT_TRUE(loopback6->Contains(Ip("[::1]")));
}

TEST(IpNetwork, ClearsHostBits) {
  absl::StatusOr<IpNetwork> network = IpNetwork::Parse("10.1.2.3/8");
  ASSERT_TRUE(network.ok());
  EXPECT_EQ(network->ToString(), "10.0.0.0/8");
  EXPECT_EQ(*network, *IpNetwork::Parse("10.0.0.0/8"));
}

TEST(IpNetwork, V4MappedCidrIsV4) {
  absl::StatusOr<IpNetwork> network = IpNetwork::Parse("::ffff:127.0.0.0/104");
  ASSERT_TRUE(network.ok()) << network.status();
  EXPECT_EQ(network->ToString(), "127.0.0.0/8");
  EXPECT_FALSE(IpNetwork::Parse("::ffff:127.0.0.0/95").ok());
}

TEST(IpNetwork, ZeroPrefixContainsEverythingOfItsFamily) {
  absl::StatusOr<IpNetwork> all_v4 = IpNetwork::Parse("0.0.0.0/0");
  ASSERT_TRUE(all_v4.ok());
  EXPECT_TRUE(all_v4->Contains(Ip("255.255.255.255")));
  EXPECT_FALSE(all_v4->Contains(Ip("::1")));
}

TEST(IpNetwork, RefusesBadCidrs) {
  for (std::string_view text :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8", "::/129",
        "10.0.0/8", "example.com/8", "10.0.0.0/8/8", "10.0.0.0/0008"}) {
    absl::StatusOr<IpNetwork> network = IpNetwork::Parse(text);
    EXPECT_EQ(network.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseAllowlist, ParsesCommaSeparatedItems) {
  absl::StatusOr<std::vector<IpNetwork>> list =
      ParseAllowlist(" 127.0.0.0/8, ::1 ,,192.168.0.0/16,");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].ToString(), "127.0.0.0/8");
  EXPECT_EQ((*list)[1].ToString(), "::1/128");
  EXPECT_EQ((*list)[2].ToString(), "192.168.0.0/16");
}

TEST(ParseAllowlist, EmptyIsEmpty) {
  absl::StatusOr<std::vector<IpNetwork>> list = ParseAllowlist("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(ParseAllowlist, NamesTheBadItem) {
  absl::StatusOr<std::vector<IpNetwork>> list = ParseAllowlist("10.0.0.0/8, 10.0.0.0/33");
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.status().message(), "private_allowlist: 10.0.0.0/33 is not a CIDR");

  list = ParseAllowlist("localhost");
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.status().message(), "private_allowlist: localhost is not a CIDR");
}

struct RestrictedCase {
  std::string_view address;
  bool restricted;
};

TEST(IsRestrictedAddress, RangeEdges) {
  constexpr RestrictedCase kCases[] = {
      // 0.0.0.0/8
      {"0.0.0.0", true},
      {"0.255.255.255", true},
      {"1.0.0.0", false},
      // 10.0.0.0/8
      {"9.255.255.255", false},
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"11.0.0.0", false},
      // 100.64.0.0/10
      {"100.63.255.255", false},
      {"100.64.0.0", true},
      {"100.127.255.255", true},
      {"100.128.0.0", false},
      // 127.0.0.0/8
      {"126.255.255.255", false},
      {"127.0.0.0", true},
      {"127.0.0.1", true},
      {"127.255.255.255", true},
      {"128.0.0.0", false},
      // 169.254.0.0/16
      {"169.253.255.255", false},
      {"169.254.0.0", true},
      {"169.254.169.254", true},
      {"169.254.255.255", true},
      {"169.255.0.0", false},
      // 172.16.0.0/12
      {"172.15.255.255", false},
      {"172.16.0.0", true},
      {"172.31.255.255", true},
      {"172.32.0.0", false},
      // 192.0.0.0/24
      {"191.255.255.255", false},
      {"192.0.0.0", true},
      {"192.0.0.255", true},
      {"192.0.1.0", false},
      // 192.168.0.0/16
      {"192.167.255.255", false},
      {"192.168.0.0", true},
      {"192.168.255.255", true},
      {"192.169.0.0", false},
      // 198.18.0.0/15
      {"198.17.255.255", false},
      {"198.18.0.0", true},
      {"198.19.255.255", true},
      {"198.20.0.0", false},
      // 224.0.0.0/4 and everything above
      {"223.255.255.255", false},
      {"224.0.0.0", true},
      {"239.255.255.255", true},
      {"240.0.0.0", true},
      {"255.255.255.255", true},
      // Public addresses.
      {"8.8.8.8", false},
      {"93.184.216.34", false},
      // IPv6.
      {"::", true},
      {"::1", true},
      {"::2", true},  // IPv4-compatible 0.0.0.2
      {"2001:db8::1", false},
      {"2606:4700:4700::1111", false},
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
      {"fc00::", true},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"fe00::", false},
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
      {"fe80::", true},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"fec0::1", true},
      {"ff00::", true},
      {"ff02::1", true},
      // v4-mapped.
      {"::ffff:127.0.0.1", true},
      {"::ffff:10.0.0.1", true},
      {"::ffff:169.254.169.254", true},
      {"::ffff:93.184.216.34", false},
      // NAT64 with an embedded address.
      {"64:ff9b::127.0.0.1", true},
      {"64:ff9b::a9fe:a9fe", true},
      {"64:ff9b::93.184.216.34", false},
      // IPv4-compatible (deprecated).
      {"::127.0.0.1", true},
      {"::93.184.216.34", false},
  };
  for (const RestrictedCase& c : kCases) {
    EXPECT_EQ(IsRestrictedAddress(Ip(c.address)), c.restricted) << c.address;
  }
}

TEST(IsRestrictedAddress, V4MappedBuiltByHandIsStillV4) {
  IpAddress mapped;
  mapped.family = IpAddress::Family::kV6;
  mapped.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  EXPECT_TRUE(IsRestrictedAddress(mapped));
  absl::StatusOr<IpNetwork> loopback = IpNetwork::Parse("127.0.0.0/8");
  ASSERT_TRUE(loopback.ok());
  EXPECT_TRUE(loopback->Contains(mapped));
}

TEST(IsAllowedAddress, AllowlistOverridesRestriction) {
  std::vector<IpNetwork> none;
  absl::StatusOr<std::vector<IpNetwork>> allowlist = ParseAllowlist("127.0.0.0/8,fd00::/8");
  ASSERT_TRUE(allowlist.ok());

  EXPECT_TRUE(IsAllowedAddress(Ip("93.184.216.34"), none));
  EXPECT_FALSE(IsAllowedAddress(Ip("127.0.0.1"), none));
  EXPECT_TRUE(IsAllowedAddress(Ip("127.0.0.1"), *allowlist));
  EXPECT_TRUE(IsAllowedAddress(Ip("::ffff:127.0.0.1"), *allowlist));
  EXPECT_TRUE(IsAllowedAddress(Ip("fd12::1"), *allowlist));
  EXPECT_FALSE(IsAllowedAddress(Ip("10.0.0.1"), *allowlist));
  EXPECT_FALSE(IsAllowedAddress(Ip("::1"), *allowlist));
  EXPECT_FALSE(IsAllowedAddress(Ip("169.254.169.254"), *allowlist));
}

}  // namespace
}  // namespace hookd::http
