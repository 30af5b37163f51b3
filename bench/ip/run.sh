#!/usr/bin/env bash
# The IP tunnel against wireguard-go and OpenVPN, in ONE run, between the same four namespaces (bench/lib/netns4.sh;
# method and figures: bench/ip/README.md). Every system carries iperf3 from the device namespace to a server in
# corp, through the connector namespace; the relay namespace is the relay for Strait and a plain router for the
# others (they have no relay hop):
#   strait     device (strait device --tun) -TLS-> relay (strait relay) -TLS-> connector (--tunnel-device) -> corp
#   wireguard  device (wireguard-go) -UDP, routed by the relay namespace-> connector (wireguard-go) -> corp
#   openvpn    device (openvpn client) -TCP, routed by the relay namespace-> connector (openvpn server) -> corp
# Each system has its own corp address (.10 strait, .20 wireguard, .30 openvpn) and tunnel subnet, so all three are
# up at once and the device's routes send each address into its own tunnel. Per system:
#   tput  iperf3 TCP, --time s, --reps runs, the order of the systems alternating each rep (forward, reversed):
#         throughput, TCP retransmits, and CPU seconds per GB of each hop's process (utime+stime from
#         /proc/PID/stat before and after; the relay namespace's kernel routing for the baselines is no process).
#   loss  the same with 1% and 3% loss on the device's link, each direction: tc netem on both ends of the
#         device-relay veth, or, where the kernel has no sch_netem, nftables dropping at random at both ends' ingress
#         (said in the notes); skipped with a note when neither works.
#   ping  RTT p50/p99 of --pings ICMP echoes (56 bytes, 5 ms apart) through each tunnel, and over the direct veth
#         device -> relay.
# Output: a table on stdout, results.json and the raw rows (*.jsonl) in --out.
#
# Usage: bench/ip/run.sh [--build DIR] [--systems strait,wireguard,openvpn] [--reps N] [--time S] [--pings N]
#                        [--loss 1,3] [--only tput,loss,ping] [--out DIR]
#   --build DIR  build tree with cli/strait (default: build); Strait is left out, said so, when its device has no --tun
#   --reps N     runs per system (default 5); --time S seconds per iperf3 run (default 10); --pings N (default 1000)
# Root only (namespaces); exits 77 when it cannot make them. Every process is stopped and every namespace removed on
# exit; every wait is bounded. No traffic leaves the namespaces made here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD="$REPO/build"
SYSTEMS="strait,wireguard,openvpn"
REPS=5
TIME=10
PINGS=1000
LOSS="1,3"
ONLY="tput,loss,ping"
OUT=""

# shellcheck source=bench/lib/script.sh
source "$REPO/bench/lib/script.sh"

while (($#)); do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --pings) PINGS=$2; shift 2 ;;
    --loss) LOSS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in REPS TIME PINGS; do is_uint "${!v}" || die "--${v,,} wants a non-negative integer"; done
((REPS >= 1 && REPS <= 100)) || die "--reps must be in 1..100"
((TIME >= 1 && TIME <= 120)) || die "--time must be in 1..120"
((PINGS >= 10 && PINGS <= 100000)) || die "--pings must be in 10..100000"
declare -A WANT=()
IFS=, read -ra _only <<<"$ONLY"
for p in "${_only[@]}"; do case $p in tput|loss|ping) WANT[$p]=1 ;; *) die "--only: unknown phase '$p'" ;; esac; done
IFS=, read -ra LOSSES <<<"$LOSS"
for l in "${LOSSES[@]}"; do [[ $l =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--loss wants percentages such as 1,3"; done
IFS=, read -ra ASKED <<<"$SYSTEMS"
for s in "${ASKED[@]}"; do case $s in strait|wireguard|openvpn) ;; *) die "--systems: unknown system '$s'" ;; esac; done

for tool in iperf3 ping python3 tc timeout; do command -v "$tool" >/dev/null || die "$tool missing: run scripts/setup.sh"; done
STRAIT="$BUILD/cli/strait"
NOTES=()
SYS=()
for s in "${ASKED[@]}"; do
  case $s in
    strait)
      if [[ ! -x $STRAIT ]]; then NOTES+=("strait: $STRAIT not built: left out")
      elif ! "$STRAIT" device --help 2>/dev/null | grep -q -- '--tun'; then
        NOTES+=("strait: this build's device has no --tun: left out")
      else SYS+=(strait); fi ;;
    wireguard)
      if command -v wireguard-go >/dev/null && command -v wg >/dev/null; then SYS+=(wireguard)
      else NOTES+=("wireguard: wireguard-go or wg missing (scripts/setup.sh): left out"); fi ;;
    openvpn)
      if command -v openvpn >/dev/null && command -v openssl >/dev/null; then SYS+=(openvpn)
      else NOTES+=("openvpn: openvpn or openssl missing (scripts/setup.sh): left out"); fi ;;
  esac
done
((${#SYS[@]})) || die "no system to measure: ${NOTES[*]}"

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/strait-ip-bench.XXXXXX); fi
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
RUN="$OUT/run"; rm -rf "$RUN"; mkdir -p "$RUN"
: >"$OUT/throughput.jsonl"; : >"$OUT/ping.jsonl"; : >"$OUT/negotiated.jsonl"; : >"$OUT/loss.jsonl"

# shellcheck source=bench/lib/proc.sh
source "$REPO/bench/lib/proc.sh"
# shellcheck source=bench/lib/netns4.sh
source "$REPO/bench/lib/netns4.sh"
netns4_up
netns4_route_through_relay
declare -A TARGET=([strait]=10.20.0.10 [wireguard]=10.20.0.20 [openvpn]=10.20.0.30)
declare -A POOL=([strait]=100.96.0.0/16 [wireguard]=100.97.0.0/24 [openvpn]=100.98.0.0/24)
for s in wireguard openvpn; do ip -n "$NS_CORP" addr add "${TARGET[$s]}/24" dev veth-conn; done
for s in strait wireguard openvpn; do netns4_corp_route "${POOL[$s]}"; done
# Loss on the device's link: tc netem where the kernel has sch_netem, else nftables' `numgen random` dropping at
# the ingress of both ends of the device-relay veth (independent drops, as netem's loss without correlation; at
# ingress, so the sender's stack sees a lost packet, not a local drop).
LOSS_TOOL=none
if ip netns exec "$NS_DEVICE" tc qdisc add dev veth-relay root netem loss 0% 2>"$RUN/netem.err"; then
  ip netns exec "$NS_DEVICE" tc qdisc del dev veth-relay root
  LOSS_TOOL=netem
elif command -v nft >/dev/null && ip netns exec "$NS_DEVICE" nft add table netdev strait_probe 2>/dev/null; then
  ip netns exec "$NS_DEVICE" nft delete table netdev strait_probe
  LOSS_TOOL=nft
  NOTES+=("loss: tc netem unavailable ($(tr -d '\n' <"$RUN/netem.err")): loss made by nftables numgen random at ingress")
else
  NOTES+=("loss: neither tc netem ($(tr -d '\n' <"$RUN/netem.err")) nor nft: the loss phase is skipped")
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -r)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "iperf3: $(iperf3 --version 2>/dev/null | head -n1)"
  echo "wireguard-go: $(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || echo none)"
  echo "openvpn: $(openvpn --version 2>/dev/null | head -n1 || echo none)"
  echo "loss_tool: $LOSS_TOOL"
  echo "args: systems=${SYS[*]} reps=$REPS time=$TIME pings=$PINGS loss=$LOSS only=$ONLY"
} >"$OUT/env.txt"
log "results in $OUT; systems: ${SYS[*]}"
for n in "${NOTES[@]}"; do log "note: $n"; done

# ---- iperf3 servers in corp, one per system's address ----
for s in "${SYS[@]}"; do
  start_bg "iperf3-$s" ip netns exec "$NS_CORP" iperf3 -s -B "${TARGET[$s]}"
done

# ---- Strait: relay, connector (routed mode: corp routes the pool back), device with --tun ----
declare -A HOP_PIDS=()
negotiated() { # SYSTEM TEXT: a row of negotiated.jsonl
  python3 -c 'import json, sys; print(json.dumps({"system": sys.argv[1], "what": sys.argv[2]}))' "$1" "$2" \
    >>"$OUT/negotiated.jsonl"
}
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }
if [[ " ${SYS[*]} " == *" strait "* ]]; then
  # shellcheck source=bench/lib/pki.sh
  source "$REPO/bench/lib/pki.sh"
  K="$RUN/pki"
  bench_pki "$STRAIT" "$K" --ip "$RELAY_DEV_IP" --ip "$RELAY_CONN_IP"
  cat >"$RUN/policy.toml" <<EOF
[tunnel]
routes = ["${TARGET[strait]}/32"]

[[tunnel.allow]]
cidrs = ["${TARGET[strait]}/32"]
protocols = ["tcp", "udp", "icmp"]
ports = ["*"]
EOF
  start_bg relay ip netns exec "$NS_RELAY" "$STRAIT" relay --identity "$K/relay" --device-listen "$RELAY_DEV_IP:0" \
    --connector-listen "$RELAY_CONN_IP:0" --metrics-listen 127.0.0.1:0 --threads 1
  RELAY_PID=$BG_PID
  line=$(wait_line "$RUN/relay.out" "relay ready" "$RELAY_PID") || die "relay did not start: $(tail -n3 "$RUN/relay.err")"
  RELAY_DEV=$(field "$line" device); RELAY_CONN=$(field "$line" connector)
  start_bg connector ip netns exec "$NS_CONNECTOR" "$STRAIT" connector --identity "$K/conn" --relay "$RELAY_CONN" \
    --policy "$RUN/policy.toml" --tunnel-pool "${POOL[strait]}" --tunnel-device strait-c0
  CONN_PID=$BG_PID
  wait_line "$RUN/connector.out" "connector link up" "$CONN_PID" >/dev/null \
    || die "connector link did not come up: $(tail -n3 "$RUN/connector.err")"
  # Its own resolv.conf, so that nothing the device does to DNS can reach the host's (the policy pushes no DNS).
  netns4_resolv_conf "$NS_DEVICE" >/dev/null
  dns_flags=()
  if "$STRAIT" device --help 2>/dev/null | grep -q -- '--tun-dns'; then dns_flags=(--tun-dns off); fi
  start_bg device ip netns exec "$NS_DEVICE" "$STRAIT" device --identity "$K/dev" --relay "$RELAY_DEV" --tun \
    "${dns_flags[@]}"
  DEV_PID=$BG_PID
  line=$(wait_line "$RUN/device.out" "device tunnel up" "$DEV_PID") || die "device tunnel did not come up: $(tail -n3 "$RUN/device.err")"
  HOP_PIDS[strait]="$DEV_PID $RELAY_PID $CONN_PID"
  negotiated strait "$line; TLS 1.3 links (suite not logged) carrying Noise_IK_25519_ChaChaPoly_BLAKE2b datagrams\
 sealed end to end; relay --threads 1 ($(threads_of "$RELAY_PID") threads), device $(threads_of "$DEV_PID") threads,\
 connector $(threads_of "$CONN_PID") threads"
  log "strait: $line"
fi

# ---- wireguard-go: one interface each side (UAPI sockets in /var/run/wireguard are global: PID-named) ----
if [[ " ${SYS[*]} " == *" wireguard "* ]]; then
  W="$RUN/wireguard"; mkdir -p "$W"
  (umask 077; wg genkey >"$W/device.key"; wg genkey >"$W/connector.key")
  WG_DEV="wgd$$"; WG_CONN="wgc$$"
  sed -e "s#@PRIVATE_KEY@#$(cat "$W/connector.key")#; s#@PEER_KEY@#$(wg pubkey <"$W/device.key")#" \
    "$HERE/wireguard/connector.conf" >"$W/connector.conf"
  sed -e "s#@PRIVATE_KEY@#$(cat "$W/device.key")#; s#@PEER_KEY@#$(wg pubkey <"$W/connector.key")#" \
    -e "s#@ENDPOINT@#$CONNECTOR_IP#; s#@TARGET@#${TARGET[wireguard]}#" "$HERE/wireguard/device.conf" >"$W/device.conf"
  WG_PROCESS_FOREGROUND=1 start_bg wg-connector ip netns exec "$NS_CONNECTOR" wireguard-go -f "$WG_CONN"
  WGC_PID=$BG_PID
  WG_PROCESS_FOREGROUND=1 start_bg wg-device ip netns exec "$NS_DEVICE" wireguard-go -f "$WG_DEV"
  WGD_PID=$BG_PID
  for ((i = 0; i < 100; i++)); do
    [[ -S /var/run/wireguard/$WG_CONN.sock && -S /var/run/wireguard/$WG_DEV.sock ]] && break; sleep 0.05
  done
  in_ns "$NS_CONNECTOR" wg setconf "$WG_CONN" "$W/connector.conf"
  in_ns "$NS_DEVICE" wg setconf "$WG_DEV" "$W/device.conf"
  ip -n "$NS_CONNECTOR" addr add 100.97.0.1/24 dev "$WG_CONN"; ip -n "$NS_CONNECTOR" link set "$WG_CONN" mtu 1420 up
  ip -n "$NS_DEVICE" addr add 100.97.0.2/24 dev "$WG_DEV"; ip -n "$NS_DEVICE" link set "$WG_DEV" mtu 1420 up
  ip -n "$NS_DEVICE" route add "${TARGET[wireguard]}/32" dev "$WG_DEV"
  in_ns "$NS_DEVICE" ping -c1 -W5 "${TARGET[wireguard]}" >/dev/null || die "no ping through wireguard-go"
  HOP_PIDS[wireguard]="$WGD_PID - $WGC_PID"
  negotiated wireguard "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (fixed by the protocol), UDP, mtu 1420; wireguard-go\
 $(dpkg-query -W -f='${Version}' wireguard-go), device $(threads_of "$WGD_PID") threads, connector\
 $(threads_of "$WGC_PID") threads (GOMAXPROCS=$(nproc))"
  log "wireguard-go up: $WG_DEV <-> $WG_CONN"
fi

# ---- OpenVPN over TCP, AES-256-GCM; PKI made here with openssl (P-256) ----
if [[ " ${SYS[*]} " == *" openvpn "* ]]; then
  P="$RUN/openvpn"; mkdir -p "$P"
  (
    cd "$P"; umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 \
      -subj /CN=strait-bench-ca 2>/dev/null
    for n in server client; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n" \
        2>/dev/null
      eku=clientAuth; [[ $n == server ]] && eku=serverAuth
      printf 'keyUsage=digitalSignature\nextendedKeyUsage=%s\n' "$eku" >"$n.ext"
      openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile "$n.ext" -out "$n.crt" \
        2>/dev/null
    done
  ) || die "openssl could not make the OpenVPN PKI"
  cp "$HERE/openvpn/server.conf" "$HERE/openvpn/client.conf" "$P/"
  OV_DEV="ovd$$"; OV_CONN="ovc$$"
  start_bg ovpn-server ip netns exec "$NS_CONNECTOR" openvpn --cd "$P" --config server.conf --dev "$OV_CONN" \
    --local "$CONNECTOR_IP"
  OVS_PID=$BG_PID
  wait_line "$RUN/ovpn-server.out" ".*Initialization Sequence Completed" "$OVS_PID" 20 >/dev/null \
    || die "openvpn server did not start: $(tail -n3 "$RUN/ovpn-server.out")"
  start_bg ovpn-client ip netns exec "$NS_DEVICE" openvpn --cd "$P" --config client.conf --dev "$OV_DEV" \
    --remote "$CONNECTOR_IP" 1194
  OVC_PID=$BG_PID
  wait_line "$RUN/ovpn-client.out" ".*Initialization Sequence Completed" "$OVC_PID" 30 >/dev/null \
    || die "openvpn client did not connect: $(tail -n3 "$RUN/ovpn-client.out")"
  ip -n "$NS_DEVICE" route add "${TARGET[openvpn]}/32" dev "$OV_DEV"
  in_ns "$NS_DEVICE" ping -c1 -W5 "${TARGET[openvpn]}" >/dev/null || die "no ping through OpenVPN"
  HOP_PIDS[openvpn]="$OVC_PID - $OVS_PID"
  negotiated openvpn "$(openvpn --version | head -n1 | cut -d' ' -f1-2); $(grep -hom1 'Data Channel: .*' \
    "$RUN/ovpn-client.out"); $(grep -hom1 'Control Channel: .*' "$RUN/ovpn-client.out"); TCP, tun-mtu 1420, no DCO;\
 client $(threads_of "$OVC_PID") threads, server $(threads_of "$OVS_PID") threads"
  log "openvpn up: $OV_DEV <-> $OV_CONN"
fi

# ---- one iperf3 TCP run: CPU of each hop before/after ----
# tput_run SYSTEM REP PHASE LOSS: one row in throughput.jsonl.
tput_run() {
  local s=$1 rep=$2 phase=$3 loss=$4 pids p before=() after=() res i cpu=()
  read -ra pids <<<"${HOP_PIDS[$s]}"
  for p in "${pids[@]}"; do if [[ $p == - ]]; then before+=(0); else before+=("$(cpu_ticks "$p")"); fi; done
  res=$(timeout $((TIME + 30)) ip netns exec "$NS_DEVICE" iperf3 -c "${TARGET[$s]}" -t "$TIME" -J --connect-timeout 5000 \
          2>>"$RUN/iperf3-client.err") || true
  for p in "${pids[@]}"; do if [[ $p == - ]]; then after+=(0); else after+=("$(cpu_ticks "$p")"); fi; done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    if [[ ${pids[i]} == - ]]; then cpu+=(null); continue; fi
    cpu+=("$(awk -v a="${before[i]}" -v b="${after[i]}" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')")
  done
  python3 - "$s" "$rep" "$phase" "$loss" "${cpu[0]}" "${cpu[1]}" "${cpu[2]}" "$res" >>"$OUT/throughput.jsonl" <<'EOF'
import json, sys
s, rep, phase, loss, cd, cr, cc, raw = sys.argv[1:9]
row = {"system": s, "rep": int(rep), "phase": phase, "loss_pct": float(loss),
       "cpu_s": {"device": json.loads(cd), "relay": json.loads(cr), "connector": json.loads(cc)}}
try:
    j = json.loads(raw)
    end = j["end"]
    row.update(bytes=end["sum_received"]["bytes"], bits_per_second=end["sum_received"]["bits_per_second"],
               retransmits=end["sum_sent"].get("retransmits"), seconds=end["sum_received"]["seconds"])
    if "error" in j: row["error"] = j["error"]
except Exception as e:
    row["error"] = f"no iperf3 result: {e}: {raw[:200]}"
print(json.dumps(row))
EOF
  log "$phase $s rep $rep loss $loss%: $(tail -n1 "$OUT/throughput.jsonl")"
}
order_for() { # REP -> the systems, forward on even reps, reversed on odd ones
  local i out=()
  if (($1 % 2 == 0)); then out=("${SYS[@]}")
  else for ((i = ${#SYS[@]} - 1; i >= 0; i--)); do out+=("${SYS[i]}"); done; fi
  echo "${out[@]}"
}
set_loss() { # PCT: loss on both ends of the device-relay veth, each direction (0: none)
  local ns_dev ns dev
  for ns_dev in "$NS_DEVICE:veth-relay" "$NS_RELAY:veth-dev"; do
    ns=${ns_dev%%:*}; dev=${ns_dev#*:}
    case $LOSS_TOOL in
      netem)
        ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
        if [[ $1 != 0 ]]; then ip netns exec "$ns" tc qdisc add dev "$dev" root netem loss "$1%"; fi ;;
      nft)
        ip netns exec "$ns" nft delete table netdev strait_loss 2>/dev/null || true
        if [[ $1 != 0 ]]; then
          ip netns exec "$ns" nft -f - <<EOF
table netdev strait_loss {
  chain in {
    type filter hook ingress device "$dev" priority 0; policy accept;
    numgen random mod 10000 < $(awk -v p="$1" 'BEGIN {printf "%d", p * 100}') counter drop
  }
}
EOF
        fi ;;
    esac
  done
}

if [[ -n ${WANT[tput]:-} ]]; then
  for ((rep = 0; rep < REPS; rep++)); do
    for s in $(order_for "$rep"); do tput_run "$s" "$rep" tput 0; done
  done
fi
# The loss nftables made, to check the knob: packets dropped / packets that reached both ingress hooks (null with
# netem, whose drops happen before the veth counts them).
loss_measured() {
  [[ $LOSS_TOOL == nft ]] || { echo null; return; }
  local ns_dev ns dev dropped=0 rx=0 n
  for ns_dev in "$NS_DEVICE:veth-relay" "$NS_RELAY:veth-dev"; do
    ns=${ns_dev%%:*}; dev=${ns_dev#*:}
    n=$(ip netns exec "$ns" nft list table netdev strait_loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
    dropped=$((dropped + ${n:-0}))
    rx=$((rx + $(rx_packets "$ns" "$dev") - ${RX0[$ns]}))
  done
  awk -v d="$dropped" -v r="$rx" 'BEGIN {printf "%.4f", r ? d / r : 0}'
}
declare -A RX0=()
rx_packets() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"; } # NS DEV
rx_mark() {
  local ns_dev ns dev
  for ns_dev in "$NS_DEVICE:veth-relay" "$NS_RELAY:veth-dev"; do
    ns=${ns_dev%%:*}; dev=${ns_dev#*:}
    RX0[$ns]=$(rx_packets "$ns" "$dev")
  done
}
if [[ -n ${WANT[loss]:-} && $LOSS_TOOL != none ]]; then
  for l in "${LOSSES[@]}"; do
    rx_mark
    set_loss "$l"
    for ((rep = 0; rep < REPS; rep++)); do
      for s in $(order_for "$rep"); do tput_run "$s" "$rep" loss "$l"; done
    done
    echo "{\"loss_pct\":$l,\"tool\":\"$LOSS_TOOL\",\"measured\":$(loss_measured)}" >>"$OUT/loss.jsonl"
    set_loss 0
  done
fi

# ---- ping RTT through each tunnel, and over the direct veth ----
ping_run() { # NAME ADDRESS
  local raw
  raw=$(timeout $((PINGS / 100 + 30)) ip netns exec "$NS_DEVICE" ping -n -c "$PINGS" -i 0.005 -W 2 "$2" 2>&1) || true
  python3 - "$1" "$raw" >>"$OUT/ping.jsonl" <<'EOF'
import json, re, sys
name, raw = sys.argv[1:3]
rtts = sorted(float(m) * 1000 for m in re.findall(r"time=([0-9.]+) ms", raw))
rank = lambda q: rtts[max(0, min(len(rtts) - 1, -(-len(rtts) * q // 100) - 1))] if rtts else None
print(json.dumps({"path": name, "replies": len(rtts), "p50_us": rank(50), "p99_us": rank(99)}))
EOF
  log "ping $1: $(tail -n1 "$OUT/ping.jsonl")"
}
if [[ -n ${WANT[ping]:-} ]]; then
  ping_run direct-veth "$RELAY_DEV_IP"
  for s in "${SYS[@]}"; do ping_run "$s" "${TARGET[$s]}"; done
fi
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
printf '%s\n' "${NOTES[@]}" >"$OUT/notes.txt"

# ---- summary: a table and results.json ----
python3 - "$OUT" "$TIME" <<'EOF'
import json, statistics, sys
out, secs = sys.argv[1], sys.argv[2]
rows = lambda f: [json.loads(l) for l in open(f"{out}/{f}") if l.strip()]
med = lambda xs: statistics.median(xs) if xs else None
fmt = lambda v, spec: "-" if v is None else format(v, spec)
tput = rows("throughput.jsonl")
systems = [s for s in ("strait", "wireguard", "openvpn") if any(r["system"] == s for r in tput)] or \
          [r["path"] for r in rows("ping.jsonl") if r["path"] != "direct-veth"]
summary = {"tput": {}, "loss": {}, "ping": {}}
ok = lambda r: "bytes" in r and "error" not in r and r["bytes"] > 0
if any(r["phase"] == "tput" for r in tput):
    print(f"\niperf3 TCP, one stream, {secs} s a run (median over ok runs; spread = min..max)")
    print(f"{'system':<10} {'runs':>4} {'Mbit/s':>8} {'spread':>13} {'retr':>6} {'CPU-s/GB device':>15} {'relay':>7} "
          f"{'connector':>9} {'sum':>7}")
    for s in systems:
        runs = [r for r in tput if r["system"] == s and r["phase"] == "tput" and ok(r)]
        bad = sum(1 for r in tput if r["system"] == s and r["phase"] == "tput" and not ok(r))
        mbps = [r["bits_per_second"] / 1e6 for r in runs]
        hop = {}
        for h in ("device", "relay", "connector"):
            vals = [r["cpu_s"][h] / (r["bytes"] / 1e9) for r in runs if r["cpu_s"][h] is not None]
            hop[h] = med(vals)
        total = med([sum(v for v in r["cpu_s"].values() if v is not None) / (r["bytes"] / 1e9) for r in runs])
        summary["tput"][s] = {"runs": len(runs), "failed_runs": bad, "mbit_s_median": med(mbps),
                              "mbit_s_min": min(mbps) if mbps else None, "mbit_s_max": max(mbps) if mbps else None,
                              "retransmits_median": med([r.get("retransmits") or 0 for r in runs]),
                              "cpu_s_per_gb": hop, "cpu_s_per_gb_all_hops": total}
        spread = f"{min(mbps):.0f}..{max(mbps):.0f}" if mbps else "-"
        relay = fmt(hop["relay"], "7.1f") if s == "strait" else f"{'kernel':>7}"
        print(f"{s:<10} {len(runs):>4} {fmt(med(mbps), '8.0f')} {spread:>13} "
              f"{fmt(summary['tput'][s]['retransmits_median'], '6.0f')} {fmt(hop['device'], '15.1f')} {relay} "
              f"{fmt(hop['connector'], '9.1f')} {fmt(total, '7.1f')}")
        if bad: print(f"{'':<10} ({bad} failed runs)")
    if "strait" in summary["tput"]:
        st = summary["tput"]["strait"]["mbit_s_median"]
        for b in ("wireguard", "openvpn"):
            bm = summary["tput"].get(b, {}).get("mbit_s_median")
            if st and bm:
                summary["tput"]["strait"][f"ratio_to_{b}"] = st / bm
                print(f"strait / {b}: {st / bm:.2f}x throughput")
loss_rows = [r for r in tput if r["phase"] == "loss"]
if loss_rows:
    print(f"\nwith loss on the device's link (both directions; median Mbit/s, and as a share of the same system "
          f"with no loss)")
    measured = {r["loss_pct"]: r for r in rows("loss.jsonl")}
    for pct in sorted({r["loss_pct"] for r in loss_rows}):
        m = measured.get(pct, {})
        summary["loss"].setdefault(f"{pct:g}%", {})["tool"] = m.get("tool")
        summary["loss"][f"{pct:g}%"]["measured_fraction"] = m.get("measured")
        if m.get("measured") is not None:
            print(f"  {pct:g}% by {m['tool']}: {m['measured'] * 100:.2f}% of the packets on the link dropped")
        for s in systems:
            runs = [r for r in loss_rows if r["system"] == s and r["loss_pct"] == pct and ok(r)]
            m = med([r["bits_per_second"] / 1e6 for r in runs])
            base = summary["tput"].get(s, {}).get("mbit_s_median")
            share = m / base if m and base else None
            summary["loss"][f"{pct:g}%"][s] = {"runs": len(runs), "mbit_s_median": m, "share_of_no_loss": share}
            print(f"  {pct:g}% {s:<10} {fmt(m, '8.0f')} Mbit/s  {fmt(share and share * 100, '5.0f')}%")
pings = rows("ping.jsonl")
if pings:
    print("\nping RTT (56-byte echo, 5 ms apart), microseconds")
    print(f"{'path':<12} {'replies':>7} {'p50':>7} {'p99':>7}")
    for r in pings:
        summary["ping"][r["path"]] = r
        print(f"{r['path']:<12} {r['replies']:>7} {fmt(r['p50_us'], '7.0f')} {fmt(r['p99_us'], '7.0f')}")
neg = rows("negotiated.jsonl")
if neg:
    print("\nnegotiated")
    for r in neg: print(f"  {r['system']}: {r['what']}")
notes = [l.strip() for l in open(f"{out}/notes.txt") if l.strip()]
for n in notes: print(f"note: {n}")
env = dict(l.rstrip("\n").split(": ", 1) for l in open(f"{out}/env.txt") if ": " in l)
json.dump({"env": env, "notes": notes, "negotiated": {r["system"]: r["what"] for r in neg}, "summary": summary},
          open(f"{out}/results.json", "w"), indent=2)
print(f"\nload average start {env.get('loadavg_start')} end {env.get('loadavg_end')}; raw data in {out}")
EOF
