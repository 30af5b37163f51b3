#!/usr/bin/env bash
# What a new operator ran into (issue 8), as processes: `strait --version`, failed logins said on stderr (and
# rate-limited), relay names that do not resolve retried, listen addresses given by name, and daemons refusing to
# start on a credential peers would refuse; --log-level and --log-format (docs/logging.md).
# Usage: operator_cli_test.sh <path-to-strait> <case> <version>
#   cases: version connector-refused connector-refusals connector-unresolved device-refused listen-names
#          own-credential log-level log-json
# Registered as ctest cli_operator.<case> by tests/cli/CMakeLists.txt (<version> is CMake's PROJECT_VERSION). Each
# case works in its own mktemp directory; daemons listen on port 0 and are stopped with SIGTERM; every wait is
# bounded.
set -euo pipefail

strait=${1:?usage: operator_cli_test.sh <strait> <case> <version>}
case_name=${2:?usage: operator_cli_test.sh <strait> <case> <version>}
version=${3:?usage: operator_cli_test.sh <strait> <case> <version>}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-operator-cli-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
show() { local f; for f in "$@"; do echo "--- $f"; cat "$f"; done; }
quiet() { "$@" >/dev/null 2>keys.err || { cat keys.err; fail "$*"; }; }

# start <name> <args...>: runs `strait <args...>` in the background, stdout to <name>.out, stderr to <name>.err.
# The files are emptied here, before the fork: the child's own truncation comes later, and a wait_for in between
# would match the previous process's lines and signal this one before it has blocked its signals.
start() {
  local name=$1; shift
  : >"$name.out"; : >"$name.err"
  "$strait" "$@" >"$name.out" 2>"$name.err" &
  pids+=($!)
  last_pid=$!
}
# wait_for <pid> <file> <fixed string> [seconds]: until the string is in the file (fails if the process exits first
# or the time runs out).
wait_for() {
  local pid=$1 file=$2 text=$3 seconds=${4:-15} i
  for ((i = 0; i < seconds * 10; ++i)); do
    grep -qF -- "$text" "$file" && return 0
    kill -0 "$pid" 2>/dev/null || { show "${file%.*}.out" "${file%.*}.err"; fail "exited before '$text' in $file"; }
    sleep 0.1
  done
  show "${file%.*}.out" "${file%.*}.err"
  fail "no '$text' in $file after $seconds s"
}
stop() {  # stop <pid>: SIGTERM, expect exit 0
  local rc=0
  kill -TERM "$1"
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "exit $rc after SIGTERM"
}
count() { grep -cF -- "$2" "$1" || true; }

# Keys: a root, a tenant, a TLS CA; a relay with a certificate for 127.0.0.1 and localhost; a connector and a
# device of the tenant; all valid for an hour.
keys() {
  quiet "$strait" keys init-root --out R
  quiet "$strait" keys tls-ca --out CA
  quiet "$strait" keys tenant --root R --tenant acme --days 30 --out T
  quiet "$strait" keys issue --role relay --root R --subject relay-1 --hours 1 --tls-ca-dir CA --ip 127.0.0.1 \
    --name localhost --out RELAY
  quiet "$strait" keys issue --role connector --tenant-dir T --subject conn-1 --hours 1 --ca CA --out CONN
  quiet "$strait" keys issue --role device --tenant-dir T --subject dev-1 --hours 1 --ca CA --out DEV
  printf 'version = 1\n[[allow]]\ncidrs = ["10.20.0.0/16"]\nports = ["443"]\n' >policy.toml
}

case "$case_name" in
version)
  rc=0
  "$strait" --version >out.txt 2>err.txt || rc=$?
  [ "$rc" = 0 ] || { show out.txt err.txt; fail "--version exited $rc"; }
  [ "$(cat out.txt)" = "strait $version (protocol 1)" ] ||
    { show out.txt; fail "expected 'strait $version (protocol 1)'"; }
  ;;

connector-refused)
  # Nothing listens on port 1: the first refused connection is said at once, with its reason; then nothing more
  # for a minute, whatever the backoff (200 ms, doubling).
  keys
  start c connector --identity CONN --policy policy.toml --relay 127.0.0.1:1
  wait_for "$last_pid" c.out "connector ready id=conn-1"
  wait_for "$last_pid" c.err \
    'warn login_failed relay=127.0.0.1:1 reason=connect_failed detail="Connection refused" failures=1'
  sleep 3  # >= 4 more failed dials
  [ "$(count c.err " login_failed ")" = 1 ] || { show c.err; fail "expected one failed-login line in 3 s"; }
  stop "$last_pid"
  ;;

connector-refusals)
  # A real relay refusing three ways: a CA that did not sign the relay's certificate, a connector sent to the device
  # port, a connector of another root's tenant.
  keys
  quiet "$strait" keys tls-ca --out CA2
  quiet "$strait" keys issue --role connector --tenant-dir T --subject conn-2 --hours 1 --ca CA2 --out CONN-CA2
  quiet "$strait" keys init-root --out R2
  quiet "$strait" keys tenant --root R2 --tenant acme --days 30 --out T2
  quiet "$strait" keys issue --role connector --tenant-dir T2 --subject conn-3 --hours 1 --ca CA --out CONN-R2
  start relay relay --identity RELAY --device-listen 127.0.0.1:0 --connector-listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --threads 1 --drain-ms 100
  relay_pid=$last_pid
  wait_for "$relay_pid" relay.out "relay ready device="
  device_port=$(sed -n 's/.* device=\([0-9.:]*\) .*/\1/p' relay.out)
  connector_port=$(sed -n 's/.* connector=\([0-9.:]*\) .*/\1/p' relay.out)
  set -- CONN-CA2 "$connector_port" "reason=tls_error" \
         CONN "$device_port" "reason=peer_error code=wrong_role" \
         CONN-R2 "$connector_port" "reason=peer_error code=bad_credential"
  while [ $# -gt 0 ]; do
    start c connector --identity "$1" --policy policy.toml --relay "$2"
    wait_for "$last_pid" c.err " login_failed relay=$2 $3"
    stop "$last_pid"
    shift 3
  done
  # The good connector on the connector port logs in, and says nothing about failures.
  start c connector --identity CONN --policy policy.toml --relay "$connector_port"
  wait_for "$last_pid" c.out "connector link up relay=$connector_port"
  [ "$(count c.err "login_failed")" = 0 ] || { show c.err; fail "a failed login logged for a good login"; }
  stop "$last_pid"
  stop "$relay_pid"
  ;;

connector-unresolved)
  # A relay name that does not resolve is a failed login like any other (logged, retried), not an exit.
  keys
  start c connector --identity CONN --policy policy.toml --relay no-such-relay.invalid:4443
  wait_for "$last_pid" c.out "connector ready id=conn-1"
  wait_for "$last_pid" c.err " login_failed relay=no-such-relay.invalid:4443 reason=resolve_failed"
  sleep 1
  kill -0 "$last_pid" 2>/dev/null || { show c.err; fail "the connector exited"; }
  stop "$last_pid"
  ;;

device-refused)
  # The device said every failed dial (link_down); now the first at once, then at most one a minute.
  keys
  start d device --identity DEV --relay 127.0.0.1:1 --socks-listen 127.0.0.1:0
  wait_for "$last_pid" d.out "device ready socks="
  wait_for "$last_pid" d.err \
    'warn login_failed via=relay reason=connect_failed detail="Connection refused" failures=1'
  sleep 3
  [ "$(count d.err " login_failed ")" = 1 ] || { show d.err; fail "expected one failed-login line in 3 s"; }
  [ "$(count d.err " link_down ")" = 0 ] || { show d.err; fail "a link that never logged in said link_down"; }
  stop "$last_pid"
  ;;

listen-names)
  # HOST:PORT means a name too: "localhost" was refused ("bad IPv4 address in localhost:0").
  keys
  start relay relay --identity RELAY --device-listen localhost:0 --connector-listen localhost:0 \
    --metrics-listen localhost:0 --threads 1 --drain-ms 100
  wait_for "$last_pid" relay.out "relay ready device=127.0.0.1:"
  grep -q "connector=127.0.0.1:[0-9]* metrics=127.0.0.1:" relay.out || { show relay.out; fail "relay ports"; }
  relay_pid=$last_pid
  connector_port=$(sed -n 's/.* connector=127.0.0.1:\([0-9]*\) .*/\1/p' relay.out)
  # The relay by name too (its certificate carries "localhost").
  start c connector --identity CONN --policy policy.toml --relay "localhost:$connector_port" \
    --direct-listen localhost:0 --metrics-listen localhost:0
  wait_for "$last_pid" c.out "connector ready id=conn-1 direct=127.0.0.1:"
  wait_for "$last_pid" c.out "connector link up relay=127.0.0.1:$connector_port"
  stop "$last_pid"
  start d device --identity DEV --direct 127.0.0.1:1 --socks-listen localhost:0 --metrics-listen localhost:0
  wait_for "$last_pid" d.out "device ready socks=127.0.0.1:"
  stop "$last_pid"
  stop "$relay_pid"
  ;;

own-credential)
  # Each daemon checks its own credential at start: one that peers would refuse (here root.pub is another root's)
  # stops it with one line and nothing started.
  keys
  quiet "$strait" keys init-root --out R2
  for id in RELAY CONN DEV; do cp -r "$id" "$id-BAD"; cp R2/root.pub "$id-BAD/root.pub"; done
  expect_refused() {  # expect_refused <role> <reason> <args...>
    local role=$1 reason=$2 rc=0; shift 2
    timeout 30 "$strait" "$role" "$@" >out.txt 2>err.txt || rc=$?
    [ "$rc" = 1 ] || { show out.txt err.txt; fail "$role: expected exit 1, got $rc"; }
    grep -qF "strait: $role: identity $role-id: own credential refused ($reason)" err.txt ||
      { show err.txt; fail "$role: no refusal line"; }
    grep -qF "root.pub" err.txt || { show err.txt; fail "$role: the line does not point at root.pub"; }
    [ ! -s out.txt ] || { show out.txt; fail "$role: something started"; }
  }
  mv RELAY-BAD relay-id
  expect_refused relay credential_bad_signature --identity relay-id --device-listen 127.0.0.1:0 \
    --connector-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --threads 1
  mv CONN-BAD connector-id
  expect_refused connector tenant_cert_bad_signature --identity connector-id --policy policy.toml --relay 127.0.0.1:1
  mv DEV-BAD device-id
  expect_refused device tenant_cert_bad_signature --identity device-id --relay 127.0.0.1:1 --socks-listen 127.0.0.1:0
  # A fresh one-hour credential is short on purpose: no warning (that comes in its last quarter; the 24 h
  # window of long-lived ones is tests/crypto/keystore_test.cc). The good bundles start.
  start d device --identity DEV --relay 127.0.0.1:1 --socks-listen 127.0.0.1:0
  wait_for "$last_pid" d.out "device ready socks="
  [ "$(count d.err "warning")" = 0 ] || { show d.err; fail "a warning for a fresh one-hour credential"; }
  stop "$last_pid"
  ;;

log-level)
  # --log-level warn (and the log_level key) hide info events; warn events still come. Without it, info shows.
  keys
  start c connector --identity CONN --policy policy.toml --relay 127.0.0.1:1
  wait_for "$last_pid" c.err " warn login_failed relay=127.0.0.1:1 "
  stop "$last_pid"
  [ "$(count c.err " info stopped ")" = 1 ] || { show c.err; fail "default level: no info stopped line"; }
  start c connector --identity CONN --policy policy.toml --relay 127.0.0.1:1 --log-level warn
  wait_for "$last_pid" c.err " warn login_failed relay=127.0.0.1:1 "
  stop "$last_pid"
  [ "$(count c.err " info ")" = 0 ] || { show c.err; fail "--log-level warn: an info line"; }
  printf 'log_level = "error"\n' >quiet.toml
  start c connector --identity CONN --policy policy.toml --relay 127.0.0.1:1 --config quiet.toml
  wait_for "$last_pid" c.out "connector ready id=conn-1"
  sleep 1
  stop "$last_pid"
  [ ! -s c.err ] || { show c.err; fail "log_level = error: a line below error"; }
  # A bad level is a usage error (flag) or a config error (key), before anything starts.
  rc=0; "$strait" connector --identity CONN --policy policy.toml --relay 127.0.0.1:1 --log-level loud \
    >out.txt 2>err.txt || rc=$?
  [ "$rc" = 2 ] || { show err.txt; fail "--log-level loud: expected exit 2, got $rc"; }
  printf 'log_format = "xml"\n' >bad.toml
  rc=0; "$strait" relay --identity RELAY --config bad.toml >out.txt 2>err.txt || rc=$?
  [ "$rc" = 1 ] || { show err.txt; fail "log_format = xml: expected exit 1, got $rc"; }
  grep -qF "'log_format' must be one of text, json" err.txt || { show err.txt; fail "no config error line"; }
  ;;

log-json)
  # --log-format json: every stderr line of a relay, a connector and a device is one JSON object with ts, level and
  # event (and the connector's relay link_up is there with its fields on both sides).
  keys
  start relay relay --identity RELAY --device-listen 127.0.0.1:0 --connector-listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --threads 1 --drain-ms 100 --log-format json
  relay_pid=$last_pid
  wait_for "$relay_pid" relay.out "relay ready device="
  connector_port=$(sed -n 's/.* connector=\([0-9.:]*\) .*/\1/p' relay.out)
  start c connector --identity CONN --policy policy.toml --relay "$connector_port" --log-format json
  wait_for "$last_pid" c.out "connector link up relay=$connector_port"
  wait_for "$relay_pid" relay.err '"event":"link_up","role":"connector"'
  stop "$last_pid"
  start d device --identity DEV --relay 127.0.0.1:1 --socks-listen 127.0.0.1:0 --log-format json
  wait_for "$last_pid" d.err '"event":"login_failed","via":"relay"'
  stop "$last_pid"
  stop "$relay_pid"
  python3 - relay.err c.err d.err <<'PY' || { show relay.err c.err d.err; fail "a stderr line is not a JSON object"; }
import json, sys
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) >= 2, (path, lines)
    for line in lines:
        o = json.loads(line)
        assert isinstance(o, dict) and list(o)[:3] == ["ts", "level", "event"], line
        assert o["level"] in ("debug", "info", "warn", "error"), line
ups = [json.loads(l) for l in open("c.err") if '"link_up"' in l]
assert len(ups) == 1 and ups[0]["relay"].startswith("127.0.0.1:"), ups
PY
  ;;

*) fail "unknown case $case_name" ;;
esac
echo "PASS [$case_name]"
