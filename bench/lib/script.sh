# The bench scripts' messages and argument checks: die, log, usage (the script's header comment, from line 2 to
# `set -euo pipefail`), is_uint. Source it first thing after `set -euo pipefail`.
# shellcheck shell=bash

die() { echo "${0##*/}: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
