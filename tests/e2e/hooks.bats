#!/usr/bin/env bats
# OCI hooks: each kind runs at its point of the lifecycle with the container's
# state JSON on stdin; failing or hanging hooks abort create cleanly.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
  make_bundle sleep 100
  cfg '.root.readonly = false'
}

teardown() {
  common_teardown
}

# hook KIND PATH ARGS...: appends a hook to config.json.
hook() {
  local kind=$1 path=$2
  shift 2
  local args
  args=$(jq -nc '$ARGS.positional' --args -- "$path" "$@")
  cfg '.hooks[$k] += [{path: $p, args: $a}]' --arg k "$kind" --arg p "$path" --argjson a "$args"
}

# record KIND: a hook of KIND that saves its stdin to $T/KIND.json (in the host's file
# system: for startContainer, which runs inside the container, /KIND.json there).
record() {
  local out=$T/$1.json
  [[ $1 == startContainer ]] && out=/$1.json
  hook "$1" /bin/sh -c "cat > $out"
}

# expect_state FILE STATUS: FILE holds this container's state with STATUS.
expect_state() {
  [[ -s $1 ]] || fail "$1 not written"
  [[ $(jq -r .id "$1") == "$CID" ]]
  [[ $(jq -r .status "$1") == "$2" ]] || fail "$1: status $(jq -r .status "$1"), want $2"
  [[ $(jq -r .bundle "$1") == "$BUNDLE" ]]
  jq -e '.ociVersion | startswith("1.")' "$1" >/dev/null
}

@test "prestart, createRuntime and createContainer hooks run at create" {
  record prestart
  record createRuntime
  record createContainer
  detached create --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  for k in prestart createRuntime createContainer; do
    expect_state "$T/$k.json" creating
  done
  [[ $(jq -r .pid "$T/prestart.json") == "$pid" ]]
  [[ $(jq -r .pid "$T/createRuntime.json") == "$pid" ]]
  # createContainer runs inside the container: runc reports the pid as seen
  # there (1); the host's pid would do as well.
  [[ $(jq -r .pid "$T/createContainer.json") == @(1|$pid) ]]
}

@test "the createContainer hook runs in the container's namespaces" {
  hook createContainer /bin/sh -c "readlink /proc/self/ns/mnt > $T/mnt; readlink /proc/self/ns/uts > $T/uts"
  detached create --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  [[ $(cat "$T/mnt") == "$(readlink /proc/$pid/ns/mnt)" ]]
  [[ $(cat "$T/uts") == "$(readlink /proc/$pid/ns/uts)" ]]
}

@test "the createContainer hook runs in the rootfs: relative paths name container files" {
  # As runc: hooks that bind-mount into the container (nvidia, hooks.bats of runc)
  # use paths relative to the rootfs.
  mkdir -p "$BUNDLE/rootfs/lib"
  echo from-host >"$T/lib.so"
  hook createContainer /bin/sh -c "pwd > $T/cwd; touch ./lib/x.so && mount --bind $T/lib.so ./lib/x.so"
  cfg '.process.args = ["cat", "/lib/x.so"]'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ $(cat "$T/cwd") == "$BUNDLE/rootfs" ]]
  [[ $output == from-host ]]
}

@test "startContainer runs in the container at start, poststart after it" {
  record startContainer
  record poststart
  detached create --bundle "$BUNDLE" "$CID"
  [[ ! -e $BUNDLE/rootfs/startContainer.json ]]
  # runc 1.1 runs poststart hooks at create (fixed in runc 1.2); the spec and
  # huskrun run them after start.
  if is_huskrun; then [[ ! -e $T/poststart.json ]]; fi
  rt start "$CID"
  retry 20 0.1 test -s "$BUNDLE/rootfs/startContainer.json"
  [[ $(jq -r .id "$BUNDLE/rootfs/startContainer.json") == "$CID" ]]
  if is_huskrun; then
    expect_state "$T/poststart.json" running
  else
    [[ $(jq -r .id "$T/poststart.json") == "$CID" ]]
  fi
  [[ $(jq -r .pid "$T/poststart.json") == "$(state_field "$CID" pid)" ]]
}

@test "poststop runs on delete" {
  record poststop
  detached run --detach --bundle "$BUNDLE" "$CID"
  rt kill "$CID" KILL
  wait_status "$CID" stopped
  [[ ! -e $T/poststop.json ]]
  rt delete "$CID"
  expect_state "$T/poststop.json" stopped
}

@test "poststop runs on delete --force of a running container" {
  record poststop
  detached run --detach --bundle "$BUNDLE" "$CID"
  rt delete --force "$CID"
  [[ $(jq -r .id "$T/poststop.json") == "$CID" ]]
}

@test "hooks get their args and env" {
  cfg '.hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", "echo \"$0 $1 $HOOKVAR\" > \($d)/args", "first", "second"], env: ["HOOKVAR=hv"]}]' --arg d "$T"
  detached create --bundle "$BUNDLE" "$CID"
  [[ $(cat "$T/args") == "first second hv" ]]
}

@test "a failing prestart hook fails create and leaves nothing" {
  record createRuntime
  hook prestart /bin/sh -c 'exit 7'
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ -n $stderr ]]
  [[ ! -e $ROOT/$CID ]] || fail "state left: $(ls -A "$ROOT")"
  runf rt state "$CID"
  [[ $status != 0 ]]
}

@test "a failing createRuntime hook fails create and leaves nothing" {
  hook createRuntime /bin/false
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ ! -e $ROOT/$CID ]] || fail "state left: $(ls -A "$ROOT")"
  runf rt list -q
  [[ $output != *"$CID"* ]]
}

@test "a failing hook's init process is gone" {
  hook createRuntime /bin/sh -c "cat > $T/state.json; exit 1"
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  pid=$(jq -r .pid "$T/state.json")
  retry 20 0.1 eval "[[ ! -e /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status"
}

@test "a hook that outlives its timeout fails create" {
  cfg '.hooks.createRuntime = [{path: "/bin/sleep", args: ["sleep", "30"], timeout: 1}]'
  start=$SECONDS
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  ((SECONDS - start < 15)) || fail "create took $((SECONDS - start)) s"
  [[ $stderr == *timed* || $stderr == *timeout* ]] || fail "$stderr"
  [[ ! -e $ROOT/$CID ]]
}

@test "run with a failing poststart hook fails and removes the container" {
  hook poststart /bin/false
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ ! -e $ROOT/$CID ]]
}

@test "a hook killed by a signal is reported with the signal's meaning" {
  # As runc's seccomp.bats: startContainer hooks run under the container's filter.
  cfg '.process.args = ["true"]
     | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
                         syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL"}]}'
  hook startContainer /bin/sh -c "mkdir /tmp/x"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $stderr == *"error running hook"*"bad system call"* ]] || fail "$stderr"
  if is_huskrun; then [[ $stderr == *"killed by signal 31 (bad system call)"* ]] || fail "$stderr"; fi
}
