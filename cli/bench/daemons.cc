#include "cli/bench/daemons.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/bench/netns_lab.h"
#include "crypto/keystore.h"

namespace strait::cli::bench {
namespace {

constexpr auto kStopGrace = std::chrono::seconds(5);

}  // namespace

Daemons::~Daemons() {
  Stop();
  children_.clear();
}

void Daemons::Stop() {
  // The device and the connector first (their links to the relay end cleanly), the relay last.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) (*it)->Stop(kStopGrace);
}

Result<demo::ChildProcess*, std::string> Daemons::Spawn(const std::string& name, const std::vector<std::string>& args,
                                                        const std::string& netns) {
  std::string error;
  std::string exe = "/proc/self/exe";
  std::vector<std::string> argv = args;
  if (!netns.empty()) {
    // `ip netns exec NS PROGRAM` execs PROGRAM in place (same PID, so pinning and signals reach the daemon); it
    // needs this binary's real path, /proc/self/exe being ip's own by then.
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Fail(fmt::format("{}: /proc/self/exe: {}", name, ec.message()));
    exe = IpCommandPath();
    argv = {"netns", "exec", netns, self};
    argv.insert(argv.end(), args.begin(), args.end());
  }
  auto c = demo::ChildProcess::Start(name, exe, argv, dir_ + "/" + name + ".stderr", &error);
  if (!c) return Fail(fmt::format("{}: {}", name, error));
  children_.push_back(std::move(c));
  return children_.back().get();
}

Result<std::string, std::string> Daemons::WaitLine(demo::ChildProcess& c, std::string_view prefix,
                                                   std::size_t* cursor) {
  auto line = c.WaitLine(prefix, demo::Clock::now() + timeout_, cursor);
  if (line) return *line;
  if (demo::Interrupted()) return Fail(std::string("interrupted"));
  // Its stdout closed before the deadline: it is exiting, and its status is the better message.
  const bool exited = c.WaitExit(demo::Clock::now() + std::chrono::seconds(1));
  return Fail(fmt::format("{} never printed \"{}\" ({}); stderr: {}", c.name(), prefix,
                          exited ? c.StatusText() : fmt::format("{} s passed", timeout_.count()),
                          c.StderrTail(3)));
}

Result<std::string, std::string> StartConnector(Daemons& d, const AppPathOptions& o, bool direct_listen) {
  const std::string policy_path = d.dir() + "/policy.toml";
  const std::string policy = fmt::format(
      "# written by strait bench: its own servers\n[[allow]]\ncidrs = [\"{}\"]\nports = [\"*\"]\n", o.allow);
  if (auto w = crypto::WritePublicFile(policy_path, policy, crypto::Overwrite::kRefuse); !w) {
    return Fail(fmt::format("policy.toml: {}", w.error().reason));
  }
  std::vector<std::string> args = {"connector", "--identity", o.connector_identity, "--relay", o.connector_relay,
                                   "--policy", policy_path, "--metrics-listen", "127.0.0.1:0"};
  if (direct_listen) args.insert(args.end(), {"--direct-listen", "127.0.0.1:0"});
  auto conn = d.Spawn("connector", args);
  if (!conn) return Fail(conn.error());
  std::size_t cc = 0;
  auto ready = d.WaitLine(**conn, "connector ready", &cc);
  if (!ready) return Fail(ready.error());
  if (auto l = d.WaitLine(**conn, "connector link up", &cc); !l) return Fail(l.error());
  const auto direct = demo::Field(*ready, "direct");
  if (direct_listen && (!direct || !demo::ParseHostPort(*direct))) {
    return Fail(fmt::format("connector: no Direct Connect address in \"{}\"", *ready));
  }
  return direct_listen ? *direct : std::string();
}

Result<demo::HostPort, std::string> StartDevice(Daemons& d, const std::string& name, const std::string& identity,
                                                const std::vector<std::string>& route) {
  std::vector<std::string> args = {"device", "--identity", identity};
  args.insert(args.end(), route.begin(), route.end());
  args.insert(args.end(), {"--socks-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
  auto dev = d.Spawn(name, args);
  if (!dev) return Fail(dev.error());
  std::size_t dc = 0;
  auto ready = d.WaitLine(**dev, "device ready", &dc);
  if (!ready) return Fail(ready.error());
  const auto socks = demo::Field(*ready, "socks");
  auto hp = socks ? demo::ParseHostPort(*socks) : std::nullopt;
  if (!hp) return Fail(fmt::format("{}: cannot read its ready line \"{}\"", name, *ready));
  if (auto l = d.WaitLine(**dev, "device session up", &dc); !l) return Fail(l.error());
  return *hp;
}

Result<std::vector<demo::HostPort>, std::string> StartAppPath(Daemons& d, const AppPathOptions& o) {
  if (!o.connector_identity.empty()) {
    if (auto c = StartConnector(d, o, /*direct_listen=*/false); !c) return Fail(c.error());
  }
  std::vector<demo::HostPort> doors;
  for (std::size_t k = 0; k < o.device_identities.size(); ++k) {
    auto door = StartDevice(d, k == 0 ? "device" : fmt::format("device-{}", k), o.device_identities[k],
                            {"--relay", o.device_relay});
    if (!door) return Fail(door.error());
    doors.push_back(*door);
  }
  return doors;
}

Result<std::unique_ptr<RemoteApp>, std::string> RemoteApp::Start(const AppPathOptions& o,
                                                                 std::chrono::seconds timeout) {
  std::unique_ptr<RemoteApp> r(new RemoteApp());
  char tmpl[] = "/tmp/strait-bench-remote.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Fail(fmt::format("mkdtemp: {}", std::strerror(errno)));
  r->dir_ = tmpl;
  r->daemons_ = std::make_unique<Daemons>(r->dir_, timeout);
  auto doors = StartAppPath(*r->daemons_, o);
  if (!doors) return Fail(doors.error());
  r->doors_ = std::move(*doors);
  return r;
}

RemoteApp::~RemoteApp() {
  daemons_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace strait::cli::bench
