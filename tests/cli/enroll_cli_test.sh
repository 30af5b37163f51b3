#!/usr/bin/env bash
# Enrolment with strait-control from the daemons' side, as processes, without a control plane (docs/control-plane.md
# §6.4, §6.6): usage errors of `device activate` / `connector enroll` / `relay enroll` (exit 2, nothing written),
# a control plane that cannot be reached (exit 1, one line; the keys and Idempotency-Key stay in DIR/.pending and a
# retry reuses them), and the daemons reading control.json (the connector refuses --policy for an enrolled identity).
# The exchange with a real strait-control is tests/e2e/control_plane_test.cc's.
# Usage: enroll_cli_test.sh <path-to-strait> <case>
#   cases: usage nonempty-out retry-keeps-keys relay-keys connector-policy
# Registered as ctest cli_enroll.<case> by tests/cli/CMakeLists.txt.
set -euo pipefail

strait=${1:?usage: enroll_cli_test.sh <strait> <case>}
case_name=${2:?usage: enroll_cli_test.sh <strait> <case>}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-enroll-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
code=7K3M-9X2P-4Q7T-AB5C-8D9E-1F2G
# 127.0.0.1:1: nothing listens there, the connect is refused at once.
nowhere=https://127.0.0.1:1

# expect_rc <rc> <stderr-substring> <args...>: runs strait, checks the exit code and one line of stderr.
expect_rc() {
  local want=$1 text=$2 rc=0
  shift 2
  "$strait" "$@" >out 2>err || rc=$?
  [[ $rc == "$want" ]] || { cat err; fail "strait $*: exit $rc, want $want"; }
  grep -qF -- "$text" err || { cat err; fail "strait $*: stderr lacks: $text"; }
  [[ ! -s out ]] || { cat out; fail "strait $*: wrote to stdout"; }
}

case $case_name in
  usage)
    expect_rc 2 "--qr: " device activate --qr STRAIT1:NOPE --os linux --out d1
    expect_rc 2 "--qr: " device activate --qr "strait1:7K3M9X2P4Q7TAB5C8D9E1F2G:cp.example.com:443" --os linux --out d1
    expect_rc 2 "--os is required" device activate --url $nowhere --code $code --out d1
    expect_rc 2 "give --qr alone" device activate --url $nowhere --qr STRAIT1:7K3M9X2P4Q7TAB5C8D9E1F2G:CP:443 \
      --os linux --out d1
    expect_rc 2 "give --url and --code" connector enroll --url $nowhere --out d1
    expect_rc 2 "--code: not an activation code" relay enroll --url $nowhere --code 1234 --out d1
    expect_rc 2 "--out is required" connector enroll --url $nowhere --code $code
    expect_rc 2 "--url " connector enroll --url http://127.0.0.1:1 --code $code --out d1
    [[ ! -e d1 ]] || fail "a usage error created --out"
    ;;
  nonempty-out)
    mkdir full && echo x >full/credential
    expect_rc 2 "is not empty (credential)" device activate --url $nowhere --code $code --os linux --out full
    [[ ! -e full/.pending ]] || fail "a refused --out got a .pending directory"
    echo x >afile
    expect_rc 2 "exists and is not a directory" connector enroll --url $nowhere --code $code --out afile
    ;;
  retry-keeps-keys)
    expect_rc 1 "strait: device activate: https://127.0.0.1:1: " device activate --url $nowhere --code $code \
      --os linux --out dev
    [[ $(wc -l <err) == 1 ]] || { cat err; fail "more than one line on stderr"; }
    for f in signing.key noise.key idempotency-key; do [[ -f dev/.pending/$f ]] || fail "no .pending/$f"; done
    [[ $(stat -c %a dev/.pending) == 700 ]] || fail ".pending is not 0700"
    [[ $(stat -c %a dev/.pending/signing.key) == 600 ]] || fail "signing.key is not 0600"
    [[ ! -e dev/.pending/tls.key ]] || fail "a device got a tls.key"
    before=$(cat dev/.pending/signing.key dev/.pending/noise.key dev/.pending/idempotency-key | sha256sum)
    # A retry into the same --out (holding only .pending) is allowed and reuses the keys and the key.
    expect_rc 1 "strait: device activate: " device activate --url $nowhere --code $code --os linux --out dev
    after=$(cat dev/.pending/signing.key dev/.pending/noise.key dev/.pending/idempotency-key | sha256sum)
    [[ $before == "$after" ]] || fail "the retry made new keys"
    ;;
  relay-keys)
    expect_rc 1 "strait: relay enroll: " relay enroll --url $nowhere --code $code --out rel
    [[ -f rel/.pending/signing.key && -f rel/.pending/tls.key ]] || fail "relay keys missing"
    [[ ! -e rel/.pending/noise.key ]] || fail "a relay got a noise.key"
    grep -q "BEGIN PRIVATE KEY" rel/.pending/tls.key || fail "tls.key is not a PEM PRIVATE KEY"
    if command -v openssl >/dev/null; then
      openssl pkey -in rel/.pending/tls.key -noout -text 2>/dev/null | grep -q "prime256v1\|P-256" ||
        fail "tls.key is not P-256"
    fi
    ;;
  connector-policy)
    mkdir conn
    cat >conn/control.json <<'JSON'
{"version":1,"kind":"connector","tenant":"acme","subject":"c-1","url":"https://cp.example.com:8443","renew_after":"2025-06-02T04:00:00Z","not_after":"2025-06-02T12:00:00Z","relays":[{"id":"relay-1","device":"relay1.example.com:443","connector":"relay1.example.com:3101"}]}
JSON
    echo '' >p.toml
    expect_rc 2 "enrolled with strait-control" connector --identity conn --policy p.toml
    # A device's control.json in a connector's directory: refused, one line.
    sed -i 's/"kind":"connector"/"kind":"device"/' conn/control.json
    expect_rc 1 "not a connector's" connector --identity conn
    ;;
  *) echo "unknown case $case_name" >&2; exit 2 ;;
esac
echo "ok [$case_name]"
