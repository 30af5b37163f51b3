#!/usr/bin/env bash
# `strait {device,connector,relay} renew --identity DIR` as processes (docs/control-plane.md §6.5, §6.6).
#   usage      no --identity (exit 2); a directory without control.json (exit 1, one line, nothing written)
#   roundtrip  against a real strait-control (init + serve on a free port): a relay, a connector and a device
#              enrolled with the enrol commands, then each renews right after enrolling (with the default
#              min_renew_interval_s): stdout "<kind> renewed id=... not_after=...", a new credential (and a relay's
#              new tls.crt), the same keys and root; renewing again at once is refused (renew-too-soon), files
#              untouched; then, served again with min_renew_interval_s = 0, the device renews with its renewed
#              credential; a locked device is refused (device-locked) and renews again once unlocked; a revoked one
#              is refused (device-revoked), one line, exit 1, its files untouched; a directory of another kind is
#              refused
# Usage: renew_cli_test.sh <strait> <case> [<strait-control>]
# Registered as ctest cli_renew.<case> by tests/cli/CMakeLists.txt.
set -euo pipefail

strait=${1:?usage: renew_cli_test.sh <strait> <case> [<strait-control>]}
case_name=${2:?usage: renew_cli_test.sh <strait> <case> [<strait-control>]}
control=${3:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-renew-cli-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
skip() { echo "SKIP [$case_name]: $*"; exit 77; }

# expect_rc <rc> <stderr-substring> <args...>: runs strait, checks the exit code, one line of stderr, empty stdout.
expect_rc() {
  local want=$1 text=$2 rc=0
  shift 2
  "$strait" "$@" >out 2>err || rc=$?
  [[ $rc == "$want" ]] || { cat err; fail "strait $*: exit $rc, want $want"; }
  grep -qF -- "$text" err || { cat err; fail "strait $*: stderr lacks: $text"; }
  [[ ! -s out ]] || { cat out; fail "strait $*: wrote to stdout"; }
}

# point_at_serve <dir>: every bundle names init's public URL (https://localhost:8443), and each renewal writes it
# again; this serve listens on a port of its own (a directory pointed at an earlier serve is pointed again).
point_at_serve() {
  sed -E -i "s#\"https://(localhost:8443|127\.0\.0\.1:[0-9]+)\"#\"https://127.0.0.1:$cp_port\"#" "$1/control.json"
  grep -qF "https://127.0.0.1:$cp_port" "$1/control.json" || fail "no url to point at serve: $(cat "$1/control.json")"
}

# renew_ok <kind> <dir> <id>: renews, checks stdout, and that the credential changed while keys and root did not.
renew_ok() {
  local kind=$1 dir=$2 id=$3 before keys rc=0
  point_at_serve "$dir"
  before=$(sha256sum <"$dir/credential")
  keys=$(cat "$dir/signing.key" "$dir/root.pub" | sha256sum)
  "$strait" "$kind" renew --identity "$dir" >out 2>err || rc=$?
  [[ $rc == 0 ]] || { cat err; fail "$kind renew: exit $rc"; }
  grep -qE "^$kind renewed id=$id not_after=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$" out ||
    { cat out err; fail "$kind renew stdout"; }
  [[ $(sha256sum <"$dir/credential") != "$before" ]] || fail "$kind renew: the credential did not change"
  [[ $(cat "$dir/signing.key" "$dir/root.pub" | sha256sum) == "$keys" ]] || fail "$kind renew: keys or root changed"
  [[ $(stat -c %a "$dir/signing.key") == 600 ]] || fail "$kind renew: signing.key is not 0600"
}

case $case_name in
  usage)
    expect_rc 2 "--identity is required" device renew
    mkdir empty
    expect_rc 1 "strait: connector renew: " connector renew --identity empty
    grep -qF "not enrolled with strait-control" err || { cat err; fail "no 'not enrolled'"; }
    [[ $(wc -l <err) == 1 ]] || { cat err; fail "more than one line on stderr"; }
    [[ -z $(ls -A empty) ]] || fail "a refused renew wrote files"
    ;;
  roundtrip)
    [[ -x $control ]] || skip "no strait-control"
    command -v curl >/dev/null || skip "no curl"
    "$control" init --data cp --name localhost --ip 127.0.0.1 >init.out || fail "init"
    op_key=$(sed -n 's/^operator_api_key=\([^ ]*\).*/\1/p' init.out)
    [[ -n $op_key ]] || fail "no operator key"
    # serve [args...]: starts strait-control serve on a free port and points CP and cp_port at it.
    serve() {
      : >serve.out
      "$control" serve --data cp --listen 127.0.0.1:0 "$@" >serve.out 2>serve.err &
      pids+=($!)
      for _ in $(seq 100); do grep -q "listen=" serve.out 2>/dev/null && break; sleep 0.1; done
      cp_addr=$(sed -n 's/.*listen=\([^ ]*\).*/\1/p' serve.out | head -1)
      [[ -n $cp_addr ]] || fail "serve did not say where it listens: $(cat serve.err)"
      CP=https://$cp_addr
      cp_port=${cp_addr##*:}
    }
    serve
    ca=cp/tls-ca/ca.pem
    api() { curl -sS --cacert "$ca" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }
    code_of() { sed -n 's/.*"code":"\([^"]*\)".*/\1/p'; }

    api "$op_key" "$CP/v1/tenants" -d '{"id":"acme","display_name":"Acme","seats":5}' >/dev/null
    api "$op_key" "$CP/v1/relays" -d '{"id":"relay-1","display_name":"Relay 1","device_endpoint":"127.0.0.1:14443",
      "connector_endpoint":"127.0.0.1:13101","tls_names":["localhost"],"tls_ips":["127.0.0.1"]}' >/dev/null
    code=$(api "$op_key" "$CP/v1/relays/relay-1/activations" -d '{}' | code_of)
    "$strait" relay enroll --url "$CP" --code "$code" --ca "$ca" --out relay >enroll.out 2>&1 ||
      fail "relay enroll: $(cat enroll.out)"
    admin=$(api "$op_key" "$CP/v1/tenants/acme/api-keys" -d '{"name":"admin","role":"admin"}' |
            sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    [[ -n $admin ]] || fail "no admin key"
    api "$admin" "$CP/v1/tenants/acme/connectors" -d '{"id":"dc-east","display_name":"DC east"}' >/dev/null
    code=$(api "$admin" "$CP/v1/tenants/acme/activations" -d '{"kind":"connector","connector":"dc-east"}' | code_of)
    "$strait" connector enroll --url "$CP" --code "$code" --ca "$ca" --out conn >enroll.out 2>&1 ||
      fail "connector enroll: $(cat enroll.out)"
    user=$(api "$admin" "$CP/v1/tenants/acme/users" -d '{"email":"ann@acme.example","display_name":"Ann"}' |
           sed -n 's/.*"id":"\(u-[a-z2-7]*\)".*/\1/p')
    code=$(api "$admin" "$CP/v1/tenants/acme/activations" -d "{\"kind\":\"device\",\"user\":\"$user\"}" | code_of)
    "$strait" device activate --url "$CP" --code "$code" --os linux --ca "$ca" --out dev >enroll.out 2>&1 ||
      fail "device activate: $(cat enroll.out)"
    dev_id=$(sed -n 's/^device activated id=\([^ ]*\) .*/\1/p' enroll.out)
    [[ -n $dev_id ]] || fail "no device id: $(cat enroll.out)"

    tls_before=$(sha256sum <relay/tls.crt)
    renew_ok relay relay relay-1
    [[ $(sha256sum <relay/tls.crt) != "$tls_before" ]] || fail "relay renew: tls.crt did not change"
    renew_ok connector conn dc-east
    point_at_serve conn
    expect_rc 1 "conn holds a connector's identity, not a device's" device renew --identity conn
    renew_ok device dev "$dev_id"
    # At once again: a subject gets at most two credentials per min_renew_interval_s (60 s by default).
    point_at_serve dev
    before=$(find dev -type f -exec sha256sum {} + | sort)
    expect_rc 1 "strait: device renew: refused (renew-too-soon): " device renew --identity dev
    [[ $(find dev -type f -exec sha256sum {} + | sort) == "$before" ]] || fail "a refused renew changed the files"

    # The rest renews back to back: served again without the rate bound.
    kill -TERM "${pids[-1]}"
    wait "${pids[-1]}" || fail "serve did not stop cleanly"
    echo 'min_renew_interval_s = 0' >no-interval.toml
    serve --config no-interval.toml
    renew_ok device dev "$dev_id"  # with the renewed credential

    api "$admin" "$CP/v1/tenants/acme/devices/$dev_id/lock" -d '{}' >/dev/null
    point_at_serve dev
    expect_rc 1 "strait: device renew: refused (device-locked): " device renew --identity dev
    api "$admin" "$CP/v1/tenants/acme/devices/$dev_id/unlock" -d '{}' >/dev/null
    renew_ok device dev "$dev_id"
    api "$admin" "$CP/v1/tenants/acme/devices/$dev_id/revoke" -d '{}' >/dev/null
    point_at_serve dev
    before=$(find dev -type f -exec sha256sum {} + | sort)
    expect_rc 1 "strait: device renew: refused (device-revoked): " device renew --identity dev
    [[ $(wc -l <err) == 1 ]] || { cat err; fail "more than one line on stderr"; }
    [[ $(find dev -type f -exec sha256sum {} + | sort) == "$before" ]] || fail "a refused renew changed the files"
    ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac
echo "ok [$case_name]"
