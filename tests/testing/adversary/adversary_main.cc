// strait-adversary: the command line of the hostile client (modes and output: adversary.h).
//
//   strait-adversary --mode idle|half-open|tls-idle --target IP:PORT [--count N] [--sources S] [--duration S]
//                    [--max-opens N] [--server-name NAME]
//   strait-adversary --mode probe|ping-flood|replay --identity BUNDLE --target IP:PORT [--direct] [--count N]
//                    [--parallel P] [--duration S] [--server-name NAME]
#include <arpa/inet.h>
#include <signal.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tests/testing/adversary/adversary.h"

int main(int argc, char** argv) {
  using namespace strait::adversary;  // NOLINT(google-build-using-namespace): a small tool
  CLI::App app{"strait-adversary: hostile clients for the adversarial suite (bounded in time and count)"};
  std::string mode, target, identity, server_name;
  std::uint32_t count = 100, sources = 1, parallel = 4;
  double duration_s = 10;
  std::uint64_t max_opens = 0;
  bool direct = false;
  app.add_option("--mode", mode, "idle | half-open | tls-idle | probe | ping-flood | replay")
      ->required()
      ->check(CLI::IsMember({"idle", "half-open", "tls-idle", "probe", "ping-flood", "replay"}));
  app.add_option("--target", target, "IP:PORT to attack")->required();
  app.add_option("--identity", identity, "probe, ping-flood, replay: identity bundle (strait keys issue)");
  app.add_option("--count", count, "floods: connections held; probe: logins in all")
      ->capture_default_str()
      ->check(CLI::Range(1u, 19000u));
  app.add_option("--sources", sources, "floods: source addresses 127.0.0.2..")
      ->capture_default_str()
      ->check(CLI::Range(1u, 250u));
  app.add_option("--parallel", parallel, "probe: logins in flight")->capture_default_str()->check(CLI::Range(1u, 64u));
  app.add_option("--duration", duration_s, "Seconds to run (every mode stops by then)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--max-opens", max_opens, "floods: connections opened in all (0 = 1,000 x --count)");
  app.add_option("--server-name", server_name, "TLS server name (default: localhost for floods, else the target IP)");
  app.add_flag("--direct", direct, "probe/replay: the target is a connector's Direct Connect listener");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  const auto duration = std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000));
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "strait-adversary: --target must be IP:PORT\n");
    return 2;
  }
  if (mode == "idle" || mode == "half-open" || mode == "tls-idle") {
    FloodOptions o;
    o.mode = mode == "idle" ? FloodMode::kIdle : mode == "half-open" ? FloodMode::kHalfOpen : FloodMode::kTlsIdle;
    o.target.sin_family = AF_INET;
    o.target.sin_port = htons(static_cast<std::uint16_t>(std::stoul(target.substr(colon + 1))));
    if (::inet_pton(AF_INET, target.substr(0, colon).c_str(), &o.target.sin_addr) != 1) {
      std::fprintf(stderr, "strait-adversary: --target must be an IPv4 address and port\n");
      return 2;
    }
    o.count = count;
    o.sources = sources;
    o.duration = duration;
    o.max_opens = max_opens;
    if (!server_name.empty()) o.server_name = server_name;
    return RunFlood(o);
  }
  if (identity.empty()) {
    std::fprintf(stderr, "strait-adversary: --mode %s needs --identity\n", mode.c_str());
    return 2;
  }
  LinkToolOptions o;
  o.identity = identity;
  o.target = target;
  o.direct = direct;
  o.server_name = server_name.empty() ? target.substr(0, colon) : server_name;
  o.count = count;
  o.parallel = parallel;
  o.duration = duration;
  if (mode == "probe") return RunProbe(o);
  if (mode == "ping-flood") return RunPingFlood(o);
  return RunReplay(o);
}
