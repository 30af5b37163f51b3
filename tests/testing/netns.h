// Network namespaces for tests that touch real interfaces (TUN devices, veth pairs, routes). Made with `ip netns
// add` (iproute2 keeps a bind mount under /run/netns, so a namespace has a name other processes and `ip -n` can
// use); code runs inside one on a dedicated thread that joins it with setns(CLONE_NEWNET), so the test process
// itself never changes namespace. Everything a NetNs made is removed by its destructor, also when the test fails:
// the veth ends it holds are deleted first (synchronously; a veth pair goes with either end), then the namespace
// (the kernel tears a namespace down asynchronously, so its other interfaces, e.g. a TUN whose fd is still open,
// vanish a little later).
//
// A test that needs one skips when it cannot have one:
//   std::string why = strait::testing::NetNsSkipReason();
//   auto ns = why.empty() ? strait::testing::NetNs::Create("tun", &why) : nullptr;
//   if (!ns) GTEST_SKIP() << why;
//
// Names are "strait-nt-<tag>-<pid>-<n>", unique per process; Create first deletes namespaces of exactly that form
// whose process is gone (left by a test binary that crashed).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strait::testing {

struct CommandResult {
  int status = -1;     // exit status; -1 when the command could not be run or was killed
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh -c and captures its output. Blocks until it exits.
CommandResult RunCommand(const std::string& command);

// Why namespace tests cannot run on this machine ("not root", "no `ip` command"), or empty.
std::string NetNsSkipReason();
// As NetNsSkipReason, and "no /dev/net/tun" for tests that open TUN devices.
std::string TunSkipReason();

class NetNs {
 public:
  // Makes a namespace with its loopback up. nullptr, with the reason in *why_not (the output of `ip netns add`),
  // when it cannot be made.
  static std::unique_ptr<NetNs> Create(std::string_view tag, std::string* why_not);
  ~NetNs();  // ip netns del
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  const std::string& name() const { return name_; }

  // Runs fn on a new thread that has joined this namespace and waits for it to finish. Sockets, TUN devices and
  // netlink sockets that fn opens belong to this namespace for their whole life, also when used from other
  // threads afterwards. Note that /sys/class/net shows the namespace that mounted /sys (use /proc/thread-self/net
  // or `ip -n`). GoogleTest assertions work in fn (a fatal one returns from fn). A failed setns fails the test and
  // skips fn.
  void Run(const std::function<void()>& fn) const;

  // `ip netns exec <name> sh -c <command>`: a process inside the namespace (with /sys remounted for it).
  CommandResult Exec(const std::string& command) const;

 private:
  friend std::string AddVethPair(const NetNs&, const std::string&, const std::string&, const NetNs&,
                                 const std::string&, const std::string&);
  explicit NetNs(std::string name) : name_(std::move(name)) {}
  std::string name_;
  mutable std::vector<std::string> links_;  // veth ends to delete before the namespace
};

// A veth pair: `a_if` in a with address a_cidr ("10.99.0.1/24"), `b_if` in b with b_cidr, both up. Empty on
// success, else the failing command and its output. The pair is removed with either namespace.
std::string AddVethPair(const NetNs& a, const std::string& a_if, const std::string& a_cidr, const NetNs& b,
                        const std::string& b_if, const std::string& b_cidr);

}  // namespace strait::testing
