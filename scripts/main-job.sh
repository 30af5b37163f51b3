#!/usr/bin/env bash
# The main job: sets up the machine, builds Strait and runs `strait demo` (strait-control, a relay, a connector and a
# device on loopback, enrolled through activation codes; an internal HTTP server reached through the device's SOCKS5
# door; a table of bulk throughput, small-request latency, sessions and streams, the revocation's cut time, and every
# child's exit status).
# Usage: scripts/main-job.sh [--micro [--quick]] [-- DEMO_ARGS...]
#   --micro   instead of the demo, run the sans-I/O cores' micro-benchmarks, one table per component
#   --quick   with --micro: 0.1 s per benchmark instead of 0.5 s
#   -- ARGS   passed to `strait demo` (e.g. -- --bulk-mib 64 --requests 500; see `strait demo --help`)
set -euo pipefail
cd "$(dirname "$0")/.."
micro=0
min_time=0.5
demo_args=()
while (($#)); do
  case $1 in
    --micro) micro=1; shift ;;
    --quick) min_time=0.1; shift ;;
    --) shift; demo_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "main-job: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
scripts/setup.sh

if ((micro)); then
  scripts/build.sh release build  # the benchmarks are many targets; build them all
  mapfile -t benches < <(find build/bench -maxdepth 1 -type f -name 'strait_*_bench' -perm -u+x | sort)
  ((${#benches[@]})) || { echo "main-job: no micro-benchmarks were built" >&2; exit 1; }
  echo
  echo "Strait micro-benchmarks on $(nproc) cores ($(uname -r)); method: bench/README.md"
  for b in "${benches[@]}"; do
    echo
    echo "## $(basename "$b")"
    "$b" --benchmark_min_time="$min_time" --benchmark_counters_tabular=true 2>/dev/null
  done
  exit 0
fi

# The demo needs the two executables (`strait`, and `strait-control` which it finds in the build tree), not the tests
# and benchmarks.
scripts/build.sh release build strait strait-control
for exe in build/cli/strait build/control-plane/strait-control; do
  [[ -x $exe ]] || { echo "main-job: $exe was not built" >&2; exit 1; }
done
echo
echo "strait demo on $(nproc) cores ($(uname -r))"
exec build/cli/strait demo "${demo_args[@]}"
