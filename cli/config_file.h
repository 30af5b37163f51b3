// The optional TOML config file of a daemon subcommand (--config FILE), shared by `strait relay`, `strait connector`
// and `strait device`. Read only by the command files, never by libraries.
//
// Flags win: a value from the file applies only when its flag was not given on the command line. The file is
// strict: every key must be one the command reads (an unknown key, a typo such as `relay_adress`, is an error) and
// every value must have the declared type and range, whether or not a flag overrides it. Usage:
//
//   std::optional<std::string> error = ConfigFile::Read(path, *cmd, [&](ConfigFile& cfg) {
//     cfg.Str("identity", "--identity", s.identity);      // one call per accepted key
//     cfg.Int("threads", "--threads", s.threads, 0, 64);
//     cfg.OneOf("log_level", "--log-level", s.log_level, {"debug", "info", "warn", "error"});
//   });                                                    // "config <path>[:<line>]: <why>", the first in the file
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace strait::cli {

class ConfigFile {
 public:
  // What a string value must look like.
  enum class Text {
    kAny,
    kAddress,  // HOST:PORT, [IPv6]:PORT or NAME:PORT with PORT 0..65535
  };

  // Reads and parses `path`, lets `readers` call a reader per accepted key, then checks for keys no reader
  // declared. `cmd` is the subcommand whose flags take precedence. Returns nullopt when the file is clean, else one
  // line "config <path>[:<line>]: <why>": a missing, unreadable or non-TOML file, or the earliest bad value or
  // unknown key in the file. A bad value never reaches its setting.
  template <typename Readers>
  [[nodiscard]] static std::optional<std::string> Read(const std::string& path, const CLI::App& cmd,
                                                       Readers&& readers) {
    std::string error;
    std::optional<ConfigFile> cfg = Open(path, cmd, &error);
    if (!cfg) return error;
    std::forward<Readers>(readers)(*cfg);
    return cfg->Finish();
  }

  // Each reader declares `key` as accepted, checks its value if present, and sets `out` from it unless `flag`
  // (nullptr: the key has no flag) was given. A bad value leaves `out` untouched and is reported by Read().

  // A string (`text` says which form).
  void Str(const char* key, const char* flag, std::string& out, Text text = Text::kAny) {
    const toml::node* n = Declare(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::string>();
    if (!v || !Fits(*v, text)) return Fail(*n, fmt::format("'{}' must be a string{}{}", key, Form(text), Got(*n)));
    if (!FlagGiven(flag)) out = std::move(*v);
  }

  // An integer in min..max.
  template <std::integral T>
  void Int(const char* key, const char* flag, T& out, std::int64_t min, std::int64_t max) {
    const toml::node* n = Declare(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < min || *v > max) {
      return Fail(*n, fmt::format("'{}' must be an integer in {}..{}{}", key, min, max,
                                  v ? fmt::format(", got {}", *v) : Got(*n)));
    }
    if (!FlagGiven(flag)) out = static_cast<T>(*v);
  }

  // A boolean (true / false).
  void Bool(const char* key, const char* flag, bool& out) {
    const toml::node* n = Declare(key);
    if (n == nullptr) return;
    auto v = n->value_exact<bool>();
    if (!v) return Fail(*n, fmt::format("'{}' must be true or false{}", key, Got(*n)));
    if (!FlagGiven(flag)) out = *v;
  }

  // A string that must be one of `choices` (e.g. log_level: debug, info, warn, error).
  void OneOf(const char* key, const char* flag, std::string& out, std::initializer_list<std::string_view> choices) {
    const toml::node* n = Declare(key);
    if (n == nullptr) return;
    auto v = n->value_exact<std::string>();
    bool ok = false;
    std::string list;
    for (std::string_view c : choices) {
      ok = ok || (v && *v == c);
      list += list.empty() ? "" : ", ";
      list += c;
    }
    if (!ok) return Fail(*n, fmt::format("'{}' must be one of {}{}", key, list, Got(*n)));
    if (!FlagGiven(flag)) out = std::move(*v);
  }

  // An array of strings (`text` says which form each must have). The file's array replaces `out` as a whole.
  void Strs(const char* key, const char* flag, std::vector<std::string>& out, Text text = Text::kAny) {
    const toml::node* n = Declare(key);
    if (n == nullptr) return;
    const std::string want = fmt::format("'{}' must be an array of strings{}", key, Form(text));
    const toml::array* a = n->as_array();
    if (a == nullptr) return Fail(*n, want + Got(*n));
    std::vector<std::string> values;
    for (const toml::node& e : *a) {
      auto v = e.value_exact<std::string>();
      if (!v || !Fits(*v, text)) return Fail(e, want + Got(e) + " in the array");
      values.push_back(std::move(*v));
    }
    if (!FlagGiven(flag)) out = std::move(values);
  }

 private:
  // Reads and parses `path`; on failure (missing, unreadable, not TOML) nullopt and *error.
  static std::optional<ConfigFile> Open(const std::string& path, const CLI::App& cmd, std::string* error) {
    std::string text;
    if (std::optional<int> e = ReadAll(path, &text)) {
      *error = fmt::format("config {}: cannot read: {}", path, std::strerror(*e));
      return std::nullopt;
    }
    try {
      return ConfigFile(toml::parse(text, path), path, cmd);
    } catch (const toml::parse_error& e) {
      *error = fmt::format("config {}:{}: {}", path, e.source().begin.line, OneLine(e.description()));
      return std::nullopt;
    }
  }

  // After every reader: the earliest problem in the file (a bad value, or a key no reader declared).
  std::optional<std::string> Finish() {
    for (auto&& [k, v] : table_) {
      bool known = false;
      for (std::string_view d : declared_) known = known || d == k.str();
      if (!known) Fail(k.source().begin.line, fmt::format("unknown key '{}'", OneLine(k.str())));
    }
    if (!first_error_) return std::nullopt;
    return fmt::format("config {}:{}: {}", path_, first_error_->first, first_error_->second);
  }

  ConfigFile(toml::table table, std::string path, const CLI::App& cmd)
      : table_(std::move(table)), path_(std::move(path)), cmd_(&cmd) {}

  // The whole file into *out; the errno of the failing call otherwise (a directory fails with EISDIR).
  static std::optional<int> ReadAll(const std::string& path, std::string* out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = n < 0 ? errno : 0;
        ::close(fd);
        if (e != 0) return e;
        return std::nullopt;
      }
      out->append(buf, static_cast<std::size_t>(n));
    }
  }

  const toml::node* Declare(std::string_view key) {
    declared_.push_back(key);
    return table_.get(key);
  }
  bool FlagGiven(const char* flag) const { return flag != nullptr && cmd_->count(flag) != 0; }

  void Fail(const toml::node& n, std::string what) { Fail(n.source().begin.line, std::move(what)); }
  void Fail(std::uint32_t line, std::string what) {
    if (!first_error_ || line < first_error_->first) first_error_.emplace(line, std::move(what));
  }

  // Text from the file (a quoted key, toml++'s description, which may quote the offending character) with control
  // characters escaped, so an error stays one line (config_file_fuzzer found a raw newline in a description).
  static std::string OneLine(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      } else {
        out += c;
      }
    }
    return out;
  }

  static bool Fits(std::string_view v, Text text) {
    if (text == Text::kAny) return true;
    const auto colon = v.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view host = v.substr(0, colon);
    const std::string_view port = v.substr(colon + 1);
    if (host.front() == '[' && (host.size() < 3 || host.back() != ']')) return false;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value <= 65535;
  }
  static std::string_view Form(Text text) { return text == Text::kAddress ? " HOST:PORT (port 0..65535)" : ""; }
  // ", got <type>" for a value of the wrong type; ", got "<text>"" for a string of the wrong form.
  static std::string Got(const toml::node& n) {
    if (auto s = n.value_exact<std::string>()) return fmt::format(", got {:?}", *s);
    switch (n.type()) {
      case toml::node_type::table: return ", got a table";
      case toml::node_type::array: return ", got an array";
      case toml::node_type::integer: return ", got an integer";
      case toml::node_type::floating_point: return ", got a float";
      case toml::node_type::boolean: return ", got a boolean";
      default: return ", got a date/time";
    }
  }

  toml::table table_;
  std::string path_;
  const CLI::App* cmd_;
  std::vector<std::string_view> declared_;  // the readers' key literals
  std::optional<std::pair<std::uint32_t, std::string>> first_error_;
};

}  // namespace strait::cli
