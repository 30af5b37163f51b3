#include "control-plane/api/policy_doc.h"

#include <charconv>

#include <fmt/format.h>

#include "tunnel/connector/policy_file.h"

namespace strait::control {
namespace {

using json = nlohmann::json;

// Every pattern is a string of 1..255 bytes without control characters; its meaning is ParsePolicy's. Lists are
// not sets: a repeated item is the connector's to accept (it does), not ours to refuse.
constexpr ListBounds kPatternList{kMaxPolicyItemsTotal, TextBounds{1, kMaxPolicyPatternBytes, false}, false};
constexpr ListBounds kProtocolList{3, TextBounds{1, 16, false}, false};

// Counts what the decoded document holds, for the whole-document bounds.
struct Totals {
  size_t rules = 0;
  size_t items = 0;
  void Add(const std::optional<std::vector<std::string>>& list) {
    if (list) items += list->size();
  }
};

std::vector<AppRule> ReadAppRules(ObjectReader& r, std::string_view name, Totals& totals) {
  std::vector<AppRule> out;
  auto readers = r.ObjectList(name, Need::kOptional, kMaxPolicyRulesTotal);
  if (!readers) return out;
  for (ObjectReader& rule_reader : *readers) {
    AppRule rule;
    rule.hosts = rule_reader.TextList("hosts", Need::kOptional, kPatternList);
    rule.cidrs = rule_reader.TextList("cidrs", Need::kOptional, kPatternList);
    rule.ports = rule_reader.TextList("ports", Need::kOptional, kPatternList);
    rule_reader.Finish();
    ++totals.rules;
    totals.Add(rule.hosts);
    totals.Add(rule.cidrs);
    totals.Add(rule.ports);
    out.push_back(std::move(rule));
  }
  return out;
}

std::vector<TunnelRuleDoc> ReadTunnelRules(ObjectReader& r, std::string_view name, Totals& totals) {
  std::vector<TunnelRuleDoc> out;
  auto readers = r.ObjectList(name, Need::kOptional, kMaxPolicyRulesTotal);
  if (!readers) return out;
  for (ObjectReader& rule_reader : *readers) {
    TunnelRuleDoc rule;
    auto cidrs = rule_reader.TextList("cidrs", Need::kRequired, kPatternList);
    rule.protocols = rule_reader.TextList("protocols", Need::kOptional, kProtocolList);
    rule.ports = rule_reader.TextList("ports", Need::kOptional, kPatternList);
    rule_reader.Finish();
    if (cidrs) rule.cidrs = std::move(*cidrs);
    ++totals.rules;
    totals.items += rule.cidrs.size();
    totals.Add(rule.protocols);
    totals.Add(rule.ports);
    out.push_back(std::move(rule));
  }
  return out;
}

json ListJson(const std::vector<std::string>& list) { return json(list); }

json AppRuleJson(const AppRule& rule) {
  json out = json::object();
  if (rule.hosts) out["hosts"] = ListJson(*rule.hosts);
  if (rule.cidrs) out["cidrs"] = ListJson(*rule.cidrs);
  if (rule.ports) out["ports"] = ListJson(*rule.ports);
  return out;
}

json TunnelRuleJson(const TunnelRuleDoc& rule) {
  json out = {{"cidrs", ListJson(rule.cidrs)}};
  if (rule.protocols) out["protocols"] = ListJson(*rule.protocols);
  if (rule.ports) out["ports"] = ListJson(*rule.ports);
  return out;
}

// A TOML basic string. The JSON reader has checked UTF-8; `"`, `\` and control characters are escaped (the
// decoder refuses control characters in patterns, but the renderer does not rely on it).
void AppendTomlString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

void AppendList(std::string& out, std::string_view key, const std::vector<std::string>& list) {
  out += key;
  out += " = [";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ", ";
    AppendTomlString(out, list[i]);
  }
  out += "]\n";
}

void AppendList(std::string& out, std::string_view key, const std::optional<std::vector<std::string>>& list) {
  if (list) AppendList(out, key, *list);
}

FieldErrorCode FieldCode(connector::PolicyErrorCode code) {
  using C = connector::PolicyErrorCode;
  switch (code) {
    case C::kUnknownKey: return FieldErrorCode::kUnknownField;
    case C::kBadType: return FieldErrorCode::kWrongType;
    case C::kEmptyRule: return FieldErrorCode::kMissingField;
    case C::kTooLarge: return FieldErrorCode::kTooManyItems;
    case C::kBadHost:
    case C::kBadCidr:
    case C::kBadPort:
    case C::kBadVersion:
    case C::kSyntax:
    case C::kIo: return FieldErrorCode::kBadFormat;
  }
  return FieldErrorCode::kBadFormat;
}

constexpr std::string_view kSourceName = "policy";

// ParsePolicy's message is "policy:<line>:<column>: <field>: <what>" (a syntax error has no field, and cannot come
// from our renderer). Returns the field error for it.
FieldError ToFieldError(const connector::PolicyError& error) {
  std::string_view m = error.reason;
  // Skip "policy:<line>:<column>: ".
  if (m.starts_with(kSourceName)) m.remove_prefix(kSourceName.size());
  for (int colons = 0; colons < 2 && !m.empty() && m.front() == ':';) {
    m.remove_prefix(1);
    ++colons;
    while (!m.empty() && m.front() >= '0' && m.front() <= '9') m.remove_prefix(1);
  }
  if (m.starts_with(": ")) m.remove_prefix(2);
  std::string pointer;
  std::string_view what = m;
  if (size_t sep = m.find(": "); sep != std::string_view::npos) {
    if (auto p = PolicyFieldPointer(m.substr(0, sep))) {
      pointer = std::move(*p);
      what = m.substr(sep + 2);
    }
  }
  return FieldError{std::move(pointer), FieldCode(error.code), std::string(what)};
}

}  // namespace

Result<PolicyWrite, Problem> DecodePolicyWrite(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  PolicyWrite out;
  Totals totals;
  auto name = r.Text("name", Need::kRequired, kNameBounds);
  auto is_default = r.Bool("default", Need::kOptional);
  if (auto app = r.Object("app", Need::kRequired)) {
    out.allow = ReadAppRules(*app, "allow", totals);
    out.deny = ReadAppRules(*app, "deny", totals);
    app->Finish();
  }
  if (auto tunnel = r.Object("tunnel", Need::kOptional)) {
    TunnelDoc t;
    t.routes = tunnel->TextList("routes", Need::kOptional, {kMaxTunnelRoutesJson, kPatternList.item, false});
    t.dns_servers = tunnel->TextList("dns_servers", Need::kOptional,
                                     {kMaxTunnelDnsServersJson, kPatternList.item, false});
    t.dns_domains = tunnel->TextList("dns_domains", Need::kOptional,
                                     {kMaxTunnelDnsDomainsJson, kPatternList.item, false});
    t.device_to_device = tunnel->Bool("device_to_device", Need::kOptional);
    t.allow = ReadTunnelRules(*tunnel, "allow", totals);
    t.deny = ReadTunnelRules(*tunnel, "deny", totals);
    tunnel->Finish();
    out.tunnel = std::move(t);
  }
  r.Finish();
  if (totals.rules > kMaxPolicyRulesTotal) {
    errors.Add("", FieldErrorCode::kTooManyItems,
               fmt::format("at most {} rules in all, got {}", kMaxPolicyRulesTotal, totals.rules));
  }
  if (totals.items > kMaxPolicyItemsTotal) {
    errors.Add("", FieldErrorCode::kTooManyItems,
               fmt::format("at most {} hosts, cidrs, protocols and ports in all, got {}", kMaxPolicyItemsTotal,
                           totals.items));
  }
  if (!errors.empty()) return Fail(errors.ToProblem());
  out.name = std::move(*name);
  out.is_default = is_default.value_or(false);
  return out;
}

json EncodePolicyRules(const PolicyWrite& v) {
  json allow = json::array(), deny = json::array();
  for (const AppRule& rule : v.allow) allow.push_back(AppRuleJson(rule));
  for (const AppRule& rule : v.deny) deny.push_back(AppRuleJson(rule));
  json out = {{"app", {{"allow", std::move(allow)}, {"deny", std::move(deny)}}}};
  if (v.tunnel) {
    const TunnelDoc& t = *v.tunnel;
    json tunnel = json::object();
    if (t.routes) tunnel["routes"] = ListJson(*t.routes);
    if (t.dns_servers) tunnel["dns_servers"] = ListJson(*t.dns_servers);
    if (t.dns_domains) tunnel["dns_domains"] = ListJson(*t.dns_domains);
    if (t.device_to_device) tunnel["device_to_device"] = *t.device_to_device;
    json tallow = json::array(), tdeny = json::array();
    for (const TunnelRuleDoc& rule : t.allow) tallow.push_back(TunnelRuleJson(rule));
    for (const TunnelRuleDoc& rule : t.deny) tdeny.push_back(TunnelRuleJson(rule));
    tunnel["allow"] = std::move(tallow);
    tunnel["deny"] = std::move(tdeny);
    out["tunnel"] = std::move(tunnel);
  }
  return out;
}

json EncodePolicyWrite(const PolicyWrite& v) {
  json out = EncodePolicyRules(v);
  out["name"] = v.name;
  out["default"] = v.is_default;
  return out;
}

std::string RenderPolicyToml(const PolicyWrite& v) {
  std::string out = "version = 1\n";
  auto app_rules = [&out](std::string_view header, const std::vector<AppRule>& rules) {
    for (const AppRule& rule : rules) {
      out += '\n';
      out += header;
      out += '\n';
      AppendList(out, "hosts", rule.hosts);
      AppendList(out, "cidrs", rule.cidrs);
      AppendList(out, "ports", rule.ports);
    }
  };
  app_rules("[[allow]]", v.allow);
  app_rules("[[deny]]", v.deny);
  if (v.tunnel) {
    const TunnelDoc& t = *v.tunnel;
    out += "\n[tunnel]\n";
    AppendList(out, "routes", t.routes);
    AppendList(out, "dns_servers", t.dns_servers);
    AppendList(out, "dns_domains", t.dns_domains);
    if (t.device_to_device) out += *t.device_to_device ? "device_to_device = true\n" : "device_to_device = false\n";
    auto tunnel_rules = [&out](std::string_view header, const std::vector<TunnelRuleDoc>& rules) {
      for (const TunnelRuleDoc& rule : rules) {
        out += '\n';
        out += header;
        out += '\n';
        AppendList(out, "cidrs", rule.cidrs);
        AppendList(out, "protocols", rule.protocols);
        AppendList(out, "ports", rule.ports);
      }
    };
    tunnel_rules("[[tunnel.allow]]", t.allow);
    tunnel_rules("[[tunnel.deny]]", t.deny);
  }
  return out;
}

Result<std::string, Problem> CheckPolicy(const PolicyWrite& v) {
  std::string toml = RenderPolicyToml(v);
  if (toml.size() > kMaxPolicyTomlBytes) {
    Problem p = MakeProblem(ProblemType::kLimitExceeded,
                            fmt::format("the policy renders to {} bytes of TOML; the bound is {}", toml.size(),
                                        kMaxPolicyTomlBytes));
    p.extensions["limit"] = "policy_toml_bytes";
    p.extensions["max"] = kMaxPolicyTomlBytes;
    return Fail(std::move(p));
  }
  auto parsed = connector::ParsePolicy(toml, kSourceName);
  if (!parsed) return Fail(InvalidRequest({ToFieldError(parsed.error())}, 1));
  return toml;
}

std::optional<std::string> PolicyFieldPointer(std::string_view field) {
  // "tunnel.x..." lives under /tunnel; every other path is an app rule list under /app.
  std::string out = field.starts_with("tunnel") ? "" : "/app";
  while (!field.empty()) {
    size_t dot = field.find('.');
    std::string_view part = field.substr(0, dot);
    field = dot == std::string_view::npos ? std::string_view() : field.substr(dot + 1);
    if (dot != std::string_view::npos && field.empty()) return std::nullopt;  // "a."
    std::string_view key = part.substr(0, part.find('['));
    if (key.empty()) return std::nullopt;
    out += '/';
    out += EscapePointerToken(key);
    part.remove_prefix(key.size());
    while (!part.empty()) {  // "[1]" ...
      size_t close = part.find(']');
      if (part.front() != '[' || close == std::string_view::npos || close < 2) return std::nullopt;
      std::string_view digits = part.substr(1, close - 1);
      size_t index = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
      out += fmt::format("/{}", index);
      part.remove_prefix(close + 1);
    }
  }
  if (out.empty() || out == "/app") return std::nullopt;
  return out;
}

}  // namespace strait::control
