#include "control-plane/api/router.h"

#include <algorithm>
#include <array>
#include <cassert>

#include <fmt/format.h>

#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"
#include "control-plane/api/json_reader.h"

namespace strait::control {
namespace {

constexpr size_t kMaxSegments = 16;  // our deepest route has 7
constexpr size_t kMaxQueryNameBytes = 32;
constexpr std::array<std::string_view, 5> kMethodNames = {"GET", "POST", "PUT", "PATCH", "DELETE"};

bool IsParamNameChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '~' || c == '-';
}

bool ParamValueOk(std::string_view name, std::string_view value) {
  if (std::optional<IdKind> kind = IdKindForParam(name)) return IsValidId(*kind, value);
  return !value.empty() && value.size() <= kMaxParamBytes && std::all_of(value.begin(), value.end(), IsUnreserved);
}

// Splits "/a/b/c" into {"a","b","c"}. False for no leading '/', an empty segment (including a trailing '/'),
// or more than kMaxSegments.
bool SplitPath(std::string_view path, std::array<std::string_view, kMaxSegments>* parts, size_t* n) {
  *n = 0;
  if (path.empty() || path.front() != '/' || path.size() > kMaxPathBytes) return false;
  path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (seg.empty() || *n == kMaxSegments) return false;
    (*parts)[(*n)++] = seg;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (in.size() - i < 3) return std::nullopt;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

std::string_view MethodName(Method m) { return kMethodNames[static_cast<size_t>(m)]; }

std::optional<Method> ParseMethod(std::string_view name) {
  for (size_t i = 0; i < kMethodNames.size(); ++i) {
    if (kMethodNames[i] == name) return static_cast<Method>(i);
  }
  return std::nullopt;
}

std::string_view PathParams::Get(std::string_view name) const {
  std::optional<std::string_view> v = Find(name);
  assert(v.has_value() && "the route's template has no such parameter");
  return v.value_or(std::string_view());
}

std::optional<std::string_view> PathParams::Find(std::string_view name) const {
  for (const auto& [n, v] : items) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string AllowHeader(std::span<const Method> methods) {
  std::string out;
  for (Method m : methods) {
    if (!out.empty()) out += ", ";
    out += MethodName(m);
  }
  return out;
}

Router::Router(std::span<const RouteSpec> routes) {
  routes_.reserve(routes.size());
  for (const RouteSpec& spec : routes) {
    Compiled c{spec.method, {}};
    std::array<std::string_view, kMaxSegments> parts{};
    size_t n = 0;
    [[maybe_unused]] bool ok = SplitPath(spec.path_template, &parts, &n);
    assert(ok && "bad route template");
    for (size_t i = 0; i < n; ++i) {
      std::string_view seg = parts[i];
      if (seg.size() >= 3 && seg.front() == '{' && seg.back() == '}') {
        std::string_view name = seg.substr(1, seg.size() - 2);
        assert(std::all_of(name.begin(), name.end(), IsParamNameChar) && "bad parameter name");
        for ([[maybe_unused]] const Segment& prior : c.segments) {
          assert(!(prior.is_param && prior.text == name) && "parameter named twice");
        }
        c.segments.push_back({name, true});
      } else {
        assert(seg.find_first_of("{}") == std::string_view::npos && "a parameter must be a whole segment");
        c.segments.push_back({seg, false});
      }
    }
    routes_.push_back(std::move(c));
  }
}

bool Router::Matches(const Compiled& route, std::span<const std::string_view> parts) const {
  if (route.segments.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Segment& s = route.segments[i];
    if (s.is_param ? !ParamValueOk(s.text, parts[i]) : s.text != parts[i]) return false;
  }
  return true;
}

RouteMatch Router::Match(Method method, std::string_view path) const {
  RouteMatch out;
  std::array<std::string_view, kMaxSegments> parts{};
  size_t n = 0;
  if (!SplitPath(path, &parts, &n)) return out;
  std::span<const std::string_view> view(parts.data(), n);
  bool path_matched = false;
  uint32_t methods_seen = 0;  // bit per Method
  for (size_t r = 0; r < routes_.size(); ++r) {
    const Compiled& route = routes_[r];
    if (!Matches(route, view)) continue;
    path_matched = true;
    methods_seen |= 1u << static_cast<unsigned>(route.method);
    if (route.method != method) continue;
    out.kind = RouteMatch::Kind::kFound;
    out.route = r;
    for (size_t i = 0; i < n; ++i) {
      if (route.segments[i].is_param) out.params.items.emplace_back(route.segments[i].text, view[i]);
    }
    return out;
  }
  if (path_matched) {
    out.kind = RouteMatch::Kind::kMethodNotAllowed;
    for (size_t m = 0; m < kMethodNames.size(); ++m) {
      if ((methods_seen & (1u << m)) != 0) out.allow.push_back(static_cast<Method>(m));
    }
  }
  return out;
}

std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

Result<QueryParams, QueryError> QueryParams::Parse(std::string_view query) {
  QueryParams out;
  size_t pieces = 0;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    if (++pieces > kMaxQueryParams) {
      return Fail(QueryError{"", fmt::format("more than {} query parameters", kMaxQueryParams)});
    }
    size_t eq = piece.find('=');
    std::optional<std::string> name = PercentDecode(piece.substr(0, eq));
    if (!name || name->empty() || name->size() > kMaxQueryNameBytes ||
        !std::all_of(name->begin(), name->end(), IsParamNameChar)) {
      return Fail(QueryError{"", "a query parameter name must be 1..32 of [a-z_]"});
    }
    if (piece.size() > kMaxQueryParamBytes) {
      return Fail(QueryError{*name, fmt::format("longer than {} bytes", kMaxQueryParamBytes)});
    }
    std::optional<std::string> value =
        eq == std::string_view::npos ? std::string() : PercentDecode(piece.substr(eq + 1));
    if (!value) return Fail(QueryError{*name, "bad percent escape"});
    if (!IsValidUtf8(*value) || HasControlChars(*value)) {
      return Fail(QueryError{*name, "not UTF-8 text without control characters"});
    }
    if (out.Get(*name)) return Fail(QueryError{*name, "given twice"});
    out.items_.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string_view> QueryParams::Get(std::string_view name) const {
  for (const auto& [n, v] : items_) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> QueryParams::FirstUnknown(std::span<const std::string_view> allowed) const {
  for (const auto& [n, v] : items_) {
    if (std::find(allowed.begin(), allowed.end(), n) == allowed.end()) return std::string_view(n);
  }
  return std::nullopt;
}

}  // namespace strait::control
