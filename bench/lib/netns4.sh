# Four network namespaces chained by veth pairs, for the IP tunnel's end-to-end test and benchmark (issue 9):
#
#   device ── 10.99.1.0/24 ── relay ── 10.99.2.0/24 ── connector ── 10.20.0.0/24 ── corp
#   .2 veth-relay   veth-dev .1   .1 veth-conn   veth-relay .2   .1 veth-corp    veth-conn .10 (and .53)
#
# Routes: only the connected subnets, so the device reaches the relay's address and nothing else, the connector
# reaches the relay, and the relay has no route into corp (nor does anything route through it) unless
# netns4_route_through_relay says so (the no-relay baselines: wireguard-go, OpenVPN device <-> connector).
# Forwarding is on in the connector (it is the corp side's router for the tunnel pool), off in the relay.
#
# Usage (bash, after `set -euo pipefail`; source bench/lib/proc.sh first if the script starts processes with
# start_bg, so that both clean-ups run):
#   source bench/lib/netns4.sh        # exits 77 with a reason when not root, or no `ip`, or no /dev/net/tun
#   netns4_up                         # NS_DEVICE NS_RELAY NS_CONNECTOR NS_CORP, and the addresses below
#   in_ns "$NS_DEVICE" ping -c1 "$RELAY_DEV_IP"
#   netns4_add_device2                # optional fifth namespace NS_DEVICE2, 10.99.3.0/24 to the relay
#   netns4_resolv_conf "$NS_DEVICE"   # -> /etc/netns/<ns>/resolv.conf, the namespace's own resolv.conf
# Names carry the shell's PID ("strait-n4-<pid>-device"), so concurrent runs do not collide; on exit (also on a
# failure, Ctrl-C or SIGTERM) every process still running in those namespaces gets SIGTERM, then SIGKILL after
# 5 s, and the namespaces are deleted (their veth ends and TUN devices go with them). A start first removes the
# namespaces of runs whose shell is gone (killed with SIGKILL, so no trap ran).
# shellcheck shell=bash

netns4_skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || netns4_skip "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
command -v ip >/dev/null || netns4_skip "no \`ip\` command (Debian iproute2)"
[[ -c /dev/net/tun ]] || netns4_skip "no /dev/net/tun (the kernel's tun module)"

NETNS4_PREFIX="strait-n4-$$"
NS_DEVICE="$NETNS4_PREFIX-device"
NS_RELAY="$NETNS4_PREFIX-relay"
NS_CONNECTOR="$NETNS4_PREFIX-connector"
NS_CORP="$NETNS4_PREFIX-corp"
NS_DEVICE2=""
DEVICE_IP=10.99.1.2
RELAY_DEV_IP=10.99.1.1      # the relay's address on the device side
RELAY_CONN_IP=10.99.2.1     # ... on the connector side
CONNECTOR_IP=10.99.2.2
CONNECTOR_CORP_IP=10.20.0.1
CORP_IP=10.20.0.10
CORP_DNS_IP=10.20.0.53
DEVICE2_IP=10.99.3.2
RELAY_DEV2_IP=10.99.3.1
NETNS4_ALL=()

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; } # NS CMD...: CMD inside NS

# netns4_veth NS_A IF_A CIDR_A NS_B IF_B CIDR_B: a veth pair made inside NS_A with its peer moved to NS_B (names
# need only be unique within each namespace), addressed and up.
netns4_veth() {
  ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

netns4_new() { # NAME: a namespace with loopback up, remembered for the clean-up
  ip netns add "$1"
  NETNS4_ALL+=("$1")
  ip -n "$1" link set lo up
}

# Namespaces "strait-n4-<pid>-*" whose <pid> no longer runs: left by a run that was SIGKILLed.
netns4_reap_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^strait-n4-[0-9]+-' || true); do
    pid=${ns#strait-n4-}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    netns4_kill_in "$ns"
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
}

# netns4_kill_in NS...: SIGTERM to every process in the namespaces, up to 5 s for them to go, then SIGKILL.
netns4_kill_in() {
  local pids=() ns i
  for ns in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null || true); done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

netns4_down() {
  ((${#NETNS4_ALL[@]})) || return 0
  netns4_kill_in "${NETNS4_ALL[@]}"
  local ns
  for ns in "${NETNS4_ALL[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  NETNS4_ALL=()
}

# The exit trap: namespaces (and what runs in them) first, then proc.sh's clean-up when it was sourced (it ends the
# shell with the status the script had).
netns4_on_exit() {
  local rc=$?
  netns4_down
  if declare -F cleanup >/dev/null; then (exit "$rc"); cleanup; fi
  exit "$rc"
}
trap netns4_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

netns4_up() {
  trap netns4_on_exit EXIT  # again, should proc.sh have been sourced after this file
  netns4_reap_stale
  local ns
  for ns in "$NS_DEVICE" "$NS_RELAY" "$NS_CONNECTOR" "$NS_CORP"; do netns4_new "$ns"; done
  netns4_veth "$NS_DEVICE" veth-relay "$DEVICE_IP/24" "$NS_RELAY" veth-dev "$RELAY_DEV_IP/24"
  netns4_veth "$NS_RELAY" veth-conn "$RELAY_CONN_IP/24" "$NS_CONNECTOR" veth-relay "$CONNECTOR_IP/24"
  netns4_veth "$NS_CONNECTOR" veth-corp "$CONNECTOR_CORP_IP/24" "$NS_CORP" veth-conn "$CORP_IP/24"
  ip -n "$NS_CORP" addr add "$CORP_DNS_IP/24" dev veth-conn
  in_ns "$NS_RELAY" sysctl -qw net.ipv4.ip_forward=0
  in_ns "$NS_CONNECTOR" sysctl -qw net.ipv4.ip_forward=1
}

# A fifth namespace, a second device on its own link to the relay (10.99.3.0/24), reaching the relay only.
netns4_add_device2() {
  NS_DEVICE2="$NETNS4_PREFIX-device2"
  netns4_new "$NS_DEVICE2"
  netns4_veth "$NS_DEVICE2" veth-relay "$DEVICE2_IP/24" "$NS_RELAY" veth-dev2 "$RELAY_DEV2_IP/24"
}

# For the baselines without a relay hop: the relay namespace becomes a plain router between the device's and the
# connector's subnets (still no route into corp).
netns4_route_through_relay() {
  in_ns "$NS_RELAY" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$NS_DEVICE" route add 10.99.2.0/24 via "$RELAY_DEV_IP"
  ip -n "$NS_CONNECTOR" route add 10.99.1.0/24 via "$RELAY_CONN_IP"
}

# Routed mode (docs/ip-tunnel.md §6): corp routes a tunnel pool (or any CIDR) back to the connector.
netns4_corp_route() { ip -n "$NS_CORP" route add "$1" via "$CONNECTOR_CORP_IP"; } # CIDR

# netns4_resolv_conf NS: the path of NS's own resolv.conf, /etc/netns/NS/resolv.conf (made, empty), which
# `ip netns exec NS` binds over /etc/resolv.conf for every process it starts from then on; removed with NS.
netns4_resolv_conf() {
  mkdir -p "/etc/netns/$1"
  : >"/etc/netns/$1/resolv.conf"
  echo "/etc/netns/$1/resolv.conf"
}
