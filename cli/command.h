// The `strait` executable's subcommands. main.cc builds the CLI11 app, asks each Make*Command to register its
// subcommand and flags, parses, and runs the one that was selected. Flags (and later a TOML file) are read only
// here and in the *_command.cc files; libraries take options structs.
//
// Exit codes, for every subcommand: 0 success, 1 operational error (one line on stderr), 2 usage error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "crypto/keystore.h"

namespace strait::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// One top-level subcommand. Constructed before parsing (it registers its flags on the app, which must outlive
// it); Run() is called once, after a successful parse, if Selected().
class Command {
 public:
  virtual ~Command() = default;
  virtual bool Selected() const = 0;
  virtual int Run() = 0;
};

// Several subcommands as one Command (the `activate` / `enroll` and `renew` words under the three daemons): selected
// when one of them is, and runs that one.
class CommandGroup final : public Command {
 public:
  void Add(std::unique_ptr<Command> c) { commands_.push_back(std::move(c)); }
  bool Selected() const override {
    for (const auto& c : commands_) {
      if (c->Selected()) return true;
    }
    return false;
  }
  int Run() override {
    for (auto& c : commands_) {
      if (c->Selected()) return c->Run();
    }
    return kExitUsage;
  }

 private:
  std::vector<std::unique_ptr<Command>> commands_;
};

std::unique_ptr<Command> MakeKeysCommand(CLI::App& app);       // keys_command.cc
std::unique_ptr<Command> MakeRelayCommand(CLI::App& app);      // relay_command.cc
std::unique_ptr<Command> MakeConnectorCommand(CLI::App& app);  // connector_command.cc
std::unique_ptr<Command> MakeDeviceCommand(CLI::App& app);     // device_command.cc
std::unique_ptr<Command> MakeDemoCommand(CLI::App& app);       // demo_command.cc
std::unique_ptr<Command> MakeBenchCommand(CLI::App& app);      // bench/bench_command.cc
// `device activate`, `connector enroll`, `relay enroll`: subcommands of the three daemons' commands, so made after
// them and checked before them (the daemon's command is parsed too when its subcommand is).
std::unique_ptr<Command> MakeControlCommands(CLI::App& app);   // control_commands.cc
// `device renew`, `connector renew`, `relay renew`: likewise.
std::unique_ptr<Command> MakeRenewCommands(CLI::App& app);     // renew_command.cc

// Prints "strait: <message>" on stderr and returns kExitError.
int ReportError(const std::string& message);

// The daemons' start check of their own bundle (crypto::CheckOwnCredential, now): kExitOk, after printing
// "strait: <who>: warning: ..." if it expires soon; or ReportError("<who>: identity DIR: ...") if peers would
// refuse it (another root, expired, not yet valid, another role).
int CheckOwnCredential(const crypto::IdentityBundle& bundle, crypto::Role role, const std::string& who,
                       const std::string& dir);

}  // namespace strait::cli
