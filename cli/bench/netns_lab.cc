#include "cli/bench/netns_lab.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace strait::cli::bench {
namespace {

constexpr auto kIpTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxIpStderr = 4096;
constexpr const char* kPrefix = "strait-bench-";
constexpr const char* kNetnsDir = "/var/run/netns";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// Namespaces "strait-bench-<pid>-*" whose <pid> no longer runs.
void ReapStale() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(kNetnsDir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string rest = name.substr(std::strlen(kPrefix));
    const pid_t pid = static_cast<pid_t>(std::atol(rest.c_str()));
    if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
    (void)RunIp({"netns", "del", name});
  }
}

}  // namespace

// Debian's iproute2 puts `ip` in /usr/bin (merged /usr) or /sbin on older layouts; not always on a user's PATH.
std::string IpCommandPath() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

Result<void, std::string> RunIp(const std::vector<std::string>& args) {
  const std::string ip = IpCommandPath();
  if (ip.empty()) return Fail(std::string("no `ip` command (Debian package iproute2)"));
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Fail(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> argv_s = {"ip"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, ip.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(err_pipe[1]);
  const std::string what = fmt::format("ip {}", fmt::join(args, " "));
  if (rc != 0) {
    close(err_pipe[0]);
    return Fail(fmt::format("{}: {}", what, std::strerror(rc)));
  }
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + kIpTimeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{err_pipe[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = read(err_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;  // EOF: ip exited (or closed stderr)
    if (err.size() < kMaxIpStderr) err.append(buf, static_cast<std::size_t>(n));
  }
  close(err_pipe[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Fail(fmt::format("{}: no answer in {} s", what, kIpTimeout.count()));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Fail(fmt::format("{}: {}", what, Trim(err)));
  return {};
}

std::string NetnsLab::Unavailable() {
  if (geteuid() != 0) return "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "no /dev/net/tun (the kernel's tun module)";
  if (IpCommandPath().empty()) return "no `ip` command (Debian package iproute2)";
  return "";
}

Result<std::unique_ptr<NetnsLab>, std::string> NetnsLab::Create() {
  if (auto why = Unavailable(); !why.empty()) return Fail(why);
  ReapStale();
  std::unique_ptr<NetnsLab> lab(new NetnsLab());
  const std::string base = fmt::format("{}{}-", kPrefix, getpid());
  for (const char* n : {"device", "relay", "connector", "corp"}) lab->names_.push_back(base + n);
  if (auto r = lab->Build(); !r) return Fail(r.error());
  return lab;
}

NetnsLab::~NetnsLab() {
  for (const std::string& ns : made_) (void)RunIp({"netns", "del", ns});
}

Result<void, std::string> NetnsLab::Build() {
  for (const std::string& ns : names_) {
    if (auto r = RunIp({"netns", "add", ns}); !r) return r;
    made_.push_back(ns);
    if (auto r = RunIp({"-n", ns, "link", "set", "lo", "up"}); !r) return r;
  }
  // A veth pair made in namespace a, its peer moved to b, both addressed (/24) and up.
  auto veth = [](const std::string& a, const char* if_a, const char* ip_a, const std::string& b, const char* if_b,
                 const char* ip_b) -> Result<void, std::string> {
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {"-n", a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", b},
             {"-n", a, "addr", "add", fmt::format("{}/24", ip_a), "dev", if_a},
             {"-n", b, "addr", "add", fmt::format("{}/24", ip_b), "dev", if_b},
             {"-n", a, "link", "set", if_a, "up"},
             {"-n", b, "link", "set", if_b, "up"}}) {
      if (auto r = RunIp(cmd); !r) return r;
    }
    return {};
  };
  if (auto r = veth(device(), "veth-relay", kDeviceIp, relay(), "veth-dev", kRelayDeviceSideIp); !r) return r;
  if (auto r = veth(relay(), "veth-conn", kRelayConnectorSideIp, connector(), "veth-relay", kConnectorIp); !r) return r;
  if (auto r = veth(connector(), "veth-corp", kConnectorCorpIp, corp(), "veth-conn", kCorpTunnelIp); !r) return r;
  // The direct baseline's path: corp's second address, routed device -> relay -> connector -> corp and back by the
  // kernel. The relay namespace forwards only for it: nothing else of corp is routed there, and the tunnel's packets
  // never reach the relay's stack as IP.
  const std::vector<std::vector<std::string>> routes = {
      {"-n", corp(), "addr", "add", fmt::format("{}/24", kCorpDirectIp), "dev", "veth-conn"},
      {"-n", relay(), "route", "add", fmt::format("{}/32", kCorpDirectIp), "via", kConnectorIp},
      {"-n", device(), "route", "add", fmt::format("{}/32", kCorpDirectIp), "via", kRelayDeviceSideIp},
      {"-n", connector(), "route", "add", "10.99.1.0/24", "via", kRelayConnectorSideIp},
      {"-n", corp(), "route", "add", "10.99.1.0/24", "via", kConnectorCorpIp},
  };
  for (const auto& cmd : routes) {
    if (auto r = RunIp(cmd); !r) return r;
  }
  // Forwarding on in the relay and connector namespaces (/proc/sys/net is the opening thread's namespace's).
  for (const std::string& ns : {relay(), connector()}) {
    int err = 0;
    auto r = RunIn(ns, [&err] {
      const int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "1", 1) != 1) err = errno;
      if (fd >= 0) close(fd);
    });
    if (!r) return r;
    if (err != 0) return Fail(fmt::format("{}: cannot turn on net.ipv4.ip_forward: {}", ns, std::strerror(err)));
  }
  return {};
}

Result<void, std::string> NetnsLab::RouteToConnector(const std::string& cidr) {
  return RunIp({"-n", corp(), "route", "add", cidr, "via", kConnectorCorpIp});
}

Result<void, std::string> NetnsLab::RunIn(const std::string& ns, const std::function<void()>& fn) {
  std::string error;
  std::thread t([&] {
    const std::string path = fmt::format("{}/{}", kNetnsDir, ns);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = fmt::format("{}: {}", path, std::strerror(errno));
      return;
    }
    const int rc = setns(fd, CLONE_NEWNET);
    const int saved = errno;
    close(fd);
    if (rc != 0) {
      error = fmt::format("setns {}: {}", ns, std::strerror(saved));
      return;
    }
    fn();
  });
  t.join();
  if (!error.empty()) return Fail(error);
  return {};
}

}  // namespace strait::cli::bench
