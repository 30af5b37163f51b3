// ControlApi: strait-control's REST API from the data-plane side (`strait demo`, the e2e tests, bench/control's
// revocation run): one HTTPS request per call over the project's BoringSSL client (tunnel/control/http_client.h),
// the server checked against the control plane's CA, `Authorization: Bearer <API key>`, JSON in and out.
//
// An answer other than 2xx is an error that names the call, the status and the problem (RFC 9457 type and detail):
//   "POST /v1/tenants: 409 conflict: tenant demo exists". Setup path: blocking, one connection per call.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.h"

namespace strait::demo {

class ControlApi {
 public:
  ControlApi(std::string url, std::string ca_pem, std::string api_key,
             std::chrono::milliseconds timeout = std::chrono::seconds(15))
      : url_(std::move(url)), ca_pem_(std::move(ca_pem)), api_key_(std::move(api_key)), timeout_(timeout) {}

  // GET / DELETE without a body (`body` null), POST / PUT / PATCH with one. The answer's JSON ({} for 204).
  Result<nlohmann::json, std::string> Call(std::string_view method, std::string target,
                                           const nlohmann::json& body = nullptr) const;
  Result<nlohmann::json, std::string> Post(std::string target, const nlohmann::json& body) const {
    return Call("POST", std::move(target), body);
  }
  Result<nlohmann::json, std::string> Get(std::string target) const { return Call("GET", std::move(target)); }

  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::string ca_pem_;
  std::string api_key_;
  std::chrono::milliseconds timeout_;
};

}  // namespace strait::demo
