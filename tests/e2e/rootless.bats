#!/usr/bin/env bats
# huskrun run by an unprivileged user, as runc 1.1 runs rootless: the bundle comes
# from `spec --rootless` (a user namespace mapping the user to root), and without
# a cgroup the user may write the container runs without one of its own.
#
# The user ($RL_USER) is made once and kept for later runs.
#
# RUNTIME=runc checks the tests against runc 1.1: it passes them but three,
# where huskrun does better (its kill --all fails without a cgroup, its errors
# come with extra warning lines).

load ../lib/common
bats_require_minimum_version 1.5.0

RL_USER=husk-rootless

setup_file() {
  id -u "$RL_USER" >/dev/null 2>&1 || useradd --no-create-home --shell /bin/sh "$RL_USER"
}

setup() {
  common_setup
  RL_UID=$(id -u "$RL_USER")
  RL_GID=$(id -g "$RL_USER")
  as_user unshare --user true 2>/dev/null ||
    skip "the kernel forbids unprivileged user namespaces"
  # Everything the user writes lives under $U: the bundle and the state root.
  U=$T/u
  mkdir -p "$U"
  BUNDLE=$U/bundle
  ROOT=$U/state
  "$HUSK_LIB/make-rootfs.sh" "$BUNDLE/rootfs"
  chown -R "$RL_USER:" "$U"
  (cd "$BUNDLE" && as_user "$RUNTIME" spec --rootless) || fail "spec --rootless failed"
}

teardown() {
  common_teardown
}

# as_user CMD...: CMD as the unprivileged user, with a clean environment
# (XDG_RUNTIME_DIR only when the test sets RL_XDG).
as_user() {
  runuser -u "$RL_USER" -- env -i PATH="$PATH" HOME=/ USER="$RL_USER" \
    ${RL_XDG:+XDG_RUNTIME_DIR="$RL_XDG"} "$@"
}

# urt ARGS...: the runtime as the user, with this test's state root.
urt() {
  as_user timeout --foreground -k 5 "$HUSK_CMD_TIMEOUT" "$RUNTIME" --root "$ROOT" "$@"
}

# set_args ARGS...: process.args of the bundle, without a terminal.
set_args() {
  cfg '.process.terminal = false | .process.args = $a' --argjson a "$(jq -nc '$ARGS.positional' --args -- "$@")"
}

udetached() {
  urt "$@" </dev/null >>"$T/ctr.out" 2>>"$T/ctr.err" 3>&- ||
    fail "$RUNTIME $*: $(cat "$T/ctr.err")"
}

expect_one_error_line() {
  [[ $status != 0 ]] || fail "exit status 0, expected a failure"
  ((${#stderr_lines[@]} == 1)) || fail "expected one error line, got: $stderr"
}

@test "the rootless spec runs: uid 0 inside, the user's uid mapped, own hostname" {
  set_args sh -c 'id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; hostname'
  runf urt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ ${lines[0]} == 0 ]] || fail "uid inside: $output"
  read -r inside host size <<<"${lines[1]}"
  [[ $inside == 0 && $host == "$RL_UID" && $size == 1 ]] || fail "uid_map: ${lines[1]}"
  read -r inside host size <<<"${lines[2]}"
  [[ $inside == 0 && $host == "$RL_GID" && $size == 1 ]] || fail "gid_map: ${lines[2]}"
  [[ ${lines[3]} == "$(jq -r .hostname "$BUNDLE/config.json")" ]] || fail "hostname: ${lines[3]}"
  [[ -z $stderr ]] || fail "stderr: $stderr"
  # run removed what it made.
  [[ -z $(ls -A "$ROOT") ]] || fail "state left: $(ls -A "$ROOT")"
}

@test "run --detach, state, kill, delete as the user" {
  set_args sleep 100
  udetached run --detach --bundle "$BUNDLE" "$CID"
  run urt state "$CID"
  [[ $status == 0 ]] || fail "state: $output"
  [[ $(jq -r .status <<<"$output") == running ]] || fail "$output"
  # runc 1.1 leaves the owner empty here.
  ! is_huskrun || [[ $(jq -r .owner <<<"$output") == "$RL_USER" ]] || fail "$output"
  pid=$(jq -r .pid <<<"$output")
  # Root inside is the user outside.
  [[ $(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status") == "$RL_UID" ]]
  # Without a cgroup of its own it shares the caller's (no /huskrun/<id> was made).
  [[ $(host_cgroup "$pid" pids) != */huskrun/$CID ]] || fail "in $(host_cgroup "$pid" pids)"
  [[ ! -e /sys/fs/cgroup/pids/huskrun/$CID ]]

  run urt kill "$CID" KILL
  [[ $status == 0 ]] || fail "kill: $output"
  wait_status "$CID" stopped
  run urt delete "$CID"
  [[ $status == 0 ]] || fail "delete: $output"
  [[ ! -e $ROOT/$CID ]] || fail "state dir left: $(ls -A "$ROOT/$CID")"
  run urt state "$CID"
  [[ $status != 0 ]]
}

@test "exec joins a rootless container as its root" {
  set_args sleep 100
  udetached run --detach --bundle "$BUNDLE" "$CID"
  runf urt exec "$CID" sh -c 'id -u; cat /proc/self/uid_map; hostname; echo $$; pidof sleep'
  [[ $status == 0 ]] || fail "exec: $stderr"
  [[ ${lines[0]} == 0 ]] || fail "$output"
  read -r inside host size <<<"${lines[1]}"
  [[ $inside == 0 && $host == "$RL_UID" && $size == 1 ]] || fail "uid_map: ${lines[1]}"
  [[ ${lines[2]} == "$(jq -r .hostname "$BUNDLE/config.json")" ]] || fail "$output"
  # The container's pid namespace: init is 1, the exec'd shell another.
  [[ ${lines[3]} != 1 && ${lines[4]} == 1 ]] || fail "$output"
  # Only the user's own ids exist in there.
  runf urt exec --user 1:1 "$CID" true
  [[ $status != 0 ]]
}

@test "kill --all reaches every process without a cgroup" {
  # sh is pid 1 of the container: with no handler it ignores SIGTERM, its children
  # die of it, then sh's wait returns and the container stops.
  set_args sh -c 'sleep 100 & sleep 100 & wait'
  udetached run --detach --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  retry 50 0.1 eval "[[ \$(pgrep -c -P $pid sleep) == 2 ]]"
  # Init alone shrugs it off...
  run urt kill "$CID" TERM
  [[ $status == 0 ]] || fail "kill: $output"
  sleep 0.3
  [[ $(state_field "$CID" status) == running ]]
  # ...every process of the container does not.
  run urt kill --all "$CID" TERM
  [[ $status == 0 ]] || fail "kill --all: $output"
  wait_status "$CID" stopped
  run urt delete "$CID"
  [[ $status == 0 ]] || fail "delete: $output"
}

@test "pause, update, ps and events --stats say there is no cgroup" {
  set_args sleep 100
  udetached run --detach --bundle "$BUNDLE" "$CID"
  local cmd
  for cmd in pause "update --pids-limit 10" ps "events --stats"; do
    # shellcheck disable=SC2086
    runf urt $cmd "$CID"
    expect_one_error_line
    [[ $stderr == *"cgroups not configured for container"* ]] || fail "$cmd: $stderr"
  done
  # Never paused: resume says so before it looks for a cgroup.
  runf urt resume "$CID"
  expect_one_error_line
  [[ $stderr == *"not paused"* ]] || fail "resume: $stderr"
  [[ $(state_field "$CID" status) == running ]]
}

@test "limits without a delegated cgroup fail with one line and leave nothing" {
  set_args true
  cfg '.linux.resources = {memory: {limit: 67108864}, pids: {limit: 10}}'
  runf urt run --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *"cannot set memory, pids limits: container could not join or create cgroup"* ]] ||
    fail "$stderr"
  [[ $stderr == *"delegated to uid $RL_UID"*": Permission denied" ]] || fail "$stderr"
  [[ ! -e $ROOT/$CID ]] || fail "state dir left behind"
  [[ ! -e /sys/fs/cgroup/pids/huskrun/$CID ]]
  # A cgroupsPath the user may not write fails too, limits or not.
  cfg 'del(.linux.resources) | .linux.cgroupsPath = "/husk-rootless-denied"'
  runf urt run --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *'linux.cgroupsPath "/husk-rootless-denied" is not delegated'* ]] || fail "$stderr"
  [[ ! -e $ROOT/$CID ]] || fail "state dir left behind"
}

@test "the default state root is \$XDG_RUNTIME_DIR/huskrun, private and sticky" {
  set_args sleep 100
  RL_XDG=$U/xdg
  as_user mkdir -m 700 "$RL_XDG"
  local name=huskrun
  is_huskrun || name=$(basename "$RUNTIME")
  as_user "$RUNTIME" run --detach --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>"$T/err" 3>&- ||
    fail "run: $(cat "$T/err")"
  [[ -f $RL_XDG/$name/$CID/state.json ]] || fail "no state in $RL_XDG/$name"
  [[ $(stat -c %a "$RL_XDG/$name") == 1700 ]] || fail "mode $(stat -c %a "$RL_XDG/$name")"
  run as_user "$RUNTIME" list -q
  [[ $output == "$CID" ]] || fail "list: $output"
  run as_user "$RUNTIME" delete -f "$CID"
  [[ $status == 0 ]] || fail "delete: $output"
  [[ ! -e $RL_XDG/$name/$CID ]]
  # Without XDG_RUNTIME_DIR the system root stays the default, which the user
  # may not write (runc does the same with /run/runc).
  RL_XDG=
  runf as_user "$RUNTIME" run --bundle "$BUNDLE" "$CID"
  expect_one_error_line
  [[ $stderr == *"/run/$name"*"ermission denied"* ]] || fail "$stderr"
}

# runc's own rootless setup on cgroup v1 (tests/rootless.sh, "cgroup" feature):
# a directory in every hierarchy whose cgroup.procs and tasks the user may write.
@test "cgroup v1: a cgroup delegated to the user is used, limits and all" {
  [[ -d /sys/fs/cgroup/pids && -d /sys/fs/cgroup/memory ]] || skip "no cgroup v1 hierarchies"
  set_args sleep 100
  DELEGATED=/husk-rl-$CID
  local h dirs=()
  for h in $(awk '$3 == "cgroup" { print $2 }' /proc/self/mounts); do
    mkdir "$h$DELEGATED" && dirs+=("$h$DELEGATED")
    chown "$RL_USER" "$h$DELEGATED" "$h$DELEGATED/cgroup.procs" "$h$DELEGATED/tasks"
    [[ ! -e $h$DELEGATED/cpuset.cpus ]] || chown "$RL_USER" "$h$DELEGATED"/cpuset.{cpus,mems}
  done
  cfg '.linux.cgroupsPath = $p | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 10}}' \
    --arg p "$DELEGATED/ctr"
  runf urt run --detach --bundle "$BUNDLE" "$CID"
  local ok=$status err=$stderr pid=""
  if [[ $ok == 0 ]]; then
    pid=$(state_field "$CID" pid)
    memory=$(cat "/sys/fs/cgroup/memory$DELEGATED/ctr/memory.limit_in_bytes")
    pids_in=$(host_cgroup "$pid" pids)
    runf urt pause "$CID"
    paused=$(state_field "$CID" status)
    runf urt resume "$CID"
    runf urt update --pids-limit 20 "$CID"
    pids_max=$(cat "/sys/fs/cgroup/pids$DELEGATED/ctr/pids.max")
    runf urt delete -f "$CID"
    deleted=$status
  fi
  for h in "${dirs[@]}"; do rmdir "$h/ctr" "$h" 2>/dev/null || rmdir "$h" || true; done
  [[ $ok == 0 ]] || fail "run: $err"
  [[ $pids_in == "/sys/fs/cgroup/pids$DELEGATED/ctr" ]] || fail "init in $pids_in"
  [[ $memory == 67108864 && $pids_max == 20 ]] || fail "memory $memory, pids.max $pids_max"
  [[ $paused == paused ]] || fail "pause: $paused"
  [[ $deleted == 0 ]]
}

# This host's controllers are v1. In a mount namespace where only the cgroup2
# hierarchy is mounted huskrun sees a unified host (as in cgroups.bats); there a
# cgroup delegated to the user (owned by it, with the user's processes inside)
# is used normally: limits, pause and resume work.
@test "cgroup v2: a cgroup delegated to the user is used, limits and all" {
  is_huskrun || skip "drives huskrun's v2 manager through a cgroup2-only mount namespace"
  [[ -d /sys/fs/cgroup/unified ]] || skip "no cgroup2 hierarchy"
  grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers || skip "no v2 controller to limit"
  [[ -d /sys/kernel/mm/hugepages/hugepages-2048kB ]] || skip "no 2MB huge pages"
  set_args sleep 100
  DELEGATED=husk-rl-$CID
  cfg '.linux.cgroupsPath = $p | .linux.resources = {hugepageLimits: [{pageSize: "2MB", limit: 4194304}]}' \
    --arg p "/$DELEGATED/ctr"
  cat >"$T/v2.sh" <<'SCRIPT'
set -u
. "$HUSK_LIB/cgroup2-only.sh"
d=/sys/fs/cgroup/$DELEGATED
echo +hugetlb >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p "$d/shell"
chown -R "$RL_USER" "$d"
# The delegation: the user's processes live inside the subtree it owns.
echo $$ >"$d/shell/cgroup.procs"
u() { runuser -u "$RL_USER" -- env -i PATH="$PATH" timeout -k 5 60 "$RUNTIME" --root "$ROOT" "$@"; }
u run --detach --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>"$T/v2.err" || echo "run failed: $(cat "$T/v2.err")"
pid=$(u state "$CID" | jq .pid)
echo "cgroup: $(grep '^0::' /proc/$pid/cgroup)"
echo "hugetlb: $(cat "$d/ctr/hugetlb.2MB.max")"
u pause "$CID" && echo "paused: $(u state "$CID" | jq -r .status)"
u resume "$CID" && echo "resumed: $(u state "$CID" | jq -r .status)"
u ps "$CID" | grep -qw "$pid" && echo ps-ok
u delete -f "$CID" && echo deleted
[[ -d $d/ctr ]] && echo "cgroup left"
echo $$ >/sys/fs/cgroup/cgroup.procs
rmdir "$d/shell" "$d"
SCRIPT
  run env RUNTIME="$RUNTIME" ROOT="$ROOT" BUNDLE="$BUNDLE" CID="$CID" T="$T" RL_USER="$RL_USER" \
    DELEGATED="$DELEGATED" HUSK_LIB="$HUSK_LIB" unshare -m bash "$T/v2.sh"
  rmdir "/sys/fs/cgroup/unified/$DELEGATED/ctr" "/sys/fs/cgroup/unified/$DELEGATED/shell" \
    "/sys/fs/cgroup/unified/$DELEGATED" 2>/dev/null || true
  [[ $status == 0 ]] || fail "$output"
  [[ $output != *"run failed"* ]] || fail "$output"
  [[ $output == *"cgroup: 0::/$DELEGATED/ctr"* ]] || fail "$output"
  [[ $output == *"hugetlb: 4194304"* ]] || fail "$output"
  [[ $output == *"paused: paused"* && $output == *"resumed: running"* ]] || fail "$output"
  [[ $output == *ps-ok* && $output == *deleted* ]] || fail "$output"
  [[ $output != *"cgroup left"* ]] || fail "$output"
}
