// The shared file layer (crypto/secret_file.h): atomic writes with the final mode from creation, the atomic
// refusal to overwrite, the secret-file mode check and the owner-only directory. keystore_test.cc checks the same
// rules through the keystore's typed files; these call the layer strait-control uses directly.
#include "crypto/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace strait::crypto {
namespace {

struct TempDir : strait::testing::TempDir {
  TempDir() : strait::testing::TempDir("strait-secret-file") {}
};

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SecretFile, WritesTheModeFromCreationWhateverTheUmask) {
  TempDir d;
  const mode_t old = ::umask(0);
  auto secret = WriteFileAtomic(d.File("secretbox.key"), "s", FileAccess::kSecret, Overwrite::kRefuse);
  auto pub = WriteFileAtomic(d.File("root.pub"), "p", FileAccess::kPublic, Overwrite::kRefuse);
  ::umask(old);
  ASSERT_TRUE(secret.ok()) << secret.error().reason;
  ASSERT_TRUE(pub.ok()) << pub.error().reason;
  EXPECT_EQ(ModeOf(d.File("secretbox.key")), 0600u);
  EXPECT_EQ(ModeOf(d.File("root.pub")), 0644u);
  EXPECT_EQ(Slurp(d.File("secretbox.key")), "s");
  EXPECT_EQ(Slurp(d.File("root.pub")), "p");
}

TEST(SecretFile, RefusesToOverwriteUnlessReplaceAndLeavesNoTemporary) {
  TempDir d;
  const std::string path = d.File("root.key");
  ASSERT_TRUE(WriteFileAtomic(path, "first", FileAccess::kSecret, Overwrite::kRefuse).ok());
  auto again = WriteFileAtomic(path, "second", FileAccess::kSecret, Overwrite::kRefuse);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, FileError::kExists);
  EXPECT_NE(again.error().reason.find(path), std::string::npos) << again.error().reason;
  EXPECT_EQ(Slurp(path), "first");

  ASSERT_TRUE(WriteFileAtomic(path, "second", FileAccess::kSecret, Overwrite::kReplace).ok());
  EXPECT_EQ(Slurp(path), "second");
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ListDir(d.path()), std::vector<std::string>{"root.key"});
}

TEST(SecretFile, MissingDirectoryIsNotFound) {
  TempDir d;
  auto r = WriteFileAtomic(d.File("no/such/x.key"), "s", FileAccess::kSecret, Overwrite::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, FileError::kNotFound);
  EXPECT_TRUE(ListDir(d.path()).empty());
}

TEST(SecretFile, ModeCheckRefusesAnyGroupOrOtherAccessWithTheChmodThatFixesIt) {
  for (mode_t ok : {0600, 0400, 0700, 0200, 0000}) {
    EXPECT_TRUE(CheckSecretFileMode("/k", S_IFREG | ok).ok()) << std::oct << ok;
  }
  for (mode_t bad : {0640, 0604, 0660, 0644, 0610, 0601, 0620, 0602, 0777}) {
    auto r = CheckSecretFileMode("/etc/strait/k", S_IFREG | bad);
    ASSERT_FALSE(r.ok()) << std::oct << bad;
    EXPECT_EQ(r.error().code, FileError::kInsecurePermissions);
    EXPECT_NE(r.error().reason.find("chmod 600 /etc/strait/k"), std::string::npos) << r.error().reason;
  }
  auto r = CheckSecretFileMode("/k", S_IFREG | 0640);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().reason.find("mode 0640"), std::string::npos) << r.error().reason;
}

TEST(SecretFile, EnsurePrivateDirectoryCreatesParentsOwnerOnly) {
  TempDir d;
  const std::string nested = d.File("state/keys/tls");
  ASSERT_TRUE(EnsurePrivateDirectory(nested).ok());
  EXPECT_EQ(ModeOf(nested), 0700u);
  EXPECT_EQ(ModeOf(d.File("state")), 0700u);
  EXPECT_TRUE(EnsurePrivateDirectory(nested).ok());
  ASSERT_TRUE(WriteFileAtomic(d.File("file"), "x", FileAccess::kPublic, Overwrite::kRefuse).ok());
  auto r = EnsurePrivateDirectory(d.File("file"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, FileError::kIo);
  EXPECT_TRUE(PathExists(d.File("file")));
  EXPECT_FALSE(PathExists(d.File("nope")));
}

}  // namespace
}  // namespace strait::crypto
