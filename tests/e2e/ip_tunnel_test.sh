#!/usr/bin/env bash
# The IP tunnel end to end (issue 9), with real kernel networking in namespaces this test makes and removes
# (bench/lib/netns4.sh): `strait relay` in relay, `strait connector --tunnel-device` in connector (forwarding on;
# routed mode: corp routes the pool back to it), `strait device --tun` in device, and in corp a resolver (dnsmasq
# answering intranet.corp.example), an HTTP server, a UDP echo server and iperf3. The relay has no route into corp.
# From device, through the tunnel:
#   ping a corp host; curl by IP and by the private name; UDP datagrams of many sizes echoed; iperf3 TCP and UDP;
#   `ping -M do` at the tunnel MTU and just above it: a reply or an ICMP/local error, never silence; a destination
#   the policy denies fails fast and the connector counts the drop; a second device cannot reach the first device's
#   tunnel address, nor the reverse (both counted); device 1 stopped (SIGSTOP) while corp floods it: the relay drops
#   its datagrams (counted) and device 2 still reaches corp; the relay restarted in the middle of an iperf3 TCP run: the run
#   finishes, with no reset, and the device has logged in again and kept its address.
# DNS: the device runs its stub (--tun-dns stub) and rewrites --dns-resolv-conf, which is device's own
# /etc/netns/<ns>/resolv.conf: every process started with `ip netns exec` afterwards resolves through the file the
# device wrote, as a host's programs do through /etc/resolv.conf. The device namespace has no route to corp's
# resolver but the tunnel's, so an answer for the private name came through it. A strait whose device has no
# --tun-dns yet: `dig @<corp resolver>` through the tunnel, and curl --resolve with its answer (said in the output).
# Usage: ip_tunnel_test.sh <path-to-strait> <repo>. ctest e2e_ip_tunnel (label e2e); exits 77 with the reason when
# it cannot run here (not root, no /dev/net/tun, a tool missing, a strait without --tun). Every wait is bounded.
set -euo pipefail
STRAIT=${1:?usage: ip_tunnel_test.sh <strait> <repo>}
REPO=${2:?usage: ip_tunnel_test.sh <strait> <repo>}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/strait-ip-e2e-XXXXXX")

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; for f in "$RUN"/*.err "$RUN"/*.out; do echo "--- $f" >&2; tail -n 5 "$f" >&2; done; exit 1; }
pass() { echo "ok: $*"; }
for tool in dnsmasq iperf3 curl ping python3 getent timeout; do
  command -v "$tool" >/dev/null || skip "$tool missing (scripts/setup.sh installs it)"
done
"$STRAIT" device --help 2>/dev/null | grep -q -- '--tun' || skip "this strait's device has no --tun"
HAVE_TUN_DNS=0
if "$STRAIT" device --help 2>/dev/null | grep -q -- '--tun-dns'; then HAVE_TUN_DNS=1; fi
((HAVE_TUN_DNS)) || command -v dig >/dev/null || skip "dig missing (scripts/setup.sh installs bind9-dnsutils)"

# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"
# shellcheck source=bench/lib/netns4.sh
source "$REPO/bench/lib/netns4.sh"
# shellcheck source=bench/lib/pki.sh
source "$REPO/bench/lib/pki.sh"

netns4_up
netns4_add_device2
POOL=100.96.0.0/16
netns4_corp_route "$POOL"
DENIED_IP=10.20.0.99  # on corp's interface, so only the policy stands between the device and it
ip -n "$NS_CORP" addr add "$DENIED_IP/24" dev veth-conn

# ---- corp: resolver, HTTP, UDP echo, iperf3 ----
start_bg dnsmasq ip netns exec "$NS_CORP" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
  --bind-interfaces --listen-address="$CORP_DNS_IP" --pid-file= --address=/intranet.corp.example/"$CORP_IP"
mkdir -p "$RUN/www"
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$RUN/www/token.txt"
start_bg http ip netns exec "$NS_CORP" python3 -m http.server 8080 --bind 0.0.0.0 --directory "$RUN/www"
start_bg udp-echo ip netns exec "$NS_CORP" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7007))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
'
start_bg iperf3 ip netns exec "$NS_CORP" iperf3 -s -B "$CORP_IP"

# ---- identities and policy ----
K="$RUN/pki"
bench_pki "$STRAIT" "$K" --ip "$RELAY_DEV_IP" --ip "$RELAY_DEV2_IP" --ip "$RELAY_CONN_IP"
bench_device "$STRAIT" "$K" dev-2
cat >"$RUN/policy.toml" <<EOF
[tunnel]
routes = ["10.20.0.0/24"]
dns_servers = ["$CORP_DNS_IP"]
dns_domains = ["corp.example"]

[[tunnel.allow]]
cidrs = ["10.20.0.0/24"]
protocols = ["tcp", "udp", "icmp"]
ports = ["*"]

[[tunnel.deny]]
cidrs = ["$DENIED_IP/32"]
EOF

# ---- relay, connector, device ----
# Fixed ports: the relay must come back on the same address after its restart, and nothing else listens in a
# namespace this test made.
DEV_PORT=8443
CONN_PORT=8444
DEV_METRICS_PORT=9100  # in the device's namespace (the device logs, but does not print, the port it bound)
start_relay() {
  start_bg relay ip netns exec "$NS_RELAY" "$STRAIT" relay --identity "$K/relay" --device-listen "0.0.0.0:$DEV_PORT" \
    --connector-listen "$RELAY_CONN_IP:$CONN_PORT" --metrics-listen 127.0.0.1:0 --threads 1 --drain-ms 200
  RELAY_PID=$BG_PID
  local line
  line=$(wait_line "$RUN/relay.out" "relay ready" "$RELAY_PID") || fail "relay did not start"
  RELAY_METRICS=$(field "$line" metrics)
}
start_relay
start_bg connector ip netns exec "$NS_CONNECTOR" "$STRAIT" connector --identity "$K/conn" \
  --relay "$RELAY_CONN_IP:$CONN_PORT" --policy "$RUN/policy.toml" --tunnel-pool "$POOL" --tunnel-device strait-c0 \
  --metrics-listen 127.0.0.1:0
CONN_PID=$BG_PID
line=$(wait_line "$RUN/connector.out" "connector ready" "$CONN_PID") || fail "connector did not start"
CONN_METRICS=$(field "$line" metrics)
wait_line "$RUN/connector.out" "connector link up" "$CONN_PID" >/dev/null || fail "connector link did not come up"

# Each device namespace gets its own resolv.conf, so nothing a device does to DNS can reach the host's.
RESOLV=$(netns4_resolv_conf "$NS_DEVICE")
printf '# the system resolver before the device (it never answers here)\nnameserver %s\n' "$RELAY_DEV_IP" >"$RESOLV"
DNS_FLAGS=()
if ((HAVE_TUN_DNS)); then DNS_FLAGS=(--tun-dns stub --dns-resolv-conf "$RESOLV"); fi
start_bg device ip netns exec "$NS_DEVICE" "$STRAIT" device --identity "$K/dev" --relay "$RELAY_DEV_IP:$DEV_PORT" \
  --tun "${DNS_FLAGS[@]}" --metrics-listen "127.0.0.1:$DEV_METRICS_PORT"
DEV_PID=$BG_PID
line=$(wait_line "$RUN/device.out" "device tunnel up" "$DEV_PID" 30) || fail "device tunnel did not come up"
ADDR1=$(field "$line" address)
MTU=$(field "$line" mtu)
[[ $ADDR1 =~ ^100\.96\. && $MTU =~ ^[0-9]+$ ]] || fail "unexpected tunnel line: $line"
pass "device tunnel up: address $ADDR1, mtu $MTU"

# metric NS ADDR SERIES: the value of SERIES (name with its labels, as printed) at ADDR's /metrics; 0 when absent.
metric() {
  ip netns exec "$1" curl -sS --max-time 5 "http://$2/metrics" \
    | awk -v s="$3" '$1 == s {print $2; found = 1} END {if (!found) print 0}'
}
DENIED="strait_connector_tunnel_drops_total{reason=\"denied_by_policy\"}"
PEER="strait_connector_tunnel_drops_total{reason=\"peer_address\"}"

# ---- reachability: ping, HTTP by IP, HTTP by the private name ----
in_ns "$NS_DEVICE" ping -n -c 3 -i 0.2 -W 2 "$CORP_IP" >"$RUN/ping.log" || fail "ping $CORP_IP through the tunnel"
pass "ping $CORP_IP"
got=$(in_ns "$NS_DEVICE" curl -sS --max-time 10 "http://$CORP_IP:8080/token.txt") || fail "curl by IP"
[[ $got == "$TOKEN" ]] || fail "curl by IP returned '$got'"
pass "curl http://$CORP_IP:8080/"
if ((HAVE_TUN_DNS)); then
  grep -q '^nameserver 127\.' "$RESOLV" || fail "the device did not point $RESOLV at its stub: $(cat "$RESOLV")"
  resolved=$(in_ns "$NS_DEVICE" timeout 10 getent ahostsv4 intranet.corp.example | awk 'NR == 1 {print $1}') || true
  [[ $resolved == "$CORP_IP" ]] || fail "intranet.corp.example resolved to '$resolved' via $(grep nameserver "$RESOLV")"
  got=$(in_ns "$NS_DEVICE" curl -sS --max-time 10 "http://intranet.corp.example:8080/token.txt") || fail "curl by name"
  how="resolved by the device's stub through the tunnel"
else
  # No DNS in this device yet: ask corp's resolver itself, which only the tunnel reaches, and use its answer.
  resolved=$(in_ns "$NS_DEVICE" dig +short +time=2 +tries=2 "@$CORP_DNS_IP" intranet.corp.example A) || true
  [[ $resolved == "$CORP_IP" ]] || fail "corp's resolver through the tunnel answered '$resolved'"
  got=$(in_ns "$NS_DEVICE" curl -sS --max-time 10 --resolve "intranet.corp.example:8080:$resolved" \
          "http://intranet.corp.example:8080/token.txt") || fail "curl by name"
  how="resolved by dig @$CORP_DNS_IP through the tunnel (this device has no --tun-dns), curl --resolve"
fi
[[ $got == "$TOKEN" ]] || fail "curl by name returned '$got'"
pass "curl http://intranet.corp.example:8080/ ($how)"

# ---- UDP datagrams of many sizes, each echoed byte for byte (three tries each: UDP may lose one) ----
in_ns "$NS_DEVICE" timeout 60 python3 - "$CORP_IP" "$MTU" <<'EOF' || fail "UDP echo"
import os, socket, sys
host, mtu = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
sizes = [0, 1, 28, 64, 512, 1000, mtu - 29, mtu - 28, mtu - 27, 1472, 1473, 3000, 8000, 16000, 65507]
for n in sizes:
    data = os.urandom(n)
    for attempt in range(3):
        s.sendto(data, (host, 7007))
        try:
            got, _ = s.recvfrom(65535)
        except socket.timeout:
            continue
        if got != data:
            sys.exit(f"size {n}: {len(got)} bytes came back, not the {n} sent")
        break
    else:
        sys.exit(f"size {n}: no echo in 3 tries")
print(f"{len(sizes)} sizes echoed: {sizes}")
EOF
pass "UDP echo of many sizes"

# ---- iperf3 TCP and UDP, 3 s each ----
in_ns "$NS_DEVICE" timeout 30 iperf3 -c "$CORP_IP" -t 3 -J >"$RUN/iperf-tcp.json" || fail "iperf3 TCP"
python3 - "$RUN/iperf-tcp.json" <<'EOF' || fail "iperf3 TCP result"
import json, sys
end = json.load(open(sys.argv[1]))["end"]
b = end["sum_received"]["bytes"]
assert b > 0, "nothing received"
print(f"ok: iperf3 TCP {end['sum_received']['bits_per_second'] / 1e6:.0f} Mbit/s, {b} bytes")
EOF
in_ns "$NS_DEVICE" timeout 30 iperf3 -c "$CORP_IP" -u -b 20M -l 1200 -t 3 -J >"$RUN/iperf-udp.json" || fail "iperf3 UDP"
python3 - "$RUN/iperf-udp.json" <<'EOF' || fail "iperf3 UDP result"
import json, sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
assert s["packets"] > 0, "no packets"
assert s["lost_percent"] < 50, f"{s['lost_percent']:.1f}% lost"
print(f"ok: iperf3 UDP {s['bits_per_second'] / 1e6:.0f} Mbit/s, {s['lost_percent']:.2f}% lost")
EOF

# ---- the device's tunnel metrics saw it ----
DM="127.0.0.1:$DEV_METRICS_PORT"
[[ $(metric "$NS_DEVICE" "$DM" strait_device_tunnel_up) == 1 ]] || fail "strait_device_tunnel_up is not 1"
for dir in out in; do
  n=$(metric "$NS_DEVICE" "$DM" "strait_device_tunnel_packets_total{direction=\"$dir\"}")
  ((n > 1000)) || fail "strait_device_tunnel_packets_total{direction=\"$dir\"} is $n after iperf3"
done
pass "device metrics: tunnel up, packets out $(metric "$NS_DEVICE" "$DM" 'strait_device_tunnel_packets_total{direction="out"}'),\
 in $(metric "$NS_DEVICE" "$DM" 'strait_device_tunnel_packets_total{direction="in"}')"

# ---- ping -M do at the MTU and above: a reply or an error, never silence ----
for size in $((MTU - 28)) $((MTU - 27)) $((MTU + 100)) 1472; do
  out=$(in_ns "$NS_DEVICE" timeout 10 ping -n -M "do" -s "$size" -c 2 -W 2 "$CORP_IP" 2>&1) || true
  if grep -q "bytes from $CORP_IP" <<<"$out"; then
    ((size + 28 <= MTU)) || fail "ping -M do -s $size: a $((size + 28))-byte packet crossed a $MTU-byte tunnel"
    pass "ping -M do -s $size: reply"
  elif grep -Eqi "message too long|frag needed|fragmentation needed" <<<"$out"; then
    ((size + 28 > MTU)) || fail "ping -M do -s $size: refused although it fits the MTU: $out"
    pass "ping -M do -s $size: $(grep -Eoim1 "message too long[^)]*|frag needed[^)]*|fragmentation needed[^)]*" <<<"$out")"
  else
    fail "ping -M do -s $size: silence: $out"
  fi
done

# ---- a destination the policy denies: fails fast, counted ----
before=$(metric "$NS_CONNECTOR" "$CONN_METRICS" "$DENIED")
t0=$(date +%s%N)
if in_ns "$NS_DEVICE" curl -sS --max-time 10 "http://$DENIED_IP:8080/token.txt" >/dev/null 2>"$RUN/denied.err"; then
  fail "curl to the denied $DENIED_IP succeeded"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 3000)) || fail "the denied connection took $ms ms to fail (wanted < 3000: an ICMP answer, not a timeout)"
after=$(metric "$NS_CONNECTOR" "$CONN_METRICS" "$DENIED")
((after > before)) || fail "$DENIED did not move ($before -> $after)"
pass "denied $DENIED_IP: failed in $ms ms ($(tr -d '\n' <"$RUN/denied.err")); $DENIED $before -> $after"

# ---- a second device cannot reach the first one's tunnel address, nor the reverse ----
netns4_resolv_conf "$NS_DEVICE2" >/dev/null
DNS_FLAGS=()
if ((HAVE_TUN_DNS)); then DNS_FLAGS=(--tun-dns off); fi
start_bg device2 ip netns exec "$NS_DEVICE2" "$STRAIT" device --identity "$K/dev-2" \
  --relay "$RELAY_DEV2_IP:$DEV_PORT" --tun "${DNS_FLAGS[@]}"
DEV2_PID=$BG_PID
line=$(wait_line "$RUN/device2.out" "device tunnel up" "$DEV2_PID" 30) || fail "second device tunnel did not come up"
ADDR2=$(field "$line" address)
[[ -n $ADDR2 && $ADDR2 != "$ADDR1" ]] || fail "second device got address '$ADDR2' (first: $ADDR1)"
# The pool is not among the tunnel's routes: send it into the tunnel by hand, so that the connector (and not the
# device's kernel) is what refuses.
ip -n "$NS_DEVICE2" route add "$POOL" dev strait0
ip -n "$NS_DEVICE" route add "$POOL" dev strait0
before=$(metric "$NS_CONNECTOR" "$CONN_METRICS" "$PEER")
if in_ns "$NS_DEVICE2" ping -n -c 2 -i 0.2 -W 2 "$ADDR1" >"$RUN/peer.log" 2>&1; then fail "device 2 pinged $ADDR1"; fi
if in_ns "$NS_DEVICE" ping -n -c 2 -i 0.2 -W 2 "$ADDR2" >>"$RUN/peer.log" 2>&1; then fail "device 1 pinged $ADDR2"; fi
if in_ns "$NS_DEVICE2" timeout 5 curl -sS --max-time 3 "http://$ADDR1:8080/" >/dev/null 2>&1; then
  fail "device 2 opened TCP to $ADDR1"
fi
after=$(metric "$NS_CONNECTOR" "$CONN_METRICS" "$PEER")
((after >= before + 4)) || fail "$PEER moved $before -> $after (wanted 4 echoes and a SYN at least)"
pass "devices $ADDR1 and $ADDR2 cannot reach each other; $PEER $before -> $after"

# ---- hostile: device 1 stops reading while corp floods it; device 2 keeps its service ----
# The relay's link to a stopped device fills up; datagrams for it are dropped there (datagram_queue_full), never
# queued without bound, and the connector's link to the relay keeps carrying device 2's packets.
QFULL="strait_relay_drops_total{reason=\"datagram_queue_full\"}"
before=$(metric "$NS_RELAY" "$RELAY_METRICS" "$QFULL")
kill -STOP "$DEV_PID"
in_ns "$NS_CORP" timeout 10 python3 - "$ADDR1" >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n = time.monotonic() + 4, 0
while time.monotonic() < end and n < 2_000_000:  # bounded in time and count
    try:
        s.sendto(b"x" * 1200, (sys.argv[1], 9))
        n += 1
    except OSError:
        time.sleep(0.001)
EOF
FLOOD_PID=$!
sleep 1
if ! in_ns "$NS_DEVICE2" ping -n -c 5 -i 0.2 -W 2 "$CORP_IP" >"$RUN/flood-ping.log" 2>&1; then
  kill -CONT "$DEV_PID"
  fail "device 2 lost corp while device 1 was stopped under a flood: $(tail -n 2 "$RUN/flood-ping.log" | tr '\n' ' ')"
fi
wait "$FLOOD_PID" || true
after=$(metric "$NS_RELAY" "$RELAY_METRICS" "$QFULL")
kill -CONT "$DEV_PID"
((after > before)) || fail "$QFULL did not move while device 1 was stopped ($before -> $after)"
in_ns "$NS_DEVICE" ping -n -c 3 -i 0.2 -W 3 "$CORP_IP" >/dev/null 2>&1 || fail "device 1 did not recover after SIGCONT"
pass "device 1 stopped under a 4 s UDP flood from corp: device 2 still reached corp ($(grep -o '[0-9]* received' \
  "$RUN/flood-ping.log")); relay $QFULL $before -> $after; device 1 recovered"
stop_bg "$DEV2_PID"
ip -n "$NS_DEVICE" route del "$POOL" dev strait0

# ---- the relay restarts in the middle of an iperf3 TCP run: the run finishes, no reset ----
links_before=$(metric "$NS_DEVICE" "$DM" strait_device_links_up_total)
in_ns "$NS_DEVICE" timeout 60 iperf3 -c "$CORP_IP" -t 15 -i 1 -J >"$RUN/iperf-restart.json" 2>"$RUN/iperf-restart.err" &
IPERF_PID=$!
sleep 3  # a fifth of the run: the restart lands mid-flow, with 12 s left for the links to come back
stop_bg "$RELAY_PID"
start_relay
pass "relay restarted (pid $RELAY_PID)"
rc=0; wait "$IPERF_PID" || rc=$?
((rc == 0)) || fail "iperf3 across the relay restart exited $rc: $(head -c 400 "$RUN/iperf-restart.json")"
python3 - "$RUN/iperf-restart.json" <<'EOF' || fail "iperf3 across the relay restart"
import json, sys
j = json.load(open(sys.argv[1]))
assert "error" not in j, j.get("error")
iv = [i["sum"]["bytes"] for i in j["intervals"]]
assert len(iv) >= 10, f"{len(iv)} intervals"
assert sum(iv[-3:]) > 0, f"nothing moved in the last 3 s: {iv}"
stalled = sum(1 for b in iv if b == 0)
print(f"ok: iperf3 TCP across the relay restart: {j['end']['sum_received']['bytes']} bytes, "
      f"{stalled} stalled seconds, per second: {iv}")
EOF
links_after=$(metric "$NS_DEVICE" "$DM" strait_device_links_up_total)
((links_after > links_before)) || fail "the device's link did not come back through a new login ($links_before -> $links_after)"
[[ $(metric "$NS_DEVICE" "$DM" strait_device_tunnel_readdressed_total) == 0 ]] || fail "the device was readdressed"
pass "the device logged in again ($links_before -> $links_after links) and kept $ADDR1"
rm -rf "$RUN"  # kept after a failure, for its logs
echo "ok: all"
