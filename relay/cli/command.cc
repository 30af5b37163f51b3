#include "relay/cli/command.h"

#include <cstdio>

#include <fmt/format.h>

namespace strait::cli {

int ReportError(const std::string& message) {
  fmt::print(stderr, "strait: {}\n", message);
  return kExitError;
}

}  // namespace strait::cli
