#include "tunnel/device/resolved_link.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tunnel/device/dns_message.h"
#include "tunnel/tunnel_control.h"

extern char** environ;

namespace strait::device {
namespace {

constexpr size_t kMaxStderr = 1024;  // what is kept of resolvectl's complaint

std::string Joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

std::vector<std::vector<std::string>> WithProgram(std::vector<std::vector<std::string>> commands,
                                                  const std::string& program) {
  for (auto& c : commands) c[0] = program;
  return commands;
}

}  // namespace

std::vector<std::vector<std::string>> ResolvedLinkCommands(const std::string& ifname,
                                                           std::span<const uint32_t> servers,
                                                           std::span<const std::string> domains) {
  std::vector<std::string> dns = {"resolvectl", "dns", ifname};
  for (const uint32_t s : servers) dns.push_back(tunnel::Ipv4Text(s));
  std::vector<std::string> domain = {"resolvectl", "domain", ifname};
  for (const std::string& d : CanonicalDnsDomains(domains)) domain.push_back("~" + d);
  // An empty list is given as one empty argument, which clears the setting (with no argument at all resolvectl
  // would only show it): no servers or no domains, and nothing is routed to the link.
  if (dns.size() == 3) dns.emplace_back();
  if (domain.size() == 3) domain.emplace_back();
  return {dns, domain, {"resolvectl", "default-route", ifname, "false"}};
}

Result<void, std::string> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const std::string what = Joined(argv);
  if (argv.empty()) return Fail(std::string("no command"));
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Fail(what + ": pipe: " + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(err_pipe[1]);
  if (rc != 0) {
    close(err_pipe[0]);
    return Fail(what + ": " + std::strerror(rc));
  }

  // Its stderr until EOF (it exited, or closed it) or the deadline.
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{err_pipe[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[512];
    const ssize_t got = read(err_pipe[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (err.size() < kMaxStderr) err.append(buf, std::min(static_cast<size_t>(got), kMaxStderr - err.size()));
  }
  close(err_pipe[0]);
  if (timed_out) (void)kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Fail(what + ": no answer within " + std::to_string(timeout.count()) + " ms, killed");
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  for (char& c : err) {
    if (c == '\n') c = ' ';
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return Fail(what + ": could not run it (not installed?)");
  const std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                            : "signal " + std::to_string(WTERMSIG(status));
  return Fail(what + ": " + how + (err.empty() ? "" : ": " + err));
}

bool SystemdResolvedRuns(const ResolvedLinkOptions& options) {
  struct stat st {};
  if (stat((options.runtime_dir + "/io.systemd.Resolve").c_str(), &st) == 0) return true;
  return RunCommand({options.resolvectl, "status"}, options.timeout).ok();
}

ResolvedLink::ResolvedLink(std::string ifname, ResolvedLinkOptions options)
    : ifname_(std::move(ifname)), options_(std::move(options)) {}

Result<std::unique_ptr<ResolvedLink>, std::string> ResolvedLink::Apply(const std::string& ifname,
                                                                      std::span<const uint32_t> servers,
                                                                      std::span<const std::string> domains,
                                                                      const ResolvedLinkOptions& options) {
  std::unique_ptr<ResolvedLink> link(new ResolvedLink(ifname, options));
  auto r = link->Update(servers, domains);
  if (!r) return Fail(r.error());  // the destructor reverts what was set
  return link;
}

ResolvedLink::~ResolvedLink() { (void)Revert(); }

Result<void, std::string> ResolvedLink::Update(std::span<const uint32_t> servers,
                                               std::span<const std::string> domains) {
  reverted_ = false;
  for (const auto& argv : WithProgram(ResolvedLinkCommands(ifname_, servers, domains), options_.resolvectl)) {
    auto r = RunCommand(argv, options_.timeout);
    if (!r) return Fail("resolved: " + r.error());
  }
  return {};
}

Result<void, std::string> ResolvedLink::Revert() {
  if (reverted_) return {};
  auto r = RunCommand({options_.resolvectl, "revert", ifname_}, options_.timeout);
  if (!r) return Fail("resolved: " + r.error());
  reverted_ = true;
  return {};
}

}  // namespace strait::device
