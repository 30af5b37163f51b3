// Renewal with strait-control, once, now (docs/control-plane.md §6.5, §6.6): one subcommand under each daemon's
// command, like `activate` / `enroll` (control_commands.cc).
//
//   strait device renew     --identity DIR
//   strait connector renew  --identity DIR
//   strait relay renew      --identity DIR
//
// tunnel/control/renew.h does the work (the directory's control.json, credential and keys; the CA of ca.pem, or of
// tls.crt for a relay; the proof over the connection; the files replaced atomically, keys untouched). A running
// daemon's renewer (cli/daemon_renewer.h) does the same on its own schedule; this is for an operator who wants it
// now, or a script. Either way a running daemon's links take the new credential at its next start
// (docs/control-plane.md §11 step 8).
//
// stdout: "<kind> renewed id=<subject> not_after=<RFC 3339>". Refused by the control plane: "strait: device renew:
// refused (<problem>): <detail>", exit 1. Other failures: one line, exit 1; usage errors exit 2.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/command.h"
#include "control-plane/api/formats.h"
#include "crypto/credential.h"
#include "tunnel/control/renew.h"

namespace strait::cli {
namespace {

class RenewCommand : public Command {
 public:
  RenewCommand(CLI::App& parent, crypto::Role kind) : kind_(kind) {
    who_ = fmt::format("{} renew", crypto::RoleName(kind));
    cmd_ = parent.add_subcommand("renew", fmt::format("Renew this {}'s credential with strait-control now and "
                                                      "replace the identity directory's files (docs/control-plane.md "
                                                      "§6.5)",
                                                      crypto::RoleName(kind)));
    cmd_->add_option("--identity", dir_, "The identity directory (written by activate / enroll)");
  }
  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    if (dir_.empty()) return Usage("--identity is required");
    control::RenewOptions options;
    options.kind = kind_;
    auto renewed = control::RenewOnce(dir_, static_cast<uint64_t>(std::time(nullptr)), options);
    if (!renewed) return ReportError(who_ + ": " + renewed.error().reason);
    fmt::print("{} renewed id={} not_after={}\n", crypto::RoleName(renewed->kind), renewed->subject,
               control::FormatTime(control::Seconds(std::chrono::seconds(renewed->not_after))));
    std::fflush(stdout);
    return kExitOk;
  }

 private:
  int Usage(const std::string& message) const {
    fmt::print(stderr, "strait {}: {}\nRun with --help for more information.\n", who_, message);
    return kExitUsage;
  }

  crypto::Role kind_;
  std::string who_;
  CLI::App* cmd_ = nullptr;
  std::string dir_;
};

// The three renew subcommands as one Command.
}  // namespace

std::unique_ptr<Command> MakeRenewCommands(CLI::App& app) {
  auto group = std::make_unique<CommandGroup>();
  for (const auto& [name, kind] : {std::pair{"device", crypto::Role::kDevice},
                                   std::pair{"connector", crypto::Role::kConnector},
                                   std::pair{"relay", crypto::Role::kRelay}}) {
    group->Add(std::make_unique<RenewCommand>(*app.get_subcommand(name), kind));
  }
  return group;
}

}  // namespace strait::cli
