#!/usr/bin/env bash
# make-image.sh LAYOUT TAG [--cmd JSON] LAYER...: an OCI image layout in LAYOUT
# (created, or added to) with one image tagged TAG whose layers are the given
# files, bottom first: *.tar.gz / *.tgz as gzip layers, *.tar.zst as zstd,
# anything else as an uncompressed tar. The config's DiffIDs are computed from
# the decompressed bytes. Built with sha256sum and jq alone, so the tests'
# images never depend on husk itself. Prints the manifest digest.
#   skopeo copy oci:LAYOUT:TAG docker://HOST/REPO:TAG   then puts it in a registry.
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: make-image.sh LAYOUT TAG [--cmd JSON] LAYER..." >&2; exit 1; }
layout=$1 tag=$2
shift 2
cmd='["sh"]'
if [[ $1 == --cmd ]]; then cmd=$2; shift 2; fi
blobs=$layout/blobs/sha256
mkdir -p "$blobs"
[[ -e $layout/oci-layout ]] || echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
[[ -e $layout/index.json ]] || echo '{"schemaVersion":2,"manifests":[]}' >"$layout/index.json"

# add FILE: copies FILE into the blob store; prints "sha256:HEX SIZE".
add() {
  local sum size
  sum=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  cp "$1" "$blobs/$sum"
  echo "sha256:$sum $size"
}

layers='[]' diffs='[]'
for f in "$@"; do
  case $f in
    *.tar.gz | *.tgz) mt=application/vnd.oci.image.layer.v1.tar+gzip diff=$(gzip -dc "$f" | sha256sum) ;;
    *.tar.zst) mt=application/vnd.oci.image.layer.v1.tar+zstd diff=$(zstd -dc "$f" | sha256sum) ;;
    *) mt=application/vnd.oci.image.layer.v1.tar diff=$(sha256sum <"$f") ;;
  esac
  read -r d s < <(add "$f")
  layers=$(jq -c --arg mt "$mt" --arg d "$d" --argjson s "$s" '. + [{mediaType: $mt, digest: $d, size: $s}]' <<<"$layers")
  diffs=$(jq -c --arg d "sha256:${diff%% *}" '. + [$d]' <<<"$diffs")
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
jq -n --argjson diffs "$diffs" --argjson cmd "$cmd" '{
  architecture: "amd64", os: "linux", created: "2026-01-01T00:00:00Z",
  config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HUSK_TEST=1"], Cmd: $cmd,
           WorkingDir: "/", Labels: {"org.example.test": "yes"}},
  rootfs: {type: "layers", diff_ids: $diffs}}' >"$tmp"
read -r cd cs < <(add "$tmp")
jq -n --arg cd "$cd" --argjson cs "$cs" --argjson layers "$layers" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
  layers: $layers}' | jq -c . | tr -d '\n' >"$tmp"
read -r md ms < <(add "$tmp")
jq --arg md "$md" --argjson ms "$ms" --arg tag "$tag" '.manifests += [{
  mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
  annotations: {"org.opencontainers.image.ref.name": $tag}}]' "$layout/index.json" >"$tmp"
cp "$tmp" "$layout/index.json"
echo "$md"
