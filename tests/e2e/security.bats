#!/usr/bin/env bats
# Regressions for the runtime escapes runc has had, and seccomp.
#   CVE-2024-21626: leaked fds (a host directory fd reachable from the container).
#   CVE-2019-5736:  the runtime binary overwritten through /proc/<pid>/exe.
#   CVE-2021-30465: a mount destination that is a symlink out of the rootfs.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
}

teardown() {
  common_teardown
}

# fds_in_ctr [RUNTIME ARGS...]: runs `ls /proc/$$/fd` in a container with two extra
# host fds open (3 and 4); the listing is in $T/out, one fd a line.
fds_in_ctr() {
  # No pipe (the shell would hold its ends while ls runs) and no exec of ls
  # ($$ would be ls with its own directory fd): the shell's fds.
  make_bundle sh -c 'ls -1 /proc/$$/fd; :'
  status=0
  rt run "$@" --bundle "$BUNDLE" "$CID" </dev/null >"$T/out" 2>"$T/err" 3</etc/hostname 4<"$T" || status=$?
  [[ $status == 0 ]] || fail "run: $(cat "$T/err")"
}

@test "CVE-2024-21626: the container process has only fds 0, 1 and 2" {
  fds_in_ctr
  [[ $(tr '\n' ' ' <"$T/out") == "0 1 2 " ]] || fail "fds: $(cat "$T/out"): $(cat "$T/err")"
}

@test "CVE-2024-21626: the working directory is inside the container" {
  make_bundle sh -c 'readlink /proc/self/cwd; cd .. && ls /proc/self/cwd/ | head -3; ls -d /sys/fs/cgroup/../../..'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]]
  [[ ${lines[0]} == / ]]
  [[ ${lines[-1]} == /sys/fs/cgroup/../../.. ]]
}

@test "--preserve-fds N passes N extra fds" {
  fds_in_ctr --preserve-fds 1
  [[ $(tr '\n' ' ' <"$T/out") == "0 1 2 3 " ]] || fail "fds: $(cat "$T/out")"
  fds_in_ctr --preserve-fds 2
  [[ $(tr '\n' ' ' <"$T/out") == "0 1 2 3 4 " ]] || fail "fds: $(cat "$T/out")"
}

@test "a preserved fd reads the file the caller opened" {
  make_bundle sh -c 'cat <&3'
  echo preserved-content >"$T/file"
  rt run --preserve-fds 1 --bundle "$BUNDLE" "$CID" </dev/null >"$T/out" 2>"$T/err" 3<"$T/file"
  [[ $(cat "$T/out") == preserved-content ]]
}

@test "CVE-2024-21626: an exec'd process has only fds 0, 1 and 2" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID"
  rt exec "$CID" sh -c 'ls -1 /proc/$$/fd; :' </dev/null >"$T/out" 2>"$T/err" 3</etc/hostname 4<"$T"
  [[ $(tr '\n' ' ' <"$T/out") == "0 1 2 " ]] || fail "fds: $(cat "$T/out")"
}

@test "CVE-2019-5736: the runtime binary cannot be overwritten from the container" {
  # Work on a copy, so a vulnerable runtime ruins only the copy.
  cp "$RUNTIME" "$T/runtime"
  before=$(sha256sum <"$T/runtime")
  RUNTIME=$T/runtime
  make_bundle sleep 100
  cfg '.root.readonly = false'
  # While init is blocked in create, pid 1 in the container is the runtime's.
  detached create --bundle "$BUNDLE" "$CID"
  status=0
  rt exec "$CID" sh -c '
    for p in /proc/1/exe /proc/self/exe; do
      if echo x 2>/dev/null >> $p; then echo "wrote $p"; fi
      if echo x 2>/dev/null > $p; then echo "truncated $p"; fi
    done
    exit 0' </dev/null >"$T/out" 2>"$T/err" || status=$?
  [[ $status == 0 ]] || fail "exec: $(cat "$T/err")"
  rt start "$CID"
  rt exec "$CID" sh -c 'echo x >> /proc/1/exe; echo x > /proc/1/exe' </dev/null >/dev/null 2>&1 || true
  rt delete -f "$CID"
  [[ $(sha256sum <"$T/runtime") == "$before" ]] || fail "the runtime binary was modified"
  [[ ! -s $T/out ]] || fail "$(cat "$T/out")"
}

@test "CVE-2019-5736: the container's entrypoint cannot be the runtime itself" {
  cp "$RUNTIME" "$T/runtime"
  before=$(sha256sum <"$T/runtime")
  RUNTIME=$T/runtime
  # The attack: an entrypoint that is a link to /proc/self/exe makes the runtime's
  # init exec the runtime binary inside the container.
  make_bundle /entry
  cfg '.root.readonly = false'
  ln -s /proc/self/exe "$BUNDLE/rootfs/entry"
  runf rt run --bundle "$BUNDLE" "$CID"
  make_bundle sh -c 'for p in 1 self; do echo x > /proc/$p/exe; done 2>/dev/null; true'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $(sha256sum <"$T/runtime") == "$before" ]] || fail "the runtime binary was modified"
}

@test "CVE-2021-30465: a mount destination symlinked out of the rootfs stays inside" {
  mkdir "$T/outside" "$T/src"
  make_bundle sh -c 'echo inside > /mnt/link/file && grep " /mnt\| $0" /proc/self/mounts' "$T/outside"
  cfg '.root.readonly = false
     | .mounts += [{destination: "/mnt/link", type: "bind", source: $src, options: ["rbind", "rw"]}]' \
    --arg src "$T/src"
  mkdir -p "$BUNDLE/rootfs/mnt"
  ln -s "$T/outside" "$BUNDLE/rootfs/mnt/link"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "run: $stderr"
  # Nothing reached the host path, and nothing is mounted there.
  [[ -z $(ls -A "$T/outside") ]] || fail "written outside the rootfs: $(ls -A "$T/outside")"
  ! grep -q " $T/outside " /proc/self/mountinfo
  # The mount landed at the symlink's target inside the rootfs.
  [[ $(cat "$T/src/file") == inside ]]
  [[ -d $BUNDLE/rootfs$T/outside ]]
}

@test "CVE-2021-30465: a relative symlink with .. stays inside the rootfs too" {
  mkdir "$T/src"
  make_bundle sh -c 'echo inside > /mnt/up/file'
  cfg '.mounts += [{destination: "/mnt/up", type: "bind", source: $src, options: ["rbind", "rw"]}]' \
    --arg src "$T/src"
  mkdir -p "$BUNDLE/rootfs/mnt"
  # From the host's view, rootfs/mnt/up -> ../../../../../.. is the host's /.
  ln -s ../../../../../../../../../escape "$BUNDLE/rootfs/mnt/up"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ ! -e /escape ]] || { rm -rf /escape; fail "created /escape on the host"; }
  [[ $(cat "$T/src/file") == inside ]]
}

# seccomp_profile JSON: sets linux.seccomp.
seccomp_profile() {
  cfg '.linux.seccomp = $p' --argjson p "$1"
}

@test "seccomp: SCMP_ACT_ERRNO for mkdir makes mkdir fail, other calls work" {
  make_bundle sh -c 'ls / >/dev/null && echo ls-ok; touch /tmp/f && echo touch-ok; mkdir /tmp/x; echo mkdir=$?'
  cfg '.root.readonly = false'
  seccomp_profile '{
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == ls-ok ]]
  [[ ${lines[1]} == touch-ok ]]
  [[ ${lines[2]} == mkdir=1 ]]
  [[ $stderr == *"Operation not permitted"* ]]
  [[ ! -e $BUNDLE/rootfs/tmp/x ]]
}

@test "seccomp: errnoRet chooses the error" {
  make_bundle sh -c 'mkdir /tmp/x'
  cfg '.root.readonly = false'
  seccomp_profile '{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]}'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $stderr == *"No space left on device"* ]]
}

@test "seccomp: an argument filter blocks only matching calls" {
  # chmod to mode 0700 (448) is refused, to any other mode allowed.
  make_bundle sh -c 'touch /tmp/a /tmp/b; chmod 700 /tmp/a; echo a=$?; chmod 755 /tmp/b; echo b=$?'
  cfg '.root.readonly = false'
  seccomp_profile '{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 2, "value": 448, "op": "SCMP_CMP_EQ"}]}]}'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == a=1 ]]
  [[ ${lines[1]} == b=0 ]]
}

@test "seccomp: podman's default profile loads and ordinary commands work" {
  make_bundle sh -c 'ls / | wc -l; id -u; echo ok'
  caps=$(jq -c .process.capabilities.bounding "$BUNDLE/config.json")
  profile=$(jq -c --argjson caps "$caps" -f "$HUSK_LIB/podman-seccomp.jq" /usr/share/containers/seccomp.json)
  seccomp_profile "$profile"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[2]} == ok ]]
  (( lines[0] > 5 ))
}

@test "seccomp: podman's default profile is in force" {
  make_bundle sh -c 'grep -E "^Seccomp(_filters)?:" /proc/self/status'
  caps=$(jq -c .process.capabilities.bounding "$BUNDLE/config.json")
  profile=$(jq -c --argjson caps "$caps" -f "$HUSK_LIB/podman-seccomp.jq" /usr/share/containers/seccomp.json)
  seccomp_profile "$profile"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} =~ ^Seccomp:[[:space:]]+2$ ]]
}

@test "proc is not mounted through a /proc symlink in the image" {
  make_bundle true
  rm -rf "$BUNDLE/rootfs/proc"
  mkdir -p "$T/elsewhere"
  ln -s "$T/elsewhere" "$BUNDLE/rootfs/proc"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]] || fail "a symlinked /proc was accepted"
  [[ ! -e $ROOT/$CID ]] || fail "state dir left behind"
  [[ -z $(ls -A "$T/elsewhere") ]]
}

# start_agent COUNT: tests/lib/seccomp-agent.py on $T/agent.sock, recording to $T/agent.json.
start_agent() {
  coproc AGENT { "$HUSK_LIB/seccomp-agent.py" "$T/agent.sock" "$T/agent.json" "$1" 2>&1; }
  read -r -t 10 ready <&"${AGENT[0]}" && [[ $ready == ready ]] || fail "seccomp agent did not start"
}

notify_profile() {
  seccomp_profile '{
    "defaultAction": "SCMP_ACT_ALLOW",
    "listenerPath": "'"$T/agent.sock"'",
    "listenerMetadata": "meta-1",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}'
}

@test "seccomp: SCMP_ACT_NOTIFY hands the listener and the state to the agent (run)" {
  for nnp in false true; do
    rm -f "$T/agent.json" "$T/agent.sock"
    make_bundle sh -c 'mkdir /tmp/x; echo mkdir=$?'
    cfg '.root.readonly = false | .process.noNewPrivileges = $n' --argjson n "$nnp"
    notify_profile
    start_agent 1
    runf rt run --bundle "$BUNDLE" "$CID"
    [[ $status == 0 ]] || fail "noNewPrivileges=$nnp: $stderr"
    # The agent closed the listener without answering: the call fails with ENOSYS.
    [[ $output == mkdir=1 ]] || fail "noNewPrivileges=$nnp: $output"
    [[ ! -e $BUNDLE/rootfs/tmp/x ]]
    rec=$(cat "$T/agent.json")
    [[ $(jq -r '.fd_links[0]' <<<"$rec") == "anon_inode:seccomp notify" ]] || fail "$rec"
    [[ $(jq -c .fds <<<"$rec") == '["seccompFd"]' ]]
    [[ $(jq -r .metadata <<<"$rec") == meta-1 ]]
    [[ $(jq -r .state.id <<<"$rec") == "$CID" ]]
    [[ $(jq -r .state.status <<<"$rec") == creating ]]
    (($(jq -r .pid <<<"$rec") == $(jq -r .state.pid <<<"$rec")))
    wait "$AGENT_PID" || true
  done
}

@test "seccomp: SCMP_ACT_NOTIFY in exec hands the exec'd process's listener to the agent" {
  make_bundle sleep 100
  notify_profile
  start_agent 2
  detached run --detach --bundle "$BUNDLE" "$CID"
  retry 50 0.1 test -s "$T/agent.json"
  runf rt exec "$CID" sh -c 'mkdir /tmp/y; echo mkdir=$?'
  [[ $status == 0 ]] || fail "$stderr"
  [[ $output == mkdir=1 ]]
  rec=$(sed -n 2p "$T/agent.json")
  [[ $(jq -r '.fd_links[0]' <<<"$rec") == "anon_inode:seccomp notify" ]] || fail "$rec"
  [[ $(jq -r .state.status <<<"$rec") == running ]]
  [[ $(jq -r .state.pid <<<"$rec") == "$(state_field "$CID" pid)" ]]
  # The process the filter belongs to is the exec'd one, not init.
  [[ $(jq -r .pid <<<"$rec") != "$(state_field "$CID" pid)" ]]
}

@test "seccomp: SCMP_ACT_NOTIFY without a listening agent fails create cleanly" {
  make_bundle true
  notify_profile
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $stderr == *"failed to connect with seccomp agent"* ]] || fail "$stderr"
  # runc says "specified in the seccomp profile"; huskrun names the socket.
  if is_huskrun; then [[ $stderr == *"agent $T/agent.sock"* ]] || fail "$stderr"; fi
  [[ ! -e $ROOT/$CID ]]
}

@test "--no-pivot: the host's /proc is not left for a fresh procfs mount" {
  # As runc's no_pivot.bats: with the host's full procfs still reachable after
  # chroot, a user namespace in the container could mount an unmasked /proc.
  make_bundle unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED'
  cfg '.process.capabilities.bounding += ["CAP_SETFCAP"] | .process.capabilities.permitted += ["CAP_SETFCAP"]'
  runf rt run --no-pivot --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $output != *MOUNTED* ]] || fail "procfs mounted: $stderr"
  [[ $stderr == *"Permission denied"* || $stderr == *"permission denied"* ]] || fail "$stderr"
}

@test "--no-pivot still runs an ordinary container with its own /proc" {
  make_bundle sh -c 'echo pid=$$; test -e /proc/self/status && echo proc-ok'
  runf rt run --no-pivot --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == pid=1 ]]
  [[ ${lines[1]} == proc-ok ]]
}
