// CredentialLinks (relay/credential_links.h) alone: the per-subject bound (oldest replaced), and the listings a
// denial uses to find the links it closes (a subject's, a tenant's, every live one), shrinking back to empty.
#include "relay/credential_links.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace strait::relay {
namespace {

using crypto::Role;
const DenyKey kDev1{Role::kDevice, "acme", "d-1"};
const DenyKey kCon1{Role::kConnector, "acme", "d-1"};  // same name, other role: another subject
const DenyKey kBeta{Role::kDevice, "beta", "d-1"};

std::vector<std::uint64_t> Sorted(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(CredentialLinks, ReplacesTheOldestOverTheLimit) {
  CredentialLinks l;
  EXPECT_FALSE(l.Add(kDev1, 1, 2));
  EXPECT_FALSE(l.Add(kDev1, 2, 2));
  EXPECT_EQ(l.Add(kDev1, 3, 2), std::optional<std::uint64_t>(1));
  EXPECT_EQ(l.LinksOf(kDev1), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_FALSE(l.Add(kCon1, 4, 2));  // its own bound
}

TEST(CredentialLinks, ListsASubjectsATenantsAndAllLinks) {
  CredentialLinks l;
  (void)l.Add(kDev1, 1, 8);
  (void)l.Add(kDev1, 2, 8);
  (void)l.Add(kCon1, 3, 8);
  (void)l.Add(kBeta, 4, 8);
  EXPECT_EQ(l.LinksOf(kDev1), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(l.LinksOf(kCon1), (std::vector<std::uint64_t>{3}));
  EXPECT_TRUE(l.LinksOf({Role::kDevice, "acme", "d-2"}).empty());
  EXPECT_EQ(Sorted(l.LinksOfTenant("acme")), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(l.LinksOfTenant("beta"), (std::vector<std::uint64_t>{4}));
  EXPECT_TRUE(l.LinksOfTenant("gamma").empty());
  EXPECT_EQ(l.All().size(), 3u);
  EXPECT_EQ(l.subjects(), 3u);
}

TEST(CredentialLinks, ShrinksBackToEmpty) {
  CredentialLinks l;
  (void)l.Add(kDev1, 1, 8);
  (void)l.Add(kCon1, 2, 8);
  l.Remove(kDev1, 1);
  l.Remove(kDev1, 1);  // twice: a no-op
  EXPECT_TRUE(l.LinksOf(kDev1).empty());
  EXPECT_EQ(l.LinksOfTenant("acme"), (std::vector<std::uint64_t>{2}));
  l.Remove(kCon1, 2);
  EXPECT_TRUE(l.LinksOfTenant("acme").empty());
  EXPECT_EQ(l.subjects(), 0u);
  EXPECT_TRUE(l.All().empty());
}

}  // namespace
}  // namespace strait::relay
