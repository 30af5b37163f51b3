# Writes openapi.cc from openapi.json (run at build time, so an edit of the JSON rebuilds): the document as one raw
# string literal. Inputs: IN, OUT.
file(READ ${IN} text)
file(WRITE ${OUT} "// Generated from control-plane/handlers/openapi.json by embed_openapi.cmake. Do not edit.\n"
                  "#include \"control-plane/handlers/openapi.h\"\n"
                  "namespace strait::control {\n"
                  "std::string_view OpenApiText() {\n"
                  "  static constexpr char kText[] = R\"OPENAPI(${text})OPENAPI\";\n"
                  "  return {kText, sizeof kText - 1};\n"
                  "}\n"
                  "}  // namespace strait::control\n")
