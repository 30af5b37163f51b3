// ResolvedLink (tunnel/device/resolved_link.h): the resolvectl commands, run against a fake resolvectl (a shell
// script that logs its arguments) for Apply / Update / Revert, failures and the timeout; and, where
// systemd-resolved runs, the real one (skipped elsewhere, with that reason).
#include "tunnel/device/resolved_link.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace strait::device {
namespace {

using namespace std::chrono_literals;
using strait::testing::TempDir;

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A resolvectl that appends its arguments to <dir>/log, then runs `tail` (shell) for its exit.
std::string FakeResolvectl(const TempDir& dir, const std::string& tail = "exit 0") {
  const std::string path = dir.File("resolvectl");
  std::ofstream f(path);
  f << "#!/bin/sh\necho \"$*\" >> '" << dir.File("log") << "'\n" << tail << "\n";
  f.close();
  chmod(path.c_str(), 0755);
  return path;
}

TEST(ResolvedLink, CommandsSetServersRoutingOnlyDomainsAndNoDefaultRoute) {
  const std::vector<uint32_t> servers = {0x0A140035, 0x0A140036};
  const std::vector<std::string> domains = {"Corp.Example.", "internal", "not a name"};
  const auto c = ResolvedLinkCommands("strait0", servers, domains);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], (std::vector<std::string>{"resolvectl", "dns", "strait0", "10.20.0.53", "10.20.0.54"}));
  EXPECT_EQ(c[1], (std::vector<std::string>{"resolvectl", "domain", "strait0", "~corp.example", "~internal"}));
  EXPECT_EQ(c[2], (std::vector<std::string>{"resolvectl", "default-route", "strait0", "false"}));
  const auto cleared = ResolvedLinkCommands("strait0", {}, {});
  EXPECT_EQ(cleared[0], (std::vector<std::string>{"resolvectl", "dns", "strait0", ""})) << "an empty list clears";
  EXPECT_EQ(cleared[1], (std::vector<std::string>{"resolvectl", "domain", "strait0", ""}));
}

TEST(ResolvedLink, AppliesUpdatesAndRevertsThroughResolvectl) {
  TempDir dir("strait-resolved");
  ResolvedLinkOptions o;
  o.resolvectl = FakeResolvectl(dir);
  const std::vector<uint32_t> servers = {0x0A140035};
  const std::vector<std::string> domains = {"corp.example"};
  {
    auto link = ResolvedLink::Apply("strait0", servers, domains, o);
    ASSERT_TRUE(link) << link.error();
    EXPECT_EQ(Read(dir.File("log")),
              "dns strait0 10.20.0.53\ndomain strait0 ~corp.example\ndefault-route strait0 false\n");
    const std::vector<uint32_t> more = {0x0A140035, 0x0A140036};
    ASSERT_TRUE((*link)->Update(more, {}));
  }
  EXPECT_EQ(Read(dir.File("log")),
            "dns strait0 10.20.0.53\ndomain strait0 ~corp.example\ndefault-route strait0 false\n"
            "dns strait0 10.20.0.53 10.20.0.54\ndomain strait0 \ndefault-route strait0 false\n"
            "revert strait0\n");
}

TEST(ResolvedLink, AFailureSaysWhyAndRevertsWhatWasSet) {
  TempDir dir("strait-resolved");
  ResolvedLinkOptions o;
  o.resolvectl = FakeResolvectl(dir,
                                "if [ \"$1\" = domain ]; then echo 'Failed to set domain configuration: nope' >&2; "
                                "exit 1; fi");
  const std::vector<uint32_t> servers = {0x0A140035};
  const std::vector<std::string> domains = {"corp.example"};
  auto link = ResolvedLink::Apply("strait0", servers, domains, o);
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().find("domain strait0 ~corp.example: exit 1: Failed to set domain configuration: nope"),
            std::string::npos)
      << link.error();
  EXPECT_EQ(Read(dir.File("log")), "dns strait0 10.20.0.53\ndomain strait0 ~corp.example\nrevert strait0\n");
}

TEST(ResolvedLink, AMissingResolvectlIsAnError) {
  auto r = RunCommand({"/nonexistent/resolvectl", "status"}, 1s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/nonexistent/resolvectl status"), std::string::npos) << r.error();
  ResolvedLinkOptions o;
  o.resolvectl = "/nonexistent/resolvectl";
  o.runtime_dir = "/nonexistent";
  EXPECT_FALSE(SystemdResolvedRuns(o));
}

TEST(ResolvedLink, AResolvectlThatHangsIsKilledAtTheTimeout) {
  TempDir dir("strait-resolved");
  const std::string program = FakeResolvectl(dir, "exec sleep 30");
  const auto start = std::chrono::steady_clock::now();
  auto r = RunCommand({program, "status"}, 200ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("killed"), std::string::npos) << r.error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(ResolvedLink, DetectsResolvedByItsSocket) {
  TempDir dir("strait-resolved");
  {
    std::ofstream f(dir.File("io.systemd.Resolve"));  // a file stands in for the socket: only its presence counts
  }
  ResolvedLinkOptions o;
  o.runtime_dir = dir.path();
  o.resolvectl = "/nonexistent/resolvectl";
  EXPECT_TRUE(SystemdResolvedRuns(o));
}

TEST(ResolvedLink, TheRealResolvedRefusesAnUnknownLink) {
  if (!SystemdResolvedRuns()) GTEST_SKIP() << "systemd-resolved does not run here";
  const std::vector<uint32_t> servers = {0x0A140035};
  const std::vector<std::string> domains = {"corp.example"};
  auto link = ResolvedLink::Apply("strait-nolink9", servers, domains);
  ASSERT_FALSE(link) << "no such interface";
  EXPECT_NE(link.error().find("strait-nolink9"), std::string::npos) << link.error();
}

}  // namespace
}  // namespace strait::device
