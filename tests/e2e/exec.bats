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

# --cgroup: runc's exec into sub-cgroups of the container's cgroup. The container made no
# sub-cgroups itself (its cgroupfs is read-only), so the tests make them from the host.

# rel: the container's cgroup path, the same in every hierarchy.
rel() {
  awk -F: '$2 == "pids" { print $3 }' "/proc/$PID/cgroup"
}

# in_output CONTROLLER: the cgroup an exec'd `cat /proc/self/cgroup` printed for a v1
# controller ("" for the cgroup2 line).
in_output() {
  if [[ -z $1 ]]; then
    awk -F: '$1 == "0" { print $3 }' <<<"$output"
    return
  fi
  awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' <<<"$output"
}

# mk_sub NAME DIR...: NAME below each of the container's cgroup directories; a new cpuset
# cgroup gets its parent's cpus and mems (it starts empty).
mk_sub() {
  local name=$1 d
  shift
  for d in "$@"; do
    mkdir -p "$d/$name"
    if [[ -e $d/cpuset.cpus ]]; then
      cat "$d/cpuset.cpus" >"$d/$name/cpuset.cpus"
      cat "$d/cpuset.mems" >"$d/$name/cpuset.mems"
    fi
  done
}

# The container's directory in every v1 hierarchy (named ones such as name=systemd too).
v1_dirs() {
  local mp
  for mp in $(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") print $5; break } }' /proc/self/mountinfo); do
    echo "$mp$(rel)"
  done
}

# The v1 controllers of this host's hierarchies (name=... ones excepted).
v1_controllers() {
  awk -F: '$1 != "0" && $2 !~ /^name=/ { n = split($2, a, ","); for (i = 1; i <= n; i++) print a[i] }' "/proc/$PID/cgroup"
}

@test "exec --cgroup PATH runs in that sub-cgroup of every hierarchy" {
  grep -q '^[1-9][0-9]*:[a-z]' "/proc/$PID/cgroup" || skip "no cgroup v1 controllers here"
  R=$(rel)
  mapfile -t ctls < <(v1_controllers)
  mapfile -t dirs < <(v1_dirs)
  mk_sub sub "${dirs[@]}"
  ex --cgroup sub "$CID" cat /proc/self/cgroup
  [[ $status == 0 ]] || fail "$stderr"
  for c in "${ctls[@]}"; do
    [[ $(in_output "$c") == "$R/sub" ]] || fail "$c: $output"
  done
  # Hybrid: the cgroup2 side has no "sub", so the container's own cgroup there; with one,
  # that one.
  if [[ -d /sys/fs/cgroup/unified$R ]]; then
    [[ $(in_output "") == "$R" ]] || fail "$output"
    mkdir "/sys/fs/cgroup/unified$R/sub"
    ex --cgroup /sub/ "$CID" cat /proc/self/cgroup
    [[ $status == 0 ]] || fail "$stderr"
    [[ $(in_output "") == "$R/sub" ]] || fail "$output"
  fi
  # "/" is the container's cgroup, as without --cgroup.
  ex --cgroup / "$CID" cat /proc/self/cgroup
  [[ $status == 0 ]] || fail "$stderr"
  [[ -z $(grep -v ":$R\$" <<<"$output") ]] || fail "$output"
}

@test "exec --cgroup CONTROLLER,...:PATH moves only those controllers" {
  for c in memory cpu cpuacct pids; do
    [[ -n $(host_cgroup "$PID" "$c") ]] || skip "no v1 $c controller"
  done
  R=$(rel)
  mk_sub submem "$(host_cgroup "$PID" memory)"
  mk_sub subcpu "$(host_cgroup "$PID" cpu)" "$(host_cgroup "$PID" cpuacct)"
  ex --cgroup memory:submem --cgroup cpu,cpuacct:subcpu "$CID" cat /proc/self/cgroup
  [[ $status == 0 ]] || fail "$stderr"
  [[ $(in_output memory) == "$R/submem" ]] || fail "$output"
  [[ $(in_output cpu) == "$R/subcpu" ]] || fail "$output"
  [[ $(in_output cpuacct) == "$R/subcpu" ]] || fail "$output"
  [[ $(in_output pids) == "$R" ]] || fail "$output"
  # What the process touches is charged to the sub-cgroup.
  ex --cgroup memory:submem "$CID" true
  [[ $status == 0 ]] || fail "$stderr"
  [[ $(cat "$(host_cgroup "$PID" memory)/submem/memory.max_usage_in_bytes") -gt 0 ]]
}

@test "exec --cgroup refuses .., missing sub-cgroups and unknown controllers" {
  ex --cgroup .. "$CID" true
  [[ $status == 255 ]] || fail "$status: $stderr"
  [[ $stderr == *" .. is not a sub cgroup path"* ]] || fail "$stderr"
  ((${#stderr_lines[@]} == 1)) || fail "$stderr"
  ex --cgroup memory:sub/../../x "$CID" true
  [[ $stderr == *" sub/../../x is not a sub cgroup path"* ]] || fail "$stderr"

  ex --cgroup nonexistent "$CID" true
  [[ $status == 255 ]] || fail "$status: $stderr"
  [[ $stderr == *" adding pid "*"/nonexistent/cgroup.procs: no such file or directory"* ]] || fail "$stderr"
  ((${#stderr_lines[@]} == 1)) || fail "$stderr"
  ex --cgroup pids:nonexistent "$CID" true
  [[ $stderr == *" adding pid "*"/pids$(rel)/nonexistent/cgroup.procs: no such file "* ]] || fail "$stderr"

  ex --cgroup whaaat:/ "$CID" true
  [[ $status == 255 ]] || fail "$status: $stderr"
  [[ $stderr == *'unknown controller "whaaat"'* ]] || fail "$stderr"
  ex --cgroup a --cgroup memory:b "$CID" true
  [[ $stderr == *"invalid --cgroup argument: a (missing <controller>: prefix)"* ]] || fail "$stderr"
  # None of them left a process behind.
  [[ $(cat "$(host_cgroup "$PID" pids)/cgroup.procs") == "$PID" ]]
}

# On a cgroup v2 host huskrun uses its v2 manager: a mount namespace where only the
# cgroup2 hierarchy is mounted at /sys/fs/cgroup looks like one (see cgroups.bats).
@test "cgroup v2: exec --cgroup, and init's cgroup when the container's may hold no process" {
  is_huskrun || skip "drives huskrun's v2 manager through a cgroup2-only mount namespace"
  [[ -d /sys/fs/cgroup/unified ]] || skip "no cgroup2 hierarchy beside v1"
  cat >"$T/v2.sh" <<'EOF'
set -u
. "$HUSK_LIB/cgroup2-only.sh"
rt() { timeout -k 5 60 "$RUNTIME" --root "$ROOT" "$@"; }
trap 'rt delete -f "$CID" >/dev/null 2>&1' EXIT
rt run --detach --bundle "$BUNDLE" "$CID" </dev/null >/dev/null || exit 1
dir=/sys/fs/cgroup/huskrun/$CID
pid=$(rt state "$CID" | jq .pid)
mkdir "$dir/sub"
rt exec --cgroup sub "$CID" cat /proc/self/cgroup 2>&1 | sed 's/^/sub: /'
rt exec --cgroup memory:sub "$CID" true 2>&1 | sed 's/^/controller: /'
rt exec --cgroup nonexistent "$CID" true 2>&1 | sed 's/^/missing: /'
# init moves down, then a domain controller (hugetlb, the one this host's cgroup2 side
# offers) is enabled for the sub-cgroups: the container's own cgroup can't take processes.
mkdir "$dir/foobar"
echo "$pid" >"$dir/foobar/cgroup.procs"
grep -qw hugetlb "$dir/cgroup.controllers" && echo +hugetlb >"$dir/cgroup.subtree_control" ||
  echo "no domain controller"
rt exec "$CID" cat /proc/self/cgroup 2>&1 | sed 's/^/implicit: /'
rt exec --cgroup / "$CID" true 2>&1 | sed 's/^/root: /'
rt exec --cgroup foobar "$CID" cat /proc/self/cgroup 2>&1 | sed 's/^/foobar: /'
EOF
  run env RUNTIME="$RUNTIME" ROOT="$T/state-v2" BUNDLE="$BUNDLE" CID="$CID-v2" HUSK_LIB="$HUSK_LIB" unshare -m bash "$T/v2.sh"
  [[ $status == 0 ]] || fail "$output"
  [[ $output == *"sub: 0::/huskrun/$CID-v2/sub"* ]] || fail "$output"
  [[ $output == *'controller: '*'unknown controller "memory"'* ]] || fail "$output"
  [[ $output == *"missing: "*" adding pid "*"/nonexistent/cgroup.procs: no such file or directory"* ]] || fail "$output"
  [[ $output != *"no domain controller"* ]] || skip "no domain controller on the cgroup2 side: $output"
  [[ $output == *"implicit: 0::/huskrun/$CID-v2/foobar"* ]] || fail "$output"
  [[ $output == *"root: "*" adding pid "*" to cgroups"*"/cgroup.procs: device or resource busy"* ]] || fail "$output"
  [[ $output == *"foobar: 0::/huskrun/$CID-v2/foobar"* ]] || fail "$output"
}
