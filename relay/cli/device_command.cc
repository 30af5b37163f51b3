// `strait device`: a placeholder until its implementation lands (it will replace this file).
#include "relay/cli/command.h"

namespace strait::cli {

std::unique_ptr<Command> MakeDeviceCommand(CLI::App& app) {
  return MakeNotImplementedCommand(app, "device", "Run the device client: TUN tunnel, app sessions and a local SOCKS5 listener");
}

}  // namespace strait::cli
