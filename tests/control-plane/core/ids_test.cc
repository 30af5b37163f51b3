#include "control-plane/api/ids.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace strait::control {
namespace {

struct IdCase {
  IdKind kind;
  const char* id;
  bool ok;
};

TEST(Ids, SyntaxPerKindAtAndPastEachBound) {
  std::string t64(64, 'a');
  std::string t65(65, 'a');
  const IdCase cases[] = {
      {IdKind::kTenant, "acme", true},
      {IdKind::kTenant, "a-1", true},
      {IdKind::kTenant, t64.c_str(), true},
      {IdKind::kTenant, t65.c_str(), false},
      {IdKind::kTenant, "", false},
      {IdKind::kTenant, "Acme", false},
      {IdKind::kTenant, "a.b", false},
      {IdKind::kTenant, "a_b", false},
      {IdKind::kConnector, "dc-east.1_a", true},
      {IdKind::kConnector, t64.c_str(), true},
      {IdKind::kConnector, t65.c_str(), false},
      {IdKind::kRelay, "relay-1", true},
      {IdKind::kRelay, "relay/1", false},
      {IdKind::kRelay, "", false},
      {IdKind::kUser, "u-abcdefghijklmnop", true},
      {IdKind::kUser, "u-abcdefghijklmno", false},    // 15
      {IdKind::kUser, "u-abcdefghijklmnopq", false},  // 17
      {IdKind::kUser, "u-abcdefghijklmn1p", false},   // 1 is not base32
      {IdKind::kUser, "u-ABCDEFGHIJKLMNOP", false},
      {IdKind::kUser, "g-abcdefghijklmnop", false},
      {IdKind::kGroup, "g-234567abcdefghij", true},
      {IdKind::kDevice, "d-7k3m9x2p4q7tab5c", false},  // 9 is not base32
      {IdKind::kDevice, "d-7k3m2x2p4q7tab5c", true},
      {IdKind::kPolicy, "p-aaaaaaaaaaaaaaaa", true},
      {IdKind::kAssignment, "pa-aaaaaaaaaaaaaaaa", true},
      {IdKind::kAssignment, "p-aaaaaaaaaaaaaaaa", false},
      {IdKind::kApiKey, "k3m2x2p4q7ta", true},
      {IdKind::kApiKey, "k3m2x2p4q7t", false},
      {IdKind::kApiKey, "k3m9x2p4q7ta", false},
      {IdKind::kActivation, "7K3M9X2P", true},
      {IdKind::kActivation, "7k3m9x2p", false},  // upper case only
      {IdKind::kActivation, "7K3M9X2U", false},  // no U in Crockford
      {IdKind::kActivation, "7K3M9X2I", false},
      {IdKind::kActivation, "7K3M9X2", false},
  };
  for (const IdCase& c : cases) {
    EXPECT_EQ(IsValidId(c.kind, c.id), c.ok) << IdKindName(c.kind) << " " << c.id;
  }
}

TEST(Ids, ParamNamesMapToKinds) {
  EXPECT_EQ(IdKindForParam("tenant"), IdKind::kTenant);
  EXPECT_EQ(IdKindForParam("key"), IdKind::kApiKey);
  EXPECT_EQ(IdKindForParam("activation"), IdKind::kActivation);
  EXPECT_EQ(IdKindForParam("assignment"), IdKind::kAssignment);
  EXPECT_EQ(IdKindForParam("event"), std::nullopt);
}

TEST(Ids, GeneratedIdsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (IdKind kind : {IdKind::kUser, IdKind::kGroup, IdKind::kDevice, IdKind::kPolicy, IdKind::kAssignment,
                      IdKind::kApiKey}) {
    for (int i = 0; i < 100; ++i) {
      std::string id = GenerateId(kind);
      EXPECT_TRUE(IsValidId(kind, id)) << id;
      EXPECT_TRUE(seen.insert(id).second) << id;
    }
  }
  // All 32 characters show up over many draws (the mapping uses the whole alphabet).
  std::set<char> chars;
  for (int i = 0; i < 200; ++i) {
    for (char c : GenerateId(IdKind::kApiKey)) chars.insert(c);
  }
  EXPECT_EQ(chars.size(), 32u);
}

}  // namespace
}  // namespace strait::control
