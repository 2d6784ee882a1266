#!/usr/bin/env bash
# husk's main job, end to end on this machine: examples/python3/husk.yaml is
# built from the Debian mirror this machine uses (InRelease checked with gpgv,
# packages solved, downloaded and verified, assembled without maintainer
# scripts), then made an OCI bundle and run by huskrun. Prints the image's
# size, digest and package count, and what Python says from inside it.
# Everything is removed afterwards.
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

tmp=$(mktemp -d /tmp/husk-demo.XXXXXX)
id=husk-demo-$$
cleanup() {
  "$RUNTIME" --root "$tmp/state" delete -f "$id" >/dev/null 2>&1 || true
  "$HUSK" --root "$tmp/store" unbundle "$tmp/bundle" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

run() {
  echo "\$ $*" | sed "s|$PWD/build/bin/||g; s|$tmp|\$TMP|g"
  "$@"
}
run "$HUSK" --root "$tmp/store" build -f examples/python3/husk.yaml -t localhost/python3:demo
run "$HUSK" --root "$tmp/store" images
run "$HUSK" --root "$tmp/store" bundle localhost/python3:demo "$tmp/bundle" \
  -c 'import os, platform, socket, ssl; print(f"python {platform.python_version()} as uid {os.getuid()} on {socket.gethostname()}, pid {os.getpid()}, {ssl.OPENSSL_VERSION}")'
jq '.hostname = "husk-demo"' "$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"
run "$RUNTIME" --root "$tmp/state" run --bundle "$tmp/bundle" "$id"
