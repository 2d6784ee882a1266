#!/usr/bin/env bats
# exec: more processes in a running container, sharing its namespaces.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
  make_bundle sleep 1000
  cfg '.hostname = "exec-host" | .root.readonly = false'
  detached run --detach --bundle "$BUNDLE" "$CID"
  PID=$(state_field "$CID" pid)
}

teardown() {
  common_teardown
}

# ex ARGS...: `exec ARGS` with files for stdio; sets status/output/stderr.
ex() {
  runf rt exec "$@"
}

@test "exec runs in the container's namespaces" {
  ex "$CID" sh -c 'hostname; ps -o pid,comm | awk "\$1 == 1 { print \$2 }"; readlink /proc/self/ns/mnt'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == exec-host ]]
  [[ ${lines[1]} == sleep ]]
  [[ ${lines[2]} == "$(readlink /proc/$PID/ns/mnt)" ]]
}

@test "exec's process is in the container's cgroup" {
  ex "$CID" sh -c 'cat /proc/self/cgroup'
  [[ $status == 0 ]]
  want=$(awk -F: '$2 == "pids" { print $3 }' /proc/$PID/cgroup)
  grep -q ":pids:$want\$" <<<"$output" || fail "$output vs $want"
}

@test "exec passes the exit status through" {
  ex "$CID" sh -c 'exit 42'
  [[ $status == 42 ]]
  ex "$CID" true
  [[ $status == 0 ]]
}

@test "exec passes stdout, stderr and stdin" {
  status=0
  out=$(echo piped-in | rt exec "$CID" sh -c 'cat; echo to-err >&2' 2>"$T/err") || status=$?
  [[ $status == 0 ]]
  [[ $out == piped-in ]]
  [[ $(cat "$T/err") == to-err ]]
}

@test "exec of a missing binary fails" {
  ex "$CID" /no/such/binary
  [[ $status != 0 ]]
  [[ $stderr == */no/such/binary* ]]
}

@test "exec --env and --cwd" {
  ex --env FOO=bar --env "SP=a b" --cwd /tmp "$CID" sh -c 'pwd; echo "$FOO|$SP"; echo "$PATH"'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == /tmp ]]
  [[ ${lines[1]} == "bar|a b" ]]
  # The container's environment is the base.
  [[ ${lines[2]} == /usr/local/sbin:* ]]
}

@test "exec --user uid:gid" {
  ex --user 1000:1000 "$CID" sh -c 'id -u; id -g; grep CapEff /proc/self/status'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == 1000 ]]
  [[ ${lines[1]} == 1000 ]]
  [[ ${lines[2]} == "CapEff:	0000000000000000" ]]
  ex --user 65534 "$CID" id -u
  [[ $output == 65534 ]]
}

@test "exec --tty gives a terminal" {
  status=0
  output=$(script -qec "stty rows 20 cols 70; timeout --foreground -k 5 $HUSK_CMD_TIMEOUT $RUNTIME --root $ROOT exec --tty $CID sh -c 'tty; stty size'" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  [[ $status == 0 ]] || fail "$output"
  mapfile -t lines <<<"$output"
  [[ ${lines[0]} =~ ^/dev/pts/[0-9]+$ ]] || fail "$output"
  [[ ${lines[1]} == "20 70" ]]
}

@test "exec --detach with --pid-file" {
  ex --detach --pid-file "$T/exec.pid" "$CID" sh -c 'echo started > /tmp/detached; sleep 100'
  [[ $status == 0 ]] || fail "$stderr"
  [[ -s $T/exec.pid ]]
  epid=$(cat "$T/exec.pid")
  [[ -d /proc/$epid ]]
  retry 20 0.1 test -s "$BUNDLE/rootfs/tmp/detached"
  # The exec'd process is in the container's pid namespace.
  [[ $(readlink /proc/$epid/ns/pid) == "$(readlink /proc/$PID/ns/pid)" ]]
  run rt ps --format json "$CID"
  [[ $(jq "index($epid) != null" <<<"$output") == true ]] || fail "$output"
}

@test "exec --process FILE" {
  jq -n '{terminal: false, user: {uid: 1000, gid: 1000}, args: ["sh", "-c", "id -u; pwd; echo $WHO"],
          env: ["PATH=/bin", "WHO=from-process-json"], cwd: "/home/user",
          capabilities: {bounding: [], effective: [], permitted: []}, noNewPrivileges: true}' >"$T/process.json"
  ex --process "$T/process.json" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == 1000 ]]
  [[ ${lines[1]} == /home/user ]]
  [[ ${lines[2]} == from-process-json ]]
}

@test "exec into a stopped container fails" {
  rt kill "$CID" KILL
  wait_status "$CID" stopped
  ex "$CID" true
  [[ $status != 0 ]]
  ((${#stderr_lines[@]} == 1)) || fail "$stderr"
}

@test "exec into an unknown container fails with one line" {
  ex no-such-ctr true
  [[ $status != 0 ]]
  ((${#stderr_lines[@]} == 1)) || fail "$stderr"
}

@test "an exec'd process gets the container's limits and NoNewPrivs" {
  ex "$CID" sh -c 'grep "Max open files" /proc/self/limits; grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status'
  [[ $status == 0 ]]
  [[ ${lines[0]} =~ 1024\ +1024 ]]
  [[ ${lines[1]} == "NoNewPrivs:	1" ]]
}

@test "the container keeps running after exec'd processes exit" {
  for i in 1 2 3; do ex "$CID" true; done
  [[ $(state_field "$CID" status) == running ]]
  [[ -d /proc/$PID ]]
}
