#include "relay/cli/command.h"

#include <cstdio>

#include <fmt/format.h>

namespace strait::cli {
namespace {

class NotImplementedCommand : public Command {
 public:
  NotImplementedCommand(CLI::App& app, const std::string& name, const std::string& description)
      : name_(name),
        sub_(app.add_subcommand(name, fmt::format("{} (NOT IMPLEMENTED YET: prints a notice and exits 2)",
                                                  description))) {
    sub_->allow_extras();
  }
  bool Selected() const override { return sub_->parsed(); }
  int Run() override {
    fmt::print(stderr, "strait {}: not implemented yet\n", name_);
    return kExitUsage;
  }

 private:
  std::string name_;
  CLI::App* sub_;  // owned by the app
};

}  // namespace

std::unique_ptr<Command> MakeNotImplementedCommand(CLI::App& app, const std::string& name,
                                                   const std::string& description) {
  return std::make_unique<NotImplementedCommand>(app, name, description);
}

int ReportError(const std::string& message) {
  fmt::print(stderr, "strait: {}\n", message);
  return kExitError;
}

}  // namespace strait::cli
