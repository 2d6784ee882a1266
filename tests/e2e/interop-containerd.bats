#!/usr/bin/env bats
# containerd 1.6 (shim io.containerd.runc.v2) driving the runtime under test via
# `ctr run --runc-binary`. Each file run starts its own containerd (own socket,
# root and state dirs, CRI disabled) and imports the busybox rootfs as a local
# OCI image archive: no registry.

load ../lib/common
bats_require_minimum_version 1.5.0

IMAGE=localhost/husk-busybox:latest

setup_file() {
  export CD_DIR CD_NS
  CD_DIR=$(mktemp -d /tmp/husk-ctrd.XXXXXX)
  CD_NS=husk-e2e-$$
  cat >"$CD_DIR/config.toml" <<TOML
version = 2
root = "$CD_DIR/root"
state = "$CD_DIR/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]
[grpc]
  address = "$CD_DIR/containerd.sock"
[ttrpc]
  address = "$CD_DIR/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
TOML
  containerd --config "$CD_DIR/config.toml" </dev/null >"$CD_DIR/containerd.log" 2>&1 3>&- &
  echo $! >"$CD_DIR/containerd.pid"
  retry 100 0.1 c version >/dev/null 2>&1 || { tail -20 "$CD_DIR/containerd.log" >&2; return 1; }
  "$HUSK_LIB/make-oci-archive.sh" "$CD_DIR/image.tar" "$IMAGE"
  c image import "$CD_DIR/image.tar" >/dev/null
}

teardown_file() {
  [[ -n ${CD_DIR:-} && -d $CD_DIR ]] || return 0
  local id
  for id in $(c task ls -q 2>/dev/null); do
    c task kill -s KILL "$id" >/dev/null 2>&1 || true
  done
  sleep 0.3
  for id in $(c task ls -q 2>/dev/null); do c task rm -f "$id" >/dev/null 2>&1 || true; done
  for id in $(c container ls -q 2>/dev/null); do c container rm "$id" >/dev/null 2>&1 || true; done
  c image rm "$IMAGE" >/dev/null 2>&1 || true
  local pid
  pid=$(cat "$CD_DIR/containerd.pid")
  kill "$pid" 2>/dev/null || true
  retry 50 0.1 test ! -e "/proc/$pid" || kill -9 "$pid" 2>/dev/null || true
  # Shims of this containerd that outlived it (found by its unique socket path).
  for pid in $(pgrep -f "containerd-shim-runc-v2 -namespace $CD_NS .*-address $CD_DIR/containerd.sock" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
  local m
  for m in $(awk -v t="$CD_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$CD_DIR" "/run/containerd/runc/$CD_NS" "/run/containerd/fifo" 2>/dev/null || true
}

setup() {
  common_setup
  ID=husk-cd-$BATS_TEST_NUMBER-$$
}

teardown() {
  c task kill -s KILL "$ID" >/dev/null 2>&1 || true
  sleep 0.2
  c task rm -f "$ID" >/dev/null 2>&1 || true
  c container rm "$ID" >/dev/null 2>&1 || true
  common_teardown
}

# c ARGS...: ctr against this file's containerd (cut off after 2 minutes).
c() {
  timeout --foreground -k 5 120 ctr --address "$CD_DIR/containerd.sock" --namespace "$CD_NS" "$@"
}

@test "ctr run --rm with the runtime" {
  runf c run --rm --runc-binary "$RUNTIME" "$IMAGE" "$ID" sh -c 'echo $$; id -u; ls /sys/class/net'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == 1 ]]
  [[ ${lines[1]} == 0 ]]
  [[ ${lines[2]} == lo ]]
  runf c container ls -q
  [[ $output != *"$ID"* ]]
}

@test "ctr run passes the exit code" {
  runf c run --rm --runc-binary "$RUNTIME" "$IMAGE" "$ID" sh -c 'exit 9'
  [[ $status == 9 ]] || fail "status $status: $stderr"
}

@test "ctr run --tty gives a terminal" {
  status=0
  output=$(script -qec "$(declare -f c); CD_DIR=$CD_DIR CD_NS=$CD_NS c run --rm --tty --runc-binary $RUNTIME $IMAGE $ID tty" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  [[ $status == 0 ]] || fail "$output"
  [[ $output =~ /dev/pts/[0-9]+ ]] || fail "$output"
}

@test "ctr run -d, task exec, kill" {
  runf c run -d --runc-binary "$RUNTIME" "$IMAGE" "$ID" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  runf c task ls
  grep -E "^$ID\s+[0-9]+\s+RUNNING" <<<"$output" || fail "$output"

  runf c task exec --exec-id e1 "$ID" sh -c 'ps -o pid,comm | awk "\$1 == 1 { print \$2 }"'
  [[ $status == 0 ]] || fail "$stderr"
  [[ $output == sleep ]]

  runf c task exec --exec-id e2 "$ID" sh -c 'exit 6'
  [[ $status == 6 ]]

  runf c task exec --exec-id e3 --user 65534 --cwd /tmp "$ID" sh -c 'id -u; pwd'
  [[ ${lines[*]} == "65534 /tmp" ]] || fail "$output $stderr"

  runf c task ps "$ID"
  [[ $status == 0 ]] || fail "$stderr"

  runf c task kill -s KILL "$ID"
  [[ $status == 0 ]] || fail "$stderr"
  retry 30 0.1 eval "c task ls | grep -qE '^$ID\s+[0-9]+\s+STOPPED'"
}

@test "ctr task exec --tty gives a terminal" {
  runf c run -d --runc-binary "$RUNTIME" "$IMAGE" "$ID" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  status=0
  output=$(script -qec "$(declare -f c); CD_DIR=$CD_DIR CD_NS=$CD_NS c task exec --tty --exec-id t1 $ID tty" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  [[ $output =~ /dev/pts/[0-9]+ ]] || fail "$output"
}

@test "ctr task pause and resume" {
  runf c run -d --runc-binary "$RUNTIME" "$IMAGE" "$ID" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  runf c task pause "$ID"
  [[ $status == 0 ]] || fail "$stderr"
  c task ls | grep -E "^$ID\s+[0-9]+\s+PAUSED"
  runf c task resume "$ID"
  [[ $status == 0 ]] || fail "$stderr"
  c task ls | grep -E "^$ID\s+[0-9]+\s+RUNNING"
}

@test "ctr run with a memory limit" {
  runf c run -d --memory-limit 67108864 --runc-binary "$RUNTIME" "$IMAGE" "$ID" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  pid=$(c task ls | awk -v id="$ID" '$1 == id { print $2 }')
  [[ $pid -gt 0 ]]
  [[ $(cat "$(host_cgroup "$pid" memory)/memory.limit_in_bytes") == 67108864 ]]
}
