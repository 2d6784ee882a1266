#!/usr/bin/env bash
# bench/runtime.sh: `run` of /bin/true in a busybox bundle (create + start + wait +
# delete in one command) with huskrun, runc and crun, in one hyperfine invocation,
# plus a bare `unshare -mnuipf true` for scale. Prints mean times, the ratios
# huskrun/runc and huskrun/crun, and each runtime's peak RSS.
#
# crun refuses this machine's hybrid cgroups unless cgroup2's cgroup.controllers
# looks empty, so the whole benchmark runs in one private mount namespace with an
# empty file bound over it: every command pays the same (zero) wrapper cost.
#
#   bash bench/runtime.sh                 # RUNS=30 WARMUP=3
#   RUNS=100 HUSKRUN=/path/to/huskrun bash bench/runtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

HUSKRUN=${HUSKRUN:-$repo/build/bin/huskrun}
RUNC=${RUNC:-$(command -v runc)}
CRUN=${CRUN:-$(command -v crun)}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
UNIFIED=/sys/fs/cgroup/unified/cgroup.controllers

if [[ ${1:-} != --inside ]]; then
  work=$(mktemp -d /tmp/husk-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  bash tests/lib/make-bundle.sh "$work/bundle" /bin/true >/dev/null
  : >"$work/empty"
  export HUSKRUN RUNC CRUN RUNS WARMUP
  unshare --mount --propagation private -- bash "$repo/bench/runtime.sh" --inside "$work"
  exit
fi

work=$2
if [[ -e $UNIFIED ]]; then
  mount --bind "$work/empty" "$UNIFIED"
fi
cd "$work/bundle"

names=()
cmds=()
add() { names+=("$1"); cmds+=("$2"); }
if [[ -x $HUSKRUN ]]; then
  add huskrun "$HUSKRUN --root $work/state-huskrun run bench"
else
  echo "bench: $HUSKRUN not built: measuring the others only" >&2
fi
add runc "$RUNC --root $work/state-runc run bench"
add crun "$CRUN --root $work/state-crun run bench"
add unshare "unshare -mnuipf true"

# Every command must work before it is timed.
for i in "${!cmds[@]}"; do
  ${cmds[$i]} >/dev/null 2>"$work/err" || {
    echo "bench: ${names[$i]} fails: $(cat "$work/err")" >&2
    exit 1
  }
done

args=()
for i in "${!cmds[@]}"; do args+=(--command-name "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/result.json" "${args[@]}"

# Peak RSS (kB) of each command, the highest of 5 runs. For runc this is its own
# process; the container's init is a separate child that time(1) may not see.
declare -A rss
for i in "${!cmds[@]}"; do
  max=0
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f %M -o "$work/rss" ${cmds[$i]} >/dev/null 2>&1
    kb=$(tail -1 "$work/rss")
    ((kb > max)) && max=$kb
  done
  rss[${names[$i]}]=$max
done

echo
printf '%-10s %12s %12s %14s\n' runtime "mean (ms)" "stddev (ms)" "peak RSS (kB)"
for name in "${names[@]}"; do
  jq -r --arg n "$name" --arg rss "${rss[$name]}" \
    '.results[] | select(.command == $n) | [$n, (.mean * 1000 * 100 | round / 100), (.stddev * 1000 * 100 | round / 100), $rss] | @tsv' \
    "$work/result.json" | awk -F'\t' '{ printf "%-10s %12.2f %12.2f %14s\n", $1, $2, $3, $4 }'
done
if [[ -x $HUSKRUN ]]; then
  jq -r '(.results | map({(.command): .mean}) | add) as $m
    | "huskrun/runc: \($m.huskrun / $m.runc * 100 | round / 100)",
      "huskrun/crun: \($m.huskrun / $m.crun * 100 | round / 100)"' "$work/result.json"
fi
