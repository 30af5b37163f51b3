#!/usr/bin/env bash
# Parallel downloads through one device (issue 12): throughput and CPU seconds per GB of the relay, the connector
# and the device, with 1, 16 and 256 streams, for one build tree or two (before/after) in ONE run.
#
#   strait-app-load fetch --streams N <- SOCKS5 <- device <-TLS- relay (--threads, default 2) <-TLS- connector
#                                                                            <- strait-app-load source (endless)
#
# Each repetition starts a fresh relay, connector and device from each tree; with --base the order of the two trees
# alternates between repetitions. Reported per tree and stream count: median MB/s with min..max, median CPU-s/GB
# per process and in total, and the longest time in which no stream received a byte (a stall shows up there).
#
# Usage: bench/streams/run.sh [--build DIR] [--base DIR] [--tree L=DIR] [--streams 1,16,256] [--seconds S] [--reps N]
#                             [--threads N] [--out DIR]
#   --build DIR    tree under test; its strait-app-load drives both trees (default: build)
#   --base DIR     a second tree to compare against (e.g. the previous commit), labelled "base"
#   --tree L=DIR   a further tree labelled L (repeatable; only its cli/strait is used)
#   --seconds S    per measurement (default 10); --reps N repetitions (default 3)
# Every process started here is stopped on exit; every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
BASE=""
EXTRA=()
STREAMS="1,16,256"
SECONDS_EACH=10
REPS=3
THREADS=2
OUT=""

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --tree) EXTRA+=("$2"); shift 2 ;;
    --streams) STREAMS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
[[ $SECONDS_EACH =~ ^[0-9]+$ && $REPS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ ]] || die "numbers wanted"
[[ $STREAMS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--streams wants a comma-separated list"
LOAD="$BUILD/bench/app/strait-app-load"
[[ -x $LOAD ]] || die "$LOAD not built: cmake --build $BUILD --target strait-app-load"
declare -A TREE=([test]="$BUILD")
ORDER=(test)
if [[ -n $BASE ]]; then TREE[base]="$BASE"; ORDER=(base test); fi
for e in "${EXTRA[@]}"; do
  [[ $e == *=* ]] || die "--tree wants LABEL=DIR"
  TREE[${e%%=*}]=${e#*=}; ORDER+=("${e%%=*}")
done
for t in "${ORDER[@]}"; do [[ -x ${TREE[$t]}/cli/strait ]] || die "${TREE[$t]}/cli/strait not built"; done

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-streams-bench.XXXXXX); fi
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"; rm -rf "$RUN"; mkdir -p "$RUN"
: >"$OUT/results.jsonl"
# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"

STRAIT="$BUILD/cli/strait"
# shellcheck source=bench/lib/pki.sh
source "$REPO/bench/lib/pki.sh"
K="$RUN/pki"
bench_pki "$STRAIT" "$K"

start_bg source "$LOAD" source --listen 127.0.0.1:0 --lifetime 7200
SRC=$(wait_line "$RUN/source.out" "127.0.0.1:" "$BG_PID") || die "source did not start"
printf '[[allow]]\ncidrs = ["127.0.0.1/32"]\nports = ["%s"]\n' "${SRC##*:}" >"$RUN/policy.toml"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r); cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "trees: $(for t in "${ORDER[@]}"; do printf '%s=%s ' "$t" "${TREE[$t]}"; done)"
  echo "args: streams=$STREAMS seconds=$SECONDS_EACH reps=$REPS relay_threads=$THREADS"
} >"$OUT/env.txt"
log "results in $OUT"

run_tree() { # LABEL REP
  local label=$1 rep=$2 exe="${TREE[$1]}/cli/strait" line relay_pid conn_pid dev_pid socks n r0 c0 d0 json
  start_bg "relay-$label-$rep" "$exe" relay --identity "$K/relay" --device-listen 127.0.0.1:0 \
    --connector-listen 127.0.0.1:0 --threads "$THREADS"
  relay_pid=$BG_PID
  line=$(wait_line "$RUN/relay-$label-$rep.out" "relay ready" "$relay_pid") || die "$label relay did not start"
  start_bg "conn-$label-$rep" "$exe" connector --identity "$K/conn" --relay "$(field "$line" connector)" \
    --policy "$RUN/policy.toml"
  conn_pid=$BG_PID
  start_bg "dev-$label-$rep" "$exe" device --identity "$K/dev" --relay "$(field "$line" device)" \
    --socks-listen 127.0.0.1:0
  dev_pid=$BG_PID
  wait_line "$RUN/conn-$label-$rep.out" "connector link up" "$conn_pid" >/dev/null || die "$label connector: no link"
  line=$(wait_line "$RUN/dev-$label-$rep.out" "device ready" "$dev_pid") || die "$label device did not start"
  socks=$(field "$line" socks)
  wait_line "$RUN/dev-$label-$rep.out" "device session up" "$dev_pid" >/dev/null || die "$label device: no session"
  IFS=, read -ra counts <<<"$STREAMS"
  for n in "${counts[@]}"; do
    r0=$(cpu_ticks "$relay_pid"); c0=$(cpu_ticks "$conn_pid"); d0=$(cpu_ticks "$dev_pid")
    if ! json=$("$LOAD" fetch --connect "$SRC" --socks "$socks" --streams "$n" --seconds "$SECONDS_EACH" \
                 --timeout 60 2>"$RUN/fetch-$label-$rep-$n.err"); then
      # A stack that stalls may fail the fetch (a stream that cannot even open): record it, go on.
      json=$(printf '{"streams":%d,"bytes":0,"seconds":%d,"mb_s":0,"min_stream_bytes":0,"max_gap_ms":-1,"error":"%s"}' \
        "$n" "$SECONDS_EACH" "$(tail -n1 "$RUN/fetch-$label-$rep-$n.err" | tr -d '"\\')")
    fi
    printf '{"tree":"%s","rep":%d,"streams":%d,"relay_ticks":%d,"connector_ticks":%d,"device_ticks":%d,"clk_tck":%d,"fetch":%s}\n' \
      "$label" "$rep" "$n" $(($(cpu_ticks "$relay_pid") - r0)) $(($(cpu_ticks "$conn_pid") - c0)) \
      $(($(cpu_ticks "$dev_pid") - d0)) "$CLK_TCK" "$json" >>"$OUT/results.jsonl"
    log "$label rep $rep: $n streams: $json"
  done
  stop_bg "$dev_pid" "$conn_pid" "$relay_pid"
}

for ((rep = 1; rep <= REPS; rep++)); do
  if ((rep % 2 == 1)); then order=("${ORDER[@]}"); else order=(); for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do order+=("${ORDER[$i]}"); done; fi
  for t in "${order[@]}"; do run_tree "$t" "$rep"; done
done

python3 - "$OUT/results.jsonl" <<'EOF' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(xs): return statistics.median(xs)
print(f"{'tree':5} {'streams':>7} {'MB/s median [min..max]':>28} {'relay':>7} {'conn':>7} {'device':>7} {'total':>7}"
      f" {'longest stop ms':>16}   (CPU-s/GB medians)")
for tree in dict.fromkeys(r['tree'] for r in rows):
    for n in dict.fromkeys(r['streams'] for r in rows):
        rs = [r for r in rows if r['tree'] == tree and r['streams'] == n]
        if not rs: continue
        mbs = [r['fetch']['mb_s'] for r in rs]
        def cpu(key): return med([r[key] / r['clk_tck'] / (r['fetch']['bytes'] / 1e9) if r['fetch']['bytes'] else float('inf') for r in rs])
        tot = med([(r['relay_ticks'] + r['connector_ticks'] + r['device_ticks']) / r['clk_tck'] / (r['fetch']['bytes'] / 1e9)
                   if r['fetch']['bytes'] else float('inf') for r in rs])
        failed = sum(1 for r in rs if 'error' in r['fetch'])
        gap = max(r['fetch']['max_gap_ms'] for r in rs)
        print(f"{tree:5} {n:>7} {med(mbs):>9.1f} [{min(mbs):>7.1f}..{max(mbs):>7.1f}] {cpu('relay_ticks'):>7.3f}"
              f" {cpu('connector_ticks'):>7.3f} {cpu('device_ticks'):>7.3f} {tot:>7.3f} {gap:>16.0f}   ({len(rs)} runs"
              f"{f', {failed} failed' if failed else ''})")
EOF
