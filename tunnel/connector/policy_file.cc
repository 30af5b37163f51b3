#include "tunnel/connector/policy_file.h"

#include <array>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <toml++/toml.h>

#include "tunnel/toml_type_name.h"

namespace strait::connector {
namespace {


// Walks one document and builds the rules, stopping at the first error. Positions come from toml++.
class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Result<Policy, PolicyError> Load(const toml::table& root) {
    std::vector<PolicyRule> allow;
    std::vector<PolicyRule> deny;
    TunnelPolicy tunnel;
    for (auto&& [key, node] : root) {
      std::string_view k = key.str();
      if (k == "version") {
        std::optional<int64_t> v = node.value_exact<int64_t>();
        if (!v || *v != 1) return Err(PolicyErrorCode::kBadVersion, node.source(), "version", "must be 1");
      } else if (k == "allow" || k == "deny") {
        if (auto r = LoadRules(node, std::string(k), k == "allow", k == "allow" ? allow : deny); !r.ok()) {
          return Fail(r.error());
        }
      } else if (k == "tunnel") {
        if (auto r = LoadTunnel(node, tunnel); !r.ok()) return Fail(r.error());
      } else {
        return Err(PolicyErrorCode::kUnknownKey, key.source(), std::string(k),
                   "unknown key (expected version, allow, deny or tunnel)");
      }
    }
    Policy policy(std::move(allow), std::move(deny));
    policy.set_tunnel(std::move(tunnel));
    return policy;
  }

 private:
  PolicyError Error(PolicyErrorCode code, const toml::source_region& where, const std::string& field,
                    const std::string& what) const {
    std::ostringstream m;
    m << source_ << ':' << where.begin.line << ':' << where.begin.column << ": " << field << ": " << what;
    return {code, m.str()};
  }
  Failure<PolicyError> Err(PolicyErrorCode code, const toml::source_region& where, const std::string& field,
                           const std::string& what) const {
    return Fail(Error(code, where, field, what));
  }

  // Calls each(table, path) for every table of an array of tables ([[field]]), counting them against
  // kMaxPolicyRules.
  template <class Each>
  Result<void, PolicyError> RuleTables(const toml::node& node, const std::string& field, Each&& each) {
    const toml::array* arr = node.as_array();
    if (!arr) {
      return Err(PolicyErrorCode::kBadType, node.source(), field,
                 "must be an array of tables ([[" + field + "]]), not " + std::string(TomlTypeName(node)));
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& el = *arr->get(i);
      std::string path = field + "[" + std::to_string(i) + "]";
      const toml::table* t = el.as_table();
      if (!t) {
        return Err(PolicyErrorCode::kBadType, el.source(), path, "must be a table, not " + std::string(TomlTypeName(el)));
      }
      if (++rules_ > kMaxPolicyRules) {
        return Err(PolicyErrorCode::kTooLarge, el.source(), path,
                   "more than " + std::to_string(kMaxPolicyRules) + " rules");
      }
      if (auto r = each(*t, path); !r.ok()) return r;
    }
    return {};
  }

  Result<void, PolicyError> LoadRules(const toml::node& node, const std::string& field, bool is_allow,
                                      std::vector<PolicyRule>& out) {
    return RuleTables(node, field, [&](const toml::table& t, const std::string& path) -> Result<void, PolicyError> {
      PolicyRule rule;
      if (auto r = LoadRule(t, path, is_allow, rule); !r.ok()) return r;
      out.push_back(std::move(rule));
      return {};
    });
  }

  Result<void, PolicyError> LoadRule(const toml::table& t, const std::string& path, bool is_allow, PolicyRule& rule) {
    bool have_ports = false;
    std::vector<PortRange> ports;
    for (auto&& [key, node] : t) {
      std::string_view k = key.str();
      std::string field = path + "." + std::string(k);
      Result<void, PolicyError> r;
      if (k == "hosts") {
        r = Items(node, field, [&](std::string_view s, const toml::node& item, const std::string& f) {
          auto p = HostPattern::Parse(s);
          if (!p) return Item(PolicyErrorCode::kBadHost, item, f, "bad host pattern \"" + std::string(s) + "\": " + p.error());
          rule.hosts.push_back(std::move(*p));
          return Item();
        });
      } else if (k == "cidrs") {
        r = Items(node, field, [&](std::string_view s, const toml::node& item, const std::string& f) {
          auto c = Cidr::Parse(s);
          if (!c) return Item(PolicyErrorCode::kBadCidr, item, f, "bad CIDR \"" + std::string(s) + "\": " + c.error());
          rule.cidrs.push_back(*c);
          return Item();
        });
      } else if (k == "ports") {
        have_ports = true;
        r = Items(node, field, [&](std::string_view s, const toml::node& item, const std::string& f) {
          auto p = PortSet::ParseRange(s);
          if (!p) return Item(PolicyErrorCode::kBadPort, item, f, p.error());
          ports.push_back(*p);
          return Item();
        });
        if (r.ok() && ports.empty()) return Err(PolicyErrorCode::kEmptyRule, node.source(), field, "no ports");
      } else {
        return Err(PolicyErrorCode::kUnknownKey, key.source(), field,
                   "unknown key (expected hosts, cidrs or ports)");
      }
      if (!r.ok()) return r;
    }
    if (rule.hosts.empty() && rule.cidrs.empty()) {
      return Err(PolicyErrorCode::kEmptyRule, t.source(), path, "rule has neither hosts nor cidrs");
    }
    if (!have_ports) {
      if (is_allow) {
        return Err(PolicyErrorCode::kEmptyRule, t.source(), path, "allow rule needs ports (use [\"*\"] for any port)");
      }
      ports.push_back(PortRange{1, 65535});  // a deny rule without ports denies every port
    }
    rule.ports = PortSet(std::move(ports));
    return {};
  }

  // [tunnel]: routes, dns_servers, dns_domains (docs/ip-tunnel.md §4), IPv4 only, within tunnel_control.h's bounds.
  // [[tunnel.allow]] / [[tunnel.deny]]: cidrs (IPv4, required), protocols (tcp, udp, icmp; required in allow,
  // default all in deny), ports (required in allow when tcp or udp is named; default all in deny).
  Result<void, PolicyError> LoadTunnelRules(const toml::node& node, const std::string& field, bool is_allow,
                                            std::vector<TunnelRule>& out) {
    return RuleTables(node, field, [&](const toml::table& table, const std::string& path) {
      return LoadTunnelRule(table, path, is_allow, out);
    });
  }

  Result<void, PolicyError> LoadTunnelRule(const toml::table& table, const std::string& path, bool is_allow,
                                           std::vector<TunnelRule>& out) {
    TunnelRule rule;
    bool have_protocols = false, have_ports = false;
    std::vector<PortRange> ports;
    for (auto&& [key, value] : table) {
      const std::string_view k = key.str();
      const std::string f = path + "." + std::string(k);
      Result<void, PolicyError> r;
      if (k == "cidrs") {
        r = Items(value, f, [&](std::string_view s, const toml::node& item, const std::string& fi) {
          auto c = Cidr::Parse(s);
          if (!c || c->network.family != IpAddress::Family::kV4) {
            return Item(PolicyErrorCode::kBadCidr, item, fi,
                        "bad IPv4 CIDR \"" + std::string(s) + "\"" + (c ? "" : ": " + c.error()));
          }
          rule.cidrs.push_back(*c);
          return Item();
        });
      } else if (k == "protocols") {
        have_protocols = true;
        r = Items(value, f, [&](std::string_view s, const toml::node& item, const std::string& fi) {
          if (s == "tcp") {
            rule.protocols |= tunnel_protocol::kTcp;
          } else if (s == "udp") {
            rule.protocols |= tunnel_protocol::kUdp;
          } else if (s == "icmp") {
            rule.protocols |= tunnel_protocol::kIcmp;
          } else {
            return Item(PolicyErrorCode::kBadType, item, fi,
                        "unknown protocol \"" + std::string(s) + "\" (tcp, udp or icmp)");
          }
          return Item();
        });
      } else if (k == "ports") {
        have_ports = true;
        r = Items(value, f, [&](std::string_view s, const toml::node& item, const std::string& fi) {
          auto p = PortSet::ParseRange(s);
          if (!p) return Item(PolicyErrorCode::kBadPort, item, fi, p.error());
          ports.push_back(*p);
          return Item();
        });
      } else {
        return Err(PolicyErrorCode::kUnknownKey, key.source(), f, "unknown key (expected cidrs, protocols or ports)");
      }
      if (!r.ok()) return r;
    }
    if (rule.cidrs.empty()) return Err(PolicyErrorCode::kEmptyRule, table.source(), path, "rule has no cidrs");
    if (!have_protocols) {
      if (is_allow) {
        return Err(PolicyErrorCode::kEmptyRule, table.source(), path, "allow rule needs protocols (tcp, udp, icmp)");
      }
      rule.protocols = tunnel_protocol::kAll;
    }
    if (rule.protocols == 0) return Err(PolicyErrorCode::kEmptyRule, table.source(), path, "no protocols");
    if (!have_ports) {
      if (is_allow && (rule.protocols & (tunnel_protocol::kTcp | tunnel_protocol::kUdp)) != 0) {
        return Err(PolicyErrorCode::kEmptyRule, table.source(), path,
                   "allow rule for tcp or udp needs ports (use [\"*\"] for any port)");
      }
      ports.push_back(PortRange{1, 65535});
    }
    rule.ports = PortSet(std::move(ports));
    out.push_back(std::move(rule));
    return {};
  }

  Result<void, PolicyError> LoadTunnel(const toml::node& node, TunnelPolicy& out) {
    const toml::table* t = node.as_table();
    if (!t) {
      return Err(PolicyErrorCode::kBadType, node.source(), "tunnel",
                 "must be a table, not " + std::string(TomlTypeName(node)));
    }
    std::vector<TunnelRule> allow, deny;
    for (auto&& [key, value] : *t) {
      std::string_view k = key.str();
      std::string field = "tunnel." + std::string(k);
      Result<void, PolicyError> r;
      // An IPv4 CIDR (or a bare address, a /32) as (network, length); the error says what is wrong.
      auto v4 = [](std::string_view s) -> Result<std::pair<uint32_t, uint8_t>, std::string> {
        auto c = Cidr::Parse(s);
        if (!c) return Fail("\"" + std::string(s) + "\": " + c.error());
        if (c->network.family != IpAddress::Family::kV4) return Fail("\"" + std::string(s) + "\" is not IPv4");
        const auto& b = c->network.bytes;
        return std::pair((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3], c->prefix);
      };
      auto bounded = [&](size_t count, size_t max, const std::string& what) -> ItemResult {
        if (count < max) return Item();
        return Error(PolicyErrorCode::kTooLarge, value.source(), field,
                     "more than " + std::to_string(max) + " " + what);
      };
      if (k == "routes") {
        r = Items(value, field, [&](std::string_view s, const toml::node& item, const std::string& f) -> ItemResult {
          if (ItemResult e = bounded(out.routes.size(), tunnel::kMaxTunnelRoutes, "routes")) return e;
          auto p = v4(s);
          if (!p) return Item(PolicyErrorCode::kBadCidr, item, f, "bad route " + p.error());
          out.routes.push_back({p->first, p->second});
          return Item();
        });
      } else if (k == "dns_servers") {
        r = Items(value, field, [&](std::string_view s, const toml::node& item, const std::string& f) -> ItemResult {
          if (ItemResult e = bounded(out.dns_servers.size(), tunnel::kMaxTunnelDns, "DNS servers")) return e;
          auto a = v4(s);
          if (!a || a->second != 32) {
            const std::string why = a ? "\"" + std::string(s) + "\": a range, not an address" : a.error();
            return Item(PolicyErrorCode::kBadCidr, item, f, "bad DNS server " + why);
          }
          out.dns_servers.push_back(a->first);
          return Item();
        });
      } else if (k == "dns_domains") {
        r = Items(value, field, [&](std::string_view s, const toml::node& item, const std::string& f) -> ItemResult {
          if (ItemResult e = bounded(out.dns_domains.size(), tunnel::kMaxTunnelDomains, "DNS domains")) return e;
          std::array<char, kMaxHostNameSize + 1> buf{};
          std::string_view canonical;
          if (!CanonicalHostName(s, buf, &canonical)) {
            return Item(PolicyErrorCode::kBadHost, item, f, "not a DNS name: \"" + std::string(s) + "\"");
          }
          out.dns_domains.emplace_back(canonical);
          return Item();
        });
      } else if (k == "device_to_device") {
        std::optional<bool> b = value.value_exact<bool>();
        if (!b) return Err(PolicyErrorCode::kBadType, value.source(), field, "must be true or false");
        out.device_to_device = *b;
      } else if (k == "allow" || k == "deny") {
        r = LoadTunnelRules(value, field, k == "allow", k == "allow" ? allow : deny);
      } else {
        return Err(PolicyErrorCode::kUnknownKey, key.source(), field,
                   "unknown key (expected routes, dns_servers, dns_domains, device_to_device, allow or deny)");
      }
      if (!r.ok()) return r;
    }
    out.rules = TunnelRules(std::move(allow), std::move(deny));
    return {};
  }

  // An item's outcome: nullopt, or the error.
  using ItemResult = std::optional<PolicyError>;
  static ItemResult Item() { return std::nullopt; }
  ItemResult Item(PolicyErrorCode code, const toml::node& n, const std::string& field, const std::string& what) const {
    return Error(code, n.source(), field, what);
  }

  // Calls each(text, item node, field path) for every item of an array of strings. Ports may also be integers.
  template <class Each>
  Result<void, PolicyError> Items(const toml::node& node, const std::string& field, Each&& each) {
    const toml::array* arr = node.as_array();
    if (!arr) {
      return Err(PolicyErrorCode::kBadType, node.source(), field,
                 "must be an array of strings, not " + std::string(TomlTypeName(node)));
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      std::string f = field + "[" + std::to_string(i) + "]";
      if (++entries_ > kMaxPolicyEntries) {
        return Err(PolicyErrorCode::kTooLarge, item.source(), f,
                   "more than " + std::to_string(kMaxPolicyEntries) + " entries in all");
      }
      std::string text;
      if (const auto* s = item.as_string()) {
        text = s->get();
      } else if (const auto* n = item.as_integer(); n && field.ends_with(".ports")) {
        text = std::to_string(n->get());
      } else {
        return Err(PolicyErrorCode::kBadType, item.source(), f, "must be a string, not " + std::string(TomlTypeName(item)));
      }
      if (text.size() > kMaxPatternSize) {
        return Err(PolicyErrorCode::kTooLarge, item.source(), f,
                   "longer than " + std::to_string(kMaxPatternSize) + " characters");
      }
      if (ItemResult e = each(std::string_view(text), item, f)) return Fail(std::move(*e));
    }
    return {};
  }

  std::string source_;
  size_t rules_ = 0;
  size_t entries_ = 0;
};

}  // namespace

Result<Policy, PolicyError> ParsePolicy(std::string_view toml_text, std::string_view source_name) {
  if (toml_text.size() > kMaxPolicyFileSize) {
    return Fail(PolicyError{PolicyErrorCode::kTooLarge, std::string(source_name) + ": larger than " +
                                                            std::to_string(kMaxPolicyFileSize) + " bytes"});
  }
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << source_name << ':' << e.source().begin.line << ':' << e.source().begin.column << ": " << e.description();
    return Fail(PolicyError{PolicyErrorCode::kSyntax, m.str()});
  }
  return Loader(source_name).Load(root);
}

Result<Policy, PolicyError> LoadPolicyFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(PolicyError{PolicyErrorCode::kIo, path.string() + ": cannot open"});
  // Read in chunks, stopping one chunk past the bound, so an oversized file is refused without reading it all.
  std::string text;
  std::array<char, 64 * 1024> chunk;
  while (in && text.size() <= kMaxPolicyFileSize) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.append(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Fail(PolicyError{PolicyErrorCode::kIo, path.string() + ": read failed"});
  return ParsePolicy(text, path.string());
}

}  // namespace strait::connector
