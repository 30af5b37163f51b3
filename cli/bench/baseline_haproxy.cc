#include "cli/bench/baseline_haproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "bench/suite/load/cpu_pin.h"
#include "cli/bench/haproxy_tls_cfg.h"  // generated from bench/app/haproxy-tls.cfg (cli/CMakeLists.txt)
#include "crypto/keystore.h"

namespace strait::cli::bench {
namespace {

using demo::Clock;

constexpr auto kStopGrace = std::chrono::seconds(5);

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

std::string FindExecutable(const std::string& name) {
  std::string path = getenv("PATH") != nullptr ? getenv("PATH") : "";
  path += ":/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::string candidate = fmt::format("{}/{}", path.substr(start, end - start), name);
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

bool Accepts(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

std::string FirstLineOf(const std::string& exe, const std::string& arg) {
  const std::string cmd = fmt::format("'{}' {} 2>&1", exe, arg);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256] = {};
  const bool got = fgets(buf, sizeof(buf), p) != nullptr;
  pclose(p);
  std::string line = got ? buf : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

}  // namespace

std::string RenderHaproxyConfig(std::uint16_t listen_port, std::uint16_t target_port, const std::string& bind_tls,
                                const std::string& server_tls) {
  std::string cfg(kHaproxyTlsConfig);
  ReplaceAll(cfg, "@THREADS@", "1");
  ReplaceAll(cfg, "@LISTEN_ADDR@", "127.0.0.1");
  ReplaceAll(cfg, "@LISTEN_PORT@", std::to_string(listen_port));
  ReplaceAll(cfg, "@TARGET_ADDR@", "127.0.0.1");
  ReplaceAll(cfg, "@TARGET_PORT@", std::to_string(target_port));
  ReplaceAll(cfg, "@BIND_TLS@", bind_tls);
  ReplaceAll(cfg, "@SERVER_TLS@", server_tls);
  return cfg;
}

Result<std::unique_ptr<HaproxyChain>, std::string> HaproxyChain::Start(const HaproxyChainOptions& o) {
  std::unique_ptr<HaproxyChain> c(new HaproxyChain());
  c->exe_ = FindExecutable("haproxy");
  if (c->exe_.empty()) return Fail(std::string("--baseline haproxy: no haproxy on PATH (scripts/setup.sh installs it)"));
  c->version_ = FirstLineOf(c->exe_, "-v");
  auto out = c->StartOne(o, "haproxy-out", o.target_port, /*tls_in=*/true, /*tls_out=*/false);
  if (!out) return Fail(out.error());
  auto mid = c->StartOne(o, "haproxy-mid", *out, true, true);
  if (!mid) return Fail(mid.error());
  if (o.mid_cpu) {
    if (auto p = strait::bench::PinProcess(c->mid_pid(), {*o.mid_cpu}); !p) {
      return Fail(fmt::format("pinning haproxy mid to CPU {}: {}", *o.mid_cpu, p.error()));
    }
  }
  auto in = c->StartOne(o, "haproxy-in", *mid, false, true);
  if (!in) return Fail(in.error());
  c->in_port_ = *in;
  return c;
}

Result<std::uint16_t, std::string> HaproxyChain::StartOne(const HaproxyChainOptions& o, const std::string& name,
                                                          std::uint16_t target, bool tls_in, bool tls_out) {
  const std::uint16_t port = demo::PickFreePort();
  if (port == 0) return Fail(fmt::format("{}: no free loopback port", name));
  const std::string cfg = RenderHaproxyConfig(
      port, target, tls_in ? fmt::format("ssl crt {}", o.server_pem) : "",
      tls_out ? fmt::format("ssl verify required ca-file {} sni str(localhost)", o.ca_pem_path) : "");
  const std::string cfg_path = fmt::format("{}/{}.cfg", o.dir, name);
  if (auto w = crypto::WritePublicFile(cfg_path, cfg, crypto::Overwrite::kReplace); !w) {
    return Fail(fmt::format("{}: {}", name, w.error().reason));
  }
  std::string error;
  auto child = demo::ChildProcess::Start(name, exe_, {"-db", "-f", cfg_path}, fmt::format("{}/{}.stderr", o.dir, name),
                                         &error);
  if (!child) return Fail(fmt::format("{}: {}", name, error));
  demo::ChildProcess& ch = *child;
  children_.push_back(std::move(child));
  const auto deadline = Clock::now() + o.timeout;
  while (!Accepts(port)) {
    if (ch.exited()) return Fail(fmt::format("{} exited ({}): {}", name, ch.StatusText(), ch.StderrTail(3)));
    if (demo::Interrupted()) return Fail(std::string("interrupted"));
    if (Clock::now() >= deadline) return Fail(fmt::format("{} did not listen within {} s", name, o.timeout.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return port;
}

pid_t HaproxyChain::mid_pid() const { return children_.size() >= 2 ? children_[1]->pid() : -1; }

HaproxyChain::~HaproxyChain() {
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) (*it)->Stop(kStopGrace);
}

}  // namespace strait::cli::bench
