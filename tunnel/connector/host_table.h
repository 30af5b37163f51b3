// Host names and host patterns, and HostTable: which rules' patterns match a name.
//
// A name is compared in canonical form: ASCII lower case, one trailing dot removed. Valid names are 1..253
// characters of dot-separated labels, each 1..63 of [a-z0-9_-], not starting or ending with '-', and the last
// label is not all digits (so "10.1" or "012.0.0.1", which resolvers read as addresses, are not names).
// A pattern is a name ("intranet.corp.example") or "*." and a name ("*.git.corp.example"), which matches names
// with one or more labels in front of that suffix and not the suffix itself.
//
// Lookup cost: one hash probe for the exact name plus one per label for wildcard suffixes; independent of the
// number of rules.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "tunnel/host_name.h"

namespace strait::connector {

using tunnel::CanonicalHostName;
using tunnel::kMaxHostNameSize;

struct HostPattern {
  bool wildcard = false;  // true: "*." + suffix
  std::string name;       // canonical; for a wildcard, the suffix

  static Result<HostPattern, std::string> Parse(std::string_view text);
  bool Matches(std::string_view canonical_name) const;  // a naive check, for tests and fuzzing
  std::string ToString() const { return wildcard ? "*." + name : name; }
};

class HostTable {
 public:
  static constexpr uint32_t kNoRule = std::numeric_limits<uint32_t>::max();

  void Add(const HostPattern& p, uint32_t rule);

  // The first rule (exact names first, then the longest wildcard suffix, each in the order added) whose pattern
  // matches `canonical_name` and for which accept(rule) is true; kNoRule if none. No allocation.
  template <class Accept>
  uint32_t Find(std::string_view canonical_name, Accept&& accept) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>>;

  template <class Accept>
  static uint32_t Probe(const Map& m, std::string_view key, Accept& accept);

  Map exact_;
  Map suffix_;  // "*.a.b" is stored under "a.b"
};

template <class Accept>
uint32_t HostTable::Probe(const Map& m, std::string_view key, Accept& accept) {
  auto it = m.find(key);
  if (it == m.end()) return kNoRule;
  for (uint32_t rule : it->second) {
    if (accept(rule)) return rule;
  }
  return kNoRule;
}

template <class Accept>
uint32_t HostTable::Find(std::string_view canonical_name, Accept&& accept) const {
  if (uint32_t r = Probe(exact_, canonical_name, accept); r != kNoRule) return r;
  if (suffix_.empty()) return kNoRule;
  for (size_t dot = canonical_name.find('.'); dot != std::string_view::npos;
       dot = canonical_name.find('.', dot + 1)) {
    if (uint32_t r = Probe(suffix_, canonical_name.substr(dot + 1), accept); r != kNoRule) return r;
  }
  return kNoRule;
}

}  // namespace strait::connector
