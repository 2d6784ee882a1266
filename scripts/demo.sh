#!/usr/bin/env bash
# A container from a busybox bundle, run by huskrun: it prints its hostname, its
# pid (1: its own pid namespace) and its mount table, then everything is removed.
#
#   bash scripts/demo.sh                     # build/bin/huskrun
#   RUNTIME=/usr/sbin/runc bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME=${RUNTIME:-$PWD/build/bin/huskrun}
[[ -x $RUNTIME ]] || { echo "demo: $RUNTIME not built: run scripts/setup.sh" >&2; exit 1; }

tmp=$(mktemp -d /tmp/husk-demo.XXXXXX)
id=husk-demo-$$
cleanup() {
  "$RUNTIME" --root "$tmp/state" delete -f "$id" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bash tests/lib/make-bundle.sh "$tmp/bundle" sh -c '
  echo "hostname: $(hostname)"
  echo "pid:      $$"
  echo "ps:"; ps -o pid,user,comm
  echo "mounts:"; cat /proc/self/mounts' >/dev/null
jq '.hostname = "husk-demo"' "$tmp/bundle/config.json" >"$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"

echo "\$ $(basename "$RUNTIME") run --bundle $tmp/bundle $id"
"$RUNTIME" --root "$tmp/state" run --bundle "$tmp/bundle" "$id"
