// `strait relay` as a process: identity from `strait keys`, the ready line, the metrics endpoint, SIGTERM → exit 0,
// and bad input → exit 1 / 2. The binary's path comes from CMake (STRAIT_BINARY).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "runtime/net.h"
#include "tests/testing/temp_dir.h"

namespace {

struct Proc {
  pid_t pid = -1;
  int out = -1;
};

Proc Spawn(const std::vector<std::string>& args, bool capture = true) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(capture ? fds[1] : devnull, 1);
    ::dup2(devnull, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads stdout until a full line arrives or the deadline passes.
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) break;
    if (c == '\n') return line;
    line += c;
  }
  return line;
}

// Waits for the process to exit (bounded); returns its exit code, or -1 (then it was killed).
int WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // bounded wait for exit, not synchronisation
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

int RunProc(const std::vector<std::string>& args) {
  Proc p = Spawn(args, false);
  if (p.pid < 0) return -1;
  ::close(p.out);
  return WaitExit(p.pid, std::chrono::seconds(30));
}

std::string Field(const std::string& line, const std::string& key) {
  const auto at = line.find(key + "=");
  if (at == std::string::npos) return "";
  const auto end = line.find(' ', at);
  return line.substr(at + key.size() + 1, end == std::string::npos ? std::string::npos : end - at - key.size() - 1);
}

class RelayCli : public ::testing::Test {
 protected:
  std::string Path(const std::string& p) const { return dir_.File(p); }
  void MakeIdentity() {
    const std::string s = STRAIT_BINARY;
    ASSERT_EQ(RunProc({s, "keys", "init-root", "--out", Path("R")}), 0);
    ASSERT_EQ(RunProc({s, "keys", "tls-ca", "--out", Path("CA")}), 0);
    ASSERT_EQ(RunProc({s, "keys", "issue", "--role", "relay", "--root", Path("R"), "--subject", "relay-1", "--hours", "1",
                   "--tls-ca-dir", Path("CA"), "--ip", "127.0.0.1", "--out", Path("RELAY")}),
              0);
  }
  strait::testing::TempDir dir_{"strait-relay-cli"};
};

TEST_F(RelayCli, ReadyLineMetricsAndSigtermExitZero) {
  MakeIdentity();
  Proc p = Spawn({STRAIT_BINARY, "relay", "--identity", Path("RELAY"), "--device-listen", "127.0.0.1:0",
                  "--connector-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--threads", "2",
                  "--drain-ms", "100"});
  ASSERT_GT(p.pid, 0);
  const std::string line = ReadLine(p.out, std::chrono::seconds(20));
  EXPECT_EQ(line.rfind("relay ready device=127.0.0.1:", 0), 0u) << line;
  const std::string metrics = Field(line, "metrics");
  EXPECT_FALSE(Field(line, "connector").empty()) << line;
  auto addr = strait::runtime::ParseSocketAddress(metrics);
  ASSERT_TRUE(addr.ok()) << line;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(fd, addr->get(), addr->len), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_NE(resp.find("strait_relay_links{role=\"device\"} 0"), std::string::npos) << resp;
  ::kill(p.pid, SIGTERM);
  EXPECT_EQ(WaitExit(p.pid, std::chrono::seconds(20)), 0);
  ::close(p.out);
}

TEST_F(RelayCli, BadInputExitCodes) {
  // No --identity: usage error.
  EXPECT_EQ(RunProc({STRAIT_BINARY, "relay", "--device-listen", "127.0.0.1:0"}), 2);
  // Non-loopback metrics: usage error.
  EXPECT_EQ(RunProc({STRAIT_BINARY, "relay", "--identity", Path("none"), "--metrics-listen", "0.0.0.0:0"}), 2);
  // A missing identity bundle: operational error.
  EXPECT_EQ(RunProc({STRAIT_BINARY, "relay", "--identity", Path("none"), "--device-listen", "127.0.0.1:0",
                 "--connector-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}),
            1);
}

}  // namespace
