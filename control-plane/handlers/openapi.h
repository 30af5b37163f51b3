// The OpenAPI 3.0 document of /v1 (control-plane/handlers/openapi.json, compiled in by CMake). Hand-written:
// tests/control-plane/api/openapi_test.cc checks that its paths and methods are exactly the route table's.
#pragma once

#include <string_view>

namespace strait::control {

std::string_view OpenApiText();

}  // namespace strait::control
