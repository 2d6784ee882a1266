#!/usr/bin/env bash
# husk's main job, end to end on this machine: a busybox image (made from
# Debian's busybox-static) is pushed by skopeo into a throwaway local registry,
# pulled by husk into a fresh store, made an OCI bundle, and run by huskrun.
# The container prints its hostname, its pid (1: its own pid namespace) and its
# mount table (the overlay of the image's layers as /). Everything is removed.
#
#   bash scripts/demo.sh                     # build/bin/husk + build/bin/huskrun
#   RUNTIME=/usr/sbin/runc bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HUSK=${HUSK:-$PWD/build/bin/husk}
RUNTIME=${RUNTIME:-$PWD/build/bin/huskrun}
for b in "$HUSK" "$RUNTIME"; do
  [[ -x $b ]] || { echo "demo: $b not built: run scripts/setup.sh" >&2; exit 1; }
done
export HUSK_TEST_CACHE=${HUSK_TEST_CACHE:-$PWD/build/test-cache}
source tests/lib/registry.bash

tmp=$(mktemp -d /tmp/husk-demo.XXXXXX)
id=husk-demo-$$
cleanup() {
  "$RUNTIME" --root "$tmp/state" delete -f "$id" >/dev/null 2>&1 || true
  "$HUSK" --root "$tmp/store" unbundle "$tmp/bundle" >/dev/null 2>&1 || true
  registry_stop
  rm -rf "$tmp"
}
trap cleanup EXIT

registry_start
image=$REGISTRY_ADDR/demo/busybox:1
gzip -c "$(tests/lib/make-rootfs.sh --tarball)" >"$tmp/layer.tar.gz"
tests/lib/make-image.sh "$tmp/layout" 1 --cmd '["sh","-c","echo \"hostname: $(hostname)\"; echo \"pid:      $$\"; echo ps:; ps -o pid,user,comm; echo mounts:; cat /proc/self/mounts"]' \
  "$tmp/layer.tar.gz" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$tmp/layout:1" "docker://$image"

run() {
  echo "\$ $*" | sed "s|$PWD/build/bin/||g; s|$tmp|\$TMP|g"
  "$@"
}
run "$HUSK" --root "$tmp/store" pull "$image"
run "$HUSK" --root "$tmp/store" images
run "$HUSK" --root "$tmp/store" bundle "$image" "$tmp/bundle"
jq '.hostname = "husk-demo"' "$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"
run "$RUNTIME" --root "$tmp/state" run --bundle "$tmp/bundle" "$id"
