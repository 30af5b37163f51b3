#!/usr/bin/env bash
# Compares plain TCP forwarding paths on loopback in ONE run: direct (no proxy), strait-forward, haproxy (TCP
# mode) and nginx (stream proxy). For each path it measures
#   - iperf3 throughput with 1 and with 8 streams (client -> forwarder -> iperf3 server), --seconds each;
#   - the forwarder's CPU seconds (utime+stime of the process and its children from /proc, before/after) per GB
#     that reached the iperf3 server -> CPU-s/GB;
#   - 64-byte ping-pong round-trip latency (strait-pingpong client -> forwarder -> strait-pingpong echo server),
#     --reps repetitions of --count round trips; median over repetitions of p50/p99, and the latency added over
#     the direct path (median over repetitions of the paired difference path - direct).
# The method and the latest results are in bench/forward/README.md.
#
# Usage: bench/forward/run.sh [--build DIR] [--seconds S] [--reps R] [--out DIR] [--only PATHS]
#                             [--tput-reps N] [--count N] [--warmup N] [--threads N] [--no-pin] [--nice N]
#                             [--latency-sched fifo|normal]
#   --build DIR     build dir holding bench/tools/strait-pingpong and bench/forward/strait-forward (default: build)
#   --seconds S     iperf3 duration per throughput run (default 10)
#   --reps R        latency repetitions per path (default 5)
#   --tput-reps N   throughput repetitions per path and stream count (default 3)
#   --count N       recorded round trips per latency repetition (default 20000); --warmup N unrecorded first (2000)
#   --out DIR       results directory (default: a new mktemp dir)
#   --only PATHS    comma list of direct,strait,haproxy,nginx (default: all; direct is always measured, it is
#                   the baseline)
#   --threads N     worker threads of every forwarder: strait-forward --threads N, haproxy nbthread N, nginx
#                   worker_processes N (default 1)
#   --no-pin        do not pin; by default forwarders run on the last --threads CPUs and the load generators
#                   (iperf3 client and server, ping-pong client and server) on CPU 0, so a forwarder never
#                   competes with the endpoints for its core (no pinning when there is no CPU to spare)
#   --nice N        niceness of every process the benchmark starts, forwarders and load generators alike
#                   (default -10 when root, so other jobs on the shared machine preempt them less; 0: unchanged)
#   --latency-sched fifo|normal
#                   scheduling of the latency phase's processes (forwarder instances, echo server, client):
#                   SCHED_FIFO priority 10 (default when root; switched on when the latency phase starts) or
#                   the normal policy at --nice. The throughput phase always runs at the normal policy: it is
#                   CPU-bound, and real-time priority would take the cores from everyone else.
# Free ports are chosen at run time. Every process started here is stopped on exit (trap), every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

BUILD="$REPO/build"
DURATION=10
REPS=5
TPUT_REPS=3
COUNT=20000
WARMUP=2000
THREADS=1
OUT=""
ONLY="direct,strait,haproxy,nginx"
ONLY_EXPLICIT=0
PIN=1
NICE=-10
LAT_SCHED=fifo
RT_PRIO=10
ALL_PATHS=(direct strait haproxy nginx)

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --seconds) DURATION=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --tput-reps) TPUT_REPS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; ONLY_EXPLICIT=1; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --nice) NICE=$2; shift 2 ;;
    --latency-sched) LAT_SCHED=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in DURATION REPS TPUT_REPS COUNT WARMUP THREADS; do
  is_uint "${!v}" || die "--${v,,} wants a non-negative integer, got '${!v}'"
done
((DURATION >= 1 && DURATION <= 600)) || die "--seconds must be in 1..600"
((REPS >= 1 && REPS <= 100)) || die "--reps must be in 1..100"
((TPUT_REPS >= 0 && TPUT_REPS <= 20)) || die "--tput-reps must be in 0..20"
((COUNT >= 100 && COUNT <= 1000000)) || die "--count must be in 100..1000000"
((THREADS >= 1 && THREADS <= 64)) || die "--threads must be in 1..64"
[[ $NICE =~ ^-?[0-9]+$ ]] && ((NICE >= -20 && NICE <= 19)) || die "--nice must be in -20..19"
[[ $LAT_SCHED == fifo || $LAT_SCHED == normal ]] || die "--latency-sched wants fifo or normal"
if ((EUID != 0)); then  # neither is allowed unprivileged
  ((NICE < 0)) && NICE=0
  LAT_SCHED=normal
fi

# Paths to measure, in canonical order; direct always (the baseline).
declare -A WANT=([direct]=1)
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do
  case $p in direct|strait|haproxy|nginx) WANT[$p]=1 ;; *) die "--only: unknown path '$p'" ;; esac
done

PINGPONG="$BUILD/bench/tools/strait-pingpong"
FORWARD="$BUILD/bench/forward/strait-forward"
[[ -x $PINGPONG ]] || die "$PINGPONG not found: cmake --build $BUILD --target strait-pingpong"
if [[ -n ${WANT[strait]:-} && ! -x $FORWARD ]]; then
  ((ONLY_EXPLICIT)) && die "$FORWARD not found: cmake --build $BUILD --target strait-forward"
  log "warning: $FORWARD not built; skipping the strait path"
  unset 'WANT[strait]'
fi
for tool in iperf3 python3 ss taskset timeout chrt nice; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/setup.sh"
done
[[ -z ${WANT[haproxy]:-} ]] || command -v haproxy >/dev/null || die "haproxy missing: run scripts/setup.sh"
if [[ -n ${WANT[nginx]:-} ]]; then
  command -v nginx >/dev/null || die "nginx missing: run scripts/setup.sh"
  [[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] || die "nginx stream module missing (libnginx-mod-stream): run scripts/setup.sh"
fi
PATHS=()
for p in "${ALL_PATHS[@]}"; do [[ -n ${WANT[$p]:-} ]] && PATHS+=("$p"); done

# Forwarders on the last THREADS CPUs, load generators on CPU 0; without a CPU to spare, nothing is pinned.
NCPU=$(nproc)
if ((PIN && NCPU > THREADS)); then
  LOAD_CPUS=0
  PROXY_CPUS="$((NCPU - THREADS))-$((NCPU - 1))"
else
  ((PIN)) && log "note: $NCPU CPUs leave none for $THREADS forwarder thread(s) beside the load generators: not pinning"
  PIN=0; LOAD_CPUS=""; PROXY_CPUS=""
fi
# pinned PHASE CPUS CMD...: exec CMD (same pid) pinned to CPUS (unpinned when empty), at niceness NICE; PHASE
# lat-rt: SCHED_FIFO instead when LAT_SCHED=fifo. Ping-pong processes sleep almost all the time, so real-time
# priority costs the machine nothing; it keeps a neighbour's CPU-bound job from delaying a wake-up to the next
# scheduler tick (measured here under a parallel build: p99 ~8 ms instead of ~60 us). Never for CPU-bound work:
# two SCHED_FIFO busy processes on one core starve each other (iperf3 client and server deadlock).
pinned() {
  local phase=$1 cpus=$2; shift 2
  if [[ -n $cpus ]]; then set -- taskset -c "$cpus" "$@"; fi
  if [[ $phase == lat-rt && $LAT_SCHED == fifo ]]; then
    set -- chrt -f "$RT_PRIO" "$@"
  elif ((NICE != 0)); then
    set -- nice -n "$NICE" "$@"
  fi
  exec "$@"
}
# to_rt PID...: SCHED_FIFO for every thread of PID and its descendants (the latency phase only).
to_rt() {
  [[ $LAT_SCHED == fifo ]] || return 0
  local p
  for p in "$@" $(for q in "$@"; do descendants "$q"; done); do
    chrt -a -f -p "$RT_PRIO" "$p" >/dev/null || log "warning: could not make $p SCHED_FIFO"
  done
}

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-forward-bench.XXXXXX); fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"  # logs, rendered configs
rm -rf "$RUN"; mkdir -p "$RUN"
: >"$OUT/throughput.jsonl"
: >"$OUT/latency.jsonl"

# ---- process bookkeeping: everything started here is stopped on exit (bench/lib/proc.sh) ----
# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"
# start_pinned NAME PHASE CPUS CMD... -> BG_PID: start_bg of CMD run through pinned (above).
start_pinned() { local name=$1; shift; start_bg "$name" pinned "$@"; }

render() { # TEMPLATE OUTFILE LISTEN_PORT TARGET_PORT RUN_DIR
  sed -e "s/@LISTEN_ADDR@/127.0.0.1/g; s/@LISTEN_PORT@/$3/g; s/@TARGET_ADDR@/127.0.0.1/g" \
      -e "s/@TARGET_PORT@/$4/g; s/@THREADS@/$THREADS/g; s#@RUN_DIR@#$5#g" "$1" >"$2"
}

# start_forwarder PATH ROLE TARGET_PORT -> FWD_PORT FWD_PID (direct: the target itself, no pid)
start_forwarder() {
  local path=$1 role=$2 target=$3 name="$1-$2" attempt dir port
  FWD_PID=""
  case $path in
    direct) FWD_PORT=$target; return 0 ;;
    strait)
      start_pinned "$name" normal "$PROXY_CPUS" "$FORWARD" --listen 127.0.0.1:0 --target "127.0.0.1:$target" --threads "$THREADS"
      FWD_PID=$BG_PID
      FWD_PORT=$(wait_address "$RUN/$name.out" "$FWD_PID") || die "strait-forward did not start: $(cat "$RUN/$name.err")"
      wait_listen "$FWD_PORT" "$FWD_PID" || die "strait-forward not listening on $FWD_PORT"
      return 0 ;;
  esac
  # haproxy and nginx cannot report a port-0 bind: take a free port, retry if another process got it first.
  for attempt in 1 2 3; do
    port=$(free_port)
    dir="$RUN/$name"; mkdir -p "$dir"
    if [[ $path == haproxy ]]; then
      render "$HERE/haproxy-tcp.cfg" "$dir/haproxy.cfg" "$port" "$target" "$dir"
      start_pinned "$name" normal "$PROXY_CPUS" haproxy -db -f "$dir/haproxy.cfg"
    else
      render "$HERE/nginx-stream.conf" "$dir/nginx.conf" "$port" "$target" "$dir"
      start_pinned "$name" normal "$PROXY_CPUS" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/nginx-startup.log"
    fi
    FWD_PID=$BG_PID
    if wait_listen "$port" "$FWD_PID"; then FWD_PORT=$port; return 0; fi
    kill -TERM "$FWD_PID" 2>/dev/null || true
    log "$name: attempt $attempt failed on port $port: $(tail -n2 "$RUN/$name.err" 2>/dev/null)"
  done
  die "$name did not start"
}

# ---- environment ----
{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $NCPU"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "haproxy: $(haproxy -v 2>/dev/null | head -n1 || true)"
  echo "nginx: $(nginx -v 2>&1 || true)"
  echo "iperf3: $(iperf3 --version 2>/dev/null | head -n1 || true)"
  echo "args: seconds=$DURATION tput_reps=$TPUT_REPS reps=$REPS count=$COUNT warmup=$WARMUP threads=$THREADS nice=$NICE latency_sched=$LAT_SCHED pin=$PIN proxy_cpus=${PROXY_CPUS:-any} load_cpus=${LOAD_CPUS:-any}"
  echo "paths: ${PATHS[*]}"
} >"$OUT/env.txt"
for svc in haproxy nginx; do
  if pgrep -x "$svc" >/dev/null; then log "warning: a $svc not started by this script is running (noise; scripts/setup.sh disables the services)"; fi
done
log "results in $OUT; paths: ${PATHS[*]}"

# ---- targets and forwarders (one forwarder instance per path and target, all idle until used) ----
IPERF_PORT=""
for attempt in 1 2 3; do
  port=$(free_port)
  start_pinned "iperf3-server-$attempt" normal "$LOAD_CPUS" iperf3 -s -B 127.0.0.1 -p "$port"
  if wait_listen "$port" "$BG_PID"; then IPERF_PORT=$port; break; fi
done
[[ -n $IPERF_PORT ]] || die "iperf3 server did not start"
LIFETIME=$((TPUT_REPS * ${#PATHS[@]} * 2 * (DURATION + 40) + REPS * ${#PATHS[@]} * 120 + 600))
start_pinned echo-server normal "$LOAD_CPUS" "$PINGPONG" server --listen 127.0.0.1:0 --lifetime "$LIFETIME"
ECHO_PID=$BG_PID
ECHO_PORT=$(wait_address "$RUN/echo-server.out" "$ECHO_PID") || die "echo server did not start"

declare -A TPUT_PORT TPUT_PID LAT_PORT LAT_PID
for p in "${PATHS[@]}"; do
  start_forwarder "$p" tput "$IPERF_PORT"; TPUT_PORT[$p]=$FWD_PORT; TPUT_PID[$p]=$FWD_PID
  start_forwarder "$p" lat "$ECHO_PORT"; LAT_PORT[$p]=$FWD_PORT; LAT_PID[$p]=$FWD_PID
  log "$p: throughput via :${TPUT_PORT[$p]}, latency via :${LAT_PORT[$p]}"
done

# Rotates the path order per repetition so no path always runs first or right after another's load.
rotated() { local r=$1 n=${#PATHS[@]} i; for ((i = 0; i < n; i++)); do echo "${PATHS[$(((i + r) % n))]}"; done; }

# ---- throughput and CPU per GB ----
for ((rep = 0; rep < TPUT_REPS; rep++)); do
  for p in $(rotated "$rep"); do
    for streams in 1 8; do
      pid=${TPUT_PID[$p]}
      json="$RUN/iperf3-$p-P$streams-r$rep.json"
      c0=0; [[ -n $pid ]] && c0=$(cpu_ticks "$pid")
      ok=1
      (pinned normal "$LOAD_CPUS" timeout $((DURATION + 30)) iperf3 -c 127.0.0.1 -p "${TPUT_PORT[$p]}" -t "$DURATION" \
        -P "$streams" -J --connect-timeout 5000) >"$json" 2>"$json.err" || ok=0
      c1=0; [[ -n $pid ]] && c1=$(cpu_ticks "$pid")
      python3 - "$json" "$p" "$streams" "$rep" "$ok" "$((c1 - c0))" "$CLK_TCK" "${pid:+1}" >>"$OUT/throughput.jsonl" <<'EOF'
import json, sys
path, streams, rep, ok, ticks, tck, has_pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", int(sys.argv[6]), int(sys.argv[7]), sys.argv[8] == "1"
row = {"path": path, "streams": streams, "rep": rep, "ok": False}
try:
    doc = json.load(open(sys.argv[1]))
    recv = doc["end"]["sum_received"]
    row.update(ok=ok and "error" not in doc, bytes=recv["bytes"], seconds=recv["seconds"],
               gbit_s=recv["bits_per_second"] / 1e9)
    if has_pid:
        row["cpu_s"] = ticks / tck
        row["cpu_s_per_gb"] = row["cpu_s"] / (recv["bytes"] / 1e9) if recv["bytes"] else None
except Exception as e:  # a failed iperf3 run is recorded, not fatal
    row["error"] = str(e)
print(json.dumps(row))
EOF
      log "throughput $p P$streams rep $rep: $(tail -n1 "$OUT/throughput.jsonl")"
    done
  done
done

# ---- latency ----
# The latency-phase forwarders and the echo server have been idle so far; only now do they become real-time.
for p in "${PATHS[@]}"; do [[ -z ${LAT_PID[$p]} ]] || to_rt "${LAT_PID[$p]}"; done
to_rt "$ECHO_PID"
for ((rep = 0; rep < REPS; rep++)); do
  for p in $(rotated "$rep"); do
    line=""
    if line=$(pinned lat-rt "$LOAD_CPUS" timeout 200 "$PINGPONG" client --connect "127.0.0.1:${LAT_PORT[$p]}" --size 64 \
                --count "$COUNT" --warmup "$WARMUP" --timeout 180 --json 2>>"$RUN/pingpong-client.err"); then
      echo "{\"path\":\"$p\",\"rep\":$rep,\"ok\":true,\"result\":$line}" >>"$OUT/latency.jsonl"
    else
      echo "{\"path\":\"$p\",\"rep\":$rep,\"ok\":false}" >>"$OUT/latency.jsonl"
    fi
    log "latency $p rep $rep: $(tail -n1 "$OUT/latency.jsonl")"
  done
done
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

# ---- summary: results.json, results.csv and a table ----
python3 - "$OUT" "${PATHS[@]}" <<'EOF'
import csv, json, statistics, sys
out, paths = sys.argv[1], sys.argv[2:]
tput = [json.loads(l) for l in open(f"{out}/throughput.jsonl") if l.strip()]
lat = [json.loads(l) for l in open(f"{out}/latency.jsonl") if l.strip()]
med = lambda xs: statistics.median(xs) if xs else None

def lat_by_rep(path, key):
    return {r["rep"]: r["result"][key] for r in lat if r["path"] == path and r["ok"]}

summary = []
for p in paths:
    row = {"path": p}
    for s in (1, 8):
        runs = [r for r in tput if r["path"] == p and r["streams"] == s and r.get("ok")]
        row[f"gbit_s_{s}"] = med([r["gbit_s"] for r in runs])
        row[f"cpu_s_per_gb_{s}"] = med([r["cpu_s_per_gb"] for r in runs if r.get("cpu_s_per_gb") is not None])
        row[f"tput_runs_{s}"] = len(runs)
    for q in ("p50", "p99"):
        mine, base = lat_by_rep(p, f"{q}_us"), lat_by_rep("direct", f"{q}_us")
        row[f"{q}_us"] = med(list(mine.values()))
        paired = [mine[r] - base[r] for r in mine if r in base]
        row[f"added_{q}_us"] = med(paired) if p != "direct" else 0.0
    row["lat_reps"] = len(lat_by_rep(p, "p50_us"))
    summary.append(row)
direct = summary[0]  # paths[0] is always direct, the same-run baseline
for row in summary:
    for s in (1, 8):
        base, mine = direct[f"gbit_s_{s}"], row[f"gbit_s_{s}"]
        row[f"pct_of_direct_{s}"] = 100.0 * mine / base if base and mine is not None else None

summary = [{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()} for row in summary]
env = dict(l.rstrip("\n").split(": ", 1) for l in open(f"{out}/env.txt") if ": " in l)
json.dump({"env": env, "summary": summary}, open(f"{out}/results.json", "w"), indent=2)
with open(f"{out}/results.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(summary[0].keys()))
    w.writeheader(); w.writerows(summary)

def fmt(v, spec):
    return "-".rjust(int(spec.split(".")[0])) if v is None else format(v, spec)
hdr = f"{'path':<8} {'Gbit/s P1':>10} {'Gbit/s P8':>10} {'%dir P1':>8} {'%dir P8':>8} {'CPU-s/GB P1':>12} " \
      f"{'CPU-s/GB P8':>12} {'p50 us':>8} {'p99 us':>8} {'+p50 us':>8} {'+p99 us':>8}"
print(); print(hdr); print("-" * len(hdr))
for r in summary:
    print(f"{r['path']:<8} {fmt(r['gbit_s_1'], '10.2f')} {fmt(r['gbit_s_8'], '10.2f')} "
          f"{fmt(r['pct_of_direct_1'], '8.0f')} {fmt(r['pct_of_direct_8'], '8.0f')} "
          f"{fmt(r['cpu_s_per_gb_1'], '12.3f')} {fmt(r['cpu_s_per_gb_8'], '12.3f')} "
          f"{fmt(r['p50_us'], '8.1f')} {fmt(r['p99_us'], '8.1f')} "
          f"{fmt(r['added_p50_us'], '8.1f')} {fmt(r['added_p99_us'], '8.1f')}")
print(f"\nmedians over {env.get('args', '')}")
print("%dir = throughput as % of direct; +pXX = median over reps of (path - direct) in the same rep")
print(f"load average start {env.get('loadavg_start')} end {env.get('loadavg_end')}; raw data in {out}")
ncpu = int(env.get("cpu", "x 1").rsplit(" ", 1)[-1])
if max(float(env.get(k, "0").split()[0]) for k in ("loadavg_start", "loadavg_end")) > ncpu:
    print(f"note: load average above {ncpu} (other jobs running): compare paths within this run, not across runs")
EOF
