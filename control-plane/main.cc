// strait-control: the control plane (docs/control-plane.md). OpenSSL 3 only, never BoringSSL.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "control-plane/cli/commands.h"

#ifndef STRAIT_VERSION
#error "STRAIT_VERSION comes from project(VERSION) (control-plane/CMakeLists.txt)"
#endif

namespace strait::control::cli {
int ReportError(const std::string& message) {
  std::fprintf(stderr, "strait-control: %s\n", message.c_str());
  return kExitError;
}
}  // namespace strait::control::cli

int main(int argc, char** argv) {
  using namespace strait::control::cli;  // NOLINT(google-build-using-namespace): program entry point
  CLI::App app{"strait-control: the Strait control plane (admins' REST API, enrolment, policy). "
               "Every subcommand has --help.",
               "strait-control"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("strait-control " STRAIT_VERSION));
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeInitCommand(app));
  commands.push_back(MakeServeCommand(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  for (auto& c : commands) {
    if (c->Selected()) return c->Run();
  }
  return kExitUsage;
}
