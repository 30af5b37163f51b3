// ControlPlane: strait-control as a child process, and the calls an operator and a tenant admin make to stand up a
// tenant (docs/control-plane.md §12), for `strait demo`, the e2e tests and bench/control. strait-control is a
// separate executable (OpenSSL 3; design.md "One TLS library per process"); this side talks to it over HTTPS with
// the project's BoringSSL client (control_api.h).
//
//   Start          `strait-control init` (root, TLS CA, operator key) in DIR/control with the public URL
//                  https://127.0.0.1:PORT (a port free a moment before), then `serve` on it
//   CreateTenant   the tenant (seats) and its admin API key
//   CreateRelay    a relay with its endpoints and TLS names; its activation code
//   CreateConnector / CreateDevice   a connector, or a user and a device activation; the code
//   Enrol          `strait relay enroll` / `connector enroll` / `device activate` to completion; the subject's id
//
// Every wait has the caller's deadline. The child is stopped (SIGTERM) when this object goes; its stderr is in
// DIR/control.stderr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/demo/control_api.h"
#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::demo {

// strait-control next to `strait_exe` (installed side by side), then `strait_exe`'s ../control-plane/strait-control
// (the build tree), then PATH; "" when none is found.
std::string FindControlBinary(const std::string& strait_exe);

class ControlPlane {
 public:
  struct Options {
    std::string exe;     // strait-control
    std::string strait;  // strait, for the enrol commands
    std::string dir;     // an existing directory: DIR/control holds the data
    Clock::time_point deadline;
    std::string config_toml;  // when set: written to DIR/control.toml and served with --config (e.g. rate limits)
  };
  static Result<std::unique_ptr<ControlPlane>, std::string> Start(const Options& options);
  ~ControlPlane();

  const std::string& url() const { return url_; }
  const std::string& ca_path() const { return ca_path_; }
  const ControlApi& op() const { return *op_; }
  ChildProcess& process() { return *process_; }

  // The tenant and its admin key: the admin's API.
  Result<ControlApi, std::string> CreateTenant(const std::string& tenant, unsigned seats);
  // The relay (device and connector endpoints 127.0.0.1:PORT, TLS names localhost and 127.0.0.1): its code.
  Result<std::string, std::string> CreateRelay(const std::string& relay, uint16_t device_port, uint16_t connector_port);
  Result<std::string, std::string> CreateConnector(const ControlApi& admin, const std::string& tenant,
                                                   const std::string& connector);
  // A user (`email`) and a device activation for it (OS linux): the code.
  Result<std::string, std::string> CreateDevice(const ControlApi& admin, const std::string& tenant,
                                                const std::string& email);
  // `strait <kind words> --url --code --ca --out <out>` to completion (kind: "relay enroll", "connector enroll",
  // "device activate"): the id= its stdout line names.
  Result<std::string, std::string> Enrol(const std::string& kind, const std::string& code, const std::string& out);

 private:
  ControlPlane() = default;
  Result<std::string, std::string> Code(const ControlApi& api, const std::string& target, const nlohmann::json& body);

  Options options_;
  std::unique_ptr<ChildProcess> process_;
  std::unique_ptr<ControlApi> op_;
  std::string url_;
  std::string ca_path_;
  std::string ca_pem_;
  unsigned runs_ = 0;  // one-shot children so far (their stderr files are numbered)
};

}  // namespace strait::demo
