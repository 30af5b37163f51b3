#!/usr/bin/env bash
# `strait connector --tunnel-device --tunnel-masquerade` as a process, in a network namespace of its own: the nftables
# table `ip strait` is there once the connector is ready and gone after it exits on a signal; a connector killed with
# SIGKILL leaves it behind and the next start replaces it (docs/connector.md, "Running the IP tunnel").
# Usage: connector_tunnel_cli_test.sh <path-to-strait> <case>
#   cases: sigterm sigint crash
# Registered as ctest cli_connector_tunnel.<case> by tests/cli/CMakeLists.txt. Exit 77 (ctest: skipped) without root,
# `ip`, /dev/net/tun or `nft`, with the reason.
set -euo pipefail

strait=${1:?usage: connector_tunnel_cli_test.sh <strait> <case>}
case_name=${2:?usage: connector_tunnel_cli_test.sh <strait> <case>}
skip() { echo "SKIP [$case_name]: $*"; exit 77; }
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null 2>&1 || skip "no ip command (Debian package iproute2)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
nft=$(command -v nft 2>/dev/null || true)
for candidate in /usr/sbin/nft /sbin/nft; do
  if [ -z "$nft" ] && [ -x "$candidate" ]; then nft=$candidate; fi
done
[ -n "$nft" ] || skip "no nft (Debian package nftables)"

ns=strait-ct-$case_name-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-connector-tunnel-XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
ip netns add "$ns" || skip "cannot make a network namespace"
ip -n "$ns" link set lo up

show() { echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt; }
quiet() { "$@" >/dev/null 2>&1 || fail "$*"; }
quiet "$strait" keys init-root --out R
quiet "$strait" keys tls-ca --out CA
quiet "$strait" keys tenant --root R --tenant acme --days 30 --out T
quiet "$strait" keys issue --role connector --tenant-dir T --subject connector-1 --hours 1 --ca CA --out ID
printf 'version = 1\n[[allow]]\ncidrs = ["10.20.0.0/16"]\nports = ["443"]\n' >policy.toml

# Starts the connector in the namespace and waits for its ready line.
start() {
  : >out.txt; : >err.txt  # before the fork: the loop below must not read the previous daemon's ready line
  ip netns exec "$ns" "$strait" connector --identity ID --policy policy.toml --direct-listen 127.0.0.1:0 \
    --tunnel-pool 100.96.0.0/24 --tunnel-device strait-c0 --tunnel-masquerade >out.txt 2>err.txt &
  daemon_pid=$!
  local i
  for i in $(seq 200); do
    if grep -q "^connector ready " out.txt; then return 0; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  show
  fail "no ready line"
}
# stop <signal> <expected exit status>
stop() {
  kill "-$1" "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [ "$rc" = "$2" ] || { show; fail "exit $rc after SIG$1, expected $2"; }
}
table_present() {
  ip netns exec "$ns" "$nft" list table ip strait >table.txt 2>&1 || { cat table.txt; fail "no table ip strait"; }
  grep -qF 'ip saddr 100.96.0.0/24 oifname != "strait-c0" masquerade' table.txt || { cat table.txt; fail "wrong rule"; }
}
table_gone() {
  if ip netns exec "$ns" "$nft" list table ip strait >table.txt 2>&1; then cat table.txt; fail "table ip strait left"; fi
}
expect_log() { grep -qF -- "$1" err.txt || { show; fail "'$1' not logged"; }; }

case "$case_name" in
sigterm | sigint)
  start
  table_present
  expect_log "ip_forwarding"
  expect_log "stale_table=none"
  [ "$(ip netns exec "$ns" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward not 1"
  if [ "$case_name" = sigterm ]; then stop TERM 0; else stop INT 0; fi
  table_gone
  expect_log "masquerade_removed"
  # Forwarding is left on at exit (other services may rely on it).
  [ "$(ip netns exec "$ns" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward turned off at exit"
  ;;
crash)
  start
  stop KILL 137
  table_present  # nothing could remove it
  start
  expect_log "stale_table=replaced"
  table_present
  stop TERM 0
  table_gone
  ;;
*) fail "unknown case $case_name" ;;
esac
echo "PASS [$case_name]"
