#include "cli/command.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace strait::cli {

int ReportError(const std::string& message) {
  fmt::print(stderr, "strait: {}\n", message);
  return kExitError;
}

int CheckOwnCredential(const crypto::IdentityBundle& bundle, crypto::Role role, const std::string& who,
                       const std::string& dir) {
  const crypto::OwnCredentialCheck c =
      crypto::CheckOwnCredential(bundle, role, static_cast<std::uint64_t>(std::time(nullptr)));
  if (!c.error.empty()) return ReportError(fmt::format("{}: identity {}: {}", who, dir, c.error));
  if (!c.warning.empty()) fmt::print(stderr, "strait: {}: warning: identity {}: {}\n", who, dir, c.warning);
  return kExitOk;
}

}  // namespace strait::cli
