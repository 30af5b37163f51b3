// `strait demo`: a placeholder until its implementation lands (it will replace this file).
#include "relay/cli/command.h"

namespace strait::cli {

std::unique_ptr<Command> MakeDemoCommand(CLI::App& app) {
  return MakeNotImplementedCommand(app, "demo", "Run a relay, a connector and a device on loopback with throwaway keys");
}

}  // namespace strait::cli
