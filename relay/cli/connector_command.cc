// `strait connector`: a placeholder until its implementation lands (it will replace this file).
#include "relay/cli/command.h"

namespace strait::cli {

std::unique_ptr<Command> MakeConnectorCommand(CLI::App& app) {
  return MakeNotImplementedCommand(app, "connector", "Run the on-prem connector: dials out to relays, ends the Noise tunnel, opens internal TCP and TUN");
}

}  // namespace strait::cli
