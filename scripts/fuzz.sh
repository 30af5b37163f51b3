#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time, starting from its seed corpus (fuzz/corpus/<thing>/).
# Usage: scripts/fuzz.sh [total-seconds] [build-dir]     (default 300 s shared by all targets, build-san)
# New inputs go to a scratch corpus, so the committed seeds only change when someone copies them in.
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-300}
dir=${2:-build-san}
[ -d "$dir/fuzz" ] || scripts/build.sh sanitize "$dir"
# maxdepth 2: the control plane's targets build in $dir/fuzz/control/ (their own executables, OpenSSL 3); corpus
# names are the target's name without _fuzzer either way, so fuzz/corpus/<thing>/ maps the same.
mapfile -t targets < <(find "$dir/fuzz" -maxdepth 2 -type f -name '*_fuzzer' -perm -u+x | sort)
((${#targets[@]})) || { echo "fuzz: no targets in $dir/fuzz" >&2; exit 1; }
per=$(( total / ${#targets[@]} ))
(( per >= 5 )) || per=5
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "fuzz: ${#targets[@]} targets, ${per} s each"
for t in "${targets[@]}"; do
  name=$(basename "$t"); thing=${name%_fuzzer}
  mkdir -p "$scratch/$thing"
  seeds=()
  [ -d "fuzz/corpus/$thing" ] && seeds=("fuzz/corpus/$thing")
  echo "fuzz: $name for ${per} s"
  "$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$scratch/" "$scratch/$thing" "${seeds[@]}" 2>"$scratch/$thing.log" || {
    echo "fuzz: $name FAILED; last lines:"; tail -40 "$scratch/$thing.log"
    for a in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
      [ -e "$a" ] && { mkdir -p fuzz-artifacts; cp "$a" fuzz-artifacts/; echo "fuzz: artifact kept in fuzz-artifacts/$(basename "$a")"; }
    done
    exit 1
  }
  grep -E 'stat::number_of_executed_units|stat::new_units_added' "$scratch/$thing.log" | tr '\n' ' '; echo
done
echo "fuzz: all targets clean"
