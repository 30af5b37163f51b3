#include "control-plane/api/effective_policy.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

constexpr auto kUser = AssignmentTarget::kUser;
constexpr auto kGroup = AssignmentTarget::kGroup;

EffectivePolicy Compute(const std::vector<AssignmentView>& a, std::vector<std::string> groups = {"g-1", "g-2"},
                        std::optional<std::string_view> def = std::nullopt) {
  return ComputeEffectivePolicy("u-1", groups, a, def);
}

TEST(EffectivePolicy, UserAssignmentBeatsGroupWhateverThePriority) {
  auto e = Compute({{"pa-g", "p-a", kGroup, "g-1", 0}, {"pa-u", "p-b", kUser, "u-1", 1000}}, {"g-1"}, "p-d");
  EXPECT_EQ(e, (EffectivePolicy{"p-b", PolicyVia::kUser, "pa-u"}));
}

TEST(EffectivePolicy, LowestPriorityWinsWithinUserAndGroup) {
  auto e = Compute({{"pa-1", "p-a", kUser, "u-1", 5}, {"pa-2", "p-b", kUser, "u-1", 3}, {"pa-3", "p-c", kUser, "u-1", 9}});
  EXPECT_EQ(e, (EffectivePolicy{"p-b", PolicyVia::kUser, "pa-2"}));
  e = Compute({{"pa-1", "p-a", kGroup, "g-1", 5}, {"pa-2", "p-b", kGroup, "g-2", 4}});
  EXPECT_EQ(e, (EffectivePolicy{"p-b", PolicyVia::kGroup, "pa-2"}));
}

TEST(EffectivePolicy, TieGoesToTheSmallerPolicyIdInAnyOrder) {
  std::vector<AssignmentView> a = {{"pa-1", "p-z", kGroup, "g-1", 7}, {"pa-2", "p-m", kGroup, "g-2", 7}};
  EXPECT_EQ(Compute(a).policy, "p-m");
  std::swap(a[0], a[1]);
  EXPECT_EQ(Compute(a).policy, "p-m");
  EXPECT_EQ(Compute(a).assignment, "pa-2");
}

TEST(EffectivePolicy, OthersAssignmentsAreIgnored) {
  auto e = Compute({{"pa-1", "p-a", kUser, "u-2", 0}, {"pa-2", "p-b", kGroup, "g-9", 0}}, {"g-1"}, "p-d");
  EXPECT_EQ(e, (EffectivePolicy{"p-d", PolicyVia::kDefault, std::nullopt}));
  // A group id equal to the user's id is still a group assignment: the kinds do not mix.
  e = Compute({{"pa-1", "p-a", kGroup, "u-1", 0}}, {});
  EXPECT_EQ(e.via, PolicyVia::kNone);
}

TEST(EffectivePolicy, DefaultThenNone) {
  EXPECT_EQ(Compute({}, {}, "p-d"), (EffectivePolicy{"p-d", PolicyVia::kDefault, std::nullopt}));
  EXPECT_EQ(Compute({}, {}), (EffectivePolicy{std::nullopt, PolicyVia::kNone, std::nullopt}));
}

TEST(EffectivePolicy, ViaNames) {
  EXPECT_EQ(PolicyViaName(PolicyVia::kUser), "user");
  EXPECT_EQ(PolicyViaName(PolicyVia::kGroup), "group");
  EXPECT_EQ(PolicyViaName(PolicyVia::kDefault), "default");
  EXPECT_EQ(PolicyViaName(PolicyVia::kNone), "none");
}

}  // namespace
}  // namespace strait::control
