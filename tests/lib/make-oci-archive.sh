#!/usr/bin/env bash
# make-oci-archive.sh OUT.tar [NAME]: the busybox rootfs (make-rootfs.sh) as a
# one-layer OCI image archive (an image layout in a tar), built with tar,
# sha256sum and jq alone, for `ctr image import`. NAME defaults to
# localhost/husk-busybox:latest and is recorded as io.containerd.image.name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 1 ]] || { echo "usage: make-oci-archive.sh OUT.tar [NAME]" >&2; exit 1; }
out=$1
name=${2:-localhost/husk-busybox:latest}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
blobs=$work/layout/blobs/sha256
mkdir -p "$blobs"

# blob FILE: moves FILE into the blob store; prints "digest size".
blob() {
  local sum size
  sum=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$blobs/$sum"
  echo "sha256:$sum $size"
}

cp "$("$here/make-rootfs.sh" --tarball)" "$work/layer.tar"
read -r layer_digest layer_size < <(blob "$work/layer.tar")

jq -n --arg diff "$layer_digest" '{
  architecture: "amd64", os: "linux",
  config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           Cmd: ["sh"], WorkingDir: "/"},
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created_by: "husk tests/lib/make-oci-archive.sh"}]}' -c >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")

jq -n --arg cd "$config_digest" --argjson cs "$config_size" \
  --arg ld "$layer_digest" --argjson ls "$layer_size" '{
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]}' -c \
  >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")

jq -n --arg md "$manifest_digest" --argjson ms "$manifest_size" --arg name "$name" '{
  schemaVersion: 2,
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
               platform: {architecture: "amd64", os: "linux"},
               annotations: {"io.containerd.image.name": $name,
                             "org.opencontainers.image.ref.name": ($name | sub(".*:"; ""))}}]}' \
  >"$work/layout/index.json"
echo '{"imageLayoutVersion": "1.0.0"}' >"$work/layout/oci-layout"
tar -C "$work/layout" -cf "$out" oci-layout index.json blobs
