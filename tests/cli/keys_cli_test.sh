#!/usr/bin/env bash
# End-to-end tests of `strait keys` against the built binary.
# Usage: keys_cli_test.sh <path-to-strait> <case>     cases: chain verify show refusals usage fixed-random
# Registered as ctest cli_keys.<case> by relay/cli/CMakeLists.txt, which passes the binary's path. Each case works
# in its own mktemp directory. fixed-random wants strait_fixed_random (the program linked with the fuzz targets'
# fixed-seed generator) and checks that it refuses to run.
set -euo pipefail

strait=${1:?usage: keys_cli_test.sh <strait> <case>}
case_name=${2:?usage: keys_cli_test.sh <strait> <case>}
[ -x "$strait" ] || { echo "FAIL [$case_name]: $strait is not an executable" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-keys-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
# expect_rc <rc> <cmd...>: runs the command, stdout to out.txt, stderr to err.txt, and checks its exit code.
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
    fail "expected exit $want, got $rc: $*"
  fi
}
expect_in() {  # expect_in <file> <fixed string>
  grep -qF -- "$2" "$1" || { echo "--- $1"; cat "$1"; fail "'$2' not in $1"; }
}
mode_of() { stat -c %a "$1"; }

# The chain every case starts from: root, tenant acme, TLS CA, relay (with TLS), connector, device.
make_chain() {
  expect_rc 0 "$strait" keys init-root --out ops/root
  expect_rc 0 "$strait" keys tenant --root ops/root --tenant acme --days 30 --out ops/acme
  expect_rc 0 "$strait" keys tls-ca --out ops/tls-ca
  expect_rc 0 "$strait" keys issue --role relay --root ops/root --subject relay-1 --hours 48 \
    --tls-ca-dir ops/tls-ca --name localhost --ip 127.0.0.1 --out relay-1
  expect_rc 0 "$strait" keys issue --role connector --tenant-dir ops/acme --subject dc-east --days 7 \
    --ca ops/tls-ca --out dc-east
  expect_rc 0 "$strait" keys issue --role device --tenant-dir ops/acme --subject phone-1 --hours 12 \
    --ca ops/tls-ca/ca.pem --out phone-1
}

case "$case_name" in
chain)
  make_chain
  [ "$(ls ops/root | tr '\n' ' ')" = "root.key root.pub " ] || fail "root dir: $(ls ops/root)"
  [ "$(ls ops/acme | tr '\n' ' ')" = "root.pub tenant.cert tenant.key " ] || fail "tenant dir: $(ls ops/acme)"
  [ "$(ls relay-1 | tr '\n' ' ')" = "credential root.pub signing.key tls.crt tls.key " ] || fail "relay: $(ls relay-1)"
  for b in dc-east phone-1; do
    [ "$(ls $b | tr '\n' ' ')" = "ca.pem credential noise.key noise.pub root.pub signing.key " ] || fail "$b: $(ls $b)"
  done
  for f in ops/root/root.key ops/acme/tenant.key ops/tls-ca/ca.key relay-1/signing.key relay-1/tls.key \
           dc-east/signing.key dc-east/noise.key phone-1/signing.key phone-1/noise.key; do
    [ "$(mode_of "$f")" = 600 ] || fail "$f has mode $(mode_of "$f"), want 600"
  done
  for d in ops/root ops/acme relay-1 dc-east phone-1; do
    [ "$(mode_of "$d")" = 700 ] || fail "$d has mode $(mode_of "$d"), want 700"
  done
  cmp -s ops/root/root.pub phone-1/root.pub || fail "device bundle root.pub is not the root's"
  cmp -s ops/tls-ca/ca.pem phone-1/ca.pem || fail "device bundle ca.pem is not the CA's"
  expect_rc 0 "$strait" keys verify --root ops/root/root.pub --role relay relay-1/credential
  expect_in out.txt "OK: relay 'relay-1'"
  expect_rc 0 "$strait" keys verify --root ops/root --role connector --tenant acme dc-east
  expect_in out.txt "OK: connector 'dc-east' of tenant 'acme'"
  expect_rc 0 "$strait" keys verify --root ops/root/root.pub --role device phone-1/credential
  expect_in out.txt "OK: device 'phone-1' of tenant 'acme'"
  expect_rc 0 "$strait" keys show relay-1/tls.crt
  expect_in out.txt "DNS:localhost, IP:127.0.0.1"
  # A separate tls-server run and a relay with a brand-new CA.
  expect_rc 0 "$strait" keys tls-server --ca ops/tls-ca --name relay.example.com --ip 10.0.0.1 --out tls-only
  [ "$(mode_of tls-only/tls.key)" = 600 ] || fail "tls-only/tls.key mode"
  expect_rc 0 "$strait" keys issue --role relay --root ops/root --subject relay-2 --new-tls-ca ops/tls-ca-2 \
    --name localhost --out relay-2
  [ -f ops/tls-ca-2/ca.pem ] && [ -f relay-2/tls.crt ] || fail "relay-2 with a new TLS CA"
  ;;

verify)
  make_chain
  expect_rc 1 "$strait" keys verify --root ops/root --role relay phone-1
  expect_in err.txt "credential rejected: wrong_role"
  expect_rc 1 "$strait" keys verify --root ops/root --tenant globex dc-east
  expect_in err.txt "credential rejected: wrong_tenant"
  # A second root: its keys differ from the first's, so nothing of the first chain verifies against it.
  expect_rc 0 "$strait" keys init-root --out other-root
  cmp -s other-root/root.pub ops/root/root.pub && fail "two init-root runs made the same key"
  expect_rc 1 "$strait" keys verify --root other-root/root.pub phone-1/credential
  expect_in err.txt "credential rejected: tenant_cert_bad_signature"
  expect_rc 1 "$strait" keys verify --root other-root relay-1
  expect_in err.txt "credential rejected: credential_bad_signature"
  # A tenant of another root: issuing refuses because the credential would not verify against its root.pub.
  expect_rc 0 "$strait" keys tenant --root other-root --tenant acme --out other-acme
  cp ops/root/root.pub other-acme/root.pub
  expect_rc 1 "$strait" keys issue --role device --tenant-dir other-acme --subject phone-9 --out phone-9
  expect_in err.txt "does not verify"
  [ ! -e phone-9/credential ] || fail "phone-9 written despite the failed self-check"
  # Corrupted credential: one flipped base64 character, then a truncated file.
  awk 'NR == 2 { c = substr($0, 20, 1); $0 = substr($0, 1, 19) (c == "A" ? "B" : "A") substr($0, 21) } { print }' \
    phone-1/credential > bad-cred
  cmp -s bad-cred phone-1/credential && fail "sed did not change the credential"
  expect_rc 1 "$strait" keys verify --root ops/root bad-cred
  expect_in err.txt "bad-cred"
  head -c 100 phone-1/credential > cut-cred
  expect_rc 1 "$strait" keys verify --root ops/root cut-cred
  expect_in err.txt "cut-cred: truncated"
  # A secret key given as --root: the type error names both labels.
  expect_rc 1 "$strait" keys verify --root ops/root/root.key phone-1/credential
  expect_in err.txt "STRAIT ED25519 SECRET KEY"
  ;;

show)
  make_chain
  files=$(find ops relay-1 dc-east phone-1 -type f | sort)
  : > all-show.txt
  for f in $files; do
    expect_rc 0 "$strait" keys show "$f"
    cat out.txt >> all-show.txt
  done
  expect_rc 0 "$strait" keys show phone-1
  cat out.txt >> all-show.txt
  expect_in all-show.txt "role:       device"
  expect_in all-show.txt "tenant:     acme"
  expect_in all-show.txt "subject:    phone-1"
  expect_in all-show.txt "secret:     not shown"
  grep -qE 'valid: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z \.\. ' all-show.txt || fail "no ISO 8601 validity"
  # No secret bytes: neither the base64 body of any secret file, nor any 12-character piece of it, nor the hex
  # of the decoded secret.
  for f in ops/root/root.key ops/acme/tenant.key relay-1/signing.key dc-east/signing.key dc-east/noise.key \
           phone-1/signing.key phone-1/noise.key ops/tls-ca/ca.key relay-1/tls.key; do
    body=$(grep -v -- '-----' "$f" | tr -d '\n')
    [ -n "$body" ] || fail "$f has no body"
    for ((i = 0; i + 12 <= ${#body}; i += 4)); do
      piece=${body:i:12}
      if grep -qF -- "$piece" all-show.txt; then fail "show printed part of $f's secret ($piece)"; fi
    done
    hex=$(printf '%s' "$body" | base64 -d | od -An -tx1 | tr -d ' \n')
    for ((i = 0; i + 16 <= ${#hex}; i += 8)); do
      if grep -qiF -- "${hex:i:16}" all-show.txt; then fail "show printed $f's secret as hex"; fi
    done
  done
  ;;

refusals)
  make_chain
  before=$(cat ops/root/root.key)
  expect_rc 1 "$strait" keys init-root --out ops/root
  expect_in err.txt "ops/root/root.key: already exists; refusing to overwrite it (--force replaces it)"
  [ "$(cat ops/root/root.key)" = "$before" ] || fail "root.key changed without --force"
  expect_rc 1 "$strait" keys issue --role device --tenant-dir ops/acme --subject phone-1 --out phone-1
  expect_in err.txt "already exists"
  old_cred=$(cat phone-1/credential)
  expect_rc 0 "$strait" keys issue --role device --tenant-dir ops/acme --subject phone-1 --out phone-1 --force
  [ "$(cat phone-1/credential)" != "$old_cred" ] || fail "--force did not replace the credential"
  [ "$(mode_of phone-1/signing.key)" = 600 ] || fail "replaced signing.key is not 0600"
  expect_rc 0 "$strait" keys init-root --out ops/root --force
  [ "$(cat ops/root/root.key)" != "$before" ] || fail "--force did not replace root.key"
  # A readable secret key is refused with the chmod hint.
  chmod 644 ops/acme/tenant.key
  expect_rc 1 "$strait" keys issue --role device --tenant-dir ops/acme --subject phone-2 --out phone-2
  expect_in err.txt "chmod 600 ops/acme/tenant.key"
  chmod 600 ops/acme/tenant.key
  # Wrong file type in the place of a key.
  cp ops/acme/tenant.cert wrong.key && chmod 600 wrong.key
  mkdir -p wrongtenant && cp wrong.key wrongtenant/tenant.key && cp ops/acme/tenant.cert ops/acme/root.pub wrongtenant/
  expect_rc 1 "$strait" keys issue --role device --tenant-dir wrongtenant --subject p --out p
  expect_in err.txt "wrongtenant/tenant.key: this is a STRAIT TENANT CERT file, expected a STRAIT ED25519 SECRET KEY"
  # Validity bounds are usage errors.
  expect_rc 2 "$strait" keys issue --role device --tenant-dir ops/acme --subject p --hours 0 --out p
  expect_rc 2 "$strait" keys issue --role device --tenant-dir ops/acme --subject p --hours 721 --out p
  expect_rc 2 "$strait" keys tenant --root ops/root --tenant t --days 401 --out t
  # A credential may not outlive its tenant cert.
  expect_rc 0 "$strait" keys tenant --root ops/root --tenant short --days 1 --out ops/short
  expect_rc 1 "$strait" keys issue --role device --tenant-dir ops/short --subject p --hours 48 --out p
  expect_in err.txt "outlive the tenant certificate"
  expect_rc 1 "$strait" keys issue --role device --tenant-dir ops/acme --subject BAD_ID --out p
  expect_in err.txt "bad_id"
  ;;

usage)
  expect_rc 0 "$strait" --help
  for c in keys relay connector device demo; do expect_in out.txt "$c"; done
  expect_rc 2 "$strait"
  expect_rc 2 "$strait" keys
  for sub in init-root tenant issue tls-ca tls-server show verify; do
    expect_rc 0 "$strait" keys "$sub" --help
    expect_rc 2 "$strait" keys "$sub"
  done
  for c in relay connector device demo; do expect_rc 0 "$strait" "$c" --help; done
  expect_rc 2 "$strait" keys issue --role admin --subject x --out x
  expect_rc 2 "$strait" keys issue --role device --subject x --out x
  expect_in err.txt "needs --tenant-dir"
  expect_rc 2 "$strait" keys issue --role relay --subject x --out x
  expect_in err.txt "needs --root"
  expect_rc 2 "$strait" keys issue --role relay --root r --subject x --tls-ca-dir a --new-tls-ca b --name n --out x
  expect_rc 2 "$strait" keys tls-server --ca ca --out x
  expect_rc 2 "$strait" keys issue --role device --tenant-dir t --subject x --hours 2 --days 1 --out x
  ;;

fixed-random)
  # Every subcommand refuses, with one line, before it reads or writes anything; --help still answers.
  refusal="strait: refusing to run: this executable has the fixed-seed random generator of the fuzz targets"
  expect_rc 0 "$strait" --help
  expect_rc 1 "$strait" keys init-root --out root
  expect_in err.txt "$refusal"
  [ ! -e root ] || fail "keys init-root wrote root/ with fixed randomness"
  for c in relay connector device; do
    expect_rc 1 "$strait" "$c" --identity "$work/none"
    expect_in err.txt "$refusal"
    [ "$(wc -l <err.txt)" = 1 ] || fail "$c: expected one line on stderr"
  done
  expect_rc 1 "$strait" demo
  expect_in err.txt "$refusal"
  ;;

*) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
