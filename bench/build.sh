#!/usr/bin/env bash
# bench/build.sh: a warm-cache build of examples/base with husk against
# `mmdebstrap --variant=extract` of the same packages, from the same mirror
# (this machine's Debian sources), in one hyperfine run. Prints mean times,
# peak RSS, package counts and sizes, and the ratios husk/mmdebstrap (target:
# <= 0.2). Exits 0 when the target is missed: it is a benchmark, not a test; it
# fails only when a contender fails.
#
# Contenders, each with every cache warm (a first, untimed build fills them):
#   husk           husk build of examples/base: InRelease checked (a round trip
#                  per suite), indexes from husk's cache, resolved afresh, .debs
#                  from the cache, assembled, SBOMs, one gzip layer, stored.
#   husk-locked    the same with husk.lock beside the file: no index is read and
#                  nothing is asked of the network, as a pinned rebuild runs.
#   mmdebstrap     --variant=extract --include=<the lock's packages>: apt update
#                  (lists synced in from the previous run, so only InRelease is
#                  asked for again), .debs synced in from a cache directory (the
#                  sync-in/sync-out hooks of mmdebstrap's manual), dpkg unpack into
#                  a directory. No compression, no image.
#
#   bash bench/build.sh                      # as root; BENCH_RUNS=5
#   BENCH_RUNS=10 HUSK=/other/build/bin/husk bash bench/build.sh
#
# Environment: HUSK (default build/bin/husk), BENCH_RUNS (5), BENCH_WARMUP (1),
# BENCH_WORK (/var/tmp/husk-bench-build: stores, caches, outputs; kept between
# runs), BENCH_SOURCES (/etc/apt/sources.list.d/debian.sources: mmdebstrap's mirrors;
# husk reads the same directory by default).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

HUSK=${HUSK:-$repo/build/bin/husk}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
WORK=${BENCH_WORK:-/var/tmp/husk-bench-build}
SOURCES=${BENCH_SOURCES:-/etc/apt/sources.list.d/debian.sources}
SUITE=${BENCH_SUITE:-bookworm}

die() { echo "bench: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap's root mode unpacks as root)"
for tool in mmdebstrap hyperfine jq /usr/bin/time du; do
  command -v "$tool" >/dev/null || die "$tool is not installed (bash scripts/setup.sh)"
done
[[ -x $HUSK ]] || die "$HUSK is not built (or set HUSK=)"
[[ -f $SOURCES ]] || die "$SOURCES: no such file (set BENCH_SOURCES=)"

mkdir -p "$WORK/store" "$WORK/mm/cache" "$WORK/mm/lists"
# Two copies of examples/ (base includes ../static): one resolves on every
# build, the other gets husk.lock, written outside the repository.
for v in resolve locked; do
  rm -rf "${WORK:?}/$v"
  mkdir -p "$WORK/$v"
  cp -r examples/static examples/base "$WORK/$v/"
done
husk=("$HUSK" --root "$WORK/store")

echo "bench: first builds (fill the caches)" >&2
"${husk[@]}" build -q -f "$WORK/locked/base/husk.yaml" -t localhost/bench-base:locked --lock >/dev/null ||
  die "husk build --lock failed"
pkgs=$(jq -r '[.packages[].name] | join(",")' "$WORK/locked/base/husk.lock")
[[ -n $pkgs ]] || die "no packages in husk.lock"

cat >"$WORK/mmdebstrap.sh" <<EOF
#!/bin/sh
# What hyperfine runs for mmdebstrap (written by bench/build.sh).
exec mmdebstrap --quiet --variant=extract --include='$pkgs' \\
  --skip=essential/unlink \\
  --setup-hook='mkdir -p "\$1"/var/cache/apt/archives/ "\$1"/var/lib/apt/lists/' \\
  --setup-hook='sync-in $WORK/mm/cache /var/cache/apt/archives/' \\
  --setup-hook='sync-in $WORK/mm/lists /var/lib/apt/lists/' \\
  --extract-hook='sync-out /var/cache/apt/archives $WORK/mm/cache' \\
  --extract-hook='sync-out /var/lib/apt/lists $WORK/mm/lists' \\
  --extract-hook='ls "\$1"/var/cache/apt/archives/ | grep -c "\\.deb\$" >$WORK/mm/count' \\
  $SUITE "$WORK/mm/out" "$SOURCES"
EOF
chmod +x "$WORK/mmdebstrap.sh"
rm -rf "$WORK/mm/out"
"$WORK/mmdebstrap.sh" >/dev/null 2>"$WORK/mm.err" || die "mmdebstrap failed: $(tail -5 "$WORK/mm.err")"

names=(husk husk-locked mmdebstrap)
cmds=(
  "$HUSK --root $WORK/store build -q -f $WORK/resolve/base/husk.yaml -t localhost/bench-base:resolve"
  "$HUSK --root $WORK/store build -q -f $WORK/locked/base/husk.yaml -t localhost/bench-base:locked"
  "$WORK/mmdebstrap.sh"
)
args=()
for i in "${!cmds[@]}"; do args+=(--command-name "${names[$i]}" "${cmds[$i]}"); done
# mmdebstrap wants an empty target; husk replaces its image in place.
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --prepare "rm -rf $WORK/mm/out" \
  --export-json "$WORK/result.json" "${args[@]}"

declare -A rss
for i in "${!cmds[@]}"; do
  rm -rf "$WORK/mm/out"
  /usr/bin/time -f %M -o "$WORK/rss" ${cmds[$i]} >/dev/null 2>&1 || die "${names[$i]} failed"
  rss[${names[$i]}]=$(tail -1 "$WORK/rss")
done

# What each made.
d_resolve=$("${husk[@]}" images --format json | jq -r '.[] | select(.name == "localhost/bench-base:resolve") | .digest // .id')
d_locked=$("${husk[@]}" images --format json | jq -r '.[] | select(.name == "localhost/bench-base:locked") | .digest // .id')
image_size=$("${husk[@]}" inspect localhost/bench-base:locked | jq '[.[0].manifest.layers[].size] | add')
"${husk[@]}" bundle --copy localhost/bench-base:locked "$WORK/tree" true >/dev/null
husk_tree=$(du -sb "$WORK/tree/rootfs" | cut -f1)
"${husk[@]}" unbundle "$WORK/tree"
husk_pkgs=$(jq '.packages | length' "$WORK/locked/base/husk.lock")
mm_tree=$(du -sb "$WORK/mm/out" | cut -f1)
mm_pkgs=$(cat "$WORK/mm/count")

echo
printf '%-12s %10s %12s %14s\n' contender "mean (s)" "stddev (s)" "peak RSS (kB)"
for name in "${names[@]}"; do
  jq -r --arg n "$name" --arg rss "${rss[$name]}" \
    '.results[] | select(.command == $n) | [$n, (.mean * 1000 | round / 1000), (.stddev * 1000 | round / 1000), $rss] | @tsv' \
    "$WORK/result.json" | awk -F'\t' '{ printf "%-12s %10.3f %12.3f %14s\n", $1, $2, $3, $4 }'
done
echo
echo "husk:       $husk_pkgs packages, image $image_size bytes compressed, tree $husk_tree bytes"
echo "mmdebstrap: $mm_pkgs packages (apt adds what maintainer scripts need), tree $mm_tree bytes"
[[ $d_resolve == "$d_locked" ]] && echo "husk and husk-locked made the same image ($d_locked)" ||
  echo "note: husk and husk-locked made different images ($d_resolve vs $d_locked): the mirror moved?"
jq -r '(.results | map({(.command): .mean}) | add) as $m
  | "husk/mmdebstrap:        \($m.husk / $m.mmdebstrap * 1000 | round / 1000)  (target <= 0.2: \(if $m.husk / $m.mmdebstrap <= 0.2 then "met" else "missed" end))",
    "husk-locked/mmdebstrap: \($m["husk-locked"] / $m.mmdebstrap * 1000 | round / 1000)  (target <= 0.2: \(if $m["husk-locked"] / $m.mmdebstrap <= 0.2 then "met" else "missed" end))"' \
  "$WORK/result.json"
