#!/usr/bin/env bash
# Configures and builds one of Strait's build trees.
# Usage: scripts/build.sh [release|sanitize] [build-dir] [TARGET...]   (no TARGET: every target)
#   release  : g++ 12, RelWithDebInfo, warnings as errors          (default dir: build)
#   sanitize : clang-19, ASan+UBSan, libFuzzer targets, -Werror    (default dir: build-san)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-release}
targets=("${@:3}")
jobs=${STRAIT_JOBS:-$(nproc)}
case "$mode" in
  release)
    dir=${2:-build}
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRAIT_WERROR=ON >/dev/null ;;
  sanitize)
    dir=${2:-build-san}
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-19 \
      -DCMAKE_CXX_COMPILER=clang++-19 -DSTRAIT_SANITIZE=ON -DSTRAIT_WERROR=ON -DSTRAIT_BUILD_BENCH=OFF >/dev/null ;;
  *) echo "usage: $0 [release|sanitize] [build-dir] [TARGET...]" >&2; exit 2 ;;
esac
echo "build: $mode in $dir with $jobs jobs${targets[*]:+ (${targets[*]})}"
if ((${#targets[@]})); then
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
else
  cmake --build "$dir" -j "$jobs"
fi
