#include "cli/bench/netns_lab.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "tunnel/device/resolved_link.h"

namespace strait::cli::bench {
namespace {

constexpr auto kIpTimeout = std::chrono::seconds(10);
constexpr const char* kPrefix = "strait-bench-";
constexpr const char* kNetnsDir = "/var/run/netns";

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
  std::vector<std::string> argv = {ip};
  argv.insert(argv.end(), args.begin(), args.end());
  return strait::device::RunCommand(argv, kIpTimeout);
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
