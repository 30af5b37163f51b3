// The optional TOML config file of a daemon subcommand (--config FILE). Flags win: a value from the file applies
// only when its flag was not given on the command line. Read only by the command files, never by libraries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace strait::cli {

class ConfigFile {
 public:
  // Parses `path`. On failure returns the message "<path>: <what toml++ says>" and leaves *out untouched.
  static std::optional<std::string> Load(const std::string& path, toml::table* out) {
    try {
      *out = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      return fmt::format("{}: {}", path, e.description());
    }
    return std::nullopt;
  }

  // `cmd` is the subcommand whose flags take precedence; both must outlive this object.
  ConfigFile(const toml::table& table, const CLI::App& cmd) : t_(table), cmd_(cmd) {}

  // Sets `out` from `key` unless `flag` (nullptr: the key has no flag) was given.
  void Str(const char* key, const char* flag, std::string& out) const {
    if (const toml::node* n = Pick(key, flag)) out = n->value<std::string>().value_or(out);
  }
  void Num(const char* key, const char* flag, std::int64_t& out) const {
    if (const toml::node* n = Pick(key, flag)) out = n->value<std::int64_t>().value_or(out);
  }
  const toml::table& table() const { return t_; }
  bool FlagGiven(const char* flag) const { return cmd_.count(flag) != 0; }

 private:
  const toml::node* Pick(const char* key, const char* flag) const {
    if (flag != nullptr && FlagGiven(flag)) return nullptr;
    return t_.get(key);
  }

  const toml::table& t_;
  const CLI::App& cmd_;
};

}  // namespace strait::cli
