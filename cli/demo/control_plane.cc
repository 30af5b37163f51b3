#include "cli/demo/control_plane.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "crypto/keystore.h"

namespace strait::demo {
namespace {

bool IsExecutable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// Runs `exe args` to completion (exit 0); its stdout lines.
Result<std::vector<std::string>, std::string> RunToExit(const std::string& name, const std::string& exe,
                                                        const std::vector<std::string>& args,
                                                        const std::string& stderr_path, Clock::time_point deadline) {
  std::string error;
  auto c = ChildProcess::Start(name, exe, args, stderr_path, &error);
  if (!c) return Fail(error);
  if (!c->WaitExit(deadline)) return Fail(fmt::format("{} did not finish in time", name));
  if (!c->ExitedCleanly()) return Fail(fmt::format("{}: {}; stderr: {}", name, c->StatusText(), c->StderrTail(3)));
  return c->Lines();
}

Result<std::string, std::string> TextField(const nlohmann::json& j, const char* field, const std::string& what) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) return Fail(fmt::format("{}: the answer has no \"{}\"", what, field));
  return it->get<std::string>();
}

}  // namespace

std::string FindControlBinary(const std::string& strait_exe) {
  std::error_code ec;
  std::filesystem::path self = strait_exe;
  if (self == "/proc/self/exe") self = std::filesystem::read_symlink(self, ec);
  if (!ec && !self.empty()) {
    for (const auto& p : {self.parent_path() / "strait-control",
                          self.parent_path().parent_path() / "control-plane" / "strait-control"}) {
      if (IsExecutable(p)) return p.string();
    }
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      const std::filesystem::path p = std::filesystem::path(std::string(rest.substr(0, colon))) / "strait-control";
      if (IsExecutable(p)) return p.string();
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  return "";
}

Result<std::unique_ptr<ControlPlane>, std::string> ControlPlane::Start(const Options& options) {
  if (options.exe.empty() || !IsExecutable(options.exe)) {
    return Fail(options.exe.empty() ? std::string("strait-control not found next to strait, in the build tree or on "
                                                  "PATH (build it: scripts/build.sh release build strait-control)")
                                    : fmt::format("{}: not an executable", options.exe));
  }
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  cp->options_ = options;
  const std::string data = options.dir + "/control";
  // The URL the bundles carry is fixed at init (--public-url), so the port is picked before and served on after.
  const uint16_t port = PickFreePort();
  if (port == 0) return Fail(std::string("no free loopback port for strait-control"));
  const std::string listen_at = fmt::format("127.0.0.1:{}", port);
  auto init = RunToExit("control-init", options.exe,
                        {"init", "--data", data, "--name", "localhost", "--ip", "127.0.0.1", "--public-url",
                         "https://" + listen_at},
                        options.dir + "/control-init.stderr", options.deadline);
  if (!init) return Fail(init.error());
  std::string op_key;
  for (const std::string& line : *init) {
    if (auto k = Field(line, "operator_api_key")) op_key = *k;
  }
  if (op_key.empty()) return Fail(std::string("strait-control init printed no operator_api_key="));

  std::vector<std::string> serve = {"serve", "--data", data, "--listen", listen_at};
  if (!options.config_toml.empty()) {
    const std::string config = options.dir + "/control.toml";
    if (auto w = crypto::WritePublicFile(config, options.config_toml, crypto::Overwrite::kReplace); !w) {
      return Fail(fmt::format("{}: {}", config, w.error().reason));
    }
    serve.insert(serve.end(), {"--config", config});
  }
  std::string error;
  cp->process_ = ChildProcess::Start("control", options.exe, serve,
                                     options.dir + "/control.stderr", &error);
  if (!cp->process_) return Fail(error);
  auto ready = cp->process_->WaitLine("control ready", options.deadline);
  auto listen = ready ? Field(*ready, "listen") : std::nullopt;
  if (!listen) {
    return Fail(fmt::format("strait-control serve never said \"control ready listen=...\": {}; stderr: {}",
                            cp->process_->StatusText(), cp->process_->StderrTail(3)));
  }
  cp->url_ = "https://" + *listen;
  cp->ca_path_ = data + "/tls-ca/ca.pem";
  auto ca = crypto::ReadPublicFile(cp->ca_path_);
  if (!ca || ca->empty()) return Fail(fmt::format("{}: no CA certificate after init", cp->ca_path_));
  cp->ca_pem_ = std::move(*ca);
  cp->op_ = std::make_unique<ControlApi>(cp->url_, cp->ca_pem_, op_key);
  return cp;
}

ControlPlane::~ControlPlane() {
  if (process_) process_->Stop(std::chrono::seconds(5));
}

Result<std::string, std::string> ControlPlane::Code(const ControlApi& api, const std::string& target,
                                                    const nlohmann::json& body) {
  auto r = api.Post(target, body);
  if (!r) return Fail(r.error());
  return TextField(*r, "code", "POST " + target);
}

Result<ControlApi, std::string> ControlPlane::CreateTenant(const std::string& tenant, unsigned seats) {
  if (auto r = op_->Post("/v1/tenants", {{"id", tenant}, {"display_name", tenant}, {"seats", seats}}); !r) {
    return Fail(r.error());
  }
  const std::string target = fmt::format("/v1/tenants/{}/api-keys", tenant);
  auto key = op_->Post(target, {{"name", tenant + " admin"}, {"role", "admin"}});
  if (!key) return Fail(key.error());
  auto k = TextField(*key, "key", "POST " + target);
  if (!k) return Fail(k.error());
  return ControlApi(url_, ca_pem_, *k);
}

Result<std::string, std::string> ControlPlane::CreateRelay(const std::string& relay, uint16_t device_port,
                                                           uint16_t connector_port) {
  auto r = op_->Post("/v1/relays", {{"id", relay},
                                    {"display_name", relay},
                                    {"device_endpoint", fmt::format("127.0.0.1:{}", device_port)},
                                    {"connector_endpoint", fmt::format("127.0.0.1:{}", connector_port)},
                                    {"tls_names", {"localhost"}},
                                    {"tls_ips", {"127.0.0.1"}}});
  if (!r) return Fail(r.error());
  return Code(*op_, fmt::format("/v1/relays/{}/activations", relay), nlohmann::json::object());
}

Result<std::string, std::string> ControlPlane::CreateConnector(const ControlApi& admin, const std::string& tenant,
                                                               const std::string& connector) {
  const std::string t = "/v1/tenants/" + tenant;
  if (auto r = admin.Post(t + "/connectors", {{"id", connector}, {"display_name", connector}}); !r) {
    return Fail(r.error());
  }
  return Code(admin, t + "/activations", {{"kind", "connector"}, {"connector", connector}});
}

Result<std::string, std::string> ControlPlane::CreateDevice(const ControlApi& admin, const std::string& tenant,
                                                            const std::string& email) {
  const std::string t = "/v1/tenants/" + tenant;
  auto user = admin.Post(t + "/users", {{"email", email}, {"display_name", email.substr(0, email.find('@'))}});
  if (!user) return Fail(user.error());
  auto id = TextField(*user, "id", "POST " + t + "/users");
  if (!id) return Fail(id.error());
  return Code(admin, t + "/activations", {{"kind", "device"}, {"user", *id}, {"os", "linux"}});
}

Result<std::string, std::string> ControlPlane::Enrol(const std::string& kind, const std::string& code,
                                                     const std::string& out) {
  const size_t space = kind.find(' ');
  if (space == std::string::npos) return Fail("Enrol: kind is two words, e.g. \"relay enroll\"");
  std::vector<std::string> args = {kind.substr(0, space), kind.substr(space + 1), "--url", url_, "--code", code,
                                   "--ca", ca_path_, "--out", out};
  if (args[0] == "device") args.insert(args.end(), {"--os", "linux"});
  const std::string name = fmt::format("{}-{}", args[0], args[1]);
  auto lines = RunToExit(name, options_.strait, args, fmt::format("{}/{}-{}.stderr", options_.dir, name, ++runs_),
                         options_.deadline);
  if (!lines) return Fail(lines.error());
  for (const std::string& line : *lines) {
    if (line.find(" id=") != std::string::npos) {
      if (auto id = Field(line, "id")) return *id;
    }
  }
  return Fail(fmt::format("{} printed no id=", name));
}

}  // namespace strait::demo
