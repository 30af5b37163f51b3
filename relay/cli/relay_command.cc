// `strait relay`: a placeholder until its implementation lands (it will replace this file).
#include "relay/cli/command.h"

namespace strait::cli {

std::unique_ptr<Command> MakeRelayCommand(CLI::App& app) {
  return MakeNotImplementedCommand(app, "relay", "Run the relay daemon: terminates TLS from devices and connectors and routes sealed frames");
}

}  // namespace strait::cli
