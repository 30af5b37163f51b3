// strait: the data-plane executable (relay, connector, device client, key tool, demo). BoringSSL only.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "crypto/keys.h"
#include "cli/command.h"
#include "tunnel/frame.h"

#ifndef STRAIT_VERSION
#error "STRAIT_VERSION comes from project(VERSION) (cli/CMakeLists.txt)"
#endif

int main(int argc, char** argv) {
  using namespace strait::cli;  // NOLINT(google-build-using-namespace): program entry point
  CLI::App app{"strait: open secure tunnel relay (data plane). Every subcommand has --help.", "strait"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand and exit");
  // "strait 0.1.0 (protocol 1)": the build's version and the link protocol version it speaks (HELLO).
  app.set_version_flag("--version", std::string("strait " STRAIT_VERSION " (protocol ") +
                                        std::to_string(strait::tunnel::kProtocolVersion) + ")");

  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeKeysCommand(app));
  commands.push_back(MakeRelayCommand(app));
  commands.push_back(MakeConnectorCommand(app));
  commands.push_back(MakeDeviceCommand(app));
  commands.push_back(MakeDemoCommand(app));
  commands.push_back(MakeBenchCommand(app));
  // After device, connector and relay (it adds a subcommand to each), before them in the Selected() order.
  commands.insert(commands.begin(), MakeControlCommands(app));
  commands.insert(commands.begin(), MakeRenewCommands(app));

  // CLI11 reports parse errors as exceptions; they stop here. --help exits 0, every other parse error 2.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  // Linked with the fuzz targets' fixed-seed generator (crypto/random_fixed.cc), every key, nonce and ephemeral this
  // process made would be predictable: no subcommand runs.
  if (strait::crypto::RandomIsFixed()) {
    return ReportError("refusing to run: this executable has the fixed-seed random generator of the fuzz targets, "
                       "so every key and nonce it made would be predictable");
  }
  for (auto& c : commands) {
    if (c->Selected()) return c->Run();
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}
