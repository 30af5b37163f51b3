#include "tunnel/connector/nft_table.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

extern char** environ;

namespace strait::connector {
namespace {

constexpr std::size_t kMaxOutput = 8192;
constexpr std::size_t kMaxIfName = 15;  // IFNAMSIZ - 1

std::string Dotted(std::uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

// nft reads the name inside double quotes; the kernel allows more than nft can quote, so refuse the rest.
bool QuotableIfName(std::string_view name) {
  if (name.empty() || name.size() > kMaxIfName) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// The table's declaration then its deletion: in one transaction this removes it whether or not it was there.
std::string DropTableLines() {
  return fmt::format("table {0} {1}\ndelete table {0} {1}\n", kNftFamily, kNftTable);
}

bool Executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void Reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

Result<std::string, std::string> MasqueradeRuleset(const MasqueradeSpec& spec) {
  if (spec.pool_prefix < 0 || spec.pool_prefix > 32) return Fail(fmt::format("pool prefix /{}", spec.pool_prefix));
  const std::uint32_t mask = spec.pool_prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - spec.pool_prefix);
  if ((spec.pool_network & ~mask) != 0) {
    return Fail(fmt::format("pool {}/{} has host bits set", Dotted(spec.pool_network), spec.pool_prefix));
  }
  if (!QuotableIfName(spec.tun_name)) return Fail(fmt::format("interface name \"{}\" cannot go into nft", spec.tun_name));
  return DropTableLines() +
         fmt::format("table {} {} {{\n"
                     "  chain postrouting {{\n"
                     "    type nat hook postrouting priority srcnat; policy accept;\n"
                     "    ip saddr {}/{} oifname != \"{}\" masquerade\n"
                     "  }}\n"
                     "}}\n",
                     kNftFamily, kNftTable, Dotted(spec.pool_network), spec.pool_prefix, spec.tun_name);
}

std::string RemoveRuleset() { return DropTableLines(); }

Result<std::string, std::string> FindNft(const NftOptions& options) {
  if (!options.binary.empty()) {
    if (Executable(options.binary)) return options.binary;
    return Fail(fmt::format("nft binary {} is not executable (Debian package: nftables)", options.binary));
  }
  // PATH first; then where Debian puts it (a service's PATH may lack the sbin directories).
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const std::size_t colon = rest.find(':');
      const std::string_view dir = rest.substr(0, colon);
      if (!dir.empty()) {
        std::string candidate = fmt::format("{}/nft", dir);
        if (Executable(candidate)) return candidate;
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  for (const char* candidate : {"/usr/sbin/nft", "/sbin/nft"}) {
    if (Executable(candidate)) return std::string(candidate);
  }
  return Fail(std::string("nft not found in PATH, /usr/sbin or /sbin: install Debian's nftables package "
                          "(apt-get install nftables)"));
}

Result<NftRun, std::string> RunNft(const std::string& binary, std::initializer_list<std::string_view> args,
                                   std::string_view input, std::chrono::milliseconds timeout) {
  // stdin is a socket, not a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE if nft exits before reading it all.
  int in[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    return Fail(fmt::format("nft: socketpair: {}", std::strerror(errno)));
  }
  Fd in_ours(in[0]), in_theirs(in[1]);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Fail(fmt::format("nft: pipe: {}", std::strerror(errno)));
  Fd out_ours(out[0]), out_theirs(out[1]);

  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(binary);
  for (std::string_view a : args) storage.emplace_back(a);
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_theirs.fd, STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copy
  posix_spawn_file_actions_adddup2(&actions, out_theirs.fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_theirs.fd, STDERR_FILENO);
  // A clean signal state for nft: the connector blocks SIGTERM/SIGINT on its threads (a signal thread waits for
  // them) and ignores SIGPIPE, and a child would inherit both.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Fail(fmt::format("nft: cannot run {}: {}", binary, std::strerror(rc)));
  in_theirs.Reset();
  out_theirs.Reset();

  // Feed stdin and read the output together, so neither side can block the other; all of it within `timeout`.
  NftRun run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t sent = 0;
  if (input.empty()) in_ours.Reset();
  bool timed_out = false;
  while (out_ours.fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{out_ours.fd, POLLIN, 0}, {in_ours.fd, POLLOUT, 0}};
    const int n = ::poll(p, in_ours.fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      timed_out = true;  // cannot wait for it any more: end it as if it had hung
      break;
    }
    if (n <= 0) continue;
    if (in_ours.fd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t w = ::send(in_ours.fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) sent += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) sent = input.size();  // nft stopped reading: it will say why
      if (sent == input.size()) in_ours.Reset();  // EOF for `nft -f -`
    }
    if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      char buf[1024];
      const ssize_t r = ::read(out_ours.fd, buf, sizeof buf);
      if (r > 0) {
        run.output.append(buf, std::min(static_cast<std::size_t>(r), kMaxOutput - std::min(kMaxOutput, run.output.size())));
      } else if (r == 0 || errno != EINTR) {
        out_ours.Reset();  // EOF: nft exited (or closed its output)
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Fail(fmt::format("nft: no answer within {} ms (killed)", timeout.count()));
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

Result<std::unique_ptr<MasqueradeTable>, std::string> MasqueradeTable::Install(const MasqueradeSpec& spec,
                                                                              const NftOptions& options,
                                                                              bool* replaced_stale) {
  auto ruleset = MasqueradeRuleset(spec);
  if (!ruleset) return Fail("masquerade: " + ruleset.error());
  auto binary = FindNft(options);
  if (!binary) return Fail("masquerade: " + binary.error());
  if (replaced_stale != nullptr) {
    // Only to say so in the log: the install below replaces a stale table either way.
    auto listed = RunNft(*binary, {"list", "table", kNftFamily, kNftTable}, {}, options.timeout);
    *replaced_stale = listed.ok() && listed->status == 0;
  }
  auto run = RunNft(*binary, {"-f", "-"}, *ruleset, options.timeout);
  if (!run) return Fail("masquerade: " + run.error());
  if (run->status != 0) {
    return Fail(fmt::format("masquerade: nft -f refused the table (exit {}): {}", run->status, Trimmed(run->output)));
  }
  return std::unique_ptr<MasqueradeTable>(new MasqueradeTable(std::move(*binary), options));
}

MasqueradeTable::~MasqueradeTable() { (void)Remove(); }

std::string MasqueradeTable::Remove() {
  if (!installed_) return {};
  installed_ = false;
  auto run = RunNft(binary_, {"-f", "-"}, RemoveRuleset(), options_.timeout);
  if (!run) return run.error();
  if (run->status != 0) return fmt::format("nft -f (exit {}): {}", run->status, Trimmed(run->output));
  return {};
}

}  // namespace strait::connector
