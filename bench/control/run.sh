#!/usr/bin/env bash
# The control plane's benchmarks in ONE run (method and figures: bench/control/README.md). A strait-control is
# initialised in a temporary data directory and served on 127.0.0.1 (rate limits raised so they do not bound the
# load); strait-control-load then measures, --reps times each, with --threads x --connections client connections:
#   read      GET /v1/tenants/{t}/users/{u}, keep-alive
#   write     POST /v1/tenants/{t}/users with distinct emails, keep-alive
#   activate  POST /v1/activate, one new TLS connection per device (activations created and keys made untimed)
#   revocation  REST revoke -> the device's relay link closed (strait-revocation-bench: its own control plane, a
#               relay, a connector and --revocations devices with live sessions, --parallel 10 at a time)
# Each repetition reports requests/s, latency p50/p99 and the control plane's CPU per request (utime + stime from
# /proc/PID/stat around the timed phase); the summary gives the median and min..max over the repetitions.
#
# Usage: bench/control/run.sh [--build DIR] [--reps N] [--time S] [--requests N] [--activations N]
#                             [--threads N] [--connections N] [--server-threads N] [--revocations N]
#                             [--only read,write,activate,revocation] [--out DIR]
#   --build DIR         build tree with control-plane/strait-control and bench/control/strait-control-load (build)
#   --reps N            repetitions per scenario (default 3)
#   --time S            seconds of load per repetition at most (default 5)
#   --requests N        requests per read/write repetition at most (default 50000)
#   --activations N     activations per repetition (default 300; the tenant bound is 10000 pending)
#   --threads N / --connections N   client threads and connections per thread (default 2 / 8)
#   --server-threads N  strait-control's I/O threads (default 2; store_threads stays 4)
#   --revocations N     revocations timed (default 100: the issue's p50/p99 over 100)
# Free ports are chosen at run time; every process started here is stopped on exit (trap); every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
REPS=3
TIME=5
REQUESTS=50000
ACTIVATIONS=300
THREADS=2
CONNECTIONS=8
SERVER_THREADS=2
REVOCATIONS=100
ONLY="read,write,activate,revocation"
OUT=""

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --activations) ACTIVATIONS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --server-threads) SERVER_THREADS=$2; shift 2 ;;
    --revocations) REVOCATIONS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in REPS TIME REQUESTS ACTIVATIONS THREADS CONNECTIONS SERVER_THREADS REVOCATIONS; do
  is_uint "${!v}" || die "--${v,,} wants a non-negative integer"
done
((REPS >= 1 && TIME >= 1 && REQUESTS >= 1)) || die "--reps, --time and --requests must be at least 1"
((ACTIVATIONS >= 1 && ACTIVATIONS <= 10000)) || die "--activations must be in 1..10000"
((SERVER_THREADS >= 1 && SERVER_THREADS <= 64)) || die "--server-threads must be in 1..64"
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do
  case $p in read|write|activate|revocation) WANT[$p]=1 ;; *) die "--only: unknown scenario '$p'" ;; esac
done

CONTROL="$BUILD/control-plane/strait-control"
LOAD="$BUILD/bench/control/strait-control-load"
for b in "$CONTROL" "$LOAD"; do [[ -x $b ]] || die "$b not built: cmake --build $BUILD --target ${b##*/}"; done

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-control-bench.XXXXXX); fi
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"; rm -rf "$RUN"; mkdir -p "$RUN"
: >"$OUT/results.txt"

# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "openssl: $(openssl version 2>/dev/null || echo unknown)"
  echo "sqlite: $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo unknown)"
  echo "args: reps=$REPS time=$TIME requests=$REQUESTS activations=$ACTIVATIONS threads=$THREADS" \
       "connections=$CONNECTIONS server_threads=$SERVER_THREADS only=$ONLY"
} >"$OUT/env.txt"
log "results in $OUT"

# ---- the control plane: init, then serve with the rate limits out of the way ----
DATA="$RUN/data"
"$CONTROL" init --data "$DATA" --name localhost --ip 127.0.0.1 >"$RUN/init.out" 2>"$RUN/init.err" \
  || die "init failed: $(tail -n3 "$RUN/init.err")"
KEY=$(sed -n 's/^operator_api_key=\([^ ]*\).*/\1/p' "$RUN/init.out")
[[ -n $KEY ]] || die "init printed no operator key"
cat >"$RUN/control.toml" <<EOF
threads = $SERVER_THREADS
rate_per_key = 100000
burst_per_key = 100000
rate_unauthenticated = 100000
activate_per_minute = 1000000
EOF
start_bg control "$CONTROL" serve --data "$DATA" --listen 127.0.0.1:0 --config "$RUN/control.toml"
CP_PID=$BG_PID
line=$(wait_line "$RUN/control.out" "control ready" "$CP_PID") || die "serve did not start: $(tail -n3 "$RUN/control.err")"
ADDR=$(field "$line" listen)
log "strait-control pid $CP_PID on $ADDR"

# run_scenario NAME ARGS...: --reps runs of strait-control-load, each line kept in results.txt.
run_scenario() {
  local name=$1 rep line; shift
  for ((rep = 1; rep <= REPS; rep++)); do
    line=$("$LOAD" --address "$ADDR" --ca "$DATA/tls-ca/ca.pem" --key "$KEY" --scenario "$name" \
             --threads "$THREADS" --connections "$CONNECTIONS" --time "$TIME" --pid "$CP_PID" "$@" \
             2>>"$RUN/load-$name.err") || die "$name rep $rep failed: $(tail -n2 "$RUN/load-$name.err")"
    echo "$line rep=$rep" >>"$OUT/results.txt"
    log "$name rep $rep: $(cut -d' ' -f3-9 <<<"$line")"
  done
}
[[ -n ${WANT[read]:-} ]] && run_scenario read --requests "$REQUESTS"
[[ -n ${WANT[write]:-} ]] && run_scenario write --requests "$REQUESTS"
[[ -n ${WANT[activate]:-} ]] && run_scenario activate --requests "$ACTIVATIONS"
# Revocation latency (docs/control-plane.md §7.4): real relay, connector and devices; REST revoke -> link closed.
if [[ -n ${WANT[revocation]:-} ]]; then
  REVOKE="$BUILD/bench/control/strait-revocation-bench"
  [[ -x $REVOKE && -x $BUILD/cli/strait ]] || die "build strait and strait-revocation-bench first"
  log "revocation: $REVOCATIONS devices, 10 at a time"
  "$REVOKE" --strait "$BUILD/cli/strait" --control "$CONTROL" --count "$REVOCATIONS" --parallel 10 \
    --csv "$OUT/revocations.csv" >"$OUT/revocation.txt" 2>"$RUN/revocation.err" ||
    die "revocation failed: $(tail -n3 "$RUN/revocation.err")"
fi

# ---- summary: median and min..max of each figure over the repetitions ----
summary() { # NAME KEY -> "median (min..max)"
  grep "scenario=$1 " "$OUT/results.txt" | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | sort -g |
    awk '{v[NR] = $1} END { if (NR == 0) { print "-"; exit }
         m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         printf "%g (%g..%g)\n", m, v[1], v[NR] }'
}
{
  echo "scenario   requests/s             p50 ms              p99 ms              CPU us/request"
  for s in read write activate; do
    grep -q "scenario=$s " "$OUT/results.txt" || continue
    printf '%-10s %-22s %-19s %-19s %s\n' "$s" "$(summary "$s" rps)" "$(summary "$s" p50_ms)" \
      "$(summary "$s" p99_ms)" "$(summary "$s" cpu_us_per_req)"
  done
  first=$(head -n1 "$OUT/results.txt")
  echo "negotiated: $(field "$first" tls) $(field "$first" cipher); client threads=$THREADS x connections=$CONNECTIONS;" \
       "server threads=$SERVER_THREADS store_threads=4; reps=$REPS"
  [[ -f $OUT/revocation.txt ]] && cat "$OUT/revocation.txt"
  echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/summary.txt"
