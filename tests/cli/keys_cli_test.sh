#!/usr/bin/env bash
# End-to-end tests of `strait keys` against the built binary.
# Usage: keys_cli_test.sh <path-to-strait> <case>
#   cases: chain verify show refusals usage upgrade interop fixed-random
# Registered as ctest cli_keys.<case> by cli/CMakeLists.txt, which passes the binary's path. Each case works
# in its own mktemp directory. fixed-random wants strait_fixed_random (the program linked with the fuzz targets'
# fixed-seed generator) and checks that it refuses to run. interop needs the openssl command (a separate process: the
# strait process itself holds BoringSSL only) and exits 77, which ctest reports as skipped, if there is none.
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
  # A secret key given as --root: the type error names what it is and what belongs there.
  expect_rc 1 "$strait" keys verify --root ops/root/root.key phone-1/credential
  expect_in err.txt "a PEM 'PRIVATE KEY' block, expected an Ed25519 public key"
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
  expect_in err.txt "wrongtenant/tenant.key: this is a STRAIT TENANT CERT file, expected an Ed25519 private key"
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
  for sub in init-root tenant issue tls-ca tls-server show verify upgrade; do
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

upgrade)
  # Key directories written before PEM keys keep working, and `keys upgrade` rewrites them as PEM, same keys.
  make_chain
  mkdir pem-copies
  keys="ops/root/root.key:ED25519_SECRET ops/root/root.pub:ED25519_PUBLIC ops/acme/tenant.key:ED25519_SECRET
        ops/acme/root.pub:ED25519_PUBLIC phone-1/signing.key:ED25519_SECRET phone-1/noise.key:X25519_SECRET
        phone-1/noise.pub:X25519_PUBLIC phone-1/root.pub:ED25519_PUBLIC relay-1/signing.key:ED25519_SECRET"
  for entry in $keys; do
    f=${entry%%:*} label=${entry#*:}
    head -1 "$f" | grep -qE -- '-----BEGIN (PRIVATE|PUBLIC) KEY-----' || fail "$f is not PEM"
    cp -p "$f" "pem-copies/${f//\//_}"
    # The older form, by hand: the key's 32 raw bytes (the last 32 of the DER) in Strait armour. '>' keeps the mode.
    raw=$(sed '1d;$d' "$f" | base64 -d | tail -c 32 | base64 -w 64)
    printf -- '-----BEGIN STRAIT %s KEY-----\n%s\n-----END STRAIT %s KEY-----\n' "${label/_/ }" "$raw" \
      "${label/_/ }" > "$f"
  done
  expect_rc 0 "$strait" keys show phone-1/signing.key
  expect_in out.txt "(STRAIT ED25519 SECRET KEY; the older format: \`strait keys upgrade DIR\` rewrites it as PEM)"
  # Every command reads them as before.
  expect_rc 0 "$strait" keys verify --root ops/root --role device phone-1
  expect_in out.txt "OK: device 'phone-1' of tenant 'acme'"
  expect_rc 0 "$strait" keys issue --role device --tenant-dir ops/acme --subject phone-2 --out phone-2
  expect_rc 0 "$strait" keys verify --root ops/root/root.pub phone-2
  expect_rc 0 "$strait" keys tenant --root ops/root --tenant globex --out ops/globex
  # The upgrade: lists what it rewrote, writes exactly the PEM Strait had written for the same keys, keeps modes.
  expect_rc 0 "$strait" keys upgrade phone-1
  expect_in out.txt "phone-1/signing.key: STRAIT ED25519 SECRET KEY -> PEM PRIVATE KEY (PKCS#8)"
  expect_in out.txt "phone-1/noise.pub: STRAIT X25519 PUBLIC KEY -> PEM PUBLIC KEY"
  [ "$(wc -l < out.txt)" = 4 ] || { cat out.txt; fail "phone-1: expected 4 files rewritten"; }
  expect_rc 0 "$strait" keys upgrade ops/root
  expect_rc 0 "$strait" keys upgrade ops/acme/tenant.key
  expect_rc 0 "$strait" keys upgrade ops/acme/root.pub
  expect_rc 0 "$strait" keys upgrade relay-1
  expect_in out.txt "relay-1/signing.key: STRAIT ED25519 SECRET KEY -> PEM PRIVATE KEY (PKCS#8)"
  for entry in $keys; do
    f=${entry%%:*}
    cmp -s "$f" "pem-copies/${f//\//_}" || fail "$f after upgrade differs from the PEM Strait wrote"
    [ "$(mode_of "$f")" = "$(mode_of "pem-copies/${f//\//_}")" ] || fail "$f: mode $(mode_of "$f") after upgrade"
  done
  expect_rc 0 "$strait" keys upgrade phone-1
  expect_in out.txt "phone-1: no key files in the older format; nothing rewritten"
  expect_rc 0 "$strait" keys verify --root ops/root --role device phone-1
  ;;

interop)
  command -v openssl >/dev/null || { echo "SKIP [interop]: no openssl command on PATH"; exit 77; }
  make_chain
  # hex_of_der_tail <PEM file>: the key's raw 32 bytes (the DER's last 32) as lower-case hex, decoded by coreutils.
  hex_of_der_tail() { sed '1d;$d' "$1" | base64 -d | tail -c 32 | od -An -tx1 | tr -d ' \n'; }
  # openssl_pub_hex <pkey args...>: the "pub:" bytes of `openssl pkey -noout -text`, as hex.
  openssl_pub_hex() {
    openssl pkey "$@" -noout -text > ossl.txt || { cat ossl.txt; fail "openssl pkey $* failed"; }
    sed -n '/^pub:/,$p' ossl.txt | sed 1d | tr -d ' :\n'
  }
  # Strait's key files, read by OpenSSL: the algorithm, and the public key Strait computed.
  for f in ops/root/root.key ops/acme/tenant.key phone-1/signing.key dc-east/signing.key relay-1/signing.key; do
    openssl pkey -in "$f" -noout -text > ossl.txt || fail "openssl cannot read $f"
    expect_in ossl.txt "ED25519 Private-Key:"
  done
  for f in phone-1/noise.key dc-east/noise.key; do
    openssl pkey -in "$f" -noout -text > ossl.txt || fail "openssl cannot read $f"
    expect_in ossl.txt "X25519 Private-Key:"
  done
  want=$(hex_of_der_tail ops/root/root.pub)
  [ ${#want} = 64 ] || fail "root.pub: no 32-byte key ($want)"
  [ "$(openssl_pub_hex -in ops/root/root.key)" = "$want" ] || fail "openssl derives another public key from root.key"
  [ "$(openssl_pub_hex -pubin -in ops/root/root.pub)" = "$want" ] || fail "openssl reads another key from root.pub"
  expect_in ossl.txt "ED25519 Public-Key:"
  want=$(hex_of_der_tail dc-east/noise.pub)
  [ "$(openssl_pub_hex -in dc-east/noise.key)" = "$want" ] || fail "openssl derives another public key from noise.key"
  [ "$(openssl_pub_hex -pubin -in dc-east/noise.pub)" = "$want" ] || fail "openssl reads another key from noise.pub"
  expect_in ossl.txt "X25519 Public-Key:"
  # The same files byte for byte: OpenSSL's public halves of Strait's secret keys are Strait's public key files.
  openssl pkey -in ops/root/root.key -pubout -out root-by-openssl.pub
  cmp -s root-by-openssl.pub ops/root/root.pub || fail "openssl -pubout of root.key is not root.pub"
  openssl pkey -in phone-1/noise.key -pubout -out noise-by-openssl.pub
  cmp -s noise-by-openssl.pub phone-1/noise.pub || fail "openssl -pubout of noise.key is not noise.pub"

  # The reverse: keys made by OpenSSL load in Strait. An Ed25519 root: Strait shows the public key OpenSSL
  # exported, signs a tenant and a device under it, and the device verifies against OpenSSL's root.pub.
  mkdir -m 700 ext-root
  (umask 077 && openssl genpkey -algorithm ed25519 -out ext-root/root.key)
  openssl pkey -in ext-root/root.key -pubout -out ext-root/root.pub
  expect_rc 0 "$strait" keys show ext-root/root.key
  expect_in out.txt "type:       Ed25519 secret key (PEM PRIVATE KEY, PKCS#8)"
  from_secret=$(grep '^public key:' out.txt)
  expect_rc 0 "$strait" keys show ext-root/root.pub
  [ "$(grep '^public key:' out.txt)" = "$from_secret" ] || fail "Strait's public key of OpenSSL's root.key differs"
  expect_rc 0 "$strait" keys tenant --root ext-root --tenant acme --out ext-acme
  expect_rc 0 "$strait" keys issue --role device --tenant-dir ext-acme --subject phone-9 --out ext-phone
  expect_rc 0 "$strait" keys verify --root ext-root/root.pub --role device ext-phone
  expect_in out.txt "OK: device 'phone-9' of tenant 'acme'"
  # An X25519 key from OpenSSL: Strait's public key of it is the one OpenSSL exports.
  (umask 077 && openssl genpkey -algorithm x25519 -out ext-noise.key)
  openssl pkey -in ext-noise.key -pubout -out ext-noise.pub
  expect_rc 0 "$strait" keys show ext-noise.key
  expect_in out.txt "X25519 (Noise static) secret key (PEM PRIVATE KEY, PKCS#8)"
  from_secret=$(grep '^public key:' out.txt)
  expect_rc 0 "$strait" keys show ext-noise.pub
  [ "$(grep '^public key:' out.txt)" = "$from_secret" ] || fail "Strait's public key of OpenSSL's X25519 key differs"
  # OpenSSL keys of the wrong type in a root directory: refused, naming what they hold.
  mkdir -m 700 ec-root x-root
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-root/root.key)
  cp ext-noise.key x-root/root.key
  expect_rc 1 "$strait" keys tenant --root ec-root --tenant acme --out t1
  expect_in err.txt "ec-root/root.key: this PEM PRIVATE KEY holds an EC P-256 key, expected an Ed25519 private key"
  expect_rc 1 "$strait" keys tenant --root x-root --tenant acme --out t2
  expect_in err.txt "x-root/root.key: this PEM PRIVATE KEY holds an X25519 key, expected an Ed25519 private key"
  expect_rc 1 "$strait" keys verify --root ext-noise.pub phone-1
  expect_in err.txt "ext-noise.pub: this PEM PUBLIC KEY holds an X25519 key, expected an Ed25519 public key"
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
