#!/usr/bin/env bash
# Builds Strait with clang-19 under ASan+UBSan and runs every test, plus each fuzz target over its seed corpus.
# The heavy cross-process load cases (ctest LABEL e2e: 1,000 streams, 1 GiB through one stream) run in the release
# build only (scripts/test.sh); under ASan they would take most of CI's budget. STRAIT_SAN_ALL=1 runs them too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh sanitize build-san
cd build-san
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exclude=(-LE e2e)
[ "${STRAIT_SAN_ALL:-0}" = 1 ] && exclude=()
ctest --output-on-failure -j "${STRAIT_JOBS:-$(nproc)}" --timeout 900 "${exclude[@]}"
