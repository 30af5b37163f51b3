// config_file_fuzzer: the strict TOML config reader of `strait relay|connector|device` (cli/config_file.h).
// The input is the file's text (after one control byte that decides whether the --name and --threads flags were
// given on the command line). Never crashes or throws, and:
//   - an error is one line "config <path>[:<line>]: <why>";
//   - a clean read set only values that satisfy their declared type and range (addresses HOST:PORT with a port
//     0..65535, integers in range), and never a setting whose flag was given;
//   - the same input reads the same way twice.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config_file.h"

namespace {

using strait::cli::ConfigFile;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Settings {
  std::string name = "flag-or-default";
  std::string listen = "unset";
  std::int64_t threads = -1;  // out of range on purpose: a clean read either leaves it or sets 0..64
  std::vector<std::string> relays = {"unset"};
  std::string log_level = "unset";  // a clean read leaves it or sets one of the choices
};

struct Outcome {
  std::optional<std::string> error;
  Settings s;
};

bool IsAddress(std::string_view v) {
  const auto colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = v.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value <= 65535;
}

Outcome ReadOnce(const std::string& path, bool flags_given) {
  CLI::App app;
  Outcome o;
  app.add_option("--name", o.s.name);
  app.add_option("--threads", o.s.threads);
  std::vector<std::string> args;
  if (flags_given) args = {"--threads", "7", "--name", "from-flag"};
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  app.parse(args);
  o.error = ConfigFile::Read(path, app, [&](ConfigFile& cfg) {
    cfg.Str("name", "--name", o.s.name);
    cfg.Str("listen", nullptr, o.s.listen, ConfigFile::Text::kAddress);
    cfg.Int("threads", "--threads", o.s.threads, 0, 64);
    cfg.Strs("relays", nullptr, o.s.relays, ConfigFile::Text::kAddress);
    cfg.OneOf("log_level", nullptr, o.s.log_level, {"debug", "info", "warn", "error"});
  });
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool flags_given = (data[0] & 1) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const int fd = memfd_create("config_file_fuzzer", MFD_CLOEXEC);
  Check(fd >= 0);
  Check(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  const Outcome a = ReadOnce(path, flags_given);
  const Outcome b = ReadOnce(path, flags_given);
  close(fd);

  Check(a.error == b.error);
  if (a.error) {
    Check(a.error->rfind("config " + path, 0) == 0);
    Check(a.error->find('\n') == std::string::npos);
    return 0;
  }
  const Settings& s = a.s;
  Check(s.name == b.s.name && s.listen == b.s.listen && s.threads == b.s.threads && s.relays == b.s.relays &&
        s.log_level == b.s.log_level);
  if (flags_given) {
    Check(s.name == "from-flag");  // flags win over the file
    Check(s.threads == 7);
  } else {
    Check(s.threads == -1 || (s.threads >= 0 && s.threads <= 64));
  }
  Check(s.listen == "unset" || IsAddress(s.listen));
  Check(s.log_level == "unset" || s.log_level == "debug" || s.log_level == "info" || s.log_level == "warn" ||
        s.log_level == "error");
  if (!(s.relays.size() == 1 && s.relays[0] == "unset")) {
    for (const std::string& r : s.relays) Check(IsAddress(r));
  }
  return 0;
}
