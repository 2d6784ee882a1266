#!/usr/bin/env bats
# podman 4.3 driving the runtime under test (podman --runtime), with the busybox
# rootfs imported as a local image: no registry. On this machine podman needs
# cgroupfs, a file events backend, explicit ulimits (no CAP_SYS_RESOURCE to raise
# them) and no network setup.

load ../lib/common
bats_require_minimum_version 1.5.0

IMAGE=localhost/husk-busybox

setup_file() {
  export PM_DIR
  PM_DIR=$(mktemp -d /tmp/husk-podman.XXXXXX)
  tarball=$("$HUSK_LIB/make-rootfs.sh" --tarball)
  pm import "$tarball" "$IMAGE" >/dev/null 2>"$PM_DIR/import.err" ||
    { cat "$PM_DIR/import.err" >&2; return 1; }
}

teardown_file() {
  [[ -n ${PM_DIR:-} && -d $PM_DIR ]] || return 0
  pm rm --all --force --time 0 >/dev/null 2>&1 || true
  pm rmi --all --force >/dev/null 2>&1 || true
  local m
  for m in $(awk -v t="$PM_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$PM_DIR"
}

setup() {
  common_setup
  NAME=husk-pm-$BATS_TEST_NUMBER-$$
}

teardown() {
  pm rm --force --time 0 "$NAME" >/dev/null 2>&1 || true
  common_teardown
}

# pm ARGS...: podman with this file's own storage and the runtime under test (cut
# off after 2 minutes: a hanging runtime fails the test instead of the suite).
pm() {
  timeout --foreground -k 5 120 podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --runtime "$RUNTIME" \
    --cgroup-manager cgroupfs --events-backend file "$@"
}

RUN_OPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

@test "podman run --rm prints the container's view" {
  runf pm run --rm --name "$NAME" "${RUN_OPTS[@]}" --hostname pm-host "$IMAGE" \
    sh -c 'hostname; echo $$; id -u; cat /etc/hostname'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == pm-host ]]
  [[ ${lines[1]} == 1 ]]
  [[ ${lines[2]} == 0 ]]
  runf pm ps --all --filter "name=$NAME" --quiet
  [[ -z $output ]] || fail "container not removed: $output"
}

@test "podman run passes the exit code" {
  runf pm run --rm --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" sh -c 'exit 7'
  [[ $status == 7 ]] || fail "status $status: $stderr"
}

@test "podman run passes stdin with -i" {
  status=0
  out=$(echo via-stdin | pm run --rm -i --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" cat 2>"$T/err") || status=$?
  [[ $status == 0 ]] || fail "$(cat "$T/err")"
  [[ $out == via-stdin ]]
}

@test "podman run -t gives the container a terminal" {
  status=0
  output=$(script -qec "stty rows 25 cols 80; $(declare -f pm); PM_DIR=$PM_DIR RUNTIME=$RUNTIME pm run --rm -t --name $NAME ${RUN_OPTS[*]} $IMAGE sh -c 'tty; stty size'" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  [[ $status == 0 ]] || fail "$output"
  [[ $output =~ /dev/pts/[0-9]+ ]] || fail "$output"
  [[ $output == *"25 80"* ]] || fail "$output"
}

@test "podman run -d, exec, stop" {
  runf pm run -d --name "$NAME" "${RUN_OPTS[@]}" --hostname pm-exec "$IMAGE" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  runf pm ps --filter "name=$NAME" --format '{{.Status}}'
  [[ $output == Up* ]] || fail "$output"

  runf pm exec "$NAME" sh -c 'hostname; ps -o pid,comm | awk "\$1 == 1 { print \$2 }"'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == pm-exec ]]
  [[ ${lines[1]} == sleep ]]

  runf pm exec "$NAME" sh -c 'exit 4'
  [[ $status == 4 ]]

  runf pm exec --user 65534 --env X=y --workdir /tmp "$NAME" sh -c 'id -u; echo $X; pwd'
  [[ ${lines[*]} == "65534 y /tmp" ]] || fail "$output $stderr"

  # sleep as pid 1 ignores SIGTERM: stop falls back to SIGKILL after the timeout.
  runf pm stop --time 1 "$NAME"
  [[ $status == 0 ]] || fail "$stderr"
  runf pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$NAME"
  [[ $output == "exited 137" ]] || fail "$output"
}

@test "podman stop delivers SIGTERM to a process that handles it" {
  runf pm run -d --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done'
  [[ $status == 0 ]] || fail "$stderr"
  sleep 0.5
  runf pm stop --time 10 "$NAME"
  [[ $status == 0 ]] || fail "$stderr"
  runf pm inspect --format '{{.State.ExitCode}}' "$NAME"
  [[ $output == 3 ]] || fail "$output"
}

@test "podman exec -t gives a terminal" {
  runf pm run -d --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" sleep 1000
  [[ $status == 0 ]] || fail "$stderr"
  status=0
  output=$(script -qec "$(declare -f pm); PM_DIR=$PM_DIR RUNTIME=$RUNTIME pm exec -t $NAME tty" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  [[ $output =~ /dev/pts/[0-9]+ ]] || fail "$output"
}

@test "podman logs, pause, unpause, kill" {
  runf pm run -d --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" sh -c 'echo logged-line; sleep 1000'
  [[ $status == 0 ]] || fail "$stderr"
  retry 30 0.1 eval '[[ $(pm logs $NAME 2>/dev/null) == logged-line ]]'

  runf pm pause "$NAME"
  [[ $status == 0 ]] || fail "$stderr"
  runf pm inspect --format '{{.State.Status}}' "$NAME"
  [[ $output == paused ]]
  runf pm unpause "$NAME"
  [[ $status == 0 ]] || fail "$stderr"
  runf pm inspect --format '{{.State.Status}}' "$NAME"
  [[ $output == running ]]

  runf pm kill --signal KILL "$NAME"
  [[ $status == 0 ]] || fail "$stderr"
  retry 30 0.1 eval '[[ $(pm inspect --format "{{.State.Status}}" $NAME) == exited ]]'
}

@test "podman resource limits reach the container's cgroup" {
  runf pm run --rm --name "$NAME" "${RUN_OPTS[@]}" --memory 64m --pids-limit 30 "$IMAGE" \
    sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == 67108864 ]]
  [[ ${lines[1]} == 30 ]]
}

@test "podman's default seccomp profile and capabilities apply" {
  runf pm run --rm --name "$NAME" "${RUN_OPTS[@]}" "$IMAGE" \
    sh -c 'grep -E "^(Seccomp|CapEff):" /proc/self/status'
  [[ $status == 0 ]] || fail "$stderr"
  grep -E '^Seccomp:\s+2$' <<<"$output"
  grep -E '^CapEff:\s+00000000' <<<"$output"
}
