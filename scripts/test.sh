#!/usr/bin/env bash
# Sets up a Debian 12 machine (scripts/setup.sh), builds Strait with g++ and runs every test.
# Usage: scripts/test.sh            (as root, or with sudo available for the package install)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release build
cd build
ctest --output-on-failure -j "${STRAIT_JOBS:-$(nproc)}" --timeout 600
