// A scratch directory for one test: made with mkdtemp under $TMPDIR (or /tmp), mode 0700, removed with everything in
// it when the TempDir goes. A directory that cannot be made fails the test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace strait::testing {

class TempDir {
 public:
  // `prefix` names the directory ("strait-keystore" -> /tmp/strait-keystore-Ab12Cd) so a leftover says whose it is.
  explicit TempDir(std::string_view prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + std::string(prefix) +
                       "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace strait::testing
