#!/usr/bin/env bats
# The container lifecycle as runc 1.1's CLI shows it: create, start, state, kill,
# delete, run, list, and the errors a user sees when something is wrong.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
}

teardown() {
  common_teardown
}

# expect_one_error_line: the last `run` failed and printed exactly one line on stderr.
expect_one_error_line() {
  [[ $status != 0 ]] || fail "exit status 0, expected a failure"
  [[ -n $stderr ]] || fail "nothing on stderr"
  ((${#stderr_lines[@]} == 1)) || fail "expected one error line, got: $stderr"
}

# expect_no_state: nothing left in the state root for this id.
expect_no_state() {
  [[ ! -e $ROOT/$1 ]] || fail "state dir $ROOT/$1 left behind: $(ls -A "$ROOT")"
  run rt state "$1"
  [[ $status != 0 ]] || fail "state $1 still answers: $output"
}

@test "create, start, state, exit, delete" {
  make_bundle sh -c 'echo hello from $$ > /tmp/out; echo started; sleep 0.5'
  cfg '.root.readonly = false'
  detached create --bundle "$BUNDLE" --pid-file "$T/pid" "$CID"
  [[ -s $T/pid ]]

  run rt state "$CID"
  [[ $status == 0 ]]
  [[ $(jq -r .status <<<"$output") == created ]]
  [[ $(jq -r .id <<<"$output") == "$CID" ]]
  pid=$(jq -r .pid <<<"$output")
  [[ $pid == "$(cat "$T/pid")" ]]
  [[ -d /proc/$pid ]]
  [[ $(jq -r .bundle <<<"$output") == "$BUNDLE" ]]
  [[ $(jq -r .ociVersion <<<"$output") == 1.* ]]

  # Before start the user process has not run.
  [[ ! -e $BUNDLE/rootfs/tmp/out ]]

  run rt start "$CID"
  [[ $status == 0 ]] || fail "start: $output"
  [[ $(state_field "$CID" status) == running ]]
  retry 50 0.1 test -s "$BUNDLE/rootfs/tmp/out"
  [[ $(cat "$BUNDLE/rootfs/tmp/out") == "hello from 1" ]]

  wait_status "$CID" stopped
  # A stopped container stays until deleted.
  sleep 0.2
  [[ $(state_field "$CID" status) == stopped ]]
  run rt list -q
  [[ $output == *"$CID"* ]]

  run rt delete "$CID"
  [[ $status == 0 ]]
  expect_no_state "$CID"
}

@test "create output goes to the caller's stdout after start" {
  make_bundle echo hello-out
  rt create --bundle "$BUNDLE" "$CID" </dev/null >"$T/out" 2>"$T/err" 3>&-
  rt start "$CID"
  wait_status "$CID" stopped
  [[ $(cat "$T/out") == hello-out ]]
}

@test "run in the foreground passes the output and exit code through" {
  make_bundle sh -c 'echo out; echo err >&2; exit 3'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 3 ]]
  [[ $output == out ]]
  [[ $stderr == err ]]
  # run deletes the container afterwards.
  expect_no_state "$CID"
}

@test "run exits 0 for a process that exits 0" {
  make_bundle true
  run rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]]
  [[ -z $output ]]
}

@test "run reports a container killed by SIGKILL as 137" {
  make_bundle sleep 100
  rt run --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 3>&- &
  runpid=$!
  wait_status "$CID" running
  rt kill "$CID" KILL
  status=0
  wait $runpid || status=$?
  [[ $status == 137 ]] || fail "run exited $status"
}

@test "run --detach leaves the container running" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID"
  [[ $(state_field "$CID" status) == running ]]
  pid=$(state_field "$CID" pid)
  [[ $(cat /proc/$pid/comm) == sleep ]]
}

@test "kill accepts signal names and numbers" {
  # As pid 1, the shell only dies of signals it handles (and KILL).
  make_bundle sh -c 'trap "exit 0" TERM; sleep 100 & wait'
  for sig in KILL SIGKILL 9 TERM SIGTERM 15; do
    id=$CID-$sig
    detached run --detach --bundle "$BUNDLE" "$id"
    wait_status "$id" running
    sleep 0.3 # let the shell install its trap
    run rt kill "$id" "$sig"
    [[ $status == 0 ]] || fail "kill $sig: $output"
    wait_status "$id" stopped
    rt delete "$id"
  done
}

@test "kill defaults to SIGTERM" {
  make_bundle sh -c 'trap "echo got TERM; exit 0" TERM; sleep 100 & wait'
  detached run --detach --bundle "$BUNDLE" "$CID"
  sleep 0.3 # let the shell install its trap
  rt kill "$CID"
  wait_status "$CID" stopped
  [[ $(cat "$T/ctr.out") == "got TERM" ]]
}

@test "kill --all signals every process of the container" {
  make_bundle sh -c 'sleep 100 & sleep 100 & wait'
  detached run --detach --bundle "$BUNDLE" "$CID"
  wait_status "$CID" running
  # Wait for both children.
  pid=$(state_field "$CID" pid)
  retry 50 0.1 eval "(( \$(pgrep -P $pid -c) == 2 ))"
  children=$(pgrep -P "$pid" | tr '\n' ' ')
  run rt kill --all "$CID" KILL
  [[ $status == 0 ]] || fail "$output"
  wait_status "$CID" stopped
  for c in $children; do
    retry 20 0.1 test ! -e "/proc/$c/comm" -o "$(cat /proc/$c/stat 2>/dev/null | awk '{print $3}')" == Z
  done
}

@test "delete --force removes a running container" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  run rt delete "$CID"
  [[ $status != 0 ]] # not without --force
  [[ -d /proc/$pid ]]
  run rt delete --force "$CID"
  [[ $status == 0 ]] || fail "$output"
  expect_no_state "$CID"
  retry 20 0.1 test ! -e "/proc/$pid"
}

@test "delete --force removes a created container" {
  make_bundle sleep 100
  detached create --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  rt delete --force "$CID"
  expect_no_state "$CID"
  retry 20 0.1 test ! -e "/proc/$pid"
}

@test "list shows containers as a table, as JSON and as ids" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID-a"
  detached create --bundle "$BUNDLE" "$CID-b"

  run rt list
  [[ $status == 0 ]]
  [[ ${lines[0]} =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER ]]
  [[ $output =~ $CID-a\ +[0-9]+\ +running\ +$BUNDLE ]]
  [[ $output =~ $CID-b\ +[0-9]+\ +created\ +$BUNDLE ]]

  run rt list --format json
  [[ $status == 0 ]]
  [[ $(jq -r "map(select(.id == \"$CID-a\"))[0].status" <<<"$output") == running ]]
  [[ $(jq -r "map(select(.id == \"$CID-b\"))[0].status" <<<"$output") == created ]]
  [[ $(jq -r 'map(.pid > 0) | all' <<<"$output") == true ]]

  run rt list -q
  [[ $status == 0 ]]
  [[ $(sort <<<"$output" | tr '\n' ' ') == "$CID-a $CID-b " ]]
}

@test "list of an empty root is the header alone, JSON []" {
  run rt list
  [[ $status == 0 ]]
  ((${#lines[@]} == 1))
  run rt list --format json
  [[ $status == 0 ]]
  [[ $(jq length <<<"$output") == 0 ]]
}

@test "--version prints version, commit and spec lines" {
  run rt --version
  [[ $status == 0 ]]
  [[ ${lines[0]} =~ ^[a-z]+\ version\ [0-9]+\.[0-9]+ ]]
  [[ ${lines[1]} =~ ^commit:\ . ]]
  [[ ${lines[2]} =~ ^spec:\ 1\.[0-9] ]]
}

@test "state, kill and delete of an unknown id fail with one line" {
  for verb in state kill delete start; do
    runf rt $verb no-such-ctr
    expect_one_error_line
    # runc says "container does not exist"; huskrun names the id.
    if is_huskrun; then
      [[ $stderr == *no-such-ctr* ]] || fail "$verb: error does not name the id: $stderr"
    fi
  done
}

@test "create refuses an id that exists" {
  make_bundle sleep 100
  detached create --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  runf rt create --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *exist* ]]
  # The first container is untouched.
  [[ $(state_field "$CID" status) == created ]]
  [[ $(state_field "$CID" pid) == "$pid" ]]
}

@test "create with a missing rootfs fails cleanly" {
  make_bundle true
  rm -rf "$BUNDLE/rootfs"
  runf rt create --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *rootfs* ]]
  expect_no_state "$CID"
}

@test "create with a malformed config.json fails cleanly" {
  make_bundle true
  echo '{"ociVersion": "1.0.2", "process": {bad' >"$BUNDLE/config.json"
  runf rt create --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  expect_no_state "$CID"
}

@test "create without config.json fails cleanly" {
  make_bundle true
  rm "$BUNDLE/config.json"
  runf rt create --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *config.json* ]]
  expect_no_state "$CID"
}

@test "create with a missing executable fails cleanly" {
  make_bundle /no/such/binary
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $stderr == */no/such/binary* ]]
  expect_no_state "$CID"
}

@test "a mount that fails while the cgroups are joined: its error, and nothing left" {
  # init builds the rootfs while huskrun writes its cgroup.procs: an early mount
  # failure must still be reported as itself, not as a broken sync socket.
  make_bundle true
  cfg '.mounts += [{"destination": "/bad", "type": "nosuchfs", "source": "none"}]'
  for i in 1 2 3 4 5; do
    runf rt create --bundle "$BUNDLE" "$CID"
    [[ $status != 0 ]]
    expect_one_error_line
    [[ $stderr == *nosuchfs* || $stderr == */bad* ]] || fail "$stderr"
    expect_no_state "$CID"
    [[ ! -e /sys/fs/cgroup/pids/huskrun/$CID && ! -e /sys/fs/cgroup/huskrun/$CID ]]
  done
}

@test "kill with an unknown signal fails with one line and leaves the container" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID"
  for sig in BOGUS SIGBOGUS 99999; do
    runf rt kill "$CID" "$sig"
    expect_one_error_line
  done
  [[ $(state_field "$CID" status) == running ]]
}

@test "--debug --log records the create and exec steps, stderr stays clean" {
  make_bundle sleep 100
  runf rt --debug --log "$T/log.json" --log-format json run --detach --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ $stderr != *debug* ]] || fail "debug output on stderr: $stderr"
  jq -e 'select(.level == "debug")' "$T/log.json" >/dev/null
  # The steps are named as in runc's debug log, so logs read the same with either.
  grep -q 'nsexec container setup' "$T/log.json"
  grep -q 'child process in init()' "$T/log.json"
  grep -q 'init: closing the pipe to signal completion' "$T/log.json"
  runf rt --debug --log "$T/exec.log" exec "$CID" true
  [[ $status == 0 ]] || fail "$stderr"
  grep -q 'level=debug' "$T/exec.log"
  grep -q 'setns_init: about to exec' "$T/exec.log"
}

@test "huskrun loads no shared library" {
  is_huskrun || skip "checks huskrun's own linking"
  # No PT_INTERP and no DT_NEEDED: nothing for a dynamic loader to do on a start.
  run readelf -ld "$RUNTIME"
  [[ $status == 0 ]]
  ! grep -q "Requesting program interpreter" <<<"$output"
  ! grep -q "(NEEDED)" <<<"$output"
}
