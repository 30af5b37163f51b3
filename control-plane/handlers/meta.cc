// The public routes (docs/control-plane.md §4.8): health and the OpenAPI document.
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/openapi.h"

namespace strait::control::handlers {

Outcome Health(Context& ctx) {
  auto tx = ctx.services.store->Read();
  if (!tx) return Reply{503, {{"status", "degraded"}, {"store", "busy"}}, {{"Retry-After", "1"}}};
  return Reply{200, {{"status", "ok"}, {"store", "ok"}}, {}};
}

Outcome OpenApi(Context&) {
  static const nlohmann::json doc = nlohmann::json::parse(OpenApiText());
  return Reply{200, doc, {}};
}

}  // namespace strait::control::handlers
