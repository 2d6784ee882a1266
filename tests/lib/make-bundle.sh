#!/usr/bin/env bash
# make-bundle.sh DIR [ARGS...]: an OCI bundle in DIR: DIR/rootfs (make-rootfs.sh) and
# DIR/config.json as `runc spec` writes it, with terminal false and process.args set
# to ARGS (default: sh). runc generates the spec because `huskrun spec` may lag
# behind; the defaults (namespaces, mounts, masked paths, caps) are runc's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[[ $# -ge 1 ]] || { echo "usage: make-bundle.sh DIR [ARGS...]" >&2; exit 1; }
dir=$1
shift
(($#)) || set -- sh

mkdir -p "$dir"
"$here/make-rootfs.sh" "$dir/rootfs"
rm -f "$dir/config.json"
(cd "$dir" && ${SPEC_RUNC:-runc} spec)
args=$(jq -nc '$ARGS.positional' --args -- "$@")
jq --argjson args "$args" '.process.terminal = false | .process.args = $args' \
  "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
