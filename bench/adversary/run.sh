#!/usr/bin/env bash
# bench/adversary/run.sh: issue 7's attacks as figures, each against the same figure with no attack, in one run.
#
#   login  legitimate device logins (strait-adversary probe, 4 in flight) during a flood of --flood idle and
#          half-open connections (half each, two processes, 16 loopback source addresses) on the relay's device
#          port: success rate and latency p99; against the same probe with no flood.
#   rss    the relay's peak RSS (VmHWM) after --seconds of a PING flood from one device that never reads; against
#          a relay that ran as long with the same devices and no flood.
#   stall  the tenant's request latency p99 (sequential 64-byte round trips through another device) while one
#          device with 16 downloads in flight is stopped (SIGSTOP); against the same with no stalled device.
#
# Each figure is measured --reps times, alternating which side runs first; the summary gives the median and the
# spread (min..max). Every measurement starts a fresh relay, connector and devices (VmHWM only grows).
#
#   bench/adversary/run.sh [--build DIR] [--reps N] [--flood N] [--logins N] [--seconds S] [--only login,rss,stall]
#                          [--out DIR]
#
# Needs: strait, strait-adversary (tests/adversary), strait-app-load (bench/app), strait-pingpong (bench/tools):
#   ninja -C build strait strait-adversary strait-app-load strait-pingpong
# Output: $OUT/results.jsonl (one line per measurement), $OUT/summary.txt, $OUT/env.txt; logs in $OUT/run/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
REPS=3
FLOOD=15000
LOGINS=200
SECONDS_=15
ONLY="login,rss,stall"
OUT=""

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --flood) FLOOD=$2; shift 2 ;;
    --logins) LOGINS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in REPS FLOOD LOGINS SECONDS_; do is_uint "${!v}" || die "--${v,,} wants a non-negative integer"; done
((REPS >= 1 && FLOOD >= 2 && FLOOD <= 36000 && LOGINS >= 1 && SECONDS_ >= 2)) || die "argument out of range"
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do case $p in login|rss|stall) WANT[$p]=1 ;; *) die "--only: unknown phase '$p'" ;; esac; done

STRAIT="$BUILD/cli/strait"
ADV="$BUILD/tests/adversary/strait-adversary"
LOAD="$BUILD/bench/app/strait-app-load"
PINGPONG="$BUILD/bench/tools/strait-pingpong"
for b in "$STRAIT" "$ADV" "$LOAD" "$PINGPONG"; do [[ -x $b ]] || die "$b not built (see --help)"; done
command -v python3 >/dev/null || die "python3 missing"

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-adversary-bench.XXXXXX); fi
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"; rm -rf "$RUN"; mkdir -p "$RUN"
RESULTS="$OUT/results.jsonl"; : >"$RESULTS"
source "$REPO/bench/lib/proc.sh"

K="$RUN/pki"
"$STRAIT" keys init-root --out "$K/root" >/dev/null
"$STRAIT" keys tenant --root "$K/root" --tenant bench --days 1 --out "$K/tenant" >/dev/null
"$STRAIT" keys tls-ca --out "$K/ca" >/dev/null
"$STRAIT" keys issue --role relay --root "$K/root" --subject relay-1 --hours 4 --tls-ca-dir "$K/ca" \
  --name localhost --ip 127.0.0.1 --out "$K/relay" >/dev/null
"$STRAIT" keys issue --role connector --tenant-dir "$K/tenant" --subject conn-1 --hours 4 --ca "$K/ca" --out "$K/conn" >/dev/null
for d in victim stalled prober flooder; do
  "$STRAIT" keys issue --role device --tenant-dir "$K/tenant" --subject "$d" --hours 4 --ca "$K/ca" --out "$K/$d" >/dev/null
done

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "args: reps=$REPS flood=$FLOOD logins=$LOGINS seconds=$SECONDS_ only=$ONLY"
} >"$OUT/env.txt"
log "results in $OUT"

start_bg source "$LOAD" source --listen 127.0.0.1:0 --lifetime 7200
SOURCE_PORT=$(wait_line "$RUN/source.out" "127.0.0.1:" "$BG_PID") || die "source did not start"; SOURCE_PORT=${SOURCE_PORT##*:}
start_bg echo "$PINGPONG" server --listen 127.0.0.1:0 --lifetime 7200
ECHO_PORT=$(wait_line "$RUN/echo.out" "127.0.0.1:" "$BG_PID") || die "echo server did not start"; ECHO_PORT=${ECHO_PORT##*:}
cat >"$RUN/policy.toml" <<EOF
[[allow]]
cidrs = ["127.0.0.1/32"]
ports = ["$SOURCE_PORT", "$ECHO_PORT"]
EOF

# ---- a fresh relay + connector (+ devices) per measurement ----
STACK=()
N=0
stack_up() { # DEVICE... -> RELAY_PID RELAY_DEV; SOCKS[device]
  N=$((N + 1)); STACK=()
  start_bg "relay-$N" "$STRAIT" relay --identity "$K/relay" --device-listen 127.0.0.1:0 \
    --connector-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --threads 2
  RELAY_PID=$BG_PID; STACK+=("$BG_PID")
  local line d
  line=$(wait_line "$RUN/relay-$N.out" "relay ready" "$RELAY_PID") || die "relay did not start: $(tail -n3 "$RUN/relay-$N.err")"
  RELAY_DEV=$(field "$line" device); local conn_port; conn_port=$(field "$line" connector)
  start_bg "connector-$N" "$STRAIT" connector --identity "$K/conn" --relay "$conn_port" --policy "$RUN/policy.toml"
  STACK+=("$BG_PID")
  wait_line "$RUN/connector-$N.out" "connector link up" "$BG_PID" 60 >/dev/null || die "connector: $(tail -n3 "$RUN/connector-$N.err")"
  declare -gA SOCKS=() DEVPID=()
  for d in "$@"; do
    start_bg "$d-$N" "$STRAIT" device --identity "$K/$d" --relay "$RELAY_DEV" --socks-listen 127.0.0.1:0
    STACK+=("$BG_PID"); DEVPID[$d]=$BG_PID
    line=$(wait_line "$RUN/$d-$N.out" "device ready" "$BG_PID" 60) || die "device $d: $(tail -n3 "$RUN/$d-$N.err")"
    SOCKS[$d]=$(field "$line" socks)
    wait_line "$RUN/$d-$N.out" "device session up" "$BG_PID" 60 >/dev/null || die "device $d: no session"
  done
}
stack_down() { stop_bg "${STACK[@]}"; STACK=(); }
record() { echo "$1" >>"$RESULTS"; log "$1"; }

measure_login() { # REP SIDE(flood|none)
  stack_up
  local floods=() half=$((FLOOD / 2)) mode
  if [[ $2 == flood ]]; then
    for mode in idle half-open; do
      start_bg "$mode-$N" "$ADV" --mode "$mode" --target "$RELAY_DEV" --count "$half" --sources 16 --duration 300
      floods+=("$BG_PID")
      wait_line "$RUN/$mode-$N.out" "$mode ready" "$BG_PID" 120 >/dev/null || die "$mode flood never held $half"
    done
  fi
  local s
  "$ADV" --mode probe --identity "$K/prober" --target "$RELAY_DEV" --count "$LOGINS" --parallel 4 --duration 120 \
    >"$RUN/probe-$N.out" 2>"$RUN/probe-$N.err" || true
  s=$(grep -m1 '^probe ' "$RUN/probe-$N.out") || die "probe printed nothing: $(tail -n3 "$RUN/probe-$N.err")"
  ((${#floods[@]})) && stop_bg "${floods[@]}"
  record "{\"phase\":\"login\",\"rep\":$1,\"side\":\"$2\",\"ok\":$(field "$s" ok),\"logins\":$LOGINS,\"p50_ms\":$(field "$s" p50_ms),\"p99_ms\":$(field "$s" p99_ms),\"errors\":\"$(field "$s" errors)\"}"
  stack_down
}

measure_rss() { # REP SIDE(flood|none)
  stack_up victim
  local before; before=$(awk '/^VmHWM:/ {print $2}' "/proc/$RELAY_PID/status")
  if [[ $2 == flood ]]; then
    "$ADV" --mode ping-flood --identity "$K/flooder" --target "$RELAY_DEV" --duration "$SECONDS_" \
      >"$RUN/ping-flood-$N.out" 2>"$RUN/ping-flood-$N.err" || true
  else
    sleep "$SECONDS_"
  fi
  local peak; peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$RELAY_PID/status")
  local sent=0; [[ $2 == flood ]] && sent=$(field "$(grep -m1 '^ping-flood up' "$RUN/ping-flood-$N.out")" sent)
  record "{\"phase\":\"rss\",\"rep\":$1,\"side\":\"$2\",\"peak_kib\":$peak,\"before_kib\":$before,\"pings_sent\":${sent:-0}}"
  stack_down
}

measure_stall() { # REP SIDE(stalled|none)
  stack_up victim stalled
  local fetch_pid=""
  if [[ $2 == stalled ]]; then
    start_bg "fetch-$N" "$LOAD" fetch --connect "127.0.0.1:$SOURCE_PORT" --socks "${SOCKS[stalled]}" --streams 16 \
      --seconds 600 --timeout 600
    fetch_pid=$BG_PID
    sleep 2
    kill -STOP "${DEVPID[stalled]}"
    sleep 1
  fi
  local json p99 ok=1
  json=$("$LOAD" pingpong --connect "127.0.0.1:$ECHO_PORT" --socks "${SOCKS[victim]}" --size 64 --count 2000 \
    --warmup 200 --timeout 60 2>"$RUN/pingpong-$N.err") || ok=0
  p99=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_us"])' "$json" 2>/dev/null) || { ok=0; p99=null; }
  if [[ $2 == stalled ]]; then kill -CONT "${DEVPID[stalled]}"; stop_bg "$fetch_pid"; fi
  record "{\"phase\":\"stall\",\"rep\":$1,\"side\":\"$2\",\"completed\":$ok,\"p99_us\":$p99}"
  stack_down
}

for ((rep = 1; rep <= REPS; rep++)); do
  for phase in login rss stall; do
    [[ -n ${WANT[$phase]:-} ]] || continue
    case $phase in login|rss) attack=flood ;; stall) attack=stalled ;; esac
    if ((rep % 2)); then sides=("$attack" none); else sides=(none "$attack"); fi
    for side in "${sides[@]}"; do "measure_$phase" "$rep" "$side"; done
  done
done

python3 - "$RESULTS" >"$OUT/summary.txt" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def fig(phase, side, key, scale=1.0):
    v = [r[key] * scale for r in rows if r["phase"] == phase and r["side"] == side and r.get(key) is not None]
    if not v: return "n/a"
    return f"{statistics.median(v):.1f} ({min(v):.1f}..{max(v):.1f}, n={len(v)})"
def failed(phase, side):
    return sum(1 for r in rows if r["phase"] == phase and r["side"] == side and not r.get("completed", 1))
print("figure                                   attack                         no attack")
for phase, key, label, scale, attack in [
        ("login", "ok", "login success (of logins)", 1, "flood"),
        ("login", "p99_ms", "login latency p99 (ms)", 1, "flood"),
        ("rss", "peak_kib", "relay peak RSS (MiB)", 1 / 1024, "flood"),
        ("stall", "p99_us", "tenant request p99 (ms)", 1 / 1000, "stalled")]:
    if not any(r["phase"] == phase for r in rows): continue
    print(f"{label:40s} {fig(phase, attack, key, scale):30s} {fig(phase, 'none', key, scale)}")
for side in ("stalled", "none"):
    if failed("stall", side):
        print(f"stall/{side}: {failed('stall', side)} run(s) did not complete: the round trips failed "
              "(run/pingpong-N.err says why; the connector's and relay's logs show what the stall did)")
print("median (min..max, n); results.jsonl has every measurement")
EOF
cat "$OUT/summary.txt"
