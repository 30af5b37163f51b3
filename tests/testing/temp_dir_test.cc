// tests/testing/temp_dir.h: the scratch directory the file and CLI tests share.
#include "tests/testing/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace strait::testing {
namespace {

TEST(TempDir, IsAPrivateDirectoryRemovedWithItsContents) {
  std::string kept;
  {
    const TempDir dir("strait-temp-dir-test");
    kept = dir.path();
    struct stat st {};
    ASSERT_EQ(::stat(kept.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_NE(kept.find("/strait-temp-dir-test-"), std::string::npos);
    std::filesystem::create_directories(dir.File("a/b"));
    std::ofstream(dir.File("a/b/c.txt")) << "x";
    EXPECT_EQ(dir.File("a/b/c.txt"), kept + "/a/b/c.txt");
    EXPECT_TRUE(std::filesystem::exists(dir.File("a/b/c.txt")));
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

TEST(TempDir, TwoAreDistinct) {
  const TempDir a("strait-temp-dir-test");
  const TempDir b("strait-temp-dir-test");
  EXPECT_NE(a.path(), b.path());
}

}  // namespace
}  // namespace strait::testing
