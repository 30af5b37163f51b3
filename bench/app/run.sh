#!/usr/bin/env bash
# App-session benchmarks in ONE run (method and figures: bench/app/README.md):
#   tput  bulk throughput with TLS on both legs and CPU seconds per GB forwarded, for the forwarding process only:
#           strait   strait-app-load send -> SOCKS5 -> device -TLS-> RELAY -TLS-> connector -> sink   (relay CPU)
#           haproxy  strait-app-load send -> haproxy in -TLS-> HAPROXY MID -TLS-> haproxy out -> sink (mid CPU)
#           forward  strait-app-load send -> STRAIT-FORWARD (plain TCP hop) -> sink                 (its CPU)
#         plus the floor = forward's CPU-s/GB + two bare AEAD passes (strait_tls_bench BM_AeadSealOpen/16384,
#         one seal + one open per byte, measured in this run).
#   lat   64-byte request/response round trips (strait-app-load pingpong -> ... -> strait-pingpong echo server),
#         --reps repetitions, medians of p50/p99 and of the paired difference to direct:
#           direct        client -> echo
#           strait        client -> SOCKS5 -> device -> relay -> connector -> echo
#           strait-direct client -> SOCKS5 -> device -TLS-> connector (Direct Connect) -> echo
#           haproxy-pair  client -> haproxy in -TLS-> haproxy out -> echo
#           haproxy-3     client -> haproxy in -TLS-> haproxy mid -TLS-> haproxy out -> echo
#   mem   memory per idle device session: `strait bench idle --devices SESSIONS` (its own fresh relay, pinned; one
#         credential per device), the relay's VmRSS before and after -> (after - before) / sessions.
#
# Usage: bench/app/run.sh [--build DIR] [--mib N] [--tput-reps N] [--reps N] [--count N] [--warmup N]
#                         [--sessions N] [--only tput,lat,mem] [--out DIR]
#   --build DIR   build tree with cli/strait, bench/app/*, bench/forward/strait-forward,
#                 bench/tools/strait-pingpong and bench/strait_tls_bench (default: build)
#   --mib N       MiB per bulk run (default 1024); --tput-reps N runs per path (default 3)
#   --reps N      latency repetitions (default 5); --count N / --warmup N round trips per repetition (20000 / 2000)
#   --sessions N  idle device links for the memory phase (default 10000; the fd cap here is 20000)
# Free ports are chosen at run time; every process started here is stopped on exit (trap); every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
MIB=1024
TPUT_REPS=3
REPS=5
COUNT=20000
WARMUP=2000
SESSIONS=10000
ONLY="tput,lat,mem"
OUT=""

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --mib) MIB=$2; shift 2 ;;
    --tput-reps) TPUT_REPS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in MIB TPUT_REPS REPS COUNT WARMUP SESSIONS; do is_uint "${!v}" || die "--${v,,} wants a non-negative integer"; done
((MIB >= 1 && MIB <= 65536)) || die "--mib must be in 1..65536"
((SESSIONS >= 1 && SESSIONS <= 19000)) || die "--sessions must be in 1..19000 (fd cap)"
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do case $p in tput|lat|mem) WANT[$p]=1 ;; *) die "--only: unknown phase '$p'" ;; esac; done

STRAIT="$BUILD/cli/strait"
LOAD="$BUILD/bench/app/strait-app-load"
FORWARD="$BUILD/bench/forward/strait-forward"
PINGPONG="$BUILD/bench/tools/strait-pingpong"
TLS_BENCH="$BUILD/bench/strait_tls_bench"
for b in "$STRAIT" "$LOAD" "$FORWARD" "$PINGPONG" "$TLS_BENCH"; do
  [[ -x $b ]] || die "$b not built: cmake --build $BUILD"
done
for tool in haproxy python3 ss timeout; do command -v "$tool" >/dev/null || die "$tool missing: run scripts/setup.sh"; done

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-app-bench.XXXXXX); fi
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"; rm -rf "$RUN"; mkdir -p "$RUN"
: >"$OUT/throughput.jsonl"; : >"$OUT/latency.jsonl"; : >"$OUT/memory.jsonl"

# ---- process bookkeeping: everything started here is stopped on exit (bench/lib/proc.sh) ----
# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"

# ---- identities (strait keys), the haproxy certificate (P-256, same CA), the policy ----
# shellcheck source=bench/lib/pki.sh
source "$REPO/bench/lib/pki.sh"
K="$RUN/pki"
bench_pki "$STRAIT" "$K"
bench_device "$STRAIT" "$K" dev-dc
"$STRAIT" keys tls-server --ca "$K/ca" --name localhost --ip 127.0.0.1 --out "$K/haproxy" >/dev/null
cat "$K/haproxy/tls.crt" "$K/haproxy/tls.key" >"$K/haproxy/haproxy.pem"; chmod 600 "$K/haproxy/haproxy.pem"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "haproxy: $(haproxy -v 2>/dev/null | head -n1)"
  echo "args: mib=$MIB tput_reps=$TPUT_REPS reps=$REPS count=$COUNT warmup=$WARMUP sessions=$SESSIONS only=$ONLY"
} >"$OUT/env.txt"
log "results in $OUT"

# ---- targets ----
start_bg sink "$LOAD" sink --listen 127.0.0.1:0 --lifetime 7200
SINK_PORT=$(wait_line "$RUN/sink.out" "127.0.0.1:" "$BG_PID") || die "sink did not start"; SINK_PORT=${SINK_PORT##*:}
start_bg echo "$PINGPONG" server --listen 127.0.0.1:0 --lifetime 7200
ECHO_PORT=$(wait_line "$RUN/echo.out" "127.0.0.1:" "$BG_PID") || die "echo server did not start"; ECHO_PORT=${ECHO_PORT##*:}
cat >"$RUN/policy.toml" <<EOF
[[allow]]
cidrs = ["127.0.0.1/32"]
ports = ["$SINK_PORT", "$ECHO_PORT"]
EOF

# ---- the Strait path: relay (1 thread), connector, device ----
start_bg relay "$STRAIT" relay --identity "$K/relay" --device-listen 127.0.0.1:0 --connector-listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --threads 1
RELAY_PID=$BG_PID
line=$(wait_line "$RUN/relay.out" "relay ready" "$RELAY_PID") || die "relay did not start: $(tail -n3 "$RUN/relay.err")"
RELAY_DEV=$(field "$line" device); RELAY_CONN=$(field "$line" connector)
start_bg connector "$STRAIT" connector --identity "$K/conn" --relay "$RELAY_CONN" --policy "$RUN/policy.toml" \
  --direct-listen 127.0.0.1:0
CONN_PID=$BG_PID
line=$(wait_line "$RUN/connector.out" "connector ready" "$CONN_PID") || die "connector did not start: $(tail -n3 "$RUN/connector.err")"
DIRECT=$(field "$line" direct)
wait_line "$RUN/connector.out" "connector link up" "$CONN_PID" >/dev/null || die "connector link did not come up: $(tail -n3 "$RUN/connector.err")"
start_bg device "$STRAIT" device --identity "$K/dev" --relay "$RELAY_DEV" --socks-listen 127.0.0.1:0
DEV_PID=$BG_PID
line=$(wait_line "$RUN/device.out" "device ready" "$DEV_PID") || die "device did not start: $(tail -n3 "$RUN/device.err")"
SOCKS=$(field "$line" socks)
wait_line "$RUN/device.out" "device session up" "$DEV_PID" >/dev/null || die "no device session: $(tail -n3 "$RUN/device.err")"
# A second device that reaches the same connector by Direct Connect (no relay): the like-for-like with haproxy-pair.
start_bg device-dc "$STRAIT" device --identity "$K/dev-dc" --direct "$DIRECT" --socks-listen 127.0.0.1:0
DEVDC_PID=$BG_PID
line=$(wait_line "$RUN/device-dc.out" "device ready" "$DEVDC_PID") || die "device-dc did not start: $(tail -n3 "$RUN/device-dc.err")"
SOCKS_DC=$(field "$line" socks)
wait_line "$RUN/device-dc.out" "device session up" "$DEVDC_PID" >/dev/null || die "no Direct Connect session: $(tail -n3 "$RUN/device-dc.err")"
log "strait: relay $RELAY_DEV/$RELAY_CONN (pid $RELAY_PID), SOCKS5 door $SOCKS; Direct Connect $DIRECT, SOCKS5 door $SOCKS_DC"

# ---- haproxy chains: in (plain->TLS), mid (TLS->TLS, measured), out (TLS->plain) ----
BIND_TLS="ssl crt $K/haproxy/haproxy.pem"
SERVER_TLS="ssl verify required ca-file $K/ca/ca.pem sni str(localhost)"
start_haproxy() { # NAME TARGET_PORT BIND_TLS SERVER_TLS -> HA_PORT HA_PID
  local name=$1 target=$2 attempt port
  for attempt in 1 2 3; do
    port=$(free_port)
    sed -e "s#@LISTEN_ADDR@#127.0.0.1#; s#@LISTEN_PORT@#$port#; s#@TARGET_ADDR@#127.0.0.1#; s#@TARGET_PORT@#$target#" \
        -e "s#@THREADS@#1#; s#@BIND_TLS@#$3#; s#@SERVER_TLS@#$4#" "$HERE/haproxy-tls.cfg" >"$RUN/$name.cfg"
    start_bg "$name" haproxy -db -f "$RUN/$name.cfg"
    if wait_listen "$port" "$BG_PID"; then HA_PORT=$port; HA_PID=$BG_PID; return 0; fi
    kill -TERM "$BG_PID" 2>/dev/null || true
  done
  die "$name did not start: $(tail -n3 "$RUN/$name.err")"
}
chain3() { # PREFIX TARGET_PORT -> CH_PORT (entry) CH_MID_PID
  start_haproxy "$1-out" "$2" "$BIND_TLS" ""; local out=$HA_PORT
  start_haproxy "$1-mid" "$out" "$BIND_TLS" "$SERVER_TLS"; local mid=$HA_PORT; CH_MID_PID=$HA_PID
  start_haproxy "$1-in" "$mid" "" "$SERVER_TLS"; CH_PORT=$HA_PORT
}
chain3 ha-sink "$SINK_PORT"; HA_SINK=$CH_PORT; HA_MID_PID=$CH_MID_PID
chain3 ha-echo3 "$ECHO_PORT"; HA_ECHO3=$CH_PORT
start_haproxy ha-echo2-out "$ECHO_PORT" "$BIND_TLS" ""; start_haproxy ha-echo2-in "$HA_PORT" "" "$SERVER_TLS"; HA_ECHO2=$HA_PORT
start_bg forward "$FORWARD" --listen 127.0.0.1:0 --target "127.0.0.1:$SINK_PORT" --threads 1
FWD_PID=$BG_PID
FWD=127.0.0.1:$(wait_address "$RUN/forward.out" "$FWD_PID" 10) || die "strait-forward did not start"

# ---- throughput and CPU per GB ----
if [[ -n ${WANT[tput]:-} ]]; then
  BYTES=$((MIB * 1048576))
  for ((rep = 0; rep < TPUT_REPS; rep++)); do
    for p in strait haproxy forward; do
      case $p in
        strait) pid=$RELAY_PID; args=(--connect "127.0.0.1:$SINK_PORT" --socks "$SOCKS") ;;
        haproxy) pid=$HA_MID_PID; args=(--connect "127.0.0.1:$HA_SINK") ;;
        forward) pid=$FWD_PID; args=(--connect "$FWD") ;;
      esac
      c0=$(cpu_ticks "$pid"); d0=$(cpu_ticks "$DEV_PID"); n0=$(cpu_ticks "$CONN_PID")
      res=$(timeout 600 "$LOAD" send "${args[@]}" --bytes "$BYTES" --timeout 590 2>>"$RUN/send.err") || res='{"error":true}'
      c1=$(cpu_ticks "$pid"); d1=$(cpu_ticks "$DEV_PID"); n1=$(cpu_ticks "$CONN_PID")
      # The device's and the connector's CPU too, so the end points' share of the Strait path shows.
      ends=""
      [[ $p == strait ]] && ends=",\"cpu_s_device\":$(python3 -c "print(($d1-$d0)/$CLK_TCK)"),\"cpu_s_connector\":$(python3 -c "print(($n1-$n0)/$CLK_TCK)")"
      echo "{\"path\":\"$p\",\"rep\":$rep,\"cpu_s\":$(python3 -c "print(($c1-$c0)/$CLK_TCK)")$ends,\"result\":$res}" >>"$OUT/throughput.jsonl"
      log "throughput $p rep $rep: $(tail -n1 "$OUT/throughput.jsonl")"
    done
  done
  "$TLS_BENCH" --benchmark_filter='BM_AeadSealOpen/16384' --benchmark_repetitions=5 --benchmark_format=json \
    >"$OUT/aead.json" 2>/dev/null || die "strait_tls_bench failed"
fi

# ---- latency ----
if [[ -n ${WANT[lat]:-} ]]; then
  for ((rep = 0; rep < REPS; rep++)); do
    for p in direct strait strait-direct haproxy-pair haproxy-3; do
      case $p in
        direct) args=(--connect "127.0.0.1:$ECHO_PORT") ;;
        strait) args=(--connect "127.0.0.1:$ECHO_PORT" --socks "$SOCKS") ;;
        strait-direct) args=(--connect "127.0.0.1:$ECHO_PORT" --socks "$SOCKS_DC") ;;
        haproxy-pair) args=(--connect "127.0.0.1:$HA_ECHO2") ;;
        haproxy-3) args=(--connect "127.0.0.1:$HA_ECHO3") ;;
      esac
      res=$(timeout 300 "$LOAD" pingpong "${args[@]}" --size 64 --count "$COUNT" --warmup "$WARMUP" --timeout 290 \
              2>>"$RUN/pingpong.err") || res='{"error":true}'
      echo "{\"path\":\"$p\",\"rep\":$rep,\"result\":$res}" >>"$OUT/latency.jsonl"
      log "latency $p rep $rep: $res"
    done
  done
fi

# ---- memory per idle device session: strait bench idle, on a fresh relay of its own ----
if [[ -n ${WANT[mem]:-} ]]; then
  timeout 600 "$STRAIT" bench idle --devices "$SESSIONS" --reps 1 --timeout 300 --quiet --json "$RUN/idle.json" \
    >"$RUN/idle.out" 2>"$RUN/idle.err" || die "strait bench idle failed: $(tail -n3 "$RUN/idle.err")"
  python3 - "$RUN/idle.json" >>"$OUT/memory.jsonl" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
print(json.dumps({"sessions": int(run["metrics"]["sessions"]), "rss_before_kib": run["relay"]["rss_before"] // 1024,
                  "rss_after_kib": run["relay"]["rss_after"] // 1024}))
EOF
  log "memory: $(tail -n1 "$OUT/memory.jsonl")"
fi
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

# ---- summary ----
python3 - "$OUT" <<'EOF'
import json, statistics, sys
out = sys.argv[1]
rows = lambda f: [json.loads(l) for l in open(f"{out}/{f}") if l.strip()]
med = lambda xs: statistics.median(xs) if xs else None
f = lambda v, spec: "-" if v is None else format(v, spec)
summary = {}
tput = [r for r in rows("throughput.jsonl") if "bytes" in r["result"]]
if tput or rows("throughput.jsonl"):
    print(f"\nbulk, one stream, TLS on both legs (medians of {len(tput)} ok runs)")
    print(f"{'path':<40} {'MB/s':>9} {'CPU-s/GB':>9}")
    for p, label in (("strait", "strait relay (1 shard)"), ("haproxy", "haproxy mid (terminate + re-originate)"),
                     ("forward", "strait-forward (plain TCP hop)")):
        runs = [r for r in tput if r["path"] == p]
        mbs = med([r["result"]["mb_s"] for r in runs])
        cpu = med([r["cpu_s"] / (r["result"]["bytes"] / 1e9) for r in runs])
        summary[p] = {"mb_s": mbs, "cpu_s_per_gb": cpu}
        print(f"{label:<40} {f(mbs, '9.1f')} {f(cpu, '9.3f')}")
        if p == "strait":
            for end in ("device", "connector"):
                e = med([r[f"cpu_s_{end}"] / (r["result"]["bytes"] / 1e9) for r in runs if f"cpu_s_{end}" in r])
                summary[p][f"{end}_cpu_s_per_gb"] = e
                print(f"{'  (not measured) strait ' + end:<40} {'':>9} {f(e, '9.3f')}")
    try:
        bench = json.load(open(f"{out}/aead.json"))
        bps = med([b["bytes_per_second"] for b in bench["benchmarks"] if b.get("run_type") == "iteration"])
        aead = 1e9 / bps
        fwd = summary.get("forward", {}).get("cpu_s_per_gb")
        summary["floor"] = {"aead_two_passes_cpu_s_per_gb": aead, "cpu_s_per_gb": (fwd + aead) if fwd else None}
        print(f"{'floor: forward + 2 AEAD passes':<40} {'':>9} {f(summary['floor']['cpu_s_per_gb'], '9.3f')}"
              f"   (AEAD seal+open {aead:.3f} CPU-s/GB, AES-128-GCM 16 KiB)")
    except Exception as e:
        print(f"floor: unavailable ({e})")
lat = [r for r in rows("latency.jsonl") if "p50_us" in r["result"]]
if lat:
    print(f"\n64-byte round trips (medians over reps of p50/p99; +: median of paired path - direct)")
    print(f"{'path':<14} {'p50 us':>8} {'p99 us':>8} {'+p50 us':>8} {'+p99 us':>8}")
    for p in ("direct", "strait", "strait-direct", "haproxy-pair", "haproxy-3"):
        mine = {r["rep"]: r["result"] for r in lat if r["path"] == p}
        base = {r["rep"]: r["result"] for r in lat if r["path"] == "direct"}
        row = {q: med([v[f"{q}_us"] for v in mine.values()]) for q in ("p50", "p99")}
        for q in ("p50", "p99"):
            row[f"added_{q}"] = med([mine[k][f"{q}_us"] - base[k][f"{q}_us"] for k in mine if k in base])
        summary[f"lat_{p}"] = row
        print(f"{p:<14} {f(row['p50'], '8.1f')} {f(row['p99'], '8.1f')} {f(row['added_p50'], '8.1f')} {f(row['added_p99'], '8.1f')}")
mem = rows("memory.jsonl")
if mem:
    m = mem[-1]
    per = (m["rss_after_kib"] - m["rss_before_kib"]) * 1024 / m["sessions"]
    summary["memory"] = dict(m, bytes_per_session=per)
    print(f"\nidle device sessions: {m['sessions']}, relay RSS {m['rss_before_kib']} -> {m['rss_after_kib']} KiB: "
          f"{per:.0f} bytes/session (target <= 8192)")
env = dict(l.rstrip("\n").split(": ", 1) for l in open(f"{out}/env.txt") if ": " in l)
json.dump({"env": env, "summary": summary}, open(f"{out}/results.json", "w"), indent=2)
print(f"\nload average start {env.get('loadavg_start')} end {env.get('loadavg_end')}; raw data in {out}")
EOF
