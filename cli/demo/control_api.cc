#include "cli/demo/control_api.h"

#include <fmt/format.h>

#include "tunnel/control/http_client.h"

namespace strait::demo {

Result<nlohmann::json, std::string> ControlApi::Call(std::string_view method, std::string target,
                                                     const nlohmann::json& body) const {
  const std::string what = fmt::format("{} {}", method, target);
  auto url = control::ParseHttpsUrl(url_);
  if (!url) return Fail(fmt::format("{}: {}", what, url.error().reason));
  auto conn = control::HttpsConnection::Connect(*url, {.ca_pem = ca_pem_, .timeout = timeout_});
  if (!conn) return Fail(fmt::format("{}: {}", what, conn.error().reason));
  control::HttpRequest req;
  req.method = std::string(method);
  req.target = std::move(target);
  req.headers = {{"Authorization", "Bearer " + api_key_}, {"Accept", "application/json"}};
  if (!body.is_null()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body.dump();
  }
  auto resp = conn->Exchange(req);
  if (!resp) return Fail(fmt::format("{}: {}", what, resp.error().reason));
  if (resp->status < 200 || resp->status > 299) {
    const control::ProblemInfo p = control::DecodeProblem(resp->status, resp->body);
    return Fail(fmt::format("{}: {} {}: {}", what, resp->status, p.name, p.detail));
  }
  if (resp->body.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(fmt::format("{}: {} with a body that is not JSON", what, resp->status));
  return j;
}

}  // namespace strait::demo
