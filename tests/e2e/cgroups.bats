#!/usr/bin/env bats
# Resource limits as the host's cgroup files show them (this machine: cgroup v1
# controllers plus a cgroup2 hierarchy at /sys/fs/cgroup/unified), and the verbs
# that act on a container's cgroup: update, pause/resume, events, ps, delete.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
  make_bundle sleep 100
  cfg '.linux.resources = {
         memory: {limit: 67108864},
         pids: {limit: 50},
         cpu: {shares: 512, quota: 50000, period: 100000}}'
}

teardown() {
  common_teardown
}

start_ctr() {
  detached run --detach --bundle "$BUNDLE" "$CID"
  PID=$(state_field "$CID" pid)
  [[ $PID -gt 0 ]]
}

# cg CONTROLLER FILE: the content of a cgroup file of the container's init.
cg() {
  cat "$(host_cgroup "$PID" "$1")/$2"
}

@test "the container has its own cgroup in every v1 controller" {
  start_ctr
  for c in memory pids cpu cpuacct blkio devices freezer cpuset; do
    dir=$(host_cgroup "$PID" "$c")
    [[ -n $dir && $dir != "/sys/fs/cgroup/$c" ]] || fail "$c: container is in the root cgroup"
    [[ $dir != "$(host_cgroup $$ "$c")" ]] || fail "$c: container shares the caller's cgroup"
    grep -qx "$PID" "$dir/cgroup.procs"
  done
}

@test "memory, pids and cpu limits are written" {
  start_ctr
  [[ $(cg memory memory.limit_in_bytes) == 67108864 ]]
  [[ $(cg pids pids.max) == 50 ]]
  [[ $(cg cpu cpu.shares) == 512 ]]
  [[ $(cg cpu cpu.cfs_quota_us) == 50000 ]]
  [[ $(cg cpu cpu.cfs_period_us) == 100000 ]]
}

@test "an unlimited container has no limits" {
  cfg 'del(.linux.resources.memory, .linux.resources.pids, .linux.resources.cpu)'
  start_ctr
  [[ $(cg pids pids.max) == max ]]
  [[ $(cg cpu cpu.cfs_quota_us) == -1 ]]
  (($(cg memory memory.limit_in_bytes) > 1 << 40))
}

@test "the pids limit stops fork inside the container" {
  cfg '.linux.resources.pids.limit = 5 | .process.args = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 10 & done; wait"]'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $stderr == *"Resource temporarily unavailable"* || $stderr == *"can't fork"* ]] || fail "forks not refused: $stderr"
}

@test "a cgroupsPath relative to the caller is honoured" {
  cfg '.linux.cgroupsPath = $p' --arg p "husk-e2e-$CID"
  start_ctr
  [[ $(host_cgroup "$PID" pids) == */husk-e2e-$CID ]]
  [[ $(host_cgroup "$PID" memory) == */husk-e2e-$CID ]]
}

@test "update changes memory and pids limits" {
  start_ctr
  run rt update --memory 33554432 --pids-limit 20 "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(cg memory memory.limit_in_bytes) == 33554432 ]]
  [[ $(cg pids pids.max) == 20 ]]
  # Untouched limits stay.
  [[ $(cg cpu cpu.shares) == 512 ]]
}

@test "update changes cpu shares and quota" {
  start_ctr
  run rt update --cpu-share 256 --cpu-quota 20000 --cpu-period 50000 "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(cg cpu cpu.shares) == 256 ]]
  [[ $(cg cpu cpu.cfs_quota_us) == 20000 ]]
  [[ $(cg cpu cpu.cfs_period_us) == 50000 ]]
}

@test "update reads resources as JSON with -r" {
  start_ctr
  echo '{"memory": {"limit": 41943040}, "pids": {"limit": 30}}' >"$T/r.json"
  run rt update -r "$T/r.json" "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(cg memory memory.limit_in_bytes) == 41943040 ]]
  [[ $(cg pids pids.max) == 30 ]]
}

@test "update of an unknown container fails" {
  runf rt update --pids-limit 20 no-such-ctr
  [[ $status != 0 ]]
}

@test "pause freezes the processes, resume thaws them" {
  cfg '.root.readonly = false
     | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/count; sleep 0.05; done"]'
  start_ctr
  # Renamed into place: a pause between truncate and write can't leave it empty.
  retry 50 0.1 test -s "$BUNDLE/rootfs/tmp/count"

  run rt pause "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(state_field "$CID" status) == paused ]]
  [[ $(cg freezer freezer.state) == FROZEN ]]
  a=$(cat "$BUNDLE/rootfs/tmp/count")
  sleep 0.5
  b=$(cat "$BUNDLE/rootfs/tmp/count")
  [[ -n $a && $a == "$b" ]] || fail "counter moved while paused: $a -> $b"
  run rt list --format json
  [[ $(jq -r ".[] | select(.id == \"$CID\") | .status" <<<"$output") == paused ]]

  run rt resume "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(state_field "$CID" status) == running ]]
  [[ $(cg freezer freezer.state) == THAWED ]]
  retry 20 0.1 eval "[[ \$(cat $BUNDLE/rootfs/tmp/count) -gt $b ]]"
}

@test "a paused container can be force-deleted" {
  start_ctr
  rt pause "$CID"
  run rt delete --force "$CID"
  [[ $status == 0 ]] || fail "$output"
  retry 20 0.1 test ! -e "/proc/$PID"
}

@test "events --stats prints one JSON object with memory and pids" {
  start_ctr
  run --separate-stderr rt events --stats "$CID"
  [[ $status == 0 ]] || fail "$stderr"
  ((${#lines[@]} == 1))
  [[ $(jq -r .type <<<"$output") == stats ]]
  [[ $(jq -r .id <<<"$output") == "$CID" ]]
  [[ $(jq -r .data.memory.usage.limit <<<"$output") == 67108864 ]]
  (($(jq -r .data.memory.usage.usage <<<"$output") > 0))
  [[ $(jq -r .data.pids.current <<<"$output") == 1 ]]
  [[ $(jq -r .data.pids.limit <<<"$output") == 50 ]]
  jq -e '.data.cpu.usage.total >= 0' <<<"$output"
}

@test "ps lists the container's processes" {
  cfg '.process.args = ["sh", "-c", "sleep 100 & sleep 100 & wait"]'
  start_ctr
  retry 50 0.1 eval "(( \$(pgrep -P $PID -c) == 2 ))"
  run rt ps --format json "$CID"
  [[ $status == 0 ]] || fail "$output"
  [[ $(jq -c 'sort' <<<"$output") == "$( (echo "$PID"; pgrep -P "$PID") | jq -sc sort)" ]]

  run rt ps "$CID"
  [[ $status == 0 ]]
  [[ ${lines[0]} == *PID* ]]
  ((${#lines[@]} == 4))
  grep -E "^\S+\s+$PID\s" <<<"$output"
}

@test "delete removes the container's cgroups" {
  start_ctr
  dirs=$(for c in memory pids cpu cpuacct blkio devices freezer cpuset; do host_cgroup "$PID" "$c"; done)
  for d in $dirs; do [[ -d $d ]]; done
  rt kill "$CID" KILL
  wait_status "$CID" stopped
  rt delete "$CID"
  for d in $dirs; do
    [[ ! -d $d ]] || fail "$d left behind"
  done
}

@test "the container sees its own cgroup as read-only" {
  cfg '.process.args = ["sh", "-c", "grep \" /sys/fs/cgroup/memory \" /proc/self/mounts; mkdir /sys/fs/cgroup/memory/x 2>&1 || true"]'
  runf rt run --bundle "$BUNDLE" "$CID"
  [[ $status == 0 ]]
  grep -E ' ro[, ]' <<<"${lines[0]}"
  [[ $output == *"Read-only file system"* ]]
}

@test "events reports an oom event when the memory limit is hit" {
  cfg '.linux.resources.memory = {limit: 33554432, swap: 33554432}'
  start_ctr
  rt events --interval 1s "$CID" </dev/null >"$T/events" 2>"$T/events.err" 3>&- &
  local events_pid=$!
  retry 50 0.1 grep -q '"type":"stats"' "$T/events"
  rt exec -d "$CID" sh -c 'x=$(dd if=/dev/zero bs=64M count=1)' </dev/null >/dev/null 2>&1 3>&-
  retry 50 0.2 grep -qF '{"type":"oom","id":"'"$CID"'"}' "$T/events" ||
    fail "no oom event: $(cat "$T/events" "$T/events.err" | tail -3)"
  rt delete -f "$CID"
  # The stream ends with the container.
  retry 50 0.2 eval "! kill -0 $events_pid 2>/dev/null"
  wait "$events_pid"
}

@test "blockIO.weightDevice sets a per-device weight (BFQ)" {
  dd if=/dev/zero of="$T/backing.img" bs=4096 count=1 status=none
  dev=$(losetup --find --show "$T/backing.img") || skip "no loop device"
  sched=/sys/block/${dev#/dev/}/queue/scheduler
  if ! { grep -qw bfq "$sched" && echo bfq >"$sched"; }; then
    losetup -d "$dev"
    skip "BFQ scheduler not available"
  fi
  IFS=: read -r major minor <"/sys/block/${dev#/dev/}/dev"
  cfg '.linux.resources.blockIO = {weight: 333, weightDevice: [{major: $ma, minor: $mi, weight: 444}]}' \
    --argjson ma "$major" --argjson mi "$minor"
  start_ctr
  losetup -d "$dev"
  weights=$(cg blkio blkio.bfq.weight_device)
  [[ $weights == *"default 333"* ]] || fail "$weights"
  [[ $weights == *"$major:$minor 444"* ]] || fail "$weights"
}

@test "device rules ignore access letters other than r, w, m (runc's reading of \"rwa\")" {
  cfg '.linux.resources.devices = [{allow: false, access: "rwm"},
                                   {allow: false, type: "c", major: 1, minor: 11, access: "rwa"}]
     | .linux.devices = [{path: "/dev/kmsg", type: "c", major: 1, minor: 11}]'
  start_ctr
  list=$(cg devices devices.list)
  [[ $list == *"c 1:3 rwm"* ]] || fail "$list"
  [[ $list != *"1:11"* ]] || fail "$list"
  runf rt exec "$CID" sh -c 'head -c 1 /dev/kmsg'
  [[ $status != 0 ]]
  [[ $stderr == *"Operation not permitted"* ]] || fail "$stderr"
}

# This host's controllers are v1, so huskrun uses its v1 manager here. In a mount
# namespace where only the cgroup2 hierarchy is mounted, huskrun sees a unified host
# and runs its v2 manager there: device rules then go to an eBPF program.
@test "cgroup v2: device rules are an eBPF filter, replaced by update" {
  is_huskrun || skip "drives huskrun's v2 manager through a cgroup2-only mount namespace"
  [[ -d /sys/fs/cgroup/unified || $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] ||
    skip "no cgroup2 hierarchy"
  cfg '.linux.resources = {devices: [{allow: false, access: "rwm"}]}
     | .linux.devices = [{path: "/dev/fuse", type: "c", major: 10, minor: 229}]'
  jq -n '{devices: [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 3, access: "rwm"},
                    {allow: true, type: "c", major: 10, minor: 229, access: "r"}]}' >"$T/update.json"
  cat >"$T/v2.sh" <<'EOF'
set -u
. "$HUSK_LIB/cgroup2-only.sh"
rt() { timeout -k 5 60 "$RUNTIME" --root "$ROOT" "$@"; }
rt run --detach --bundle "$BUNDLE" "$CID" </dev/null >/dev/null || exit 1
grep -qx "0::/huskrun/$CID" /proc/"$(rt state "$CID" | jq .pid)"/cgroup || echo "not in a v2 cgroup"
rt exec "$CID" sh -c ': </dev/null' && echo null-ok
# The device check comes before the driver's: without a fuse driver an allowed open
# fails with another error than EPERM.
rt exec "$CID" sh -c ': </dev/fuse' 2>&1 | sed 's/^/before: /'
rt update --resources "$T/update.json" "$CID" || echo "update failed"
rt exec "$CID" sh -c ': </dev/fuse' 2>&1 | sed 's/^/read after: /'
rt exec "$CID" sh -c ': >/dev/fuse' 2>&1 | sed 's/^/write after: /'
rt exec "$CID" sh -c ': </dev/zero' 2>&1 && echo zero-ok
rt delete -f "$CID"
EOF
  run env RUNTIME="$RUNTIME" ROOT="$ROOT" BUNDLE="$BUNDLE" CID="$CID" T="$T" HUSK_LIB="$HUSK_LIB" unshare -m bash "$T/v2.sh"
  [[ $status == 0 ]] || fail "$output"
  [[ $output != *"not in a v2 cgroup"* && $output != *"update failed"* ]] || fail "$output"
  # Before update: the default devices only; /dev/fuse exists but may not be opened.
  [[ $output == *null-ok* ]] || fail "$output"
  [[ $output == *"before: sh: can't open /dev/fuse: Operation not permitted"* ]] || fail "$output"
  # After: the update's rules replace the filter (10:229 for reading; /dev/zero no longer).
  [[ $output != *"read after: "*"Operation not permitted"* ]] || fail "$output"
  [[ $output == *"write after: sh: can't create /dev/fuse: Operation not permitted"* ]] || fail "$output"
  [[ $output != *zero-ok* ]] || fail "$output"
}
