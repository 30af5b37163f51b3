// `strait device` as a process: bundles from `strait keys`, the contract's stdout lines, SIGTERM → exit 0, bad
// input → exit 1, usage errors → exit 2. The peer is the in-process FakeConnector (Direct Connect style), loaded
// from a connector bundle made by `strait keys`. The binary's path comes from CMake (STRAIT_BINARY,
// tests/CMakeLists.txt); a binary that cannot run fails the test.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "tests/device/device_test_util.h"
#include "tests/testing/temp_dir.h"

namespace strait::device {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers
namespace fs = std::filesystem;

// A scratch directory (tests/testing/temp_dir.h) as a std::filesystem::path.
struct TempDir {
  strait::testing::TempDir dir{"strait-device-cli"};
  fs::path path{dir.path()};
};

int RunCmd(const std::string& cmd) { return WEXITSTATUS(std::system((cmd + " >/dev/null 2>&1").c_str())); }

// A child process with stdout on a pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string buffer;

  Child(const std::string& exe, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(exe.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = fds[0];
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
  // Reads until a line starting with `prefix` arrives (returns it) or the deadline passes (returns "").
  std::string WaitLine(std::string_view prefix, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (line.rfind(prefix, 0) == 0) return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char buf[1024];
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) return {};
      buffer.append(buf, static_cast<std::size_t>(n));
    }
  }
  // SIGTERM, then the exit status (-1 if it did not exit within the deadline).
  int Terminate(std::chrono::milliseconds timeout = 20s) {
    ::kill(pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd p{out, POLLIN, 0};
      (void)::poll(&p, 1, 10);  // wait for output or a short tick; the loop is bounded by the deadline
      char buf[1024];
      if ((p.revents & POLLIN) != 0) (void)::read(out, buf, sizeof buf);
    }
    return -1;
  }
};

class DeviceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    strait_ = STRAIT_BINARY;
    ASSERT_EQ(::access(strait_.c_str(), X_OK), 0) << strait_ << ": " << std::strerror(errno);
    const std::string d = dir_.path.string();
    ASSERT_EQ(RunCmd(strait_ + " keys init-root --out " + d + "/root"), 0);
    ASSERT_EQ(RunCmd(strait_ + " keys tenant --root " + d + "/root --tenant acme --days 30 --out " + d + "/tenant"), 0);
    ASSERT_EQ(RunCmd(strait_ + " keys tls-ca --out " + d + "/ca"), 0);
    ASSERT_EQ(RunCmd(strait_ + " keys issue --role connector --tenant-dir " + d + "/tenant --subject conn-1 --hours 24 " +
                  "--ca " + d + "/ca --out " + d + "/c1"),
              0);
    ASSERT_EQ(RunCmd(strait_ + " keys issue --role device --tenant-dir " + d + "/tenant --subject dev-1 --hours 24 " +
                  "--ca " + d + "/ca --out " + d + "/d1"),
              0);
  }
  std::string strait_;
  TempDir dir_;
};

TEST_F(DeviceCli, PrintsReadyAndSessionUpViaDirectAndExitsZeroOnSigterm) {
  auto c1 = crypto::LoadIdentityBundle((dir_.path / "c1").string());
  ASSERT_TRUE(c1.ok()) << c1.error().reason;
  Pki pki;  // replaced by the bundle's identities
  pki.root.public_key = c1->root_public_key;
  pki.connector_cred = c1->credential;
  pki.connector_noise = *c1->noise_key;
  pki.connector_key = crypto::Ed25519KeyPair::FromSeed(c1->signing_key.seed);
  LoopThread loop;
  FakeConnector* fake = nullptr;
  loop.Call([&] {
    fake = new FakeConnector(loop.loop(), pki, UnknownCaServerTls());
    fake->ShowConnectorCredential();  // the device dials it as a Direct Connect connector
    loop.AtExit([fake] { delete fake; });  // by value: the loop outlives this pointer variable
  });
  Child child(strait_, {"device", "--identity", (dir_.path / "d1").string(), "--direct", fake->address.ToString(),
                        "--socks-listen", "127.0.0.1:0"});
  const std::string ready = child.WaitLine("device ready ");
  ASSERT_NE(ready, "");
  EXPECT_NE(ready.find("socks=127.0.0.1:"), std::string::npos) << ready;
  EXPECT_EQ(ready.find("socks=127.0.0.1:0"), std::string::npos) << "the bound port is printed: " << ready;
  const std::string up = child.WaitLine("device session up ");
  EXPECT_EQ(up, "device session up connector=dc1 via=direct");
  EXPECT_EQ(child.Terminate(), 0);
}

TEST_F(DeviceCli, ConfigFileSuppliesTheSettings) {
  const fs::path cfg = dir_.path / "device.toml";
  {
    FILE* f = std::fopen(cfg.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "identity = \"%s\"\nrelay = \"%s\"\nsocks_listen = \"127.0.0.1:0\"\n",
                 (dir_.path / "d1").c_str(), RefusingAddress().ToString().c_str());
    std::fclose(f);
  }
  Child child(strait_, {"device", "--config", cfg.string()});
  EXPECT_NE(child.WaitLine("device ready socks=127.0.0.1:"), "");
  EXPECT_EQ(child.Terminate(), 0);
}

TEST_F(DeviceCli, RefusesBadInput) {
  const std::string d1 = (dir_.path / "d1").string();
  const std::string relay = RefusingAddress().ToString();
  // Non-loopback SOCKS address: exit 1.
  EXPECT_EQ(RunCmd(strait_ + " device --identity " + d1 + " --relay " + relay + " --socks-listen 0.0.0.0:1080"), 1);
  // Not a device bundle: exit 1.
  EXPECT_EQ(RunCmd(strait_ + " device --identity " + (dir_.path / "c1").string() + " --relay " + relay +
                " --socks-listen 127.0.0.1:0"),
            1);
  // Bad address: exit 1.
  EXPECT_EQ(RunCmd(strait_ + " device --identity " + d1 + " --relay nowhere --socks-listen 127.0.0.1:0"), 1);
  // Neither relay nor direct: usage error, exit 2.
  EXPECT_EQ(RunCmd(strait_ + " device --identity " + d1 + " --socks-listen 127.0.0.1:0"), 2);
  // Unknown config key: exit 1.
  const fs::path cfg = dir_.path / "bad.toml";
  FILE* f = std::fopen(cfg.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("identiti = \"x\"\n", f);
  std::fclose(f);
  EXPECT_EQ(RunCmd(strait_ + " device --config " + cfg.string()), 1);
  // A TUN name the kernel can't take (16 bytes): exit 1 before anything starts.
  EXPECT_EQ(RunCmd(strait_ + " device --identity " + d1 + " --relay " + relay +
                " --socks-listen 127.0.0.1:0 --tun --tun-name strait0123456789"),
            1);
  // `tun` must be a boolean.
  const fs::path tun_cfg = dir_.path / "tun.toml";
  f = std::fopen(tun_cfg.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fprintf(f, "identity = \"%s\"\nrelay = \"%s\"\ntun = \"yes\"\n", d1.c_str(), relay.c_str());
  std::fclose(f);
  EXPECT_EQ(RunCmd(strait_ + " device --config " + tun_cfg.string()), 1);
}

}  // namespace
}  // namespace strait::device
