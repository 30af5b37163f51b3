// ConfigFile (cli/config_file.h): the strict TOML reader shared by `strait relay`, `connector` and `device`.
// Each case writes a file into its own temporary directory and parses a CLI11 subcommand's flags first, as main does.
#include "cli/config_file.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace strait::cli {
namespace {

namespace fs = std::filesystem;
using Text = ConfigFile::Text;

// The settings of a made-up daemon: one of each kind of key, each with a flag but `limit`.
struct Settings {
  std::string name = "default";
  std::string listen = "127.0.0.1:1";
  std::int64_t count = 7;
  std::size_t limit = 3;
  std::vector<std::string> peers;
  std::string mode = "fast";
  bool verbose = false;
};

// Runs `fn` with an ordinary user's privileges and returns its result. Not root: in this process. Root (CI runs as
// root, and root reads a file whatever its mode): in a forked child that first drops to the user nobody, with the
// result coming back over a pipe. A child that cannot drop its privileges reports that instead.
std::string AsUnprivileged(const std::function<std::string()>& fn) {
  if (::geteuid() != 0) return fn();
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) return "no user nobody";
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string r = "cannot drop privileges to nobody";
    if (::setgroups(0, nullptr) == 0 && ::setresgid(nobody->pw_gid, nobody->pw_gid, nobody->pw_gid) == 0 &&
        ::setresuid(nobody->pw_uid, nobody->pw_uid, nobody->pw_uid) == 0 && ::geteuid() != 0) {
      r = fn();
    }
    const ssize_t n = ::write(fds[1], r.data(), r.size());
    ::_exit(n == static_cast<ssize_t>(r.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the unprivileged child failed";
  return out;
}

class ConfigFileTest : public ::testing::Test {
 protected:
  ConfigFileTest() {
    std::string t = (fs::temp_directory_path() / "strait-config-file-XXXXXX").string();
    dir_ = ::mkdtemp(t.data());
    cmd_ = app_.add_subcommand("daemon");
    cmd_->add_option("--name", s_.name);
    cmd_->add_option("--listen", s_.listen);
    cmd_->add_option("--count", s_.count);
    cmd_->add_option("--peer", s_.peers);
    cmd_->add_option("--mode", s_.mode);
    cmd_->add_flag("--verbose", s_.verbose);
  }
  ~ConfigFileTest() override { fs::remove_all(dir_); }

  std::string Write(const std::string& text) {
    const std::string path = (dir_ / "daemon.toml").string();
    FILE* f = std::fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return path;
  }

  // Parses `flags` (after "daemon"), then reads `path` with every key declared; returns the error, if any.
  std::optional<std::string> Read(const std::string& path, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), "daemon");
    std::vector<const char*> argv{"strait"};
    for (const std::string& f : flags) argv.push_back(f.c_str());
    app_.parse(static_cast<int>(argv.size()), argv.data());
    return ConfigFile::Read(path, *cmd_, [this](ConfigFile& cfg) {
      cfg.Str("name", "--name", s_.name);
      cfg.Str("listen", "--listen", s_.listen, Text::kAddress);
      cfg.Int("count", "--count", s_.count, 0, 100);
      cfg.Int("limit", nullptr, s_.limit, 1, 64);
      cfg.Strs("peers", "--peer", s_.peers, Text::kAddress);
      cfg.OneOf("mode", "--mode", s_.mode, {"fast", "slow"});
      cfg.Bool("verbose", "--verbose", s_.verbose);
    });
  }

  fs::path dir_;
  CLI::App app_;
  CLI::App* cmd_;
  Settings s_;
};

TEST_F(ConfigFileTest, GoodFileSetsEveryKey) {
  const std::string path = Write(
      "# a comment\n"
      "name = \"edge-1\"\n"
      "listen = \"[::1]:0\"\n"
      "count = 0\n"
      "limit = 64\n"
      "peers = [\"relay.example:3101\", \"10.0.0.1:65535\"]\n"
      "mode = \"slow\"\n"
      "verbose = true\n");
  EXPECT_EQ(Read(path), std::nullopt);
  EXPECT_EQ(s_.mode, "slow");
  EXPECT_TRUE(s_.verbose);
  EXPECT_EQ(s_.name, "edge-1");
  EXPECT_EQ(s_.listen, "[::1]:0");
  EXPECT_EQ(s_.count, 0);
  EXPECT_EQ(s_.limit, 64u);
  EXPECT_EQ(s_.peers, (std::vector<std::string>{"relay.example:3101", "10.0.0.1:65535"}));
}

TEST_F(ConfigFileTest, EmptyFileChangesNothing) {
  EXPECT_EQ(Read(Write("")), std::nullopt);
  EXPECT_EQ(s_.name, "default");
  EXPECT_EQ(s_.count, 7);
  EXPECT_EQ(s_.limit, 3u);
}

TEST_F(ConfigFileTest, FlagsOverrideTheFile) {
  const std::string path = Write("name = \"file\"\ncount = 5\nlimit = 9\npeers = [\"a:1\"]\n");
  EXPECT_EQ(Read(path, {"--name", "flag", "--peer", "b:2", "--peer", "c:3"}), std::nullopt);
  EXPECT_EQ(s_.name, "flag");
  EXPECT_EQ(s_.peers, (std::vector<std::string>{"b:2", "c:3"}));
  EXPECT_EQ(s_.count, 5);   // no flag: from the file
  EXPECT_EQ(s_.limit, 9u);  // a key without a flag
}

TEST_F(ConfigFileTest, AFlagWithoutValueOverridesABooleanKey) {
  EXPECT_EQ(Read(Write("verbose = false\n"), {"--verbose"}), std::nullopt);
  EXPECT_TRUE(s_.verbose);
}

TEST_F(ConfigFileTest, UnknownKeyIsNamedWithFileAndLine) {
  const std::string path = Write("name = \"x\"\n\nnmae = \"typo\"\n");
  EXPECT_EQ(Read(path), "config " + path + ":3: unknown key 'nmae'");
}

TEST_F(ConfigFileTest, TablesAreCheckedLikeValues) {
  const std::string path = Write("count = 1\n[name]\nfirst = \"x\"\n");
  const auto e = Read(path);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->find("'name' must be a string, got a table"), std::string::npos) << *e;
  const std::string path2 = Write("count = 1\n[extra]\nx = 1\n");
  EXPECT_EQ(Read(path2), "config " + path2 + ":2: unknown key 'extra'");
}

TEST_F(ConfigFileTest, TheEarliestProblemInTheFileIsReported) {
  const std::string path = Write("count = 1\nzzz = 2\nname = 3\n");
  EXPECT_EQ(Read(path), "config " + path + ":2: unknown key 'zzz'");
}

struct BadValue {
  const char* line;
  const char* message;
};

TEST_F(ConfigFileTest, WrongTypesAndRangesNameKeyAndExpectation) {
  const BadValue cases[] = {
      {"name = 5", "'name' must be a string, got an integer"},
      {"count = \"5\"", "'count' must be an integer in 0..100, got \"5\""},
      {"count = -1", "'count' must be an integer in 0..100, got -1"},
      {"count = 101", "'count' must be an integer in 0..100, got 101"},
      {"count = 1.5", "'count' must be an integer in 0..100, got a float"},
      {"count = true", "'count' must be an integer in 0..100, got a boolean"},
      {"limit = 0", "'limit' must be an integer in 1..64, got 0"},
      {"listen = \"127.0.0.1:65536\"", "'listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1:65536\""},
      {"listen = \"127.0.0.1\"", "'listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1\""},
      {"listen = \"127.0.0.1:-1\"", "'listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1:-1\""},
      {"listen = \":80\"", "'listen' must be a string HOST:PORT (port 0..65535), got \":80\""},
      {"listen = 8080", "'listen' must be a string HOST:PORT (port 0..65535), got an integer"},
      {"peers = \"a:1\"", "'peers' must be an array of strings HOST:PORT (port 0..65535), got \"a:1\""},
      {"peers = [\"a:1\", 2]",
       "'peers' must be an array of strings HOST:PORT (port 0..65535), got an integer in the array"},
      {"peers = [\"a:1\", \"b\"]",
       "'peers' must be an array of strings HOST:PORT (port 0..65535), got \"b\" in the array"},
      {"mode = \"loud\"", "'mode' must be one of fast, slow, got \"loud\""},
      {"mode = \"FAST\"", "'mode' must be one of fast, slow, got \"FAST\""},
      {"mode = 1", "'mode' must be one of fast, slow, got an integer"},
      {"verbose = 1", "'verbose' must be true or false, got an integer"},
      {"verbose = \"yes\"", "'verbose' must be true or false, got \"yes\""},
  };
  for (const BadValue& c : cases) {
    const std::string path = Write(std::string("\n") + c.line + "\n");
    EXPECT_EQ(Read(path), "config " + path + ":2: " + c.message) << c.line;
  }
}

TEST_F(ConfigFileTest, AFlagDoesNotExcuseABadValue) {
  const std::string path = Write("count = \"many\"\n");
  const auto e = Read(path, {"--count", "4"});
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->find("'count' must be an integer"), std::string::npos) << *e;
}

TEST_F(ConfigFileTest, BadValueLeavesTheSettingUntouched) {
  ASSERT_TRUE(Read(Write("count = 500\n")).has_value());
  EXPECT_EQ(s_.count, 7);
}

TEST_F(ConfigFileTest, MissingFileNamesPathAndReason) {
  const std::string path = (dir_ / "absent.toml").string();
  EXPECT_EQ(Read(path), "config " + path + ": cannot read: No such file or directory");
}

TEST_F(ConfigFileTest, UnreadableFileNamesPathAndReason) {
  // A directory cannot be read as a file, even by root.
  EXPECT_EQ(Read(dir_.string()), "config " + dir_.string() + ": cannot read: Is a directory");
}

TEST_F(ConfigFileTest, FileWithoutReadPermission) {
  // As an ordinary user (nobody, when the test runs as root), in a directory that user may enter, so that only the
  // file's mode stands in the way: the same file with mode 0644 is read.
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  const std::string path = Write("count = 1\n");
  auto read = [&] { return Read(path).value_or("read"); };
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(AsUnprivileged(read), "read");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  EXPECT_EQ(AsUnprivileged(read), "config " + path + ": cannot read: Permission denied");
}

TEST_F(ConfigFileTest, SyntaxErrorNamesPathAndLine) {
  const std::string path = Write("count = 1\nname = \n");
  const auto e = Read(path);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rfind("config " + path + ":2: ", 0), 0u) << *e;
}

}  // namespace
}  // namespace strait::cli
