# The identities every Strait bench run needs, made with `strait keys` (docs/keys.md) in one directory:
#   DIR/root    operator root              DIR/tenant  tenant "bench" (1 day)     DIR/ca  the relays' TLS CA
#   DIR/relay   relay-1, TLS for localhost and 127.0.0.1
#   DIR/conn    connector conn-1            DIR/dev     device dev-1               (credentials valid 4 hours)
# bench_pki STRAIT DIR [RELAY_TLS_ARG...]: extra arguments go to the relay's `keys issue` (e.g. --ip 10.99.1.1 for a
# relay in a namespace). Further devices: bench_device STRAIT DIR SUBJECT [NAME] (into DIR/NAME, default SUBJECT).
# shellcheck shell=bash

bench_pki() {
  local strait=$1 k=$2
  shift 2
  "$strait" keys init-root --out "$k/root" >/dev/null
  "$strait" keys tenant --root "$k/root" --tenant bench --days 1 --out "$k/tenant" >/dev/null
  "$strait" keys tls-ca --out "$k/ca" >/dev/null
  "$strait" keys issue --role relay --root "$k/root" --subject relay-1 --hours 4 --tls-ca-dir "$k/ca" \
    --name localhost --ip 127.0.0.1 "$@" --out "$k/relay" >/dev/null
  "$strait" keys issue --role connector --tenant-dir "$k/tenant" --subject conn-1 --hours 4 --ca "$k/ca" \
    --out "$k/conn" >/dev/null
  bench_device "$strait" "$k" dev-1 dev
}
bench_device() { # STRAIT DIR SUBJECT [NAME]: into DIR/NAME (default DIR/SUBJECT)
  "$1" keys issue --role device --tenant-dir "$2/tenant" --subject "$3" --hours 4 --ca "$2/ca" --out "$2/${4:-$3}" \
    >/dev/null
}
