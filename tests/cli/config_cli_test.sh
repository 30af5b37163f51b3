#!/usr/bin/env bash
# `strait <command> --config FILE` as a process, for relay, connector and device.
# Usage: config_cli_test.sh <path-to-strait> <command> <case> <source-dir>
#   commands: relay connector device
#   cases:    good override unknown type missing unreadable example
# Registered as ctest cli_config.<command>.<case> by tests/cli/CMakeLists.txt. Each case works in its own mktemp
# directory; daemons listen on port 0 and are stopped with SIGTERM.
set -euo pipefail

strait=${1:?usage: config_cli_test.sh <strait> <command> <case> <source-dir>}
command=${2:?usage: config_cli_test.sh <strait> <command> <case> <source-dir>}
case_name=${3:?usage: config_cli_test.sh <strait> <command> <case> <source-dir>}
src=${4:?usage: config_cli_test.sh <strait> <command> <case> <source-dir>}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-config-cli-XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

fail() { echo "FAIL [$command.$case_name]: $*" >&2; exit 1; }
as_user=()  # a prefix that runs a command as an ordinary user (set where a case needs one)
show() { echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt; }
expect_rc() {  # expect_rc <rc> <cmd...>: stdout to out.txt, stderr to err.txt
  local want=$1; shift
  local rc=0
  timeout 30 "$@" >out.txt 2>err.txt || rc=$?
  [ "$rc" = "$want" ] || { show; fail "expected exit $want, got $rc: $*"; }
}
expect_in() {  # expect_in <file> <fixed string>
  grep -qF -- "$2" "$1" || { echo "--- $1"; cat "$1"; fail "'$2' not in $1"; }
}

# A config error: exit 1, exactly one line on stderr holding <message>, nothing on stdout (nothing started).
expect_config_error() {  # expect_config_error <message> <args after the command...>
  local message=$1; shift
  expect_rc 1 "${as_user[@]}" "$strait" "$command" "$@"
  expect_in err.txt "strait: $command: $message"
  [ "$(wc -l <err.txt)" = 1 ] || { show; fail "expected one line on stderr"; }
  [ ! -s out.txt ] || { show; fail "expected nothing on stdout"; }
}

# Starts the daemon, waits for a stdout line starting with <prefix>, stops it with SIGTERM and expects exit 0.
# The ready line is left in ready.txt.
run_until_ready() {  # run_until_ready <prefix> <args after the command...>
  local prefix=$1; shift
  "$strait" "$command" "$@" >out.txt 2>err.txt &
  daemon_pid=$!
  local i
  for i in $(seq 200); do
    if grep -q "^$prefix" out.txt; then break; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep "^$prefix" out.txt >ready.txt || { kill -KILL "$daemon_pid" 2>/dev/null || true; show; fail "no '$prefix' line"; }
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [ "$rc" = 0 ] || { show; fail "exit $rc after SIGTERM"; }
}

# The identity bundle (ID/) each command needs, made by `strait keys`.
expect_rc 0 "$strait" keys init-root --out R
expect_rc 0 "$strait" keys tls-ca --out CA
case "$command" in
relay)
  expect_rc 0 "$strait" keys issue --role relay --root R --subject relay-1 --hours 1 --tls-ca-dir CA \
    --ip 127.0.0.1 --out ID
  ready_prefix="relay ready device=127.0.0.1:"
  ;;
connector | device)
  expect_rc 0 "$strait" keys tenant --root R --tenant acme --days 30 --out T
  expect_rc 0 "$strait" keys issue --role "$command" --tenant-dir T --subject "$command-1" --hours 1 --ca CA \
    --out ID
  printf 'version = 1\n[[allow]]\ncidrs = ["10.20.0.0/16"]\nports = ["443"]\n' >policy.toml
  ready_prefix="connector ready id=connector-1 direct=127.0.0.1:"
  [ "$command" = device ] && ready_prefix="device ready socks=127.0.0.1:"
  ;;
*) fail "unknown command $command" ;;
esac

# A config that starts the command on its own (loopback, port 0), one key a line.
good_lines() {
  case "$command" in
  relay)
    printf 'identity = "%s"\n' "$work/ID"
    printf 'device_listen = "127.0.0.1:0"\nconnector_listen = "127.0.0.1:0"\nmetrics_listen = "127.0.0.1:0"\n'
    printf 'threads = 1\ndrain_ms = 100\nmax_links_per_shard = 100\n'
    ;;
  connector)
    printf 'identity = "%s"\npolicy = "%s"\n' "$work/ID" "$work/policy.toml"
    printf 'direct_listen = "127.0.0.1:0"\nresolver_threads = 1\nopen_timeout_ms = 5000\n'
    ;;
  device)
    printf 'identity = "%s"\n' "$work/ID"
    printf 'direct = "127.0.0.1:1"\nsocks_listen = "127.0.0.1:0"\npreferred_connector = "connector-1"\n'
    ;;
  esac
}
# write_config <file> [<key> <line>]: the good config, with <key>'s line replaced by <line> (appended last).
write_config() {
  local file=$1 key=${2:-} line=${3:-}
  if [ -n "$key" ]; then
    good_lines | grep -v "^$key = " >"$file" || true
    echo "$line" >>"$file"
  else
    good_lines >"$file"
  fi
}
last_line() { wc -l <"$1" | tr -d ' '; }

case "$case_name" in
good)
  # Every setting comes from the file: without it there is no identity and nothing starts.
  write_config good.toml
  run_until_ready "$ready_prefix" --config good.toml
  [ "$command" != device ] || ! grep -q ':1080$' ready.txt || fail "socks_listen from the file not applied"
  ;;

override)
  # The file names an identity that does not exist; the flag's wins. The file's other keys still apply (the
  # ready line shows the file's loopback port 0 address, not the default).
  write_config over.toml identity "identity = \"$work/no-such-identity\""
  expect_rc 1 "$strait" "$command" --config over.toml
  expect_in err.txt "no-such-identity"
  extra=()
  if [ "$command" = device ]; then
    # An array: the file's pins name a missing file; --pin-connector replaces them.
    echo "pinned_connectors = [\"$work/missing.pub\"]" >>over.toml
    "$strait" keys issue --role connector --tenant-dir T --subject connector-1 --hours 1 --ca CA --out C \
      >/dev/null 2>&1 || fail "keys issue connector"
    extra=(--pin-connector C/noise.pub)
  fi
  run_until_ready "$ready_prefix" --config over.toml --identity ID "${extra[@]}"
  [ "$command" != device ] || ! grep -q ':1080$' ready.txt || fail "socks_listen from the file not applied"
  ;;

unknown)
  # A typo of a real key, on the file's last line.
  typo=device_lisen
  [ "$command" = connector ] && typo=relay           # the key is `relays`
  [ "$command" = device ] && typo=relay_adress
  write_config typo.toml
  echo "$typo = \"127.0.0.1:3101\"" >>typo.toml
  message="config typo.toml:$(last_line typo.toml): unknown key '$typo'"
  expect_config_error "$message" --config typo.toml
  # Also when flags are given.
  expect_config_error "$message" --config typo.toml --identity ID
  ;;

type)
  # <key> <bad line> <expected message> triples: a string for an integer, a negative count, an out-of-range
  # port, a scalar for an array, a number for a string.
  case "$command" in
  relay)
    set -- threads 'threads = "four"' "'threads' must be an integer in 0..64, got \"four\"" \
           drain_ms 'drain_ms = -5' "'drain_ms' must be an integer in 0..2147483647, got -5" \
           max_links_per_shard 'max_links_per_shard = 0' "'max_links_per_shard' must be an integer in 1..2147483647, got 0" \
           device_listen 'device_listen = "127.0.0.1:70000"' \
           "'device_listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1:70000\"" \
           identity 'identity = 7' "'identity' must be a string, got an integer"
    ;;
  connector)
    set -- open_timeout_ms 'open_timeout_ms = "10s"' "'open_timeout_ms' must be an integer in 1..2147483647, got \"10s\"" \
           resolver_threads 'resolver_threads = -1' "'resolver_threads' must be an integer in 1..64, got -1" \
           relays 'relays = "127.0.0.1:3101"' \
           "'relays' must be an array of strings HOST:PORT (port 0..65535), got \"127.0.0.1:3101\"" \
           direct_listen 'direct_listen = "127.0.0.1:99999"' \
           "'direct_listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1:99999\""
    ;;
  device)
    set -- socks_listen 'socks_listen = "127.0.0.1:65536"' \
           "'socks_listen' must be a string HOST:PORT (port 0..65535), got \"127.0.0.1:65536\"" \
           pinned_connectors 'pinned_connectors = "a.pub"' "'pinned_connectors' must be an array of strings, got \"a.pub\"" \
           identity 'identity = 7' "'identity' must be a string, got an integer" \
           direct 'direct = true' "'direct' must be a string HOST:PORT (port 0..65535), got a boolean"
    ;;
  esac
  while [ $# -gt 0 ]; do
    write_config bad.toml "$1" "$2"
    expect_config_error "config bad.toml:$(last_line bad.toml): $3" --config bad.toml
    shift 3
  done
  ;;

missing)
  expect_config_error "config $work/absent.toml: cannot read: No such file or directory" \
    --config "$work/absent.toml" --identity ID
  ;;

unreadable)
  mkdir adir
  expect_config_error "config adir: cannot read: Is a directory" --config adir --identity ID
  # Root reads a file whatever its mode, and CI runs as root: then the check runs as nobody, in a directory nobody
  # may enter, so that only the file's mode stands in the way.
  write_config locked.toml
  chmod 000 locked.toml
  if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to run this case as root"
    chmod 755 "$work"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  fi
  expect_config_error "config locked.toml: cannot read: Permission denied" --config locked.toml
  as_user=()
  ;;

example)
  # docs/examples/<command>.toml holds exactly the keys the command reads (every key it accepts, and no other),
  # each documented in docs/<command>.md; it loads, and with flags for the machine-specific values it starts.
  example=$src/docs/examples/$command.toml
  [ -f "$example" ] || fail "no $example"
  grep -oE '^[a-z_]+ =' "$example" | sed 's/ =$//' | sort >example_keys.txt
  # The command's own readers, and the shared logging keys (cli/log_flags.h) when it reads them.
  { grep -oE 'cfg\.(Str|Strs|Int|OneOf|Bool)\("[a-z_]+"' "$src/cli/${command}_command.cc"
    if grep -qF 'ReadLogConfig(cfg' "$src/cli/${command}_command.cc"; then
      grep -oE 'cfg\.(Str|Strs|Int|OneOf|Bool)\("[a-z_]+"' "$src/cli/log_flags.h"
    fi
  } | sed 's/.*("//; s/"$//' | sort >accepted_keys.txt
  [ -s accepted_keys.txt ] || fail "no keys found in cli/${command}_command.cc"
  diff accepted_keys.txt example_keys.txt || fail "$example: keys differ from cli/${command}_command.cc"
  while read -r key; do
    grep -qF -- "\`$key\`" "$src/docs/$command.md" || fail "docs/$command.md does not document \`$key\`"
  done <accepted_keys.txt
  case "$command" in
  relay)
    run_until_ready "$ready_prefix" --config "$example" --identity ID --device-listen 127.0.0.1:0 \
      --connector-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --threads 1 --drain-ms 100
    ;;
  connector)
    run_until_ready "$ready_prefix" --config "$example" --identity ID --policy policy.toml --relay 127.0.0.1:1 \
      --direct-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0
    ;;
  device)
    run_until_ready "$ready_prefix" --config "$example" --identity ID --relay 127.0.0.1:1 --direct 127.0.0.1:1 \
      --socks-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --pin-connector ID/noise.pub --forward 0=intranet.corp:80
    ;;
  esac
  ;;

*) fail "unknown case $case_name" ;;
esac
echo "PASS [$command.$case_name]"
