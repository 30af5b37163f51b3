// Path templates and query strings of the REST API (docs/control-plane.md §4.1, §4.4). Sans-I/O: the HTTP layer
// hands in the method and the request target; the route table (api/routes.cc) supplies the rows.
//
// Matching: a template is literal segments and {param} segments (`/v1/tenants/{tenant}/devices/{device}`). A path
// matches a template when every literal is equal and every parameter is non-empty and valid: a parameter named
// like an id (tenant, connector, relay, user, group, device, policy, assignment, key, activation; ids.h) must have
// that id's syntax, any other must be 1..kMaxParamBytes of [A-Za-z0-9._~-]. A bad parameter is therefore 404, never
// a lookup. Path bytes are compared as they arrive (no percent-decoding: no id contains '%').
//   - some template matches with the request's method -> kFound (the first such row in table order)
//   - some template matches, none with that method     -> kMethodNotAllowed with the Allow list
//   - none matches                                      -> kNotFound
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace strait::control {

enum class Method : uint8_t { kGet, kPost, kPut, kPatch, kDelete };
std::string_view MethodName(Method m);               // "GET"
std::optional<Method> ParseMethod(std::string_view);  // exact, upper case

inline constexpr size_t kMaxPathBytes = 2048;
inline constexpr size_t kMaxParamBytes = 256;
inline constexpr size_t kMaxQueryParams = 32;
inline constexpr size_t kMaxQueryParamBytes = 1024;  // one "name=value" piece as it arrives, before decoding

struct RouteSpec {
  Method method;
  std::string_view path_template;
};

struct PathParams {
  std::vector<std::pair<std::string, std::string>> items;  // in template order
  // The value of {name}; asserts the template has it (a handler asking for a parameter its route lacks is a bug).
  std::string_view Get(std::string_view name) const;
  std::optional<std::string_view> Find(std::string_view name) const;
};

struct RouteMatch {
  enum class Kind : uint8_t { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  size_t route = 0;           // kFound: index into the rows given to the Router
  PathParams params;          // kFound
  std::vector<Method> allow;  // kMethodNotAllowed: sorted in enum order, no duplicates
};

// "GET, PUT, DELETE" for the Allow header.
std::string AllowHeader(std::span<const Method> methods);

class Router {
 public:
  // Asserts each template is well formed: starts with '/', no empty segment, a {param} is a whole segment with a
  // name of [a-z_]+, no name twice in one template. `routes` must outlive the Router.
  explicit Router(std::span<const RouteSpec> routes);

  // [any] `path` is the request target's path (before '?'). O(routes x segments), no allocation unless it
  // matches. The Router is immutable after construction, so the store pool's threads share one.
  RouteMatch Match(Method method, std::string_view path) const;

 private:
  struct Segment {
    std::string_view text;  // literal text, or the parameter's name
    bool is_param = false;
  };
  struct Compiled {
    Method method;
    std::vector<Segment> segments;
  };
  bool Matches(const Compiled& route, std::span<const std::string_view> parts) const;

  std::vector<Compiled> routes_;
};

// The request target split at the first '?': {path, query} (query without the '?', empty if none).
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target);

struct QueryError {
  std::string param;   // the parameter's name as far as it was decoded ("" if not even that)
  std::string detail;  // for an invalid-request error
};

// Parsed query parameters: `name=value` pieces split at '&', percent-decoded (%XX; '+' stays '+', it is not a
// space), names of [a-z_]{1,32}, values valid UTF-8 without control characters. An empty piece (a trailing '&')
// is skipped; a piece without '=' has an empty value.
class QueryParams {
 public:
  // Refused: more than kMaxQueryParams pieces, a piece over kMaxQueryParamBytes, bad percent escape, a bad name or
  // value, a name twice.
  static Result<QueryParams, QueryError> Parse(std::string_view query);

  std::optional<std::string_view> Get(std::string_view name) const;
  // The first parameter whose name is not in `allowed` (a handler refuses unknown parameters like unknown fields).
  std::optional<std::string_view> FirstUnknown(std::span<const std::string_view> allowed) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace strait::control
