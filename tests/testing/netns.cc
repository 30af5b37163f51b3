#include "tests/testing/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <thread>

namespace strait::testing {

namespace {

// Only names of this form are ever swept: another tool's "strait-..." namespaces are left alone.
constexpr std::string_view kPrefix = "strait-nt-";

// "strait-nt-<tag>-<pid>-<n>" -> pid, or 0 when the name is not one of ours.
pid_t OwnerPid(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return 0;
  const auto last = name.rfind('-');
  if (last == std::string_view::npos || last == 0) return 0;
  const auto before = name.rfind('-', last - 1);
  if (before == std::string_view::npos) return 0;
  const std::string pid_text(name.substr(before + 1, last - before - 1));
  if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<pid_t>(std::stol(pid_text));
}

// Deletes namespaces named by a test process that no longer exists (it crashed before its destructors ran).
void SweepLeftovers() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    const pid_t pid = OwnerPid(name);
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) (void)RunCommand("ip netns del " + name);
  }
}

}  // namespace

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string NetNsSkipReason() {
  if (::geteuid() != 0) return "needs root (network namespaces, TUN devices)";
  if (RunCommand("ip -V").status != 0) return "no `ip` command (iproute2); scripts/setup.sh installs it";
  return {};
}

std::string TunSkipReason() {
  std::string why = NetNsSkipReason();
  if (why.empty() && ::access("/dev/net/tun", R_OK | W_OK) != 0) {
    why = std::string("no usable /dev/net/tun: ") + std::strerror(errno);
  }
  return why;
}

std::unique_ptr<NetNs> NetNs::Create(std::string_view tag, std::string* why_not) {
  static std::atomic<int> counter{0};
  SweepLeftovers();
  const std::string name = std::string(kPrefix) + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1));
  const CommandResult add = RunCommand("ip netns add " + name);
  if (add.status != 0) {
    *why_not = "`ip netns add " + name + "` failed: " + add.output;
    return nullptr;
  }
  std::unique_ptr<NetNs> ns(new NetNs(name));  // from here on the destructor deletes it
  const CommandResult lo = RunCommand("ip -n " + name + " link set lo up");
  if (lo.status != 0) {
    *why_not = "`ip -n " + name + " link set lo up` failed: " + lo.output;
    return nullptr;
  }
  return ns;
}

NetNs::~NetNs() {
  // Already gone when the other end's namespace deleted the pair first: the failure is expected and ignored.
  for (const auto& link : links_) (void)RunCommand("ip -n " + name_ + " link del " + link);
  const CommandResult del = RunCommand("ip netns del " + name_);
  if (del.status != 0) ADD_FAILURE() << "ip netns del " << name_ << ": " << del.output;
}

void NetNs::Run(const std::function<void()>& fn) const {
  std::thread worker([&] {
    const std::string path = "/run/netns/" + name_;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
      return;
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int e = errno;
    ::close(fd);
    if (rc != 0) {
      ADD_FAILURE() << "setns " << path << ": " << std::strerror(e);
      return;
    }
    fn();
  });
  worker.join();
}

CommandResult NetNs::Exec(const std::string& command) const {
  std::string quoted = "'";
  for (const char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return RunCommand("ip netns exec " + name_ + " sh -c " + quoted);
}

std::string AddVethPair(const NetNs& a, const std::string& a_if, const std::string& a_cidr, const NetNs& b,
                        const std::string& b_if, const std::string& b_cidr) {
  const std::string commands[] = {
      "ip link add " + a_if + " netns " + a.name() + " type veth peer name " + b_if + " netns " + b.name(),
      "ip -n " + a.name() + " addr add " + a_cidr + " dev " + a_if,
      "ip -n " + b.name() + " addr add " + b_cidr + " dev " + b_if,
      "ip -n " + a.name() + " link set " + a_if + " up",
      "ip -n " + b.name() + " link set " + b_if + " up",
  };
  const CommandResult add = RunCommand(commands[0]);
  if (add.status != 0) return "`" + commands[0] + "` failed: " + add.output;
  a.links_.push_back(a_if);
  b.links_.push_back(b_if);
  for (const auto& command : std::span(commands).subspan(1)) {
    const CommandResult r = RunCommand(command);
    if (r.status != 0) return "`" + command + "` failed: " + r.output;
  }
  return {};
}

}  // namespace strait::testing
