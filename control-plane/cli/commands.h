// strait-control's subcommands (docs/control-plane.md §2): `init` makes a data directory, `serve` runs the API.
// main.cc builds the CLI11 app; each Make*Command registers its subcommand and flags. Exit codes: 0 success, 1 an
// operational error (one line on stderr, "strait-control: <command>: <why>"), 2 usage.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace strait::control::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

class Command {
 public:
  virtual ~Command() = default;
  virtual bool Selected() const = 0;
  virtual int Run() = 0;
};

std::unique_ptr<Command> MakeInitCommand(CLI::App& app);   // init_command.cc
std::unique_ptr<Command> MakeServeCommand(CLI::App& app);  // serve_command.cc

// Prints "strait-control: <message>" on stderr and returns kExitError.
int ReportError(const std::string& message);

}  // namespace strait::control::cli
