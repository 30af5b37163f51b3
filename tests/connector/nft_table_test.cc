// The connector's host set-up pieces without root: the masquerade ruleset text (what `nft -f -` gets), finding the
// nft binary, running a program with a ruleset on its stdin (cat and sh stand in for nft), and the ip_forward write
// (on a plain file). The table in a real kernel, with the connector running, is tests/connector/connector_tun_test.cc.
#include "tunnel/connector/nft_table.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tunnel/connector/ip_forwarding.h"

namespace strait::connector {
namespace {

namespace fs = std::filesystem;

TEST(MasqueradeRuleset, ReplacesTheTableAndMasqueradesThePoolOutOfEveryOtherInterface) {
  auto r = MasqueradeRuleset({.pool_network = 0x64600000, .pool_prefix = 16, .tun_name = "strait-c0"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r,
            "table ip strait\n"
            "delete table ip strait\n"
            "table ip strait {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            "    ip saddr 100.96.0.0/16 oifname != \"strait-c0\" masquerade\n"
            "  }\n"
            "}\n");
}

TEST(MasqueradeRuleset, WritesThePoolAsGiven) {
  auto r = MasqueradeRuleset({.pool_network = 0x0a000000 | (200u << 8), .pool_prefix = 24, .tun_name = "t0"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_NE(r->find("ip saddr 10.0.200.0/24 oifname != \"t0\" masquerade\n"), std::string::npos) << *r;
}

TEST(MasqueradeRuleset, RefusesWhatNftCouldMisread) {
  struct Case {
    MasqueradeSpec spec;
    const char* why;
  };
  const Case cases[] = {
      {{0x64600000, 33, "t0"}, "pool prefix /33"},
      {{0x64600000, -1, "t0"}, "pool prefix /-1"},
      {{0x64600001, 16, "t0"}, "pool 100.96.0.1/16 has host bits set"},
      {{0x64600000, 16, ""}, "interface name \"\" cannot go into nft"},
      {{0x64600000, 16, "a\" masquerade"}, "interface name \"a\" masquerade\" cannot go into nft"},
      {{0x64600000, 16, "a\\b"}, "interface name \"a\\b\" cannot go into nft"},
      {{0x64600000, 16, "a\nb"}, "interface name \"a\nb\" cannot go into nft"},
      {{0x64600000, 16, "sixteen-chars-xx"}, "interface name \"sixteen-chars-xx\" cannot go into nft"},
  };
  for (const Case& c : cases) {
    auto r = MasqueradeRuleset(c.spec);
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_EQ(r.error(), c.why);
  }
  EXPECT_TRUE(MasqueradeRuleset({0, 0, "fifteen-chars-x"}).ok());
}

TEST(MasqueradeRuleset, RemovalIsNoErrorWhenTheTableIsMissing) {
  // Declaring it first makes the delete valid in the same transaction whether or not it existed.
  EXPECT_EQ(RemoveRuleset(), "table ip strait\ndelete table ip strait\n");
}

TEST(FindNft, AMissingBinaryNamesTheDebianPackage) {
  auto r = FindNft({.binary = "/nonexistent/nft"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("/nonexistent/nft"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("nftables"), std::string::npos) << r.error();
  auto given = FindNft({.binary = "/bin/sh"});
  ASSERT_TRUE(given.ok()) << given.error();
  EXPECT_EQ(*given, "/bin/sh");
}

TEST(RunNft, FeedsTheInputOnStdinAndReturnsOutputAndStatus) {
  auto cat = RunNft("/bin/cat", {"-"}, "table ip strait\n", std::chrono::seconds(10));
  ASSERT_TRUE(cat.ok()) << cat.error();
  EXPECT_EQ(cat->status, 0);
  EXPECT_EQ(cat->output, "table ip strait\n");
  // stderr is captured too, and the exit status is nft's own.
  auto sh = RunNft("/bin/sh", {"-c", "read line; echo \"no: $line\" >&2; exit 3"}, "x\n", std::chrono::seconds(10));
  ASSERT_TRUE(sh.ok()) << sh.error();
  EXPECT_EQ(sh->status, 3);
  EXPECT_EQ(sh->output, "no: x\n");
}

TEST(RunNft, AProgramThatDoesNotReadItsInputCannotHurtTheCaller) {
  // Exits at once: the send meets a closed socket (EPIPE, no SIGPIPE) and the run still ends with its status.
  const std::string big(1 << 20, 'x');
  auto r = RunNft("/bin/sh", {"-c", "exit 1"}, big, std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 1);
}

TEST(RunNft, TheChildStartsWithNoSignalBlockedEvenWhenTheCallerBlocksSome) {
  // As in `strait connector`: SIGTERM and SIGINT blocked on every thread but the signal thread.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  auto r = RunNft("/bin/sh", {"-c", "grep SigBlk /proc/self/status"}, {}, std::chrono::seconds(10));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->output, "SigBlk:\t0000000000000000\n");
}

TEST(RunNft, AHungProgramIsKilledAtTheTimeout) {
  auto r = RunNft("/bin/sh", {"-c", "exec sleep 30"}, {}, std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no answer within 200 ms"), std::string::npos) << r.error();
}

TEST(RunNft, AProgramThatCannotStartIsAnError) {
  auto r = RunNft("/nonexistent/nft", {"-f", "-"}, "x", std::chrono::seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot run /nonexistent/nft"), std::string::npos) << r.error();
}

class IpForwardingTest : public ::testing::Test {
 protected:
  IpForwardingTest() : path_(fs::temp_directory_path() / ("strait-ip-forward-" + std::to_string(::getpid()))) {}
  ~IpForwardingTest() override { fs::remove(path_); }
  void Put(const std::string& text) { std::ofstream(path_) << text; }
  std::string Get() {
    std::ostringstream s;
    s << std::ifstream(path_).rdbuf();
    return s.str();
  }
  fs::path path_;
};

TEST_F(IpForwardingTest, TurnsItOnAndSaysSo) {
  Put("0\n");
  auto r = EnableIpForwarding(path_.string());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_EQ(Get(), "1\n");
}

TEST_F(IpForwardingTest, LeavesItAloneWhenOn) {
  Put("1\n");
  auto r = EnableIpForwarding(path_.string());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(*r);
  EXPECT_EQ(Get(), "1\n");
}

TEST_F(IpForwardingTest, AnErrorNamesTheFile) {
  auto r = EnableIpForwarding("/nonexistent/ip_forward");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "ip forwarding: cannot open /nonexistent/ip_forward: No such file or directory");
}

}  // namespace
}  // namespace strait::connector
