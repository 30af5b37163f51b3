#!/usr/bin/env bash
# End-to-end tests of `strait bench` against the built binary: each scenario for a few seconds against the local
# deployment it starts, checked for plausibility (not speed): the JSON file matches its schema (strait bench compare
# reads it back with the strict reader), counts add up, percentiles are monotone, figures are non-zero.
# Usage: bench_cli_test.sh <path-to-strait> <case>
#   cases: idle logins reconnect restart workers workers-interrupt remote direct-connect latency bulk ip ip-skip
#          ip-interrupt mixed usage interrupt compare
# Registered as ctest cli_bench.<case> by cli/CMakeLists.txt. Each case works in its own mktemp directory; every
# process it starts is bounded by timeout(1) and the tool's own --timeout.
set -euo pipefail

strait=${1:?usage: bench_cli_test.sh <strait> <case>}
case_name=${2:?usage: bench_cli_test.sh <strait> <case>}
[ -x "$strait" ] || { echo "FAIL [$case_name]: $strait is not an executable" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-bench-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
expect_rc() {  # expect_rc <rc> <cmd...>: stdout to out.txt, stderr to err.txt
  local want=$1; shift
  local rc=0
  timeout 300 "$@" >out.txt 2>err.txt || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "--- stdout"; cat out.txt; echo "--- stderr"; tail -n 30 err.txt
    fail "expected exit $want, got $rc: $*"
  fi
}
expect_in() {  # expect_in <file> <fixed string>
  grep -qF -- "$2" "$1" || { echo "--- $1"; cat "$1"; fail "'$2' not in $1"; }
}

# Every local deployment the run named in its progress lines (err.txt): no worker or daemon of it still runs, and
# its directory is gone.
no_worker_left() {
  local dir
  for dir in $(sed -n 's/.*throwaway keys in \(\/tmp\/strait-bench\.[A-Za-z0-9]*\).*/\1/p' err.txt); do
    ! pgrep -f -- "$dir" >/dev/null || fail "a process of $dir outlived the run: $(pgrep -af -- "$dir")"
    [ ! -e "$dir" ] || fail "$dir was left behind"
  done
}

# check_results <file> <scenario> <reps> <python checks on r (the document) and runs>: the schema's shape, then
# the scenario's own checks. Percentiles come from the histogram's buckets (bench/suite/histogram.h).
check_results() {
  python3 - "$@" <<'EOF'
import json, sys
path, scenario, reps, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
def need(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr); sys.exit(1)
need(r["schema"] == "strait-bench/1", "schema")
need(r["scenario"] == scenario, "scenario")
need(r["partial"] is False and r["error"] is None, f"partial/error: {r['partial']} {r['error']}")
need(r["negotiated"]["tls"] == "TLSv1.3" and r["negotiated"]["cipher"].startswith("TLS_"), f"negotiated {r['negotiated']}")
runs = r["runs"]
need(len(runs) == reps, f"{len(runs)} runs, wanted {reps}")
for run in runs:
    # The summary describes the strait side's whole runs (a baseline may lack the forwarder's CPU).
    if run["side"] == "strait" and not run["interrupted"]:
        need(set(run["metrics"]) == set(r["summary"]), "run metrics == summary keys")
    ts = [s["t"] for s in run["timeline"]]
    need(all(a < b for a, b in zip(ts, ts[1:])), "timeline t increases")
    lat = run["latency"]
    if lat is not None:
        counts = sum(c for _, c in lat["buckets"]) + lat["overflow"]
        need(counts == lat["count"], "bucket counts add up to count")
        need(lat["count"] == 0 or 0 < lat["min"] <= lat["max"], "min <= max")
for name, s in r["summary"].items():
    need(s["min"] <= s["median"] <= s["max"], f"summary {name} min <= median <= max")
# The percentiles the tool printed (out.txt, from the same run): p50 <= p90 <= p99 <= p99.9 <= max on every line.
import re
if any(run["latency"] is not None and run["latency"]["count"] > 0 for run in runs):
    lines = [l for l in open("out.txt") if " p50 " in l and " max " in l]
    need(lines, "the run printed its latency percentiles")
    for line in lines:
        ps = [float(x) for x in re.findall(r"(?:p50|p90|p99|p99\.9|max) ([0-9.]+) us", line)]
        need(len(ps) == 5 and ps == sorted(ps), f"percentiles monotone: {line.strip()}")
exec(extra)
print("results ok")
EOF
}

case "$case_name" in
  idle)
    expect_rc 0 "$strait" bench idle --devices 300 --hold 1 --reps 2 --json idle.json --html idle.html
    expect_in out.txt "strait bench idle: 2 runs"
    expect_in out.txt "rss_per_session"
    check_results idle.json idle 2 '
for run in runs:
    need(run["metrics"]["sessions"] == 300, "300 sessions held")
    need(run["metrics"]["errors"] == 0, "no errors")
    need(run["latency"]["count"] == 300, "one login latency per session")
    need(sum(s["ops"] for s in run["timeline"]) == 300, "timeline logins add up")
    need(run["relay"]["rss_after"] > run["relay"]["rss_before"] > 0, "the relay grew with 300 sessions")
    need(run["metrics"]["rss_per_session"] > 0, "bytes per session")
need(r["target"]["kind"] == "local", "local target")
'
    grep -q "<svg" idle.html || fail "no plot in idle.html"
    # Long enough to come up over a few seconds: the relay's RSS sampled against the links up on the way.
    expect_rc 0 "$strait" bench idle --devices 3000 --hold 0 --reps 1 --json ramp.json
    check_results ramp.json idle 1 '
pts = runs[0]["relay"]["rss_by_sessions"]
need(len(pts) >= 1, f"RSS sampled while the links came up: {pts}")
need(all(0 <= s <= 3000 and rss > 0 for s, rss in pts), f"plausible points: {pts}")
need([s for s, _ in pts] == sorted(s for s, _ in pts), f"sessions only grow: {pts}")
'
    ;;
  logins)
    expect_rc 0 "$strait" bench logins --devices 400 --parallel 32 --reps 2 --json logins.json
    check_results logins.json logins 2 '
for run in runs:
    m = run["metrics"]
    need(m["logins"] == 400 and m["errors"] == 0, f"400 logins, no errors: {m}")
    need(m["logins_per_s"] > 0 and m["relay_cpu_us_per_login"] > 0, f"rates: {m}")
    need(run["latency"]["count"] == 400, "one latency per login")
    need(sum(s["ops"] for s in run["timeline"]) == 400, "timeline adds up")
    need(run["relay"]["metrics_delta"], "relay counters moved")
'
    ;;
  reconnect|restart)
    how=abort; [ "$case_name" = restart ] && how=restart
    expect_rc 0 "$strait" bench reconnect --devices 200 --how "$how" --reps 1 --json rc.json
    check_results rc.json reconnect 1 '
run = runs[0]
need(run["metrics"]["devices"] == 200, "200 devices")
need(run["metrics"]["recover_s"] > 0, "a recovery time")
need(run["latency"]["count"] == 200, "every device recovered once")
need(run["latency"]["max"] <= run["metrics"]["recover_s"] * 1e9 + 1, "no device after the last")
'
    ;;
  workers)
    # The link scenarios spread over worker processes: the same counts as in one process, merged.
    expect_rc 0 "$strait" bench idle --devices 300 --workers 3 --hold 1 --reps 1 --json idle.json
    no_worker_left
    expect_in err.txt "300 devices over 3 worker processes"
    check_results idle.json idle 1 '
run = runs[0]
n, m = r["negotiated"], run["metrics"]
need(n["workers"] == 3 and r["params"]["workers"] == 3, f"3 workers: {n}")
need(m["sessions"] == 300 and m["errors"] == 0, f"300 sessions: {m}")
need(run["latency"]["count"] == 300, "one login latency per session, from every worker")
need(sum(s["ops"] for s in run["timeline"]) == 300, "the merged timeline adds up")
need(run["relay"]["rss_after"] > run["relay"]["rss_before"] > 0, "the relay grew with the sessions of every worker")
'
    expect_rc 0 "$strait" bench logins --devices 300 --parallel 16 --workers 2 --reps 1 --json logins.json
    no_worker_left
    check_results logins.json logins 1 '
m = runs[0]["metrics"]
need(m["logins"] == 300 and m["errors"] == 0 and m["relay_cpu_us_per_login"] > 0, f"300 logins: {m}")
need(sum(s["ops"] for s in runs[0]["timeline"]) == 300, "the merged timeline adds up")
'
    expect_rc 0 "$strait" bench reconnect --devices 200 --workers 2 --how restart --reps 1 --json rc.json
    no_worker_left
    check_results rc.json reconnect 1 '
run = runs[0]
need(run["latency"]["count"] == 200, "every device of both workers recovered once")
need(run["metrics"]["recover_s"] > 0 and run["latency"]["max"] <= run["metrics"]["recover_s"] * 1e9 + 1, "recovery")
'
    ;;
  workers-interrupt)
    # Ctrl-C while the workers hold their links: the workers stop too, the partial results are written, exit 130.
    timeout 120 "$strait" bench idle --devices 200 --workers 2 --hold 5 --reps 2 --json part.json >out.txt 2>err.txt &
    pid=$!
    for _ in $(seq 1 600); do grep -q "rep 2/2: idle" err.txt 2>/dev/null && break; sleep 0.1; done
    grep -q "rep 2/2: idle" err.txt || { cat err.txt; kill $pid; fail "the second repetition never started"; }
    sleep 2
    dir=$(sed -n 's/.*throwaway keys in \(\/tmp\/strait-bench\.[A-Za-z0-9]*\).*/\1/p' err.txt | tail -n 1)
    pgrep -f "bench worker --mode hold .*--deployment $dir" >/dev/null || { cat err.txt; kill $pid; fail "no worker"; }
    kill -INT $pid
    rc=0; wait $pid || rc=$?
    [ "$rc" = 130 ] || { cat err.txt; fail "exit $rc after SIGINT, wanted 130"; }
    python3 -c '
import json
r = json.load(open("part.json"))
assert r["partial"] is True and [x["interrupted"] for x in r["runs"]] == [False, True], r
assert all(x["metrics"]["sessions"] == 200 for x in r["runs"])
print("partial ok")' || fail "partial results"
    no_worker_left
    ;;
  remote)
    # A relay the tool did not start (`strait relay` with keys from `strait keys`), given by --relay and a directory
    # of device bundles: logins in this process and over workers, idle and reconnect over workers (6 links per bundle,
    # under the relay's 8 per credential); latency and bulk through a device the tool runs; a mixed profile of all.
    q() { "$@" >/dev/null 2>keys.err || { cat keys.err; fail "$*"; }; }
    q "$strait" keys init-root --out R
    q "$strait" keys tls-ca --out CA
    q "$strait" keys tenant --root R --tenant acme --days 1 --out T
    q "$strait" keys issue --role relay --root R --subject relay-1 --hours 1 --tls-ca-dir CA --ip 127.0.0.1 --out RELAY
    for i in 0 1 2 3; do
      q "$strait" keys issue --role device --tenant-dir T --subject "dev-$i" --hours 1 --ca CA --out "IDS/dev-$i"
    done
    timeout 200 "$strait" relay --identity RELAY --device-listen 127.0.0.1:0 --connector-listen 127.0.0.1:0 \
      --threads 1 >relay.out 2>relay.err &
    relay_pid=$!
    trap 'kill $relay_pid 2>/dev/null; wait $relay_pid 2>/dev/null; rm -rf "$work"' EXIT
    for _ in $(seq 1 600); do grep -q "relay ready device=" relay.out && break; sleep 0.1; done
    device_port=$(sed -n 's/.* device=\([0-9.:]*\) .*/\1/p' relay.out)
    [ -n "$device_port" ] || { cat relay.out relay.err; fail "the relay did not start"; }
    for w in 1 2; do
      expect_rc 0 "$strait" bench logins --relay "$device_port" --identity IDS --devices 40 --parallel 8 --workers $w \
        --reps 1 --json "logins$w.json"
      check_results "logins$w.json" logins 1 "
m = runs[0]['metrics']
need(r['target']['kind'] == 'remote' and r['negotiated']['workers'] == $w, 'remote, $w workers')
need(m['logins'] == 40 and m['errors'] == 0, f'40 logins: {m}')
need(sum(s['ops'] for s in runs[0]['timeline']) == 40, 'timeline adds up')
"
    done
    expect_rc 0 "$strait" bench idle --relay "$device_port" --identity IDS --devices 24 --workers 2 --hold 1 --reps 1 \
      --json idle.json
    check_results idle.json idle 1 "
m = runs[0]['metrics']
need(m['sessions'] == 24 and m['errors'] == 0, f'24 sessions held: {m}')
need('rss_per_session' not in m and runs[0]['relay'] is None, 'no memory figure for a relay on another host')
"
    expect_rc 0 "$strait" bench reconnect --relay "$device_port" --identity IDS --devices 24 --workers 2 --reps 1 \
      --json rc.json
    check_results rc.json reconnect 1 "
need(runs[0]['latency']['count'] == 24 and runs[0]['metrics']['errors'] == 0, 'every device back once')
"
    # latency with a connector the tool runs (its own echo server behind it), against the direct baseline.
    connector_port=$(sed -n 's/.* connector=\([0-9.:]*\) .*/\1/p' relay.out)
    q "$strait" keys issue --role connector --tenant-dir T --subject conn-1 --hours 1 --ca CA --out CONN
    expect_rc 0 "$strait" bench latency --relay "$device_port" --identity IDS --connector-identity CONN \
      --connector-relay "$connector_port" --seconds 1 --warmup 0 --rate 200 --connections 2 --reps 2 \
      --baseline direct --json lat.json
    check_results lat.json latency 4 "
for run in runs:
    m = run['metrics']
    need(m['completed'] > 0 and m['errors'] == 0 and run['latency']['count'] == m['completed'], f'latency: {m}')
    need('forwarder_cpu_us_per_request' not in m, 'a remote relay has no CPU figure here')
"
    # mixed: every kind of part at once against the same relay; the link parts on their own bundles in turn.
    cat >remote.toml <<'TOML'
seconds = 1
[[part]]
scenario = "idle"
devices = 12
hold = 2
[[part]]
scenario = "logins"
devices = 20
parallel = 4
[[part]]
scenario = "latency"
rate = 100
[[part]]
scenario = "bulk"
TOML
    expect_rc 0 "$strait" bench mixed --profile remote.toml --relay "$device_port" --identity IDS \
      --connector-identity CONN --connector-relay "$connector_port" --reps 1 --json mixed.json
    check_results mixed.json mixed 1 "
m = runs[0]['metrics']
need(r['target']['kind'] == 'remote', 'remote')
need(m['idle1_sessions'] == 12 and m['logins2_logins'] == 20, f'link parts: {m}')
need(m['latency3_completed'] > 0 and m['bulk4_bytes_per_s'] > 0, f'app parts: {m}')
need(sum(v for k, v in m.items() if k.endswith('_errors')) == 0, f'no errors: {m}')
"
    expect_rc 2 "$strait" bench mixed --profile remote.toml --relay "$device_port" --identity IDS
    expect_in err.txt "part latency3: with --relay, give --connector-identity"
    expect_rc 2 "$strait" bench mixed --profile remote.toml --relay "$device_port" --identity IDS --server 127.0.0.1:1
    expect_in err.txt "one --server cannot be"
    # bulk through the operator's own connector (run here by the test) to the operator's sink (--server).
    python3 -c '
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
def drain(c):
    while c.recv(1 << 16): pass
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
' >sink.out &
    sink_pid=$!
    printf '[[allow]]\ncidrs = ["127.0.0.1/32"]\nports = ["*"]\n' >policy.toml
    timeout 200 "$strait" connector --identity CONN --relay "$connector_port" --policy policy.toml \
      >conn.out 2>conn.err &
    conn_pid=$!
    trap 'kill $relay_pid $sink_pid $conn_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
    for _ in $(seq 1 600); do grep -q "connector link up" conn.out && [ -s sink.out ] && break; sleep 0.1; done
    grep -q "connector link up" conn.out || { cat conn.out conn.err; fail "the operator connector is not up"; }
    expect_rc 0 "$strait" bench bulk --relay "$device_port" --identity IDS --server "127.0.0.1:$(cat sink.out)" \
      --seconds 1 --warmup 0 --streams 2 --reps 1 --json bulk.json
    check_results bulk.json bulk 1 "
m = runs[0]['metrics']
need(m['bytes_per_s'] > 0 and m['min_stream_bytes'] > 0 and m['errors'] == 0, f'bulk: {m}')
"
    expect_rc 2 "$strait" bench bulk --relay "$device_port" --identity IDS
    expect_in err.txt "give --connector-identity and --connector-relay"
    expect_rc 2 "$strait" bench latency --relay "$device_port" --identity IDS --server 127.0.0.1:1 --baseline haproxy
    expect_rc 2 "$strait" bench latency --server 127.0.0.1:1
    kill "$relay_pid" "$sink_pid" "$conn_pid"
    ;;
  direct-connect)
    # The relay's path against a device that reaches the same connector by Direct Connect, bulk and closed loop.
    expect_rc 0 "$strait" bench latency --closed --connections 1 --seconds 1 --warmup 0 --reps 2 \
      --baseline direct-connect --json lat.json
    expect_in out.txt "latency (direct-connect)"
    check_results lat.json latency 4 '
need([(x["side"], x["order"]) for x in runs] ==
     [("strait", 1), ("direct-connect", 2), ("direct-connect", 1), ("strait", 2)], "sides alternate")
for run in runs:
    m = run["metrics"]
    need(m["completed"] > 0 and m["errors"] == 0 and run["latency"]["count"] == m["completed"], f"{m}")
need(r["ratios"]["completed"]["against"] == "direct-connect", "ratios against direct-connect")
'
    # Bulk over 3 devices on each side (streams 0 and 3 through the first, 1 and 4 the second, 2 the third): every
    # stream moved bytes, so every device's door carried its streams.
    expect_rc 0 "$strait" bench bulk --streams 5 --devices 3 --seconds 1 --warmup 0 --reps 1 \
      --baseline direct-connect --json bulk.json
    expect_in err.txt "5 streams over 3 devices"
    check_results bulk.json bulk 2 '
need(r["params"]["devices"] == 3, "params: " + str(r["params"]))
for run in runs:
    m = run["metrics"]
    need(m["bytes_per_s"] > 0 and m["min_stream_bytes"] > 0 and m["errors"] == 0, f"every stream moved bytes: {m}")
'
    no_worker_left
    ;;
  latency)
    # Open loop through the relay against the direct baseline: both sides each repetition, the order alternating.
    expect_rc 0 "$strait" bench latency --seconds 2 --warmup 1 --rate 500 --connections 4 --reps 2 --baseline direct \
      --json lat.json --html lat.html
    expect_in out.txt "latency (direct)"
    check_results lat.json latency 4 '
need([(x["rep"], x["side"], x["order"]) for x in runs] ==
     [(1, "strait", 1), (1, "direct", 2), (2, "direct", 1), (2, "strait", 2)], "sides alternate")
for run in runs:
    m = run["metrics"]
    need(m["completed"] > 0 and m["errors"] == 0, f"completed, no errors: {m}")
    need(run["latency"]["count"] == m["completed"], "one latency per response")
    need(m["achieved_rate"] > 0, "a rate")
need("achieved_rate" in r["ratios"] and r["ratios"]["achieved_rate"]["against"] == "direct", "ratios to direct")
'
    expect_rc 0 "$strait" bench latency --seconds 1 --warmup 0 --closed --connections 2 --reps 1 --json closed.json
    check_results closed.json latency 1 'need(runs[0]["metrics"]["completed"] > 0, "closed loop completes")'
    ;;
  bulk)
    command -v haproxy >/dev/null || { echo "skip: no haproxy (scripts/setup.sh installs it)"; exit 77; }
    expect_rc 0 "$strait" bench bulk --seconds 2 --warmup 1 --streams 2 --reps 2 --baseline haproxy --json bulk.json
    check_results bulk.json bulk 4 '
need(sorted(x["side"] for x in runs) == ["haproxy", "haproxy", "strait", "strait"], "both sides twice")
for run in runs:
    m = run["metrics"]
    need(m["bytes_per_s"] > 0 and m["errors"] == 0, f"bytes moved, no errors: {m}")
    need(0 < m["min_stream_bytes"] <= m["max_stream_bytes"], "per-stream min <= max")
    moved = sum(s["bytes"] for s in run["timeline"])
    need(abs(moved - m["bytes_per_s"] * run["seconds"]) <= 0.01 * moved + 1, "timeline adds up to the rate")
    need(m["forwarder_cpu_s_per_gb"] > 0, "forwarder CPU measured")
need(r["ratios"]["bytes_per_s"]["against"] == "haproxy", "ratio to haproxy")
'
    ;;
  ip)
    # The IP tunnel in network namespaces against the direct baseline (root and /dev/net/tun, else skipped: the
    # ip-skip case tests what a user without them gets). A namespace named like one left by a killed run (its PID
    # gone) is removed by the next run.
    [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "skip: needs root and /dev/net/tun"; exit 77; }
    sh -c 'exit 0' & dead=$!; wait $dead
    ip netns add "strait-bench-$dead-device"
    expect_rc 0 "$strait" bench ip --seconds 1 --warmup 1 --reps 2 --baseline direct --rate 20000 --json ip.json \
      --html ip.html
    ! ip netns list | grep -q "strait-bench-$dead-" || fail "the stale namespace of PID $dead was not removed"
    ! ip netns list | grep -q "strait-bench-" || fail "namespaces left behind: $(ip netns list)"
    expect_in err.txt "device tunnel up name=strait0"
    check_results ip.json ip 4 '
need([(x["rep"], x["side"], x["order"]) for x in runs] ==
     [(1, "strait", 1), (1, "direct", 2), (2, "direct", 1), (2, "strait", 2)], "sides alternate")
for run in runs:
    m = run["metrics"]
    need(m["tcp_bytes_per_s"] > 0 and m["errors"] == 0, f"tcp moved bytes, no errors: {m}")
    moved = sum(s["bytes"] for s in run["timeline"])
    need(abs(moved - m["tcp_bytes_per_s"] * run["seconds"]) <= 0.01 * moved + 1, "timeline adds up to the rate")
    need(0 < m["udp_delivered_per_s"] <= m["udp_sent_per_s"], f"udp delivered, no more than sent: {m}")
    need(m["udp_sent_per_s"] <= 20000 * 1.05, f"the offered rate held: {m}")
    need(0 <= m["udp_loss_pct"] <= 100, "loss is a percentage")
    if run["side"] == "strait":
        need(m["relay_cpu_s_per_gb"] > 0 and m["relay_cpu_us_per_packet"] > 0, f"relay CPU measured: {m}")
        fwd = run["relay"]["metrics_delta"].get("strait_relay_frames_forwarded_total", 0)
        need(fwd > 0, "the relay forwarded the tunnel (its /metrics, read in its namespace)")
    else:
        need(run["relay"] is None and "relay_cpu_s_per_gb" not in m, "the direct side has no relay")
need(r["ratios"]["tcp_bytes_per_s"]["against"] == "direct", "ratio to direct")
need(r["params"]["rate"] == 20000 and r["params"]["size"] == 64, "params: " + str(r["params"]))
'
    grep -q "<svg" ip.html || fail "no plot in ip.html"
    ;;
  ip-skip)
    # Without root: a clear line, a result that says why, exit 0, nothing made.
    run=()
    if [ "$(id -u)" = 0 ]; then
      command -v setpriv >/dev/null || { echo "skip: no setpriv to drop root"; exit 77; }
      chmod 0777 "$work"
      run=(setpriv --reuid 65534 --regid 65534 --clear-groups)
    fi
    expect_rc 0 "${run[@]}" "$strait" bench ip --reps 1 --json skip.json
    expect_in out.txt "strait bench ip: skipped: not root"
    python3 -c '
import json
r = json.load(open("skip.json"))
assert r["skipped"].startswith("not root"), r["skipped"]
assert r["runs"] == [] and r["summary"] == {} and r["error"] is None, r
print("skip ok")' || fail "skipped results"
    expect_rc 0 "$strait" bench compare skip.json skip.json
    expect_in out.txt "A was skipped: not root"
    ;;
  ip-interrupt)
    # Ctrl-C in the middle of the tcp phase: exit 130, partial results, no daemon and no namespace left.
    [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "skip: needs root and /dev/net/tun"; exit 77; }
    timeout 120 "$strait" bench ip --seconds 30 --reps 2 --json part.json >out.txt 2>err.txt &
    pid=$!
    for _ in $(seq 1 600); do grep -q "tunnel: device tunnel up" err.txt 2>/dev/null && break; sleep 0.1; done
    grep -q "tunnel: device tunnel up" err.txt || { cat err.txt; kill $pid; fail "the tunnel never came up"; }
    sleep 2
    kill -INT $pid
    rc=0; wait $pid || rc=$?
    [ "$rc" = 130 ] || { cat err.txt; fail "exit $rc after SIGINT, wanted 130"; }
    python3 -c '
import json
r = json.load(open("part.json"))
assert r["partial"] is True and r["runs"] == [], r
print("partial ok")' || fail "partial results"
    ! ip netns list | grep -q "strait-bench-$pid-" || fail "namespaces left behind: $(ip netns list)"
    dir=$(sed -n 's/.*throwaway keys in \(\/tmp\/strait-bench\.[A-Za-z0-9]*\).*/\1/p' err.txt | tail -n 1)
    [ -n "$dir" ] || { cat err.txt; fail "no deployment directory in the progress lines"; }
    ! pgrep -f "$dir/" >/dev/null || fail "a daemon outlived the interrupted bench"
    [ ! -e "$dir" ] || fail "$dir was left behind"
    ;;
  mixed)
    cat >office.toml <<'TOML'
seconds = 2
[[part]]
scenario = "idle"
devices = 200
hold = 3
[[part]]
scenario = "logins"
devices = 300
parallel = 16
[[part]]
scenario = "latency"
rate = 300
connections = 2
TOML
    expect_rc 0 "$strait" bench mixed --profile office.toml --reps 1 --json mixed.json
    check_results mixed.json mixed 1 '
m = runs[0]["metrics"]
need(m["idle1_sessions"] == 200 and m["idle1_errors"] == 0, f"idle part: {m}")
need(m["logins2_logins"] == 300 and m["logins2_errors"] == 0, f"logins part: {m}")
need(m["latency3_completed"] > 0 and m["latency3_errors"] == 0, f"latency part: {m}")
need(runs[0]["latency"]["count"] == m["latency3_completed"], "the run carries the latency part histogram")
need(r["params"]["latency3_rate"] == 300 and r["params"]["parts"] == 3, "params: " + str(r["params"]))
'
    printf 'seconds = 2\n[[part]]\nscenario = "latency"\nrat = 5\n' >bad.toml
    expect_rc 2 "$strait" bench mixed --profile bad.toml
    expect_in err.txt "bad.toml: line 4: part[1].rat: unknown key"
    printf '[[part]]\nscenario = "reconnect"\nhow = "restart"\n' >restart.toml
    expect_rc 2 "$strait" bench mixed --profile restart.toml
    expect_in err.txt "would restart the relay"
    ;;
  usage)
    expect_rc 2 "$strait" bench idle --devices 0
    expect_rc 2 "$strait" bench idle --devices 20000
    expect_in err.txt "the local relay is one process"
    expect_rc 2 "$strait" bench idle --devices 300 --workers 65
    expect_rc 2 "$strait" bench idle --devices 2 --workers 3
    expect_in err.txt "more workers than --devices"
    expect_rc 2 "$strait" bench reconnect --relay 127.0.0.1:1 --identity . --devices 40000 --workers 2
    expect_in err.txt "a worker holds at most 15000 links; give --workers 3"
    expect_rc 2 "$strait" bench reconnect --relay 127.0.0.1:1 --identity . --devices 20000 --workers 1
    expect_in err.txt "one process holds at most 19000 links"
    expect_rc 2 "$strait" bench worker --mode hold --relay 127.0.0.1:1 --first 0 --count 0
    expect_rc 2 "$strait" bench logins --reps 0
    expect_rc 2 "$strait" bench reconnect --how sideways
    expect_rc 2 "$strait" bench logins --relay 127.0.0.1:1
    expect_in err.txt "--relay needs --identity"
    expect_rc 2 "$strait" bench bulk --devices 3 --streams 2
    expect_in err.txt "more devices than --streams 2"
    expect_rc 2 "$strait" bench bulk --devices 17 --streams 20
    expect_rc 2 "$strait" bench logins --relay nohost --identity .
    expect_in err.txt "--relay nohost:"
    expect_rc 2 "$strait" bench latency --relay 127.0.0.1:1 --identity . --server 127.0.0.1
    expect_in err.txt "--server 127.0.0.1: not HOST:PORT"
    expect_rc 2 "$strait" bench latency --connections 4096 --max-outstanding 2048
    expect_in err.txt "more than 4194304 requests in flight in all"
    expect_rc 2 "$strait" bench logins --workers 4 --parallel 2 --devices 100
    expect_in err.txt "more workers than --parallel 2"
    expect_rc 2 "$strait" bench idle --json /nonexistent-dir/x.json
    expect_in err.txt "--json /nonexistent-dir/x.json: cannot write in /nonexistent-dir"
    mkdir adir
    expect_rc 2 "$strait" bench idle --html adir
    expect_in err.txt "--html adir: is a directory"
    expect_rc 2 "$strait" bench logins --json same --html same
    expect_in err.txt "same file"
    expect_rc 2 "$strait" bench logins --baseline haproxy
    expect_rc 2 "$strait" bench latency --size 0
    expect_rc 2 "$strait" bench bulk --baseline nginx
    expect_rc 2 "$strait" bench ip --baseline haproxy
    expect_rc 2 "$strait" bench ip --size 8
    expect_rc 2 "$strait" bench ip --size 1393
    expect_rc 2 "$strait" bench ip --relay 127.0.0.1:1 --identity .
    expect_in err.txt "needs the local relay"
    expect_rc 2 "$strait" bench
    [ ! -e same ] || fail "a refused run wrote a file"
    ;;
  interrupt)
    # Ctrl-C while links are held: the run stops, the relay is stopped, the partial results are written, exit 130.
    timeout 120 "$strait" bench idle --devices 200 --hold 5 --reps 3 --json part.json >out.txt 2>err.txt &
    pid=$!
    for _ in $(seq 1 600); do grep -q "rep 2/3: idle" err.txt 2>/dev/null && break; sleep 0.1; done
    grep -q "rep 2/3: idle" err.txt || { cat err.txt; kill $pid; fail "the second repetition never started"; }
    sleep 2
    kill -INT $pid
    rc=0; wait $pid || rc=$?
    [ "$rc" = 130 ] || { cat err.txt; fail "exit $rc after SIGINT, wanted 130"; }
    expect_in err.txt "partial results written"
    python3 -c '
import json, sys
r = json.load(open("part.json"))
assert r["partial"] is True, r["partial"]
# Rep 1 whole; rep 2 cut short in its hold: kept, marked, without a memory figure, and out of the summary.
assert [x["interrupted"] for x in r["runs"]] == [False, True], r["runs"]
whole, cut = r["runs"]
assert whole["metrics"]["sessions"] == 200 and "rss_per_session" in whole["metrics"], whole["metrics"]
assert cut["metrics"]["sessions"] == 200 and "rss_per_session" not in cut["metrics"], cut["metrics"]
assert set(r["summary"]) == set(whole["metrics"]), r["summary"]
print("partial ok")' || fail "partial results"
    # The deployment the interrupted repetition ran in: its relay is gone and its directory removed.
    dir=$(sed -n 's/.*throwaway keys in \(\/tmp\/strait-bench\.[A-Za-z0-9]*\).*/\1/p' err.txt | tail -n 1)
    [ -n "$dir" ] || { cat err.txt; fail "no deployment directory in the progress lines"; }
    ! pgrep -f "$dir/relay" >/dev/null || fail "a relay outlived the interrupted bench"
    [ ! -e "$dir" ] || fail "$dir was left behind"
    ;;
  compare)
    expect_rc 0 "$strait" bench logins --devices 100 --parallel 16 --reps 2 --json a.json --quiet
    expect_rc 0 "$strait" bench logins --devices 100 --parallel 16 --reps 2 --json b.json --quiet
    expect_rc 0 "$strait" bench compare a.json b.json
    expect_in out.txt "logins_per_s"
    expect_rc 0 "$strait" bench compare a.json a.json
    expect_in out.txt "(same)"
    echo '{"schema":"strait-bench/1","extra":1}' >bad.json
    expect_rc 1 "$strait" bench compare a.json bad.json
    expect_in err.txt "bad.json"
    expect_rc 1 "$strait" bench compare a.json missing.json
    ;;
  *) fail "unknown case" ;;
esac
echo "ok [$case_name]"
