// control_router_fuzzer: arbitrary request targets into the control plane's router and query parser
// (control-plane/api/router.h). Input: byte 0 picks the method, the rest is the target. Never crashes, and:
//   - kFound: the route's method is the request's, and the template with its parameters substituted is exactly
//     the path; each id parameter has its id syntax;
//   - kMethodNotAllowed: the Allow list is sorted, not empty, and lacks the request's method, and each listed
//     method does match;
//   - kNotFound: no method matches the path;
//   - a parsed query has at most 32 distinct names, each decoded value free of control characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"
#include "control-plane/api/router.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

// A cut of §4.8's table: literals and parameters at the same depths, several methods per path.
constexpr RouteSpec kRoutes[] = {
    {Method::kGet, "/v1/openapi.json"},
    {Method::kGet, "/v1/health"},
    {Method::kPost, "/v1/activate"},
    {Method::kPost, "/v1/tenants"},
    {Method::kGet, "/v1/tenants"},
    {Method::kGet, "/v1/tenants/{tenant}"},
    {Method::kPatch, "/v1/tenants/{tenant}"},
    {Method::kDelete, "/v1/tenants/{tenant}"},
    {Method::kDelete, "/v1/api-keys/{key}"},
    {Method::kGet, "/v1/tenants/{tenant}/licence"},
    {Method::kPut, "/v1/tenants/{tenant}/licence"},
    {Method::kGet, "/v1/relays/{relay}/events"},
    {Method::kGet, "/v1/tenants/{tenant}/users/{user}"},
    {Method::kPatch, "/v1/tenants/{tenant}/users/{user}"},
    {Method::kPut, "/v1/tenants/{tenant}/groups/{group}/members/{user}"},
    {Method::kDelete, "/v1/tenants/{tenant}/groups/{group}/members/{user}"},
    {Method::kPost, "/v1/tenants/{tenant}/devices/{device}/lock"},
    {Method::kGet, "/v1/tenants/{tenant}/activations/{activation}"},
    {Method::kGet, "/v1/tenants/{tenant}/connectors/{connector}/snapshot"},
    {Method::kDelete, "/v1/tenants/{tenant}/policies/{policy}"},
    {Method::kDelete, "/v1/tenants/{tenant}/policy-assignments/{assignment}"},
    {Method::kGet, "/v1/things/{name}"},
};

std::string Substitute(std::string_view tmpl, const PathParams& params) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      size_t close = tmpl.find('}', i);
      out += params.Get(tmpl.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const Router router(kRoutes);
  Method method = static_cast<Method>(data[0] % 5);
  std::string_view target(reinterpret_cast<const char*>(data + 1), size - 1);
  auto [path, query] = SplitTarget(target);

  RouteMatch m = router.Match(method, path);
  switch (m.kind) {
    case RouteMatch::Kind::kFound: {
      Check(m.route < std::size(kRoutes));
      const RouteSpec& spec = kRoutes[m.route];
      Check(spec.method == method);
      Check(Substitute(spec.path_template, m.params) == path);
      for (const auto& [name, value] : m.params.items) {
        if (auto kind = IdKindForParam(name)) Check(IsValidId(*kind, value));
      }
      break;
    }
    case RouteMatch::Kind::kMethodNotAllowed: {
      Check(!m.allow.empty());
      for (size_t i = 0; i < m.allow.size(); ++i) {
        Check(m.allow[i] != method);
        if (i > 0) Check(m.allow[i - 1] < m.allow[i]);
        Check(router.Match(m.allow[i], path).kind == RouteMatch::Kind::kFound);
      }
      break;
    }
    case RouteMatch::Kind::kNotFound:
      for (int other = 0; other < 5; ++other) {
        Check(router.Match(static_cast<Method>(other), path).kind == RouteMatch::Kind::kNotFound);
      }
      break;
  }

  auto q = QueryParams::Parse(query);
  if (q.ok()) {
    std::set<std::string_view> names;
    for (const auto& [name, value] : q->items()) {
      Check(names.insert(name).second);
      Check(!HasControlChars(value));
      Check(q->Get(name) == std::string_view(value));
    }
    Check(names.size() <= kMaxQueryParams);
  }
  return 0;
}
