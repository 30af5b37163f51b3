// How a TOML value's type is named in error messages ("part[2].rate: must be an integer, got a float"): one spelling
// for every strict TOML reader (the connector's policy file, strait bench's profile). Header-only, toml++ only.
#pragma once

#include <string_view>

#include <toml++/toml.h>

namespace strait {

inline std::string_view TomlTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "a value";
}

}  // namespace strait
