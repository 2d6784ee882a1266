#!/usr/bin/env bats
# What a process inside a container sees of its namespaces, mounts, devices,
# credentials and limits, as configured by config.json.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
}

teardown() {
  common_teardown
}

# in_ctr SCRIPT: runs `sh -c SCRIPT` in a container made from $BUNDLE (created by
# the test, or here with defaults) and expects exit 0; output in $output.
in_ctr() {
  [[ -d $BUNDLE ]] || make_bundle
  cfg '.process.args = ["sh", "-c", $s]' --arg s "$1"
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]] || fail "container exited $status: $output $stderr"
}

@test "hostname comes from config.json" {
  make_bundle
  cfg '.hostname = "husk-iso-test"'
  in_ctr 'hostname; cat /proc/sys/kernel/hostname'
  [[ ${lines[0]} == husk-iso-test ]]
  [[ ${lines[1]} == husk-iso-test ]]
  # The host's name is untouched.
  [[ $(hostname) != husk-iso-test ]]
}

@test "the process is pid 1 and sees only its own processes" {
  in_ctr 'echo $$; ps -o pid= | wc -l'
  [[ ${lines[0]} == 1 ]]
  # sh and ps (and wc, in the pipe): nothing of the host.
  ((lines[1] <= 3))
}

@test "the container has its own mount table" {
  mkdir "$T/hostonly" && mount -t tmpfs husk-hostonly "$T/hostonly"
  in_ctr 'cat /proc/self/mounts'
  umount "$T/hostonly"
  grep -E '^proc /proc proc ' <<<"$output"
  grep -E '^[^ ]+ /dev tmpfs ' <<<"$output"
  grep -E '^devpts /dev/pts devpts .*newinstance|^devpts /dev/pts devpts ' <<<"$output"
  grep -E '^[^ ]+ /dev/shm tmpfs ' <<<"$output"
  grep -E '^sysfs /sys sysfs ro' <<<"$output"
  # The root is the bundle's rootfs, read-only as configured.
  grep -E '^[^ ]+ / [^ ]+ ro[, ]' <<<"$output"
  ! grep -q husk-hostonly <<<"$output"
  ! grep -q "$T" <<<"$output"
}

@test "default devices exist and behave" {
  in_ctr '
    for d in null zero full random urandom tty; do
      [ -c /dev/$d ] || { echo "no /dev/$d"; exit 1; }
    done
    stat -c "%n %t:%T" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
    [ -e /dev/ptmx ] || { echo "no /dev/ptmx"; exit 1; }
    for l in fd stdin stdout stderr; do readlink /dev/$l; done
    echo discard > /dev/null
    head -c 4 /dev/zero | od -An -tx1
    head -c 16 /dev/urandom | wc -c
    if echo x 2>/dev/null > /dev/full; then echo "full accepted"; exit 1; fi
    [ -d /dev/pts ] && [ -d /dev/shm ]'
  grep -x '/dev/null 1:3' <<<"$output"
  grep -x '/dev/zero 1:5' <<<"$output"
  grep -x '/dev/full 1:7' <<<"$output"
  grep -x '/dev/random 1:8' <<<"$output"
  grep -x '/dev/urandom 1:9' <<<"$output"
  grep -x '/dev/tty 5:0' <<<"$output"
  grep -x '/proc/self/fd' <<<"$output"
  grep -x '/proc/self/fd/0' <<<"$output"
  grep -x '/proc/self/fd/1' <<<"$output"
  grep -x '/proc/self/fd/2' <<<"$output"
  grep -x ' 00 00 00 00' <<<"$output"
  grep -x 16 <<<"$output"
}

@test "host devices are not there" {
  in_ctr 'ls /dev'
  ! grep -qx 'vda' <<<"$output"
  ! grep -qx 'mem' <<<"$output"
  ! grep -qx 'kmsg' <<<"$output"
}

@test "a read-only root refuses writes" {
  in_ctr 'if touch /newfile 2>/tmp/err || touch /bin/x; then echo writable; exit 1; fi; echo refused'
  [[ $output == refused ]]
}

@test "a writable root accepts writes" {
  make_bundle
  cfg '.root.readonly = false'
  in_ctr 'touch /newfile && echo ok'
  [[ $output == ok ]]
  [[ -e $BUNDLE/rootfs/newfile ]]
}

@test "masked paths read empty, read-only paths refuse writes" {
  in_ctr '
    echo "keys:$(cat /proc/keys | wc -c)"
    echo "timer_list:$(cat /proc/timer_list | wc -c)"
    echo "firmware:$(ls -A /sys/firmware | wc -l)"
    [ -e /proc/kcore ] && echo "kcore:$(head -c 100 /proc/kcore | wc -c)"
    grep " /proc/sys " /proc/self/mounts
    if echo 1 > /proc/sys/kernel/domainname 2>/dev/null; then echo "sys writable"; fi
    true'
  grep -x 'keys:0' <<<"$output"
  grep -x 'timer_list:0' <<<"$output"
  grep -x 'firmware:0' <<<"$output"
  ! grep -q 'kcore:[1-9]' <<<"$output"
  grep -E ' /proc/sys proc ro[, ]' <<<"$output"
  ! grep -q 'sys writable' <<<"$output"
}

# capmask N...: the hex mask (as in CapEff) of capability numbers N...
capmask() {
  local m=0 n
  for n in "$@"; do m=$((m | (1 << n))); done
  printf '%016x' "$m"
}

@test "capabilities are the configured sets" {
  # runc spec's default: CAP_AUDIT_WRITE(29) CAP_KILL(5) CAP_NET_BIND_SERVICE(10).
  in_ctr 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status'
  want=$(capmask 29 5 10)
  grep -x "CapEff:	$want" <<<"$output"
  grep -x "CapPrm:	$want" <<<"$output"
  grep -x "CapBnd:	$want" <<<"$output"
}

@test "a different capability set is applied" {
  make_bundle
  cfg '.process.capabilities = {bounding: $c, effective: $c, permitted: $c}' \
    --argjson c '["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW"]'
  in_ctr 'grep -E "^Cap(Eff|Bnd|Amb):" /proc/self/status'
  want=$(capmask 0 21 13)
  grep -x "CapEff:	$want" <<<"$output"
  grep -x "CapBnd:	$want" <<<"$output"
  grep -x "CapAmb:	0000000000000000" <<<"$output"
}

@test "the user and groups come from config.json" {
  make_bundle
  cfg '.process.user = {uid: 1000, gid: 1000, additionalGids: [65534]}'
  in_ctr 'id; id -u; id -g; grep -E "^(Uid|Gid|Groups):" /proc/self/status'
  [[ ${lines[0]} == "uid=1000(user) gid=1000(user) groups="*"65534(nogroup)"* ]]
  [[ ${lines[1]} == 1000 ]]
  [[ ${lines[2]} == 1000 ]]
  grep -E '^Uid:\s+1000\s+1000\s+1000\s+1000$' <<<"$output"
  grep -E '^Gid:\s+1000\s+1000\s+1000\s+1000$' <<<"$output"
  grep -E '^Groups:\s+65534\s*$' <<<"$output"
}

@test "a non-root user has no effective capabilities by default" {
  make_bundle
  cfg '.process.user = {uid: 1000, gid: 1000} | .process.capabilities.ambient = []'
  in_ctr 'grep CapEff /proc/self/status'
  [[ $output == "CapEff:	0000000000000000" ]]
}

@test "env and cwd come from config.json" {
  make_bundle
  cfg '.process.env += ["FOO=bar baz", "EMPTY="] | .process.cwd = "/tmp"'
  in_ctr 'pwd; echo "foo=$FOO"; env | grep -c "^EMPTY=$"; echo "$PATH"'
  [[ ${lines[0]} == /tmp ]]
  [[ ${lines[1]} == "foo=bar baz" ]]
  [[ ${lines[2]} == 1 ]]
  [[ ${lines[3]} == /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ]]
}

@test "rlimits are applied" {
  # runc spec's default is NOFILE 1024/1024; the host's differs.
  in_ctr 'grep "Max open files" /proc/self/limits; ulimit -n'
  [[ ${lines[0]} =~ ^Max\ open\ files\ +1024\ +1024\ +files ]]
  [[ ${lines[1]} == 1024 ]]
}

@test "other rlimits are applied" {
  make_bundle
  cfg '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 256, hard: 512},
                           {type: "RLIMIT_CORE", soft: 0, hard: 4096},
                           {type: "RLIMIT_NPROC", soft: 300, hard: 300}]'
  in_ctr 'grep -E "Max (open files|core file size|processes)" /proc/self/limits'
  grep -E '^Max open files +256 +512 +files' <<<"$output"
  grep -E '^Max core file size +0 +4096 +bytes' <<<"$output"
  grep -E '^Max processes +300 +300 +processes' <<<"$output"
}

@test "noNewPrivileges sets NoNewPrivs" {
  in_ctr 'grep NoNewPrivs /proc/self/status'
  [[ $output == "NoNewPrivs:	1" ]]
  make_bundle
  cfg '.process.noNewPrivileges = false'
  CID=$CID-2
  in_ctr 'grep NoNewPrivs /proc/self/status'
  [[ $output == "NoNewPrivs:	0" ]]
}

@test "a user namespace maps ids as configured" {
  make_bundle
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{type: "user"}]
     | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
  in_ctr 'cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; sleep 0.3'
  [[ $(awk 'NR == 1 { print $1, $2, $3 }' <<<"$output") == "0 100000 65536" ]]
  [[ $(awk 'NR == 2 { print $1, $2, $3 }' <<<"$output") == "0 100000 65536" ]]
  [[ ${lines[2]} == 0 ]]
  [[ ${lines[3]} == 0 ]]
}

@test "a user namespace process is unprivileged on the host" {
  make_bundle
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{type: "user"}]
     | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .process.args = ["sleep", "100"]'
  detached run --detach --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  grep -E '^Uid:\s+100000\s' "/proc/$pid/status"
  [[ $(readlink "/proc/$pid/ns/user") != "$(readlink /proc/self/ns/user)" ]]
}

@test "a user namespace container gets bind mounts whose source it cannot reach" {
  # As runc: the source is opened by huskrun on the host, so a 0700 directory
  # owned by host root on the way does not stop the mount.
  make_bundle
  chown -R 100000:100000 "$BUNDLE/rootfs"
  mkdir -p "$T/locked/dir"
  echo secret-ok >"$T/locked/dir/f"
  chmod 700 "$T/locked"
  cfg '.linux.namespaces += [{type: "user"}]
     | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .mounts += [{source: $src, destination: "/mnt/in", options: ["bind"]}]' --arg src "$T/locked/dir"
  in_ctr 'cat /mnt/in/f'
  [[ $output == secret-ok ]]
}

@test "sysctls are set inside the container's namespaces" {
  make_bundle
  cfg '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}'
  in_ctr 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax'
  [[ ${lines[0]} == 1 ]]
  [[ ${lines[1]} == 123456789 ]]
  # Not on the host.
  [[ $(cat /proc/sys/kernel/shmmax) != 123456789 ]]
}

@test "a new network namespace has only lo" {
  in_ctr 'ls /sys/class/net; ip -o link | wc -l'
  [[ ${lines[0]} == lo ]]
  [[ ${lines[1]} == 1 ]]
}

@test "without a network namespace the host's interfaces are seen" {
  make_bundle
  cfg '.linux.namespaces |= map(select(.type != "network"))'
  in_ctr 'ls /sys/class/net'
  [[ $(sort <<<"$output") == "$(ls /sys/class/net | sort)" ]]
}

@test "namespaces are new: pid, net, ipc, uts, mnt differ from the host's" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  for ns in pid net ipc uts mnt; do
    [[ $(readlink "/proc/$pid/ns/$ns") != "$(readlink /proc/self/ns/$ns)" ]] || fail "$ns shared with host"
  done
}

@test "joining another container's namespaces by path" {
  make_bundle sleep 100
  cfg '.hostname = "first"'
  detached run --detach --bundle "$BUNDLE" "$CID-1"
  pid=$(state_field "$CID-1" pid)

  BUNDLE=$T/bundle2
  make_bundle
  cfg '.linux.namespaces |= map(if .type == "network" or .type == "uts" or .type == "ipc"
                                then .path = "/proc/\($pid)/ns/" + {network: "net", uts: "uts", ipc: "ipc"}[.type]
                                else . end)
     | del(.hostname)' --arg pid "$pid"
  CID=$CID-2
  in_ctr 'hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc'
  [[ ${lines[0]} == first ]]
  [[ ${lines[1]} == "$(readlink /proc/$pid/ns/net)" ]]
  [[ ${lines[2]} == "$(readlink /proc/$pid/ns/ipc)" ]]
}

@test "joining a namespace bind-mounted by unshare" {
  touch "$T/uts"
  unshare --uts="$T/uts" hostname husk-unshared
  make_bundle
  cfg '.linux.namespaces |= map(if .type == "uts" then .path = $p else . end) | del(.hostname)' \
    --arg p "$T/uts"
  in_ctr 'hostname'
  [[ $output == husk-unshared ]]
}

@test "a read-only /dev still gets its device nodes and /dev/pts" {
  make_bundle
  cfg '.mounts |= map(if .destination == "/dev" then .options += ["ro"] else . end)'
  in_ctr 'touch /dev/x 2>/dev/null && echo writable; test -c /dev/null && echo null; test -d /dev/pts && echo pts'
  [[ $output == *null* && $output == *pts* ]] || fail "$output"
  [[ $output != *writable* ]] || fail "/dev is writable"
}

@test "joining another container's pid namespace; hooks stay in the host's" {
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID-1"
  pid=$(state_field "$CID-1" pid)

  BUNDLE=$T/bundle2
  make_bundle
  cfg '.linux.namespaces |= map(if .type == "pid" then .path = "/proc/\($pid)/ns/pid" else . end)
     | .hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/pid >\($t)/hook"]}]' \
    --arg pid "$pid" --arg t "$T"
  CID=$CID-2
  in_ctr 'readlink /proc/self/ns/pid; [ $$ != 1 ] && echo not-init'
  [[ ${lines[0]} == "$(readlink /proc/$pid/ns/pid)" ]]
  [[ ${lines[1]} == not-init ]]
  [[ $(cat "$T/hook") == "$(readlink /proc/self/ns/pid)" ]]
}

@test "a new time namespace gets its offsets; hooks stay in the host's" {
  is_huskrun || skip "runc 1.1.5 has no time namespaces"
  [[ -e /proc/self/ns/time ]] || skip "no time namespaces"
  make_bundle
  cfg '.linux.namespaces += [{type: "time"}] | .linux.timeOffsets = {boottime: {secs: 1000000, nanosecs: 0}}
     | .hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/time >\($t)/hook"]}]' \
    --arg t "$T"
  in_ctr 'cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time'
  ((lines[0] >= 1000000 + $(cut -d. -f1 /proc/uptime) - 5)) || fail "uptime ${lines[0]}"
  [[ ${lines[1]} != "$(readlink /proc/self/ns/time)" ]]
  [[ $(cat "$T/hook") == "$(readlink /proc/self/ns/time)" ]]
}

# userns_cfg: a new user namespace mapping 0-65535 to 100000-165535 (the rootfs
# is chowned to match).
userns_cfg() {
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{type: "user"}]
     | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
     | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
}

@test "a new user namespace joins another container's network namespace by path" {
  # Kubernetes pods with user namespaces: the pod's network namespace belongs to
  # the host's user namespace; each container makes its own and joins it.
  # sysfs can't be mounted for a network namespace of the host's: huskrun binds /sys.
  is_huskrun || skip "runc 1.1.5 does not bind /sys when sysfs cannot be mounted"
  make_bundle sleep 100
  detached run --detach --bundle "$BUNDLE" "$CID-1"
  pid=$(state_field "$CID-1" pid)

  BUNDLE=$T/bundle2
  make_bundle
  userns_cfg
  cfg '.linux.namespaces |= map(if .type == "network" then .path = "/proc/\($pid)/ns/net" else . end)
     | .hostname = "second"' --arg pid "$pid"
  CID=$CID-2
  in_ctr 'readlink /proc/self/ns/net; cat /proc/self/uid_map; readlink /proc/self/ns/user; hostname; id -u'
  [[ ${lines[0]} == "$(readlink /proc/$pid/ns/net)" ]]
  [[ $(awk 'NR == 2 { print $1, $2, $3 }' <<<"$output") == "0 100000 65536" ]]
  [[ ${lines[2]} != "$(readlink /proc/self/ns/user)" ]]
  [[ ${lines[3]} == second ]]
  [[ ${lines[4]} == 0 ]]
}

@test "a new user namespace joins a bind-mounted network namespace; exec joins it too" {
  touch "$T/net"
  unshare --net="$T/net" sysctl -qw net.ipv4.ip_default_ttl=77
  make_bundle sleep 100
  userns_cfg
  # Hooks run in huskrun's own namespaces, not in those it entered for clone3.
  # /sys as a bind: see runc's "userns join external namespaces [wrong userns owner]".
  cfg '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)
     | .mounts |= map(if .type == "sysfs" then {source: "/sys", destination: .destination, type: "bind", options: ["rbind", "ro"]} else . end)
     | .hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/mnt >\($t)/hook"]}]' \
    --arg p "$T/net" --arg t "$T"
  detached run --detach --bundle "$BUNDLE" "$CID"
  pid=$(state_field "$CID" pid)
  [[ $(readlink "/proc/$pid/ns/net") == "net:[$(stat -L -c %i "$T/net")]" ]]
  grep -E '^Uid:\s+100000\s' "/proc/$pid/status"
  [[ $(cat "$T/hook") == "$(readlink /proc/self/ns/net /proc/self/ns/mnt)" ]]
  # runc 1.1.5's exec joins the user namespace first, then may not join this one
  # (runc#4390).
  is_huskrun || return 0
  runf rt exec "$CID" sh -c 'readlink /proc/self/ns/net; cat /proc/sys/net/ipv4/ip_default_ttl'
  [[ $status == 0 ]] || fail "exec: $stderr"
  [[ ${lines[0]} == "$(readlink "/proc/$pid/ns/net")" ]]
  [[ ${lines[1]} == 77 ]]
}

@test "joining another container's user namespace with new mount, uts, ipc, net and pid namespaces" {
  make_bundle sleep 100
  userns_cfg
  detached run --detach --bundle "$BUNDLE" "$CID-1"
  pid=$(state_field "$CID-1" pid)

  # runc's "userns join other container userns": no mappings, the path only.
  is_huskrun || skip "runc 1.1.5 wants uidMappings with a joined user namespace"
  # /made-by-setup is created by huskrun in the container: by its root.
  BUNDLE=$T/bundle2
  make_bundle
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{type: "user", path: "/proc/\($pid)/ns/user"}] | .hostname = "second"
     | .mounts += [{destination: "/made-by-setup", type: "tmpfs", source: "tmpfs"}]' --arg pid "$pid"
  CID=$CID-2
  in_ctr 'for ns in user uts pid; do readlink /proc/self/ns/$ns; done; hostname; echo $$; id -u
          cat /proc/self/uid_map'
  [[ ${lines[0]} == "$(readlink /proc/$pid/ns/user)" ]]
  [[ ${lines[1]} != "$(readlink /proc/$pid/ns/uts)" ]]
  [[ ${lines[2]} != "$(readlink /proc/$pid/ns/pid)" && ${lines[2]} != "$(readlink /proc/self/ns/pid)" ]]
  [[ ${lines[3]} == second ]]
  [[ ${lines[4]} == 1 ]] # init of its own pid namespace
  [[ ${lines[5]} == 0 ]]
  [[ $(awk 'NR == 7 { print $1, $2, $3 }' <<<"$output") == "0 100000 65536" ]]
  [[ $(stat -c %u "$BUNDLE/rootfs/made-by-setup") == 100000 ]]
}

@test "a container in a joined user namespace: state, pid file, cgroup and exec name its init" {
  is_huskrun || skip "runc 1.1.5 wants uidMappings with a joined user namespace"
  make_bundle sleep 100
  userns_cfg
  detached run --detach --bundle "$BUNDLE" "$CID-1"
  pid1=$(state_field "$CID-1" pid)

  BUNDLE=$T/bundle2
  make_bundle sleep 100
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{type: "user", path: "/proc/\($pid)/ns/user"}]
     | .linux.cgroupsPath = $cg | .hostname = "second"' --arg pid "$pid1" --arg cg "husk-e2e-$CID-2"
  detached create --bundle "$BUNDLE" --pid-file "$T/pid" "$CID-2"
  pid=$(state_field "$CID-2" pid)
  [[ $(cat "$T/pid") == "$pid" ]]
  [[ $(state_field "$CID-2" status) == created ]]
  # The real init: pid 1 of its own pid namespace, in the joined user namespace
  # and in the container's cgroup.
  [[ $(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status") == 1 ]]
  [[ $(readlink "/proc/$pid/ns/user") == "$(readlink /proc/$pid1/ns/user)" ]]
  [[ $(host_cgroup "$pid" pids) == */husk-e2e-$CID-2 ]]
  rt start "$CID-2"
  wait_status "$CID-2" running
  runf rt exec "$CID-2" sh -c 'hostname; readlink /proc/self/ns/user; id -u'
  [[ $status == 0 ]] || fail "exec: $stderr"
  [[ ${lines[0]} == second ]]
  [[ ${lines[1]} == "$(readlink /proc/$pid1/ns/user)" ]]
  [[ ${lines[2]} == 0 ]]
  rt kill "$CID-2" KILL
  wait_status "$CID-2" stopped
  rt delete "$CID-2"
  [[ ! -d $(host_cgroup $$ pids)/husk-e2e-$CID-2 ]]
}

@test "a namespace path that does not exist fails create with one line and leaves nothing behind" {
  make_bundle
  cfg '.linux.namespaces |= map(if .type == "network" then .path = "/nonexistent/netns" else . end)
     | .linux.cgroupsPath = $cg' --arg cg "husk-e2e-$CID"
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ ${#stderr_lines[@]} == 1 ]] || fail "$stderr"
  [[ ${stderr,,} == *"/nonexistent/netns"*"no such file or directory"* ]] || fail "$stderr"
  [[ ! -e $ROOT/$CID ]]
  [[ -z $(find /sys/fs/cgroup -maxdepth 4 -name "husk-e2e-$CID" 2>/dev/null) ]]
  [[ -z $(rt list -q) ]]
}

# mounts_under DIR: mount points strictly under DIR in our mount namespace.
mounts_under() {
  awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo
}

@test "without a mount namespace: the host's, a chroot into the rootfs, nothing left after" {
  # As runc: the mounts go into the caller's namespace (under the rootfs) and
  # init enters the rootfs by chroot; delete detaches them.
  make_bundle
  cfg '.root.readonly = false | .linux.namespaces |= map(select(.type != "mount"))'
  in_ctr 'readlink /proc/self/ns/mnt; ls /bin/busybox; ls /etc/debian_version 2>&1; ls /dev/null'
  [[ ${lines[0]} == "$(readlink /proc/self/ns/mnt)" ]] || fail "$output"
  [[ ${lines[1]} == /bin/busybox ]]
  [[ ${lines[2]} == *"No such file"* ]]
  [[ ${lines[3]} == /dev/null ]]
  [[ -z $(mounts_under "$BUNDLE/rootfs") ]] || fail "left: $(mounts_under "$BUNDLE/rootfs")"
  [[ ! -e $ROOT/$CID ]]
}

@test "without a mount namespace: exec is chrooted too, and delete cleans up" {
  make_bundle sleep 1000
  cfg '.root.readonly = false | .linux.namespaces |= map(select(.type != "mount"))'
  detached run --detach --bundle "$BUNDLE" "$CID"
  [[ -n $(mounts_under "$BUNDLE/rootfs") ]]  # proc, dev, sys... in our namespace
  runf rt exec "$CID" sh -c 'ls /bin/busybox; ls /etc/debian_version 2>&1; cat /proc/1/cmdline'
  [[ $status == 0 ]] || fail "$stderr"
  [[ ${lines[0]} == /bin/busybox ]]
  [[ ${lines[1]} == *"No such file"* ]]
  [[ ${lines[2]} == sleep1000 ]]
  rt kill "$CID" KILL
  retry 50 0.1 eval '[[ $(rt state "$CID" | jq -r .status) == stopped ]]'
  rt delete "$CID"
  [[ -z $(mounts_under "$BUNDLE/rootfs") ]] || fail "left: $(mounts_under "$BUNDLE/rootfs")"
}

@test "without a mount namespace a read-only root is refused, leaving nothing" {
  make_bundle true
  cfg '.root.readonly = true | .linux.namespaces |= map(select(.type != "mount"))'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  [[ $stderr == *"root.readonly"*"mount namespace"* ]] || fail "$stderr"
  [[ ${#stderr_lines[@]} == 1 ]]
  [[ ! -e $ROOT/$CID ]]
  [[ -z $(mounts_under "$BUNDLE/rootfs") ]]
}
