#!/usr/bin/env bash
# The main job. Until the relay exists (issue 4 replaces this with `strait demo`), it sets up the machine,
# builds Strait and runs the sans-I/O cores' micro-benchmarks, printing one table per component.
# Usage: scripts/main-job.sh [--quick]      (--quick: 0.1 s per benchmark instead of 0.5 s)
set -euo pipefail
cd "$(dirname "$0")/.."
min_time=0.5
[ "${1:-}" = "--quick" ] && min_time=0.1
scripts/setup.sh
scripts/build.sh release build
mapfile -t benches < <(find build/bench -maxdepth 1 -type f -name 'strait_*_bench' -perm -u+x | sort)
((${#benches[@]})) || { echo "main-job: no micro-benchmarks were built" >&2; exit 1; }
echo
echo "Strait micro-benchmarks on $(nproc) cores ($(uname -r)); method: bench/README.md"
for b in "${benches[@]}"; do
  echo
  echo "## $(basename "$b")"
  "$b" --benchmark_min_time="$min_time" --benchmark_counters_tabular=true 2>/dev/null
done
