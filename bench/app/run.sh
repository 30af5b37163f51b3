#!/usr/bin/env bash
# App-session benchmarks in ONE run, a thin wrapper around `strait bench` (method: bench/app/README.md and
# bench/README.md; design: docs/bench.md):
#   tput  strait bench bulk --streams 1 --baseline haproxy: throughput with TLS on both legs, and the forwarder's CPU
#         seconds per GB (the relay's, or the haproxy mid's that terminates and re-originates TLS)
#   lat   strait bench latency --closed --connections 1 --size 64 against direct, direct-connect (a device reaching
#         the connector without the relay) and haproxy (in -> mid -> out, TLS on both legs of the mid)
#   mem   strait bench idle --devices SESSIONS: the relay's RSS per idle device session, on a fresh relay
#
# Usage: bench/app/run.sh [--build DIR] [--seconds N] [--reps N] [--sessions N] [--only tput,lat,mem] [--out DIR]
#   --build DIR   build tree with cli/strait (default: build)
#   --seconds N   measured seconds per repetition and side (default 10); --reps N repetitions (default 5)
#   --sessions N  idle device links for the memory phase (default 10000; at most 19000, the fd cap here is 20000)
# Each phase's results are in OUT/<phase>*.json (schema strait-bench/1) and OUT/<phase>*.html; `strait bench compare`
# compares two of them. Every process is started and stopped by `strait bench` itself.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
SECONDS_PER_REP=10
REPS=5
SESSIONS=10000
ONLY="tput,lat,mem"
OUT=""

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --seconds) SECONDS_PER_REP=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in SECONDS_PER_REP REPS SESSIONS; do is_uint "${!v}" || die "--${v,,} wants a non-negative integer"; done
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do case $p in tput|lat|mem) WANT[$p]=1 ;; *) die "--only: unknown phase '$p'" ;; esac; done
STRAIT="$BUILD/cli/strait"
[[ -x $STRAIT ]] || die "$STRAIT not built: scripts/build.sh release $BUILD strait"
if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-app-bench.XXXXXX); fi
mkdir -p "$OUT"
log "results in $OUT"

bench() {  # bench NAME ARGS...: one `strait bench` run, its JSON and HTML in OUT (argument errors exit 2 there)
  local name=$1; shift
  "$STRAIT" bench "$@" --json "$OUT/$name.json" --html "$OUT/$name.html" || die "strait bench $* failed"
}
if [[ -n ${WANT[tput]:-} ]]; then
  bench tput bulk --streams 1 --seconds "$SECONDS_PER_REP" --reps "$REPS" --baseline haproxy
fi
if [[ -n ${WANT[lat]:-} ]]; then
  for b in direct direct-connect haproxy; do
    bench "lat-$b" latency --closed --connections 1 --size 64 --seconds "$SECONDS_PER_REP" --reps "$REPS" \
      --baseline "$b"
  done
fi
if [[ -n ${WANT[mem]:-} ]]; then
  bench mem idle --devices "$SESSIONS" --reps 1 --timeout 300
fi
log "done: $(cd "$OUT" && ls ./*.json | tr '\n' ' ')"
