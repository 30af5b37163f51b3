#!/usr/bin/env bash
# `strait-control init` and `serve` as processes (docs/control-plane.md §2), spoken to with curl over HTTPS.
# Usage: control_cli_test.sh <strait-control> <strait> <case> <docs/examples dir>
#   init         the files and their modes; the operator key is printed once and works; nothing secret in the store
#   reinit       a second init refuses (exit 1) and changes nothing
#   incomplete   a store without initialised_at (a crashed init) is refused by serve and by init
#   restart      a write acknowledged with 201 survives SIGKILL of the server right after it
#   import-root  init --import-root takes `strait keys init-root`'s files; their public key is the store's root
#   config       serve --config: a good file applies, an unknown key exits 1 with one line
#   locked       a second serve on the same directory refuses while the first runs
#   metrics      --metrics-listen: /metrics counts answers by route and status class, problems by type and refusals
#                by reason; a non-loopback address is refused before anything starts
# Registered as ctest control_cli.<case> by tests/control-plane/CMakeLists.txt. Each case works in its own mktemp
# directory; servers listen on 127.0.0.1:0 and are stopped; every wait is bounded.
set -euo pipefail

cp_bin=${1:?usage: control_cli_test.sh <strait-control> <strait> <case>}
strait=${2:?usage}
case_name=${3:?usage}
examples=${4:?usage}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-control-cli-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; for f in *.out *.err; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }
mode() { stat -c %a "$1"; }

init() {  # init <dir> [args...]
  local dir=$1; shift
  "$cp_bin" init --data "$dir" --name localhost --ip 127.0.0.1 "$@" >init.out 2>init.err || fail "init exited $?"
  key=$(sed -n 's/^operator_api_key=\(sk_[a-z2-7_]*\).*/\1/p' init.out)
  [ -n "$key" ] || fail "no operator_api_key line"
}
serve() {  # serve <dir> [args...]: starts, waits for the ready line, sets $pid and $addr
  local dir=$1; shift
  "$cp_bin" serve --data "$dir" --listen 127.0.0.1:0 "$@" >serve.out 2>serve.err &
  pid=$!
  pids+=("$pid")
  local i
  for ((i = 0; i < 150; ++i)); do
    addr=$(sed -n 's/^control ready listen=\([0-9.:]*\).*/\1/p' serve.out)
    [ -n "$addr" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "serve exited before its ready line"
    sleep 0.1
  done
  fail "no ready line after 15 s"
}
api() {  # api <method> <path> [body]: prints the body, then the status on the last line
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --cacert D/tls-ca/ca.pem --resolve "localhost:${addr##*:}:127.0.0.1" -X "$method"
              -H "Authorization: Bearer $key" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  curl "${args[@]}" "https://localhost:${addr##*:}$path"
}
status_of() { tail -n1 <<<"$1"; }

case "$case_name" in
  init)
    init D
    [ "$(mode D)" = 700 ] || fail "D is $(mode D), expected 700"
    for f in D/secretbox.key D/root/root.key D/tls-ca/ca.key D/tls/key.pem D/control.db; do
      [ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f"), expected 600"
    done
    grep -q '^control init data=D root=ed25519:' init.out || fail "summary line"
    [ "$(grep -c 'sk_' init.out)" = 1 ] || fail "the key must be printed exactly once"
    secret=${key:16}
    if grep -rqaF "$secret" D; then fail "the key's secret is stored in clear"; fi
    serve D
    r=$(api GET /v1/tenants)
    [ "$(status_of "$r")" = 200 ] || fail "GET /v1/tenants with the printed key: $r"
    bad=$(curl -sS --cacert D/tls-ca/ca.pem --resolve "localhost:${addr##*:}:127.0.0.1" -o /dev/null -w '%{http_code}' \
          "https://localhost:${addr##*:}/v1/tenants")
    [ "$bad" = 401 ] || fail "no key: $bad"
    # The certificate is for the names given to init, under the CA it wrote.
    h=$(curl -sS --cacert D/tls-ca/ca.pem "https://127.0.0.1:${addr##*:}/v1/health")
    grep -q '"status":"ok"' <<<"$h" || fail "health by IP: $h"
    kill -TERM "$pid"; wait "$pid" || fail "serve exit $? after SIGTERM"
    ;;
  reinit)
    init D
    before=$(find D -type f -exec sha256sum {} + | sort)
    if "$cp_bin" init --data D --name localhost >again.out 2>again.err; then fail "a second init succeeded"; fi
    grep -q 'already initialised' again.err || fail "reason: $(cat again.err)"
    after=$(find D -type f -exec sha256sum {} + | sort)
    [ "$before" = "$after" ] || fail "the second init changed files"
    mkdir E && touch E/something
    if "$cp_bin" init --data E --name localhost >e.out 2>e.err; then fail "init into a non-empty directory"; fi
    grep -q 'not empty' e.err || fail "reason: $(cat e.err)"
    ;;
  incomplete)
    init D
    python3 - <<'PY' || fail "could not edit the store"
import sqlite3
c = sqlite3.connect("D/control.db")
c.execute("DELETE FROM meta WHERE key = 'initialised_at'")
c.commit()
PY
    if "$cp_bin" serve --data D --listen 127.0.0.1:0 >s.out 2>s.err; then fail "serve ran on an incomplete store"; fi
    grep -q 'incomplete init' s.err || fail "reason: $(cat s.err)"
    if "$cp_bin" init --data D --name localhost >i.out 2>i.err; then fail "init over an incomplete store"; fi
    ;;
  restart)
    init D
    serve D
    r=$(api POST /v1/tenants '{"id":"acme","display_name":"Acme","seats":5}')
    [ "$(status_of "$r")" = 201 ] || fail "create: $r"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
    serve D
    r=$(api GET /v1/tenants/acme)
    [ "$(status_of "$r")" = 200 ] || fail "after SIGKILL and restart: $r"
    r=$(api GET '/v1/audit?action=tenant.create')
    grep -q '"acme"' <<<"$r" || fail "audit after restart: $r"
    kill -TERM "$pid"; wait "$pid" || fail "serve exit $?"
    ;;
  import-root)
    "$strait" keys init-root --out R >root.out 2>root.err || fail "strait keys init-root: $(cat root.err)"
    init D --import-root R
    cmp R/root.pub D/root/root.pub || fail "root.pub differs"
    cmp R/root.key D/root/root.key || fail "root.key differs"
    fp=$(grep -o 'ed25519:[0-9a-f]*' root.out | head -1)
    [ -n "$fp" ] || fail "no fingerprint in: $(cat root.out)"
    grep -qF "root=$fp" init.out || fail "init's root is not $fp: $(cat init.out)"
    # A mismatched pair is refused.
    "$strait" keys init-root --out R2 >/dev/null 2>&1
    mkdir Rx && cp R/root.key Rx/ && cp R2/root.pub Rx/
    if "$cp_bin" init --data D2 --name localhost --import-root Rx >x.out 2>x.err; then fail "a mismatched root"; fi
    grep -q 'not the public key' x.err || fail "reason: $(cat x.err)"
    ;;
  config)
    init D
    printf 'threads = 1\nstore_threads = 2\nrate_per_key = 1\nburst_per_key = 2\n' >good.toml
    serve D --config good.toml
    codes=""
    for _ in 1 2 3 4; do codes+="$(status_of "$(api GET /v1/tenants)") "; done
    grep -q 429 <<<"$codes" || fail "rate_per_key from the file did not apply: $codes"
    kill -TERM "$pid"; wait "$pid" || true
    # The shipped example holds every key at its default and loads.
    serve D --config "$examples/control.toml"
    kill -TERM "$pid"; wait "$pid" || fail "serve with the example config: exit $?"
    printf 'treads = 1\n' >bad.toml
    if "$cp_bin" serve --data D --listen 127.0.0.1:0 --config bad.toml >b.out 2>b.err; then fail "unknown key accepted"; fi
    grep -q "treads" b.err || fail "reason: $(cat b.err)"
    printf 'min_renew_interval_s = 3601\n' >range.toml
    if "$cp_bin" serve --data D --listen 127.0.0.1:0 --config range.toml >r.out 2>r.err; then fail "3601 accepted"; fi
    grep -q "min_renew_interval_s" r.err || fail "reason: $(cat r.err)"
    ;;
  locked)
    init D
    serve D
    first=$pid
    if "$cp_bin" serve --data D --listen 127.0.0.1:0 >l.out 2>l.err; then fail "a second serve ran"; fi
    grep -q 'in use' l.err || fail "reason: $(cat l.err)"
    kill -TERM "$first"; wait "$first" || true
    ;;
  metrics)
    init D
    if "$cp_bin" serve --data D --listen 127.0.0.1:0 --metrics-listen 0.0.0.0:0 >m.out 2>m.err; then
      fail "a non-loopback metrics address was taken"
    fi
    grep -q 'must be a loopback address' m.err || fail "reason: $(cat m.err)"
    serve D --metrics-listen 127.0.0.1:0
    maddr=$(sed -n 's/^control ready .* metrics=\([0-9.:]*\).*/\1/p' serve.out)
    [ -n "$maddr" ] || fail "no metrics= in the ready line"
    for _ in 1 2 3; do r=$(api GET /v1/tenants); [ "$(status_of "$r")" = 200 ] || fail "GET /v1/tenants: $r"; done
    r=$(api GET /v1/no-such-route); [ "$(status_of "$r")" = 404 ] || fail "no route: $r"
    key=sk_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    r=$(api GET /v1/tenants); [ "$(status_of "$r")" = 401 ] || fail "unknown key: $r"
    m=$(curl -sS --max-time 10 "http://$maddr/metrics") || fail "no /metrics"
    want() { grep -qxF "$1" <<<"$m" || { echo "$m" | grep strait_control_ | head -50 >&2; fail "no line: $1"; }; }
    want 'strait_control_requests_total{route="GET /v1/tenants",status="2xx"} 3'
    want 'strait_control_requests_total{route="GET /v1/tenants",status="4xx"} 1'
    want 'strait_control_requests_total{route="-",status="4xx"} 1'
    want 'strait_control_problems_total{type="not-found"} 1'
    want 'strait_control_problems_total{type="unauthenticated"} 1'
    want 'strait_control_rejected_total{reason="unauthenticated"} 1'
    want 'strait_control_event_streams 0'
    # Every family once, with HELP and TYPE.
    [ "$(grep -c '^# HELP strait_control_' <<<"$m")" = "$(grep -c '^# TYPE strait_control_' <<<"$m")" ] \
      || fail "HELP and TYPE lines differ"
    kill -TERM "$pid"; wait "$pid" || fail "serve did not exit 0 after SIGTERM"
    ;;
  *) fail "unknown case" ;;
esac
echo "ok [$case_name]"
