#!/usr/bin/env bash
# Builds Strait with clang-19 under ASan+UBSan and runs every test, plus each fuzz target over its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh sanitize build-san
cd build-san
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j "${STRAIT_JOBS:-$(nproc)}" --timeout 900
