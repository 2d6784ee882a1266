#!/usr/bin/env bash
# bench/images.sh: pull and unpack one ~200 MB, 5-layer gzip image from a local
# registry with husk, podman (fresh --root) and skopeo+umoci, and `tar -xzf` of the
# same layer files as the floor, all on one disk, cold caches, in one run. Prints
# mean and min wall time, CPU time and peak RSS per contender, the ratios
# husk/podman, husk/(skopeo+umoci) and husk/tar, and whether husk meets its
# targets (<= 0.5x podman, <= 1.1x tar). Exits 0 when a target is missed: it is a
# benchmark, not a test; it fails only when a contender fails.
#
# The image is made once from directories on this machine (see `layers` below),
# gzip'd with `tar -czf`, and kept in $BENCH_CACHE; each run starts Debian's
# docker-registry on 127.0.0.1 (tests/lib/registry.bash) and pushes it there.
#
#   bash bench/images.sh                        # as root; BENCH_RUNS=3
#   BENCH_RUNS=5 HUSK=/other/build/bin/husk bash bench/images.sh
#
# Environment: HUSK (default build/bin/husk), BENCH_RUNS (3), BENCH_WARMUP (1: untimed
# rounds, which also check every contender's result), BENCH_CACHE
# (/var/tmp/husk-bench: the layers), BENCH_WORK (/var/tmp: where targets are made),
# BENCH_DROP_CACHES (1: sync and drop the page cache before every timed command),
# BENCH_SYNC (0; 1: a `sync` after each command counts in its time, so what tar and
# podman leave in the page cache is paid for too).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

HUSK=${HUSK:-$repo/build/bin/husk}
RUNS=${BENCH_RUNS:-3}
WARMUP=${BENCH_WARMUP:-1}
CACHE=${BENCH_CACHE:-/var/tmp/husk-bench}
WORKDIR=${BENCH_WORK:-/var/tmp}
DROP=${BENCH_DROP_CACHES:-1}
SYNC=${BENCH_SYNC:-0}

# The image: one layer per entry, each a list of paths below /. About 215 MB of
# files (13k of them) on Debian 12 with scripts/setup.sh's packages: python
# modules, binaries, many small files (icons, vim runtime). Missing paths are
# skipped. Changing this list rebuilds the cached image.
layers=(
  "usr/lib/python3.11 usr/share/zoneinfo"
  "usr/libexec"
  "usr/lib/git-core"
  "usr/share/vim"
  "usr/share/icons usr/share/mime"
)

die() { echo "bench: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (podman and umoci unpack as root, drop_caches)"
for tool in podman skopeo umoci jq sha256sum gzip tar /usr/bin/time curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (bash scripts/setup.sh)"
done
[[ -x $HUSK ]] || die "$HUSK is not built (or set HUSK=)"

# ---------------------------------------------------------------------------
# The image, built once: $CACHE/image/{layout/,spec,sizes}.
spec=$(printf '%s\n' "${layers[@]}")
img=$CACHE/image
if [[ ! -f $img/done || $(cat "$img/spec" 2>/dev/null) != "$spec" ]]; then
  echo "bench: building the image in $img (once)" >&2
  rm -rf "$img"
  mkdir -p "$img/layout/blobs/sha256"
  blobs=$img/layout/blobs/sha256
  # blob FILE: moves FILE into the layout; prints "sha256:HEX SIZE".
  blob() {
    local sum size
    sum=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv "$1" "$blobs/$sum"
    echo "sha256:$sum $size"
  }
  descs=() diffs=() raw_total=0
  for i in "${!layers[@]}"; do
    paths=() parents=()
    for p in ${layers[$i]}; do
      [[ -e /$p ]] && paths+=("$p") || echo "bench: /$p is missing: skipped" >&2
    done
    ((${#paths[@]})) || die "layer $i: none of ${layers[$i]} exists"
    # Parent directories as entries of their own, as image builders write them.
    mapfile -t parents < <(for p in "${paths[@]}"; do
      d=$(dirname "$p")
      while [[ $d != . ]]; do echo "$d"; d=$(dirname "$d"); done
    done | sort -u)
    tar -C / -czf "$img/layer.tar.gz" --no-recursion "${parents[@]}" --recursion "${paths[@]}"
    diff=$(gzip -dc "$img/layer.tar.gz" | tee >(wc -c >"$img/raw") | sha256sum | cut -d' ' -f1)
    raw_total=$((raw_total + $(cat "$img/raw")))
    read -r d s < <(blob "$img/layer.tar.gz")
    descs+=("$(jq -nc --arg d "$d" --argjson s "$s" \
      '{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}')")
    diffs+=("sha256:$diff")
  done
  rm -f "$img/raw"
  jq -nc --args '{architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]},
    rootfs: {type: "layers", diff_ids: $ARGS.positional},
    history: [$ARGS.positional[] | {created_by: "husk bench/images.sh"}]}' "${diffs[@]}" \
    >"$img/config.json"
  read -r cd cs < <(blob "$img/config.json")
  printf '%s\n' "${descs[@]}" | jq -sc --arg cd "$cd" --argjson cs "$cs" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: .}' >"$img/manifest.json"
  read -r md ms < <(blob "$img/manifest.json")
  jq -n --arg md "$md" --argjson ms "$ms" '{schemaVersion: 2, manifests: [{
    mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
    annotations: {"org.opencontainers.image.ref.name": "bench"}}]}' >"$img/layout/index.json"
  echo '{"imageLayoutVersion": "1.0.0"}' >"$img/layout/oci-layout"
  echo "$raw_total" >"$img/raw_bytes"
  echo "$spec" >"$img/spec"
  touch "$img/done"
fi
# The layer files, in order, for the tar floor.
manifest=$img/layout/blobs/sha256/$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$img/layout/index.json")
mapfile -t layer_files < <(jq -r '.layers[].digest | sub("sha256:"; "")' "$manifest" |
  sed "s|^|$img/layout/blobs/sha256/|")
gz_bytes=$(jq '[.layers[].size] | add' "$manifest")
raw_bytes=$(cat "$img/raw_bytes")
files=$(for f in "${layer_files[@]}"; do tar -tvzf "$f"; done | grep -c '^[-h]' || true)

# ---------------------------------------------------------------------------
# The run: a registry, a work directory on the same disk as the cache.
source tests/lib/registry.bash
work=$(mktemp -d "$WORKDIR/husk-bench-run.XXXXXX")
# unmount_under DIR: whatever is mounted at or below DIR (podman's overlay driver
# may leave mounts), deepest first.
unmount_under() {
  local m
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
cleanup() {
  [[ -d $work ]] && { unmount_under "$work"; rm -rf "$work"; }
  registry_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of husk, so a rebuild elsewhere during the run changes nothing.
mkdir "$work/bin"
cp "$HUSK" "$work/bin/husk"
husk=$work/bin/husk
"$husk" --version >/dev/null 2>&1 || "$husk" --help >/dev/null || die "$HUSK does not run"

registry_start
ref=$REGISTRY_ADDR/bench/big:1
skopeo copy -q --dest-tls-verify=false "oci:$img/layout:bench" "docker://$ref" ||
  die "skopeo could not push the image to $REGISTRY_ADDR"

if [[ $DROP == 1 ]] && ! { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
  echo "bench: cannot write /proc/sys/vm/drop_caches: caches stay warm" >&2
  DROP=0
fi
cold() {
  sync
  [[ $DROP == 1 ]] && echo 3 >/proc/sys/vm/drop_caches
  return 0
}

# Each contender's command on a target directory T, and a count of the regular
# files it unpacked (checked in the untimed rounds).
run_tar() { # T: each layer into its own directory, one after the other
  local t=$1 i=0 f
  shift
  for f; do
    mkdir "$t/$i" && tar -xzf "$f" -C "$t/$i" || return
    i=$((i + 1))
  done
}
count_files() { find "$@" -type f 2>/dev/null | wc -l; }
check_husk() { count_files "$1"/layers/*/diff; }
check_podman() { count_files "$1"/root/overlay/*/diff; }
check_umoci() { count_files "$1/bundle/rootfs"; }
check_tar() { count_files "$1"; }

results=$work/results.tsv # contender round wall user sys rss
: >"$results"
# timed NAME ROUND CMD...: runs CMD with a cold cache; appends a line to $results.
timed() {
  local name=$1 round=$2 t0 t1 u s m
  shift 2
  cold
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$work/rusage" "$@" >"$work/out" 2>&1 || {
    echo >&2
    echo "bench: $name failed: $*" >&2
    tail -20 "$work/out" >&2
    exit 1
  }
  [[ $SYNC == 1 ]] && sync
  t1=$(date +%s.%N)
  read -r u s m <"$work/rusage"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$(awk "BEGIN { print $t1 - $t0 }")" \
    "$u" "$s" "$m" >>"$results"
}
# wipe DIR: a fresh, empty target.
wipe() {
  unmount_under "$1"
  rm -rf "$1"
  mkdir -p "$1"
}

echo "husk image pull benchmark: $(date -u +%FT%TZ), $(nproc) cores, $(free -g | awk '/^Mem/ { print $2 }') GB"
echo "image: ${#layer_files[@]} gzip layers, $((gz_bytes / 1000000)) MB compressed, $((raw_bytes / 1000000)) MB of tar, $files files"
echo "targets in $work ($(findmnt -no SOURCE,FSTYPE -T "$work" | tr -s ' ')), registry at $REGISTRY_ADDR"
echo "page cache dropped before every command: $([[ $DROP == 1 ]] && echo yes || echo 'no (warm)');" \
  "sync counted in each time: $([[ $SYNC == 1 ]] && echo yes || echo no)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

total=$((WARMUP + RUNS))
for ((r = 1; r <= total; r++)); do
  round=$((r - WARMUP))
  label=$([[ $round -le 0 ]] && echo "warm-up $r" || echo "run $round/$RUNS")
  printf 'bench: %s: ' "$label" >&2
  for c in husk podman skopeo tar; do
    T=$work/$c
    wipe "$T"
    printf '%s ' "$c" >&2
    case $c in
    husk) timed husk "$round" "$husk" --root "$T" pull -q "$ref" ;;
    podman) timed podman "$round" podman --root "$T/root" --runroot "$T/run" --storage-driver overlay pull -q --tls-verify=false "$ref" ;;
    skopeo)
      timed skopeo "$round" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$T/layout:big"
      timed umoci "$round" umoci --log error unpack --image "$T/layout:big" "$T/bundle"
      ;;
    tar) timed tar "$round" bash -c "$(declare -f run_tar); run_tar \"\$@\"" _ "$T" "${layer_files[@]}" ;;
    esac
    if ((round <= 0)); then
      n=$(check_${c/skopeo/umoci} "$T")
      ((n == files)) || die "$c unpacked $n regular files, the layers have $files"
    fi
    wipe "$T"
  done
  echo >&2
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Report: rounds > 0 only; skopeo+umoci as one more row (per-round sums).
awk -F'\t' -v OFS='\t' '$2 > 0 { print; if ($1 == "skopeo" || $1 == "umoci") {
    k = $2; w[k] += $3; u[k] += $4; s[k] += $5; if ($6 > m[k]) m[k] = $6 } }
  END { for (k in w) print "skopeo+umoci", k, w[k], u[k], s[k], m[k] }' "$results" >"$work/timed.tsv"
stats=$work/stats.tsv # name mean min cpu rss
awk -F'\t' -v OFS='\t' '{ n[$1]++; w[$1] += $3; c[$1] += $4 + $5
    if (!($1 in mn) || $3 < mn[$1]) mn[$1] = $3; if ($6 > m[$1]) m[$1] = $6 }
  END { for (k in n) print k, w[k] / n[k], mn[k], c[k] / n[k], m[k] }' "$work/timed.tsv" >"$stats"
get() { awk -F'\t' -v k="$1" -v f="$2" '$1 == k { print $f }' "$stats"; }
calc() { awk "BEGIN { print $* }"; }

printf '%-14s %9s %9s %9s %12s %9s\n' contender "mean (s)" "min (s)" "cpu (s)" "peak RSS MB" "MB/s"
for c in husk podman skopeo umoci skopeo+umoci tar; do
  mean=$(get "$c" 2)
  printf '%-14s %9.2f %9.2f %9.2f %12.0f %9.0f\n' "$c" "$mean" "$(get "$c" 3)" "$(get "$c" 4)" \
    "$(calc "$(get "$c" 5) / 1024")" "$(calc "$raw_bytes / 1000000 / $mean")"
done
echo "(mean and min of $RUNS cold runs; cpu: mean user+sys of the command and its children;"
echo " MB/s: MB of uncompressed tar per second; tar: tar -xzf of each layer in turn)"
echo
verdict() { [[ $(calc "$1 <= $2") == 1 ]] && echo "target met" || echo "NOT met"; }
r_podman=$(calc "$(get husk 2) / $(get podman 2)")
r_skopeo=$(calc "$(get husk 2) / $(get skopeo+umoci 2)")
r_tar=$(calc "$(get husk 2) / $(get tar 2)")
printf 'husk/podman        %5.2f   target <= 0.50: %s\n' "$r_podman" "$(verdict "$r_podman" 0.5)"
printf 'husk/skopeo+umoci  %5.2f\n' "$r_skopeo"
printf 'husk/tar           %5.2f   target <= 1.10: %s\n' "$r_tar" "$(verdict "$r_tar" 1.1)"
echo
echo "load average at end: $load_end (2 cores shared with builds: expect +-15 % noise)"
exit 0
