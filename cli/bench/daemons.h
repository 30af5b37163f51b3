// The strait daemons a bench run starts (relay, connector, device: children of this same binary) and the app path
// through them. Used by the local deployment (cli/bench/local_deployment.h) and by a remote run of latency and bulk
// (RemoteApp: a device, and a connector if given its identity, linked to a relay the tool did not start).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::cli::bench {

// Children started in `dir` (each one's stderr in <dir>/<name>.stderr), waited on by the lines they print, each wait
// bounded by `timeout`. Stop() (and the destructor) stops them in reverse order: SIGTERM, then SIGKILL after 5 s.
class Daemons {
 public:
  Daemons(std::string dir, std::chrono::seconds timeout) : dir_(std::move(dir)), timeout_(timeout) {}
  ~Daemons();
  Daemons(const Daemons&) = delete;
  Daemons& operator=(const Daemons&) = delete;

  // `strait <args...>`; with `netns`, inside that network namespace (`ip netns exec`, which execs in place: the PID
  // is the daemon's).
  Result<demo::ChildProcess*, std::string> Spawn(const std::string& name, const std::vector<std::string>& args,
                                                 const std::string& netns = "");
  // The child's next stdout line starting with `prefix` (from *cursor on); an error names the child, what it waited
  // for, and the tail of its stderr.
  Result<std::string, std::string> WaitLine(demo::ChildProcess& c, std::string_view prefix, std::size_t* cursor);
  void Stop();
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::chrono::seconds timeout_;
  std::vector<std::unique_ptr<demo::ChildProcess>> children_;
};

// The app path's two ends: a connector (when `connector_identity` is given) whose policy allows `allow` on every port,
// linked to `connector_relay`; and a device per identity, each with its SOCKS5 door on 127.0.0.1, linked to
// `device_relay`.
struct AppPathOptions {
  std::string connector_identity;  // "": the operator's own connector serves the far end
  std::string connector_relay;     // the relay's connector port, HOST:PORT
  std::vector<std::string> device_identities;
  std::string device_relay;        // the relay's device port, HOST:PORT
  std::string allow = "127.0.0.1/32";
};
// Starts them and returns the doors once every device's session is up.
Result<std::vector<demo::HostPort>, std::string> StartAppPath(Daemons& daemons, const AppPathOptions& o);

// The two halves. StartConnector returns its Direct Connect address with `direct_listen` (a port on 127.0.0.1), else
// "". StartDevice takes `--relay ADDR` or `--direct ADDR` in `route` and returns its SOCKS5 door once its session is up.
Result<std::string, std::string> StartConnector(Daemons& daemons, const AppPathOptions& o, bool direct_listen);
Result<demo::HostPort, std::string> StartDevice(Daemons& daemons, const std::string& name, const std::string& identity,
                                                const std::vector<std::string>& route);

// A remote run's app path: the daemons in a private temporary directory, removed with it.
class RemoteApp {
 public:
  static Result<std::unique_ptr<RemoteApp>, std::string> Start(const AppPathOptions& o, std::chrono::seconds timeout);
  ~RemoteApp();
  RemoteApp(const RemoteApp&) = delete;
  RemoteApp& operator=(const RemoteApp&) = delete;
  const std::vector<demo::HostPort>& doors() const { return doors_; }

 private:
  RemoteApp() = default;
  std::string dir_;
  std::unique_ptr<Daemons> daemons_;
  std::vector<demo::HostPort> doors_;
};

}  // namespace strait::cli::bench
